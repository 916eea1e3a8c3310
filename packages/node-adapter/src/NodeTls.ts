/**
 * NodeTls: TLS over `node:tls` with vvnet's contract (Go's `crypto/tls` beside `net`). `dial`
 * and `listen` make `Conn`s and `Listener`s that behave as NodeNet's do (pull reads with
 * backpressure, writes that resolve once taken, absolute deadlines, `closeWrite`, graceful
 * `close`, Scope ownership, nothing leaked on interruption), with a handshake first;
 * `NodeTls.layer(config)` is a `Net` whose dial and listen are TLS, so code written against
 * `Net` (and `Net.serve`) runs over TLS unchanged.
 *
 * - Verification is on by default: the server's chain must lead to a trusted CA (`ca`, or
 *   Node's bundled roots) and its certificate must be valid for the dialled host (or
 *   `serverName`), as Go's `tls.Dial` does.
 * - Handshake and verification failures are `TlsError`s carrying the OpenSSL code
 *   (`CERT_HAS_EXPIRED`, `ERR_TLS_CERT_ALTNAME_INVALID`, `ERR_SSL_TLSV1_ALERT_UNKNOWN_CA`, …)
 *   and Go's text (`tls: failed to verify certificate: x509: certificate signed by unknown
 *   authority`, `remote error: tls: bad certificate`).
 * - `connectionState(conn)` is Go's `tls.Conn.ConnectionState()`: version, cipher suite, ALPN
 *   result, server name, peer certificate.
 *
 * @since 0.3.0
 */
import { Address, type Conn, type Listener, Net, NetError, Transport } from "@vvnet/core"
import { TlsError } from "@vvnet/core/NetError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import * as Tls from "node:tls"
import * as internalDial from "./internal/dial.js"
import * as internalListen from "./internal/listen.js"
import { errnoFailure } from "./internal/socket.js"
import type { Target } from "./internal/target.js"
import { classify } from "./internal/tlsErrors.js"
import { upgrade, type UpgradeSettings } from "./internal/tlsUpgrade.js"
import { type Resolver, systemResolver } from "./NodeNet.js"

export {
  /**
   * A TLS handshake or verification failure (Go's `tls.CertificateVerificationError`,
   * `tls.AlertError` and handshake errors), or a TLS alert on an established connection: core's
   * `NetError.TlsError`, one of the `NetError` tags, with the `NetError` fields (`op`, `network`,
   * `address`, `source`) and:
   *
   * - `code`: the OpenSSL or Node code: a verification code (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
   *   `DEPTH_ZERO_SELF_SIGNED_CERT`, `SELF_SIGNED_CERT_IN_CHAIN`, `CERT_HAS_EXPIRED`,
   *   `CERT_NOT_YET_VALID`, `ERR_TLS_CERT_ALTNAME_INVALID`), an alert from the peer
   *   (`ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE`, `ERR_SSL_TLSV1_ALERT_UNKNOWN_CA`,
   *   `ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`, `ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL`,
   *   `ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION`, …) or this side's handshake failure
   *   (`ERR_SSL_WRONG_VERSION_NUMBER`, `ERR_SSL_UNSUPPORTED_PROTOCOL`, `ERR_TLS_HANDSHAKE_TIMEOUT`, …).
   * - `kind`: `"verification"` (the peer's certificate was not accepted), `"alert"` (the peer
   *   refused the handshake), `"handshake"` (this side gave up: not TLS, no common version or
   *   cipher), `"timeout"` (the server's handshake timeout passed).
   * - `reason`: Go's text: `tls: failed to verify certificate: x509: certificate signed by unknown
   *   authority`, `… x509: certificate has expired or is not yet valid`, `… x509: certificate is
   *   valid for other.example, not localhost`, `remote error: tls: bad certificate`,
   *   `tls: first record does not look like a TLS handshake`.
   * - `message`: as every `NetError`'s, `op network [source->]address: reason`, e.g.
   *   `dial tcp 127.0.0.1:8443: tls: failed to verify certificate: x509: certificate signed by
   *   unknown authority`.
   *
   * `NodeTls.dial`, `listen` (reported to `onHandshakeError`), `client` and `server` fail with
   * it, and so does the `Net` of `NodeTls.layer` (`Net.dial`), so `Effect.catchTag("TlsError", …)`
   * works on either; a TLS alert in a read or write of an established connection fails that
   * operation with it.
   *
   * @since 0.3.0
   * @category errors
   */
  TlsError
} from "@vvnet/core/NetError"

