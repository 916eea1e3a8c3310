/**
 * The typed errors of vvnet. Every failure of a `Net`, `Conn` or `Listener` operation is one
 * of the `Schema.TaggedError` classes below, discriminated by `_tag`. Each carries the
 * operation, the network, the address(es) involved, the errno `code` when the OS gave one, and
 * a Go-style `message` built from those parts, as Go's `net.OpError.Error()` builds it:
 *
 * ```text
 * dial tcp 127.0.0.1:1: connect: connection refused
 * read tcp 127.0.0.1:5000->127.0.0.1:8080: i/o timeout
 * write unix /tmp/s.sock: use of closed network connection
 * dial tcp: address ::1:80: too many colons in address
 * dial tcp 127.0.0.1:8443: tls: failed to verify certificate: x509: certificate signed by unknown authority
 * ```
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * The operations a `NetError` can come from. `op` on every error is one of these.
 *
 * @since 0.1.0
 * @category models
 */
export const Op = Schema.Literal(
  "dial",
  "listen",
  "accept",
  "read",
  "write",
  "close",
  "set_read_timeout",
  "set_write_timeout"
)

/**
 * @since 0.1.0
 * @category models
 */
export type Op = typeof Op.Type

/**
 * The fields every `NetError` carries.
 *
 * - `op`: the operation that failed.
 * - `network`: the network as the caller named it (`"tcp"`, `"unix"`, …; may be a bad name for
 *   an `AddressError`).
 * - `address`: the remote address for dial/read/write, the bound address for listen/accept.
 * - `source`: the local address, for operations on a connection (Go's `OpError.Source`).
 * - `code`: the errno name when the OS reported one (`"ECONNREFUSED"`).
 * - `syscall`: the system call that failed (`"connect"`, `"read"`), as in Go's `os.SyscallError`.
 * - `reason`: the error text without context (`"connection refused"`, `"i/o timeout"`).
 *
 * @since 0.1.0
 * @category models
 */
export const fields = {
  op: Op,
  network: Schema.String,
  address: Schema.String,
  source: Schema.optional(Schema.String),
  code: Schema.optional(Schema.String),
  syscall: Schema.optional(Schema.String),
  reason: Schema.String
}

/**
 * The constructor argument shared by every `NetError` class.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fields {
  readonly op: Op
  readonly network: string
  readonly address: string
  readonly source?: string | undefined
  readonly code?: string | undefined
  readonly syscall?: string | undefined
  readonly reason: string
}

/**
 * A bad argument: a negative, fractional or non-finite byte count or timeout, a wrong option.
 * Raised before any I/O.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>("@vvnet/core/InvalidArgument")(
  "InvalidArgument",
  fields
) {}

/**
 * A malformed address or an unknown network (`"::1:80"`, `"[::1"`, `"127.0.0.1:70000"`,
 * `"tcpx"`, a unix path over 107 bytes). Raised before any lookup or system call.
 *
 * @since 0.1.0
 * @category errors
 */
export class AddressError extends Schema.TaggedError<AddressError>("@vvnet/core/AddressError")(
  "AddressError",
  fields
) {}

/**
 * A host name could not be resolved (`lookup no-such-host.invalid: no such host`).
 *
 * @since 0.1.0
 * @category errors
 */
export class DnsError extends Schema.TaggedError<DnsError>("@vvnet/core/DnsError")("DnsError", fields) {}

/**
 * Nothing listens at the address (`ECONNREFUSED`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionRefused extends Schema.TaggedError<ConnectionRefused>("@vvnet/core/ConnectionRefused")(
  "ConnectionRefused",
  fields
) {}

/**
 * The peer reset the connection (`ECONNRESET`, `ECONNABORTED`). Never reported as EOF.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionReset extends Schema.TaggedError<ConnectionReset>("@vvnet/core/ConnectionReset")(
  "ConnectionReset",
  fields
) {}

/**
 * A write to a connection whose peer has gone (`EPIPE`).
 *
 * @since 0.1.0
 * @category errors
 */
export class BrokenPipe extends Schema.TaggedError<BrokenPipe>("@vvnet/core/BrokenPipe")("BrokenPipe", fields) {}

/**
 * The address is taken (`EADDRINUSE`), or a unix socket path is held by another file.
 *
 * @since 0.1.0
 * @category errors
 */
export class AddressInUse extends Schema.TaggedError<AddressInUse>("@vvnet/core/AddressInUse")(
  "AddressInUse",
  fields
) {}

/**
 * The address is not one of this host's (`EADDRNOTAVAIL`).
 *
 * @since 0.1.0
 * @category errors
 */