/**
 * A `TlsError` as a `SystemError` with the same fields, `code` and Go-style `reason`, for code
 * that expects the form the `Net` of `NodeTls.layer` reported before `TlsError` became a
 * `NetError`.
 *
 * @deprecated `TlsError` is a `NetError`: use it as it is.
 * @since 0.3.0
 * @category errors
 */
export const toNetError = (error: TlsError): NetError.SystemError =>
  NetError.make("SystemError", {
    op: error.op,
    network: error.network,
    address: error.address,
    source: error.source,
    code: error.code,
    reason: error.reason
  })

/**
 * Whether a `NetError` is a TLS failure: a `TlsError`, or a `SystemError` whose `code` is a TLS
 * or certificate verification code (the form `toNetError` makes).
 *
 * @deprecated `TlsError` is a `NetError` tag: test `error._tag === "TlsError"`, use
 * `NetError.isTlsError`, or `Effect.catchTag("TlsError", …)`.
 * @since 0.3.0
 * @category guards
 */
export const isTlsFailure = (error: NetError.NetError): boolean =>
  error._tag === "TlsError" || (error._tag === "SystemError" && classify({ code: error.code }) !== undefined)

/**
 * PEM text (or DER/PEM bytes), or several: what node:tls takes for `ca`, `cert` and `key`.
 *
 * @since 0.3.0
 * @category models
 */
export type Pem = string | Uint8Array | ReadonlyArray<string | Uint8Array>

/**
 * A TLS configuration (Go's `tls.Config`), for either side.
 *
 * Both sides:
 * - `ca`: the certificate authorities to trust (PEM). Client: replaces Node's bundled roots
 *   for verifying the server. Server: verifies client certificates (with `clientAuth`).
 * - `cert`, `key`: this side's certificate chain and private key (PEM). Required to listen;
 *   on a client, presented when the server asks for a client certificate.
 * - `alpnProtocols`: ALPN protocols in preference order (`["h2", "http/1.1"]`); the result is
 *   `connectionState(conn).negotiatedProtocol`. A server with protocols refuses a client whose
 *   offer shares none (alert `no application protocol`); a client offering none is accepted.
 * - `minVersion`, `maxVersion`: `"TLSv1.2"` or `"TLSv1.3"` (also `"TLSv1"`, `"TLSv1.1"`);
 *   default Node's, TLS 1.2 to 1.3.
 *
 * Client (dial):
 * - `serverName`: the name the server's certificate must be valid for, also sent as SNI.
 *   Default: the host of the dialled address (a name, or an IP checked against IP SANs). Needed
 *   on `unix`, where the address names no host (unless `insecureSkipVerify`).
 * - `insecureSkipVerify`: accept any certificate and name (Go's `InsecureSkipVerify`; testing
 *   only). Default `false`: verification is on.
 *
 * Server (listen):
 * - `clientAuth`: `"none"` (default; no client certificate asked), `"request"` (asked, not
 *   required, not verified: Go's `RequestClientCert`), `"require"` (required and verified
 *   against `ca`: Go's `RequireAndVerifyClientCert`).
 * - `handshakeTimeout`: milliseconds an accepted connection has to complete its handshake
 *   (default 30000; `0`: no limit). Counted from the accept; past it the connection is dropped.
 * - `onHandshakeError`: called for each accepted connection whose handshake failed (it never
 *   reaches `accept`); must not fail. Default: one Debug line,
 *   `vvnet tls: handshake failed: <message>` (Go's net/http logs the same).
 *
 * And `resolver` (as `NodeNet.Options`): replaces the system resolver for dials.
 *
 * @since 0.3.0
 * @category models
 */
export interface Config {
  readonly ca?: Pem | undefined
  readonly cert?: Pem | undefined
  readonly key?: Pem | undefined
  readonly alpnProtocols?: ReadonlyArray<string> | undefined
  readonly minVersion?: Tls.SecureVersion | undefined
  readonly maxVersion?: Tls.SecureVersion | undefined
  readonly serverName?: string | undefined
  readonly insecureSkipVerify?: boolean | undefined
  readonly clientAuth?: "none" | "request" | "require" | undefined
  readonly handshakeTimeout?: number | undefined
  readonly onHandshakeError?: ((error: TlsError | NetError.NetError) => Effect.Effect<void>) | undefined
  readonly resolver?: Resolver | undefined
}

/**
 * The default `handshakeTimeout` of a TLS listener, in milliseconds: 30000 (a client that
 * connects and says nothing holds an fd for at most this long; Node's own default is 120000).
 *
 * @since 0.3.0
 * @category constants
 */
export const defaultHandshakeTimeout = 30_000

/**
 * A TLS connection's negotiated parameters (Go's `tls.ConnectionState`), read after the
 * handshake:
 *
 * - `version`: `"TLSv1.3"`, `"TLSv1.2"`, …
 * - `cipherSuite`: the cipher suite's standard name (`"TLS_AES_256_GCM_SHA384"`).
 * - `negotiatedProtocol`: the ALPN result, or undefined when none was agreed.
 * - `serverName`: client: the SNI it sent (undefined when it dialled an IP); server: the SNI
 *   the client sent.
 * - `peerCertificate`: the peer's leaf certificate (`X509Certificate`; its `issuer`,
 *   `subjectAltName`, `validTo`, `fingerprint256`, …), undefined when it sent none (a client
 *   without a certificate).
 * - `verified`: the peer's certificate was verified (client: unless `insecureSkipVerify`;
 *   server: a client certificate that passed verification against `ca`).
 * - `didResume`: the session was resumed.
 *
 * @since 0.3.0
 * @category models
 */
export interface ConnectionState {
  readonly version: string
  readonly cipherSuite: string
  readonly negotiatedProtocol: string | undefined
  readonly serverName: string | undefined
  readonly peerCertificate: Crypto.X509Certificate | undefined
  readonly verified: boolean
  readonly didResume: boolean
}

const states = new WeakMap<Conn.Conn, ConnectionState>()

const record = (socket: Tls.TLSSocket, conn: Conn.Conn, serverName: string | undefined, verified: boolean) => {
  let peerCertificate: Crypto.X509Certificate | undefined
  try {
    peerCertificate = socket.getPeerX509Certificate()
  } catch {
    peerCertificate = undefined
  }
  const alpn = socket.alpnProtocol
  states.set(conn, {
    version: socket.getProtocol() ?? "",
    cipherSuite: socket.getCipher()?.standardName ?? "",
    negotiatedProtocol: typeof alpn === "string" ? alpn : undefined,
    serverName,
    peerCertificate,
    verified,
    didResume: socket.isSessionReused()
  })
}

/**
 * The negotiated parameters of a TLS connection made by `NodeTls` (`dial`, `listen`'s
 * `accept`, `NodeTls.layer`'s `Net`), or `Option.none()` for any other `Conn`. Captured at the
 * handshake, so it stays readable after `close`.
 *
 * @since 0.3.0
 * @category accessors
 */
export const connectionState = (conn: Conn.Conn): Option.Option<ConnectionState> =>
  Option.fromNullable(states.get(conn))

// ---- configuration ----------------------------------------------------------------------------

const versions: ReadonlySet<unknown> = new Set(["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"])