export class AddressNotAvailable extends Schema.TaggedError<AddressNotAvailable>(
  "@vvnet/core/AddressNotAvailable"
)("AddressNotAvailable", fields) {}

/**
 * The OS refused the operation (`EACCES`, `EPERM`), e.g. binding a port below 1024.
 *
 * @since 0.1.0
 * @category errors
 */
export class PermissionDenied extends Schema.TaggedError<PermissionDenied>("@vvnet/core/PermissionDenied")(
  "PermissionDenied",
  fields
) {}

/**
 * No route to the network or host (`ENETUNREACH`, `EHOSTUNREACH`, `ENETDOWN`, `EHOSTDOWN`).
 *
 * @since 0.1.0
 * @category errors
 */
export class Unreachable extends Schema.TaggedError<Unreachable>("@vvnet/core/Unreachable")(
  "Unreachable",
  fields
) {}

/**
 * A deadline passed (`i/o timeout`, Go's `os.ErrDeadlineExceeded`), or the OS timed out a
 * connect (`ETIMEDOUT`). A timed-out read or accept loses nothing: retry after moving the deadline.
 *
 * @since 0.1.0
 * @category errors
 */
export class Timeout extends Schema.TaggedError<Timeout>("@vvnet/core/Timeout")("Timeout", fields) {}

/**
 * The resource was closed by this side: `use of closed network connection`. Pending operations
 * on a connection or listener end with it when `close` runs; later ones fail with it at once.
 *
 * @since 0.1.0
 * @category errors
 */
export class Closed extends Schema.TaggedError<Closed>("@vvnet/core/Closed")("Closed", fields) {}

/**
 * The process or system ran out of file descriptors (`EMFILE`, `ENFILE`). Transient: the accept
 * loop of `Net.serve` backs off and retries.
 *
 * @since 0.1.0
 * @category errors
 */
export class TooManyOpenFiles extends Schema.TaggedError<TooManyOpenFiles>("@vvnet/core/TooManyOpenFiles")(
  "TooManyOpenFiles",
  fields
) {}

/**
 * Any other OS error; `code` keeps the errno name.
 *
 * @since 0.1.0
 * @category errors
 */
export class SystemError extends Schema.TaggedError<SystemError>("@vvnet/core/SystemError")(
  "SystemError",
  fields
) {}

/**
 * The kinds of TLS failure (`TlsError.kind`):
 *
 * - `"verification"`: the peer's certificate was not accepted (unknown authority, expired, not
 *   valid for the name).
 * - `"alert"`: the peer refused the handshake (`remote error: tls: bad certificate`).
 * - `"handshake"`: this side gave up: not TLS, no common version, cipher or protocol.
 * - `"timeout"`: the server's handshake timeout passed.
 *
 * @since 0.3.0
 * @category models
 */
export const TlsKind = Schema.Literal("verification", "alert", "handshake", "timeout")

/**
 * @since 0.3.0
 * @category models
 */
export type TlsKind = typeof TlsKind.Type

/**
 * The constructor argument of `TlsError`: the fields of every `NetError` and the `kind`.
 *
 * @since 0.3.0
 * @category models
 */
export interface TlsFields extends Fields {
  readonly kind: TlsKind
}

/**
 * A TLS handshake or verification failure (Go's `tls.CertificateVerificationError`,
 * `tls.AlertError` and handshake errors), or a TLS alert on an established connection. Besides
 * the fields of every `NetError`:
 *
 * - `code`: the TLS library's code: a certificate verification code (`CERT_HAS_EXPIRED`,
 *   `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `ERR_TLS_CERT_ALTNAME_INVALID`), an alert from the peer
 *   (`ERR_SSL_TLSV1_ALERT_UNKNOWN_CA`, `ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`) or this
 *   side's handshake failure (`ERR_SSL_WRONG_VERSION_NUMBER`, `ERR_TLS_HANDSHAKE_TIMEOUT`).
 * - `kind`: what went wrong, see `TlsKind`.
 * - `reason`: Go's text: `tls: failed to verify certificate: x509: certificate signed by unknown
 *   authority`, `remote error: tls: bad certificate`, `tls: first record does not look like a
 *   TLS handshake`.
 *
 * Its `message` is built as every `NetError`'s: `dial tcp 127.0.0.1:8443: tls: failed to verify
 * certificate: x509: certificate signed by unknown authority`. A TLS `Net` (node-adapter's
 * `NodeTls.layer`) fails `Net.dial` with it, so `Effect.catchTag("TlsError", …)` works there as on
 * `NodeTls.dial`; an adapter reports one by setting `kind` on its `Transport.OsError`.
 *
 * @since 0.3.0
 * @category errors
 */
export class TlsError extends Schema.TaggedError<TlsError>("@vvnet/core/TlsError")("TlsError", {
  ...fields,
  kind: TlsKind
}) {}