/** The reason the parts of a config both sides use are invalid, or undefined. */
const invalidConfig = (config: Config): string | undefined => {
  const alpn: unknown = config.alpnProtocols
  if (
    alpn !== undefined &&
    !(Array.isArray(alpn) &&
      alpn.every((p) => typeof p === "string" && p.length > 0 && Buffer.byteLength(p) <= 255))
  ) {
    return "invalid argument: alpnProtocols must be an array of non-empty strings of at most 255 bytes"
  }
  for (const [name, value] of [["minVersion", config.minVersion], ["maxVersion", config.maxVersion]] as const) {
    if (value !== undefined && !versions.has(value)) {
      return `invalid argument: ${name} must be "TLSv1.2", "TLSv1.3", "TLSv1.1" or "TLSv1", got ${String(value)}`
    }
  }
  if (config.insecureSkipVerify !== undefined && typeof config.insecureSkipVerify !== "boolean") {
    return "invalid argument: insecureSkipVerify must be a boolean"
  }
  return undefined
}

const invalid = (op: NetError.Op, network: string, address: string, reason: string) =>
  NetError.make("InvalidArgument", { op, network, address, reason })

const pemList = (pem: Pem | undefined) =>
  pem === undefined ? undefined : Array.isArray(pem) ?
    pem.map((p) => typeof p === "string" ? p : Buffer.from(p)) :
    typeof pem === "string"
    ? pem
    : Buffer.from(pem as Uint8Array)

const certificateBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/**
 * The reason `ca` does not parse, or undefined: node:tls silently skips what it cannot read
 * there, which would turn a typo into "unknown authority" at every dial.
 */
const invalidCa = (ca: Pem | undefined): string | undefined => {
  if (ca === undefined) return undefined
  const entries: ReadonlyArray<string | Uint8Array> = Array.isArray(ca) ? ca : [ca as string | Uint8Array]
  try {
    for (const entry of entries) {
      const blocks = typeof entry === "string" ? entry.match(certificateBlock) ?? [] : [entry]
      if (blocks.length === 0) return "invalid argument: tls: ca holds no PEM certificate"
      for (const block of blocks) new Crypto.X509Certificate(typeof block === "string" ? block : Buffer.from(block))
    }
  } catch (error) {
    return `invalid argument: tls: ca: ${error instanceof Error ? error.message : String(error)}`
  }
  return undefined
}

const clientContexts = new WeakMap<Config, Either.Either<Tls.SecureContext, string>>()

/** The client SecureContext of a config, made once per config object. */
const clientContext = (config: Config): Either.Either<Tls.SecureContext, string> => {
  let context = clientContexts.get(config)
  if (context === undefined) {
    const badCa = invalidCa(config.ca)
    if (badCa !== undefined) {
      context = Either.left(badCa)
      clientContexts.set(config, context)
      return context
    }
    try {
      context = Either.right(Tls.createSecureContext({
        ca: pemList(config.ca),
        cert: pemList(config.cert),
        key: pemList(config.key),
        minVersion: config.minVersion,
        maxVersion: config.maxVersion
      }))
    } catch (error) {
      context = Either.left(`invalid argument: tls: ${error instanceof Error ? error.message : String(error)}`)
    }
    clientContexts.set(config, context)
  }
  return context
}

/** A server's node:tls options from a config, checked (certificate, key and CA parse), or the reason they are invalid. */
const prepareServer = (
  config: Config
): Either.Either<{ readonly options: Tls.TlsOptions; readonly handshakeTimeout: number }, string> => {
  const reason = invalidConfig(config)
  if (reason !== undefined) return Either.left(reason)
  const clientAuth: unknown = config.clientAuth ?? "none"
  if (clientAuth !== "none" && clientAuth !== "request" && clientAuth !== "require") {
    return Either.left(`invalid argument: clientAuth must be "none", "request" or "require", got ${String(clientAuth)}`)
  }
  const timeout: unknown = config.handshakeTimeout ?? defaultHandshakeTimeout
  if (!(typeof timeout === "number" && Number.isFinite(timeout) && timeout >= 0)) {
    return Either.left(
      `invalid argument: handshakeTimeout must be a finite, non-negative number of milliseconds, got ${String(timeout)}`
    )
  }
  if (config.cert === undefined || config.key === undefined) {
    return Either.left("invalid argument: tls: a server needs a certificate and its private key (cert and key)")
  }
  const badCa = invalidCa(config.ca)
  if (badCa !== undefined) return Either.left(badCa)
  const options: Tls.TlsOptions = {
    cert: pemList(config.cert),
    key: pemList(config.key),
    ca: pemList(config.ca),
    requestCert: clientAuth !== "none",
    rejectUnauthorized: clientAuth === "require",
    minVersion: config.minVersion,
    maxVersion: config.maxVersion,
    // node:tls reads 0 as its default (120 s): -1 turns the timer off
    handshakeTimeout: timeout === 0 ? -1 : timeout,
    ...(config.alpnProtocols !== undefined ? { ALPNProtocols: [...config.alpnProtocols] } : {})
  }
  try {
    Tls.createSecureContext(options) // the certificate, key and CA parse, or a typed failure now
  } catch (error) {
    return Either.left(`invalid argument: tls: ${error instanceof Error ? error.message : String(error)}`)
  }
  return Either.right({ options, handshakeTimeout: timeout })
}

/** A client without a name to verify the server's certificate for (no host in a unix address). */
const unixWithoutName = "invalid argument: tls: either serverName or insecureSkipVerify must be specified in the config"

/**
 * Dials `address` on `network` (`tcp`, `tcp4`, `tcp6`, `unix`) and completes a TLS handshake
 * as a client (Go's `tls.DialWithDialer`), with `config`'s verification, SNI and ALPN. The
 * connection's `close` goes to the caller's Scope; `connectionState(conn)` reads what was
 * negotiated. `options` are `Net.DialOptions`: `timeout` covers the connect and the handshake
 * together (every resolved address included), `keepAlive`, `noDelay`, `localAddress`,
 * `readBufferSize`, `linger` as for NodeNet.
 *
 * Fails with `TlsError` (verification, the server's alert, no common version: the address
 * answered, so no other resolved address is tried), `InvalidArgument` (a bad option or config,
 * a PEM that does not parse, `unix` without `serverName`), or the dial's `NetError`s
 * (`AddressError`, `DnsError`, `ConnectionRefused`, `Timeout`, `ConnectionReset` when the
 * server closes during the handshake, …). Interrupting it, at any point of the connect or the
 * handshake, leaves no socket, timer or fd.
 *
 * @since 0.3.0
 * @category constructors
 */
export const dial = (
  network: string,
  address: string,
  config: Config,
  options?: Net.DialOptions
): Effect.Effect<Conn.Conn, NetError.NetError | TlsError, Scope.Scope> =>
  internalDial.dial(config.resolver ?? systemResolver, network, address, options, checkOf(config), dialerOf(config))

/** The config's own check before a dial: the reason it is invalid, or undefined. */
const checkOf = (config: Config) => (): string | undefined => {
  const reason = invalidConfig(config)
  if (reason !== undefined) return reason
  const context = clientContext(config)
  return Either.isLeft(context) ? context.left : undefined
}

/** The TLS dialer for a resolved address, with the name to verify, or the reason it cannot dial. */
const dialerOf =
  (config: Config) => (addr: Address.Address, target: Target): internalDial.Dialer<Tls.TLSSocket> | string => {
    const verify = config.insecureSkipVerify !== true
    let verifyName = config.serverName
    if (verifyName === undefined) {
      if (addr._tag === "UnixAddress") {
        if (verify) return unixWithoutName
        verifyName = "localhost"
      } else {
        verifyName = addr.host === "" ? target.hosts[0]! : addr.host.replace(/\.$/, "")
      }
    }
    // checked before the resolution, and made once per config
    const secureContext = Either.getOrThrow(clientContext(config))
    return clientDialer(secureContext, verifyName, verify, config.alpnProtocols)
  }

const noIdentityCheck = () => undefined