/**
 * The union of every vvnet error.
 *
 * @since 0.1.0
 * @category models
 */
export type NetError =
  | InvalidArgument
  | AddressError
  | DnsError
  | ConnectionRefused
  | ConnectionReset
  | BrokenPipe
  | AddressInUse
  | AddressNotAvailable
  | PermissionDenied
  | Unreachable
  | Timeout
  | Closed
  | TooManyOpenFiles
  | SystemError
  | TlsError

/**
 * The schema of the union, for encoding errors across process boundaries.
 *
 * @since 0.1.0
 * @category schemas
 */
export const NetError: Schema.Union<[
  typeof InvalidArgument,
  typeof AddressError,
  typeof DnsError,
  typeof ConnectionRefused,
  typeof ConnectionReset,
  typeof BrokenPipe,
  typeof AddressInUse,
  typeof AddressNotAvailable,
  typeof PermissionDenied,
  typeof Unreachable,
  typeof Timeout,
  typeof Closed,
  typeof TooManyOpenFiles,
  typeof SystemError,
  typeof TlsError
]> = Schema.Union(
  InvalidArgument,
  AddressError,
  DnsError,
  ConnectionRefused,
  ConnectionReset,
  BrokenPipe,
  AddressInUse,
  AddressNotAvailable,
  PermissionDenied,
  Unreachable,
  Timeout,
  Closed,
  TooManyOpenFiles,
  SystemError,
  TlsError
)

/**
 * The `_tag` of a `NetError`.
 *
 * @since 0.1.0
 * @category models
 */
export type Tag = NetError["_tag"]

const classes = {
  InvalidArgument,
  AddressError,
  DnsError,
  ConnectionRefused,
  ConnectionReset,
  BrokenPipe,
  AddressInUse,
  AddressNotAvailable,
  PermissionDenied,
  Unreachable,
  Timeout,
  Closed,
  TooManyOpenFiles,
  SystemError,
  TlsError
} as const

/**
 * Formats an error as Go's `net.OpError.Error()` does:
 * `op network [source->]address: [syscall: ]reason`. Address and DNS errors name the address in
 * their reason (`dial tcp: lookup x.invalid: no such host`), so it is not repeated.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatMessage = (error: Fields & { readonly _tag: Tag }): string => {
  let s: string = error.op
  if (error.network !== "") s += " " + error.network
  const withAddress = error._tag !== "AddressError" && error._tag !== "DnsError"
  if (withAddress && error.source !== undefined && error.source !== "") {
    s += " " + error.source + (error.address !== "" ? "->" : "")
  } else if (withAddress && error.address !== "") {
    s += " "
  }
  if (withAddress) s += error.address
  s += ": "
  if (error.syscall !== undefined && error.syscall !== "") s += error.syscall + ": "
  return s + error.reason
}

for (const cls of Object.values(classes)) {
  Object.defineProperty(cls.prototype, "message", {
    get(this: Fields & { readonly _tag: Tag }) {
      return formatMessage(this)
    },
    enumerable: false,
    configurable: true
  })
}

/**
 * The constructor argument of the error of tag `T`: `TlsFields` for `TlsError`, `Fields` for
 * the others.
 *
 * @since 0.3.0
 * @category models
 */
export type FieldsOf<T extends Tag> = T extends "TlsError" ? TlsFields : Fields

/**
 * Builds the error of the given tag. A `TlsError` made from `Fields` without a `kind` (a tag
 * chosen at run time) is of kind `"handshake"`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <T extends Tag>(tag: T, fields: FieldsOf<T>): Extract<NetError, { readonly _tag: T }> =>
  (tag === "TlsError"
    ? new TlsError({ kind: "handshake", ...fields })
    : new classes[tag](fields as TlsFields)) as Extract<NetError, { readonly _tag: T }>

/**
 * The one table from errno names (as Node and libuv report them) to a `NetError` tag and the
 * text Go prints for it. Codes not listed become `SystemError` with the code kept.
 *
 * @since 0.1.0
 * @category errno
 */