/** The TLS kind of dial: `tls.connect`, ready at `secureConnect` (the handshake done). */
const clientDialer = (
  secureContext: Tls.SecureContext,
  verifyName: string,
  verify: boolean,
  alpnProtocols: ReadonlyArray<string> | undefined
): internalDial.Dialer<Tls.TLSSocket> => {
  // SNI names a host, never an IP
  const serverName = Address.ipVersion(verifyName) === undefined ? verifyName : undefined
  // allowHalfOpen, and localAddress and localPort from the connect options, reach net.Socket
  // (node:tls passes them; its types omit them)
  const common: Tls.ConnectionOptions & { allowHalfOpen: boolean } = {
    allowHalfOpen: true,
    secureContext,
    rejectUnauthorized: verify,
    checkServerIdentity: verify ? (_host, cert) => Tls.checkServerIdentity(verifyName, cert) : noIdentityCheck,
    ...(serverName !== undefined ? { servername: serverName } : {}),
    ...(alpnProtocols !== undefined ? { ALPNProtocols: [...alpnProtocols] } : {})
  }
  return {
    connect: (options) => Tls.connect({ ...common, ...options }),
    ready: "secureConnect",
    onReady: (socket, conn) => record(socket, conn, serverName, verify)
  }
}

/**
 * Listens on `address` on `network` and accepts TLS connections as a server (Go's
 * `tls.Listen`), with `config`'s certificate (`cert` and `key`, required), client
 * authentication (`clientAuth`, `ca`), ALPN and versions. The listener's `close` goes to the
 * caller's Scope. `options` are `Net.ListenOptions` (`backlog`, `reclaimStaleSocket`,
 * `readBufferSize`, `linger`, `exclusive`), as for NodeNet, a `node:cluster` worker's listener
 * included.
 *
 * `accept` (and `Net.serve`) returns connections whose handshake is done: handshakes run as
 * connections arrive, side by side, each bounded by `handshakeTimeout` (default 30000 ms), so a
 * slow or silent client never holds up another's accept. A connection whose handshake fails is
 * closed and reported to `onHandshakeError` (default: a Debug log line); it never reaches
 * `accept`. Closing the listener also closes the connections still in their handshake.
 *
 * Fails with `InvalidArgument` (no `cert`/`key`, a PEM or key that does not parse, a bad
 * option) or the listen's `NetError`s (`AddressError`, `AddressInUse`, …).
 *
 * @since 0.3.0
 * @category constructors
 */
export const listen = (
  network: string,
  address: string,
  config: Config,
  options?: Net.ListenOptions
): Effect.Effect<Listener.Listener, NetError.NetError, Scope.Scope> =>
  internalListen.listen(
    config.resolver ?? systemResolver,
    network,
    address,
    options,
    Effect.suspend(() => {
      const prepared = prepareServer(config)
      if (Either.isLeft(prepared)) return Effect.fail(invalid("listen", network, address, prepared.left))
      const serverOptions = prepared.right.options
      const report = config.onHandshakeError ??
        ((error: TlsError | NetError.NetError) => Effect.logDebug(`vvnet tls: handshake failed: ${error.message}`))
      return Effect.map(
        Effect.runtime<never>(),
        (runtime): internalListen.ServerKind => ({
          // not half-open during the handshake: a half-open TLSSocket that reads the client's FIN
          // mid-handshake (a client that rejected our certificate) waits for `handshakeTimeout`
          // with its fd open; the listener makes each connection half-open once it is secure
          createServer: () => Tls.createServer(serverOptions),
          ready: "secureConnection",
          onHandshakeError: (error) =>
            Runtime.runFork(runtime)(Effect.catchAllCause(Effect.suspend(() => report(error)), () => Effect.void)),
          onReady: (socket, conn) => {
            const name = (socket as { servername?: unknown }).servername
            record(socket, conn, typeof name === "string" ? name : undefined, socket.authorized)
          }
        })
      )
    })
  )

/**
 * Options of `client` and `server`: the TLS connection's receive buffer high-water mark in bytes
 * (`readBufferSize`, default 131072) and its graceful-close linger bound in milliseconds
 * (`linger`, default 5000), as in `Net.DialOptions`.
 *
 * @since 0.3.0
 * @category models
 */
export interface UpgradeOptions {
  readonly readBufferSize?: number | undefined
  readonly linger?: number | undefined
}

const upgradeWith = (
  role: "client" | "server",
  conn: Conn.Conn,
  config: Config,
  options: UpgradeOptions | undefined
): Effect.Effect<Conn.Conn, NetError.NetError | TlsError, Scope.Scope> =>
  Effect.gen(function*() {
    const op = role === "client" ? "dial" : "accept"
    const context = { op, network: conn.network, address: conn.remoteAddress, source: conn.localAddress } as const
    const fail = (reason: string) => NetError.make("InvalidArgument", { ...context, reason })
    const bad = Transport.validateDialOptions(conn.network, conn.remoteAddress, {
      readBufferSize: options?.readBufferSize,
      linger: options?.linger
    })
    if (bad !== undefined) return yield* fail(bad.reason)
    let settings: UpgradeSettings
    if (role === "client") {
      const reason = invalidConfig(config)
      if (reason !== undefined) return yield* fail(reason)
      const secureContext = clientContext(config)
      if (Either.isLeft(secureContext)) return yield* fail(secureContext.left)
      const verify = config.insecureSkipVerify !== true
      let verifyName = config.serverName
      if (verifyName === undefined) {
        const host = conn.network === "unix" ? undefined : Address.splitHostPort(conn.remoteAddress)
        if (host !== undefined && Either.isRight(host) && host.right[0] !== "") verifyName = host.right[0]
        else if (!verify) verifyName = "localhost"
        else return yield* fail(unixWithoutName)
      }
      settings = {
        isServer: false,
        secureContext: secureContext.right,
        verifyName,
        serverName: Address.ipVersion(verifyName) === undefined ? verifyName : undefined,
        verify,
        requestCert: false,
        alpnProtocols: config.alpnProtocols,
        handshakeTimeout: 0,
        socketOptions: options
      }
    } else {
      const prepared = prepareServer(config)
      if (Either.isLeft(prepared)) return yield* fail(prepared.left)
      const serverOptions = prepared.right.options
      settings = {
        isServer: true,
        secureContext: Tls.createSecureContext(serverOptions),
        verifyName: "",
        serverName: undefined,
        verify: serverOptions.rejectUnauthorized === true,
        requestCert: serverOptions.requestCert === true,
        alpnProtocols: config.alpnProtocols,
        handshakeTimeout: prepared.right.handshakeTimeout,
        socketOptions: options
      }
    }
    const runtime = yield* Effect.runtime<never>()
    const scope = yield* Effect.scope
    // the handshake is interruptible; once it succeeded, the connection's close is in the Scope
    const made = yield* Effect.uninterruptibleMask((restore) =>
      Effect.tap(
        restore(upgrade(
          conn,
          settings,
          runtime,
          (error) => errnoFailure(error, context),
          () =>
            new TlsError({
              ...context,
              code: "ERR_TLS_HANDSHAKE_TIMEOUT",
              kind: "timeout",
              reason: "tls: handshake timed out"
            }),
          (socket, tlsConn) => {
            const name = role === "client" ? settings.serverName : (socket as { servername?: unknown }).servername
            record(
              socket,
              tlsConn,
              typeof name === "string" ? name : undefined,
              role === "client" ? settings.verify : socket.authorized
            )
          }
        )),
        (made) => Scope.addFinalizer(scope, Effect.sync(() => made.close(false)))
      )
    )
    return made.conn
  })

/**
 * Runs a TLS handshake as the client over an existing connection and returns the TLS
 * connection (Go's `tls.Client(conn, config)` followed by `Handshake`): STARTTLS in SMTP, IMAP,
 * PostgreSQL and the like, or TLS over any `Conn` (a MemoryNet one included). The server's
 * certificate is verified for `config.serverName`, or the host of `conn.remoteAddress` (on
 * `unix`, `serverName` or `insecureSkipVerify` is required).
 *
 * The TLS connection keeps the whole `Conn` contract and owns `conn`: it reads and writes
 * through `conn` (its bytes already buffered included), its `closeWrite` sends close_notify then
 * `conn`'s FIN, and its `close` (in the caller's Scope) closes `conn` after the graceful TLS
 * close. Do not use `conn` directly afterwards; set deadlines on the TLS connection (deadlines
 * still set on `conn` apply underneath). The TLS connection's graceful close lingers by itself
 * (close_notify, FIN, the peer's input drained); `conn`'s own linger then runs again beneath it
 * when `conn` wrote bytes (the STARTTLS exchange, the handshake), so a peer still sending sees its
 * writes accepted until `conn`'s `linger` passes: dial or listen the plain connection with
 * `linger: 0` to release it as soon as the TLS close is done. No handshake timeout of its own: bound it with
 * `Effect.timeout`. On failure or interruption `conn` is closed (it is mid-handshake).
 *
 * Fails with `TlsError` (verification, the server's alert), `InvalidArgument` (bad config or
 * options), or a `NetError` of `conn` (`ConnectionReset` when the peer closes mid-handshake).
 *
 * @since 0.3.0
 * @category constructors
 */