export const errnoTable: ReadonlyMap<string, readonly [Tag, string]> = new Map<string, readonly [Tag, string]>([
  ["ECONNREFUSED", ["ConnectionRefused", "connection refused"]],
  ["ECONNRESET", ["ConnectionReset", "connection reset by peer"]],
  ["ECONNABORTED", ["ConnectionReset", "software caused connection abort"]],
  ["EPIPE", ["BrokenPipe", "broken pipe"]],
  ["EADDRINUSE", ["AddressInUse", "address already in use"]],
  ["EADDRNOTAVAIL", ["AddressNotAvailable", "cannot assign requested address"]],
  ["EACCES", ["PermissionDenied", "permission denied"]],
  ["EPERM", ["PermissionDenied", "operation not permitted"]],
  ["ENETUNREACH", ["Unreachable", "network is unreachable"]],
  ["EHOSTUNREACH", ["Unreachable", "no route to host"]],
  ["ENETDOWN", ["Unreachable", "network is down"]],
  ["EHOSTDOWN", ["Unreachable", "host is down"]],
  ["ETIMEDOUT", ["Timeout", "connection timed out"]],
  ["EMFILE", ["TooManyOpenFiles", "too many open files"]],
  ["ENFILE", ["TooManyOpenFiles", "too many open files in system"]],
  ["ENOTFOUND", ["DnsError", "no such host"]],
  ["EAI_NONAME", ["DnsError", "no such host"]],
  ["EAI_NODATA", ["DnsError", "no such host"]],
  ["EAI_AGAIN", ["DnsError", "temporary failure in name resolution"]],
  ["EAI_FAIL", ["DnsError", "server misbehaving"]],
  ["ENAMETOOLONG", ["AddressError", "file name too long"]],
  ["ERR_SOCKET_CLOSED", ["Closed", "use of closed network connection"]],
  ["ERR_STREAM_DESTROYED", ["Closed", "use of closed network connection"]],
  ["ENOENT", ["SystemError", "no such file or directory"]],
  ["ENOTSOCK", ["SystemError", "socket operation on non-socket"]],
  ["EINVAL", ["SystemError", "invalid argument"]],
  ["ENOBUFS", ["SystemError", "no buffer space available"]],
  ["ENOMEM", ["SystemError", "cannot allocate memory"]]
])

/**
 * Context for `fromErrno`: where the failure happened.
 *
 * @since 0.1.0
 * @category errno
 */
export interface ErrnoContext {
  readonly op: Op
  readonly network: string
  readonly address: string
  readonly source?: string | undefined
}

/**
 * Maps an OS error (anything with an errno `code`, and optionally `syscall` and `message`, as
 * Node's system errors have) to its `NetError`, through `errnoTable`. DNS errors put the host
 * in their reason (`lookup example.invalid: no such host`), as Go does. A cause with a TLS
 * `kind` (an adapter's TLS failure, see `Transport.OsError`) is a `TlsError` of that kind with
 * `message` as its reason.
 *
 * @since 0.1.0
 * @category errno
 */
export const fromErrno = (
  cause: {
    readonly code?: unknown
    readonly syscall?: unknown
    readonly message?: unknown
    readonly hostname?: unknown
    readonly kind?: unknown
  },
  context: ErrnoContext
): NetError => {
  const code = typeof cause.code === "string" ? cause.code : undefined
  if (isTlsKind(cause.kind)) {
    return new TlsError({
      op: context.op,
      network: context.network,
      address: context.address,
      source: context.source,
      code,
      kind: cause.kind,
      reason: typeof cause.message === "string" ? cause.message : String(code)
    })
  }
  const entry = code !== undefined ? errnoTable.get(code) : undefined
  const tag: Tag = entry?.[0] ?? "SystemError"
  let reason = entry?.[1] ?? (typeof cause.message === "string" ? cause.message : String(cause))
  let syscall = typeof cause.syscall === "string" ? cause.syscall : undefined
  if (tag === "DnsError") {
    const host = typeof cause.hostname === "string" ? cause.hostname : context.address
    reason = `lookup ${host}: ${reason}`
    syscall = undefined
  }
  return make(tag, {
    op: context.op,
    network: context.network,
    address: context.address,
    source: context.source,
    code,
    syscall,
    reason
  })
}

const isTlsKind = Schema.is(TlsKind)

/**
 * Whether a value is a `NetError`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isNetError = (u: unknown): u is NetError =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && Object.hasOwn(classes, u._tag) &&
  u instanceof classes[u._tag as Tag]

/**
 * Whether the error is a timeout (a passed deadline or an OS connect timeout), as Go's
 * `net.Error.Timeout()`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTimeout = (error: NetError): error is Timeout => error._tag === "Timeout"

/**
 * Whether the error is a TLS failure (a handshake, a certificate verification, a peer's alert).
 *
 * @since 0.3.0
 * @category guards
 */
export const isTlsError = (error: NetError): error is TlsError => error._tag === "TlsError"

/**
 * Go's text for a closed resource.
 *
 * @since 0.1.0
 * @category formatting
 */
export const closedReason = "use of closed network connection"

/**
 * Go's text for a passed deadline (`os.ErrDeadlineExceeded`).
 *
 * @since 0.1.0
 * @category formatting
 */
export const timeoutReason = "i/o timeout"