export const client = (
  conn: Conn.Conn,
  config: Config,
  options?: UpgradeOptions
): Effect.Effect<Conn.Conn, NetError.NetError | TlsError, Scope.Scope> => upgradeWith("client", conn, config, options)

/**
 * Runs a TLS handshake as the server over an existing connection and returns the TLS
 * connection (Go's `tls.Server(conn, config)` followed by `Handshake`), the server side of
 * STARTTLS. Needs `config.cert` and `config.key`; `clientAuth`, `ca`, `alpnProtocols`,
 * versions and `handshakeTimeout` (default 30000 ms, a `TlsError` of kind `"timeout"` past it)
 * apply as for `listen`. Ownership, close and failures as `client`.
 *
 * @since 0.3.0
 * @category constructors
 */
export const server = (
  conn: Conn.Conn,
  config: Config,
  options?: UpgradeOptions
): Effect.Effect<Conn.Conn, NetError.NetError | TlsError, Scope.Scope> => upgradeWith("server", conn, config, options)

/**
 * Makes a `Net` whose `dial` and `listen` are `NodeTls.dial` and `NodeTls.listen` with
 * `config`: code written against `Net` runs over TLS unchanged. Its failures are the same: a
 * handshake or verification failure of `Net.dial` is a `TlsError` (a `NetError` tag), caught by
 * `Effect.catchTag("TlsError", …)` as on `NodeTls.dial`.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (config: Config): Net.Net["Type"] => {
  const service: Net.Net["Type"] & { readonly [Net.DialCallbackTypeId]: Net.DialCallback } = {
    dial: (network, address, options) => dial(network, address, config, options),
    listen: (network, address, options) => listen(network, address, config, options),
    [Net.DialCallbackTypeId]: (network, address, options, callback) =>
      internalDial.dialCallback(network, address, options, checkOf(config), dialerOf(config), callback)
  }
  return Net.Net.of(service)
}

/**
 * A `Net` over node:tls (`make(config)`): `Net.dial` is a TLS client with `config`
 * (verification on unless `insecureSkipVerify`), `Net.listen` a TLS server with `config`'s
 * certificate, so `Net.serve` serves TLS.
 *
 * @example
 * ```ts
 * import { Conn, Net } from "@vvnet/core"
 * import { NodeTls } from "@vvnet/node-adapter"
 * import * as Effect from "effect/Effect"
 * import * as Option from "effect/Option"
 *
 * // an HTTP/1.1 request over TLS: the certificate is verified against Node's roots for
 * // example.com; the reply, and which ALPN protocol the server chose
 * const get = Effect.gen(function*() {
 *   const conn = yield* Net.dial("tcp", "example.com:443", { timeout: 10_000 })
 *   yield* conn.write("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
 *   const reply = new TextDecoder().decode(yield* Conn.readAll(conn))
 *   const alpn = Option.flatMap(NodeTls.connectionState(conn), (s) => Option.fromNullable(s.negotiatedProtocol))
 *   return { status: reply.split("\r\n")[0], alpn }
 * }).pipe(
 *   Effect.scoped,
 *   Effect.provide(NodeTls.layer({ alpnProtocols: ["http/1.1"] }))
 * )
 * // run it with Effect.runPromise(get)
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (config: Config): Layer.Layer<Net.Net> => Layer.succeed(Net.Net, make(config))
