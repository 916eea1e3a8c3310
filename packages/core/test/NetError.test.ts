import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as NetError from "../src/NetError.js"

const timeout = 30_000

const allTags: ReadonlyArray<NetError.Tag> = [
  "InvalidArgument",
  "AddressError",
  "DnsError",
  "ConnectionRefused",
  "ConnectionReset",
  "BrokenPipe",
  "AddressInUse",
  "AddressNotAvailable",
  "PermissionDenied",
  "Unreachable",
  "Timeout",
  "Closed",
  "TooManyOpenFiles",
  "SystemError",
  "TlsError"
]

const allOps: ReadonlyArray<NetError.Op> = [
  "dial",
  "listen",
  "accept",
  "read",
  "write",
  "close",
  "set_read_timeout",
  "set_write_timeout"
]

const classes = {
  InvalidArgument: NetError.InvalidArgument,
  AddressError: NetError.AddressError,
  DnsError: NetError.DnsError,
  ConnectionRefused: NetError.ConnectionRefused,
  ConnectionReset: NetError.ConnectionReset,
  BrokenPipe: NetError.BrokenPipe,
  AddressInUse: NetError.AddressInUse,
  AddressNotAvailable: NetError.AddressNotAvailable,
  PermissionDenied: NetError.PermissionDenied,
  Unreachable: NetError.Unreachable,
  Timeout: NetError.Timeout,
  Closed: NetError.Closed,
  TooManyOpenFiles: NetError.TooManyOpenFiles,
  SystemError: NetError.SystemError,
  TlsError: NetError.TlsError
} as const

const failureOf = <A>(exit: Exit.Exit<A, NetError.NetError>): NetError.NetError => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  if (exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${exit.cause._tag}`)
  return exit.cause.error
}

describe("NetError", () => {
  describe("Go-style messages", () => {
    it("dial refused: op network address: syscall: reason", () => {
      const error = NetError.fromErrno(
        { code: "ECONNREFUSED", syscall: "connect" },
        { op: "dial", network: "tcp", address: "127.0.0.1:1" }
      )
      expect(error._tag).toBe("ConnectionRefused")
      expect(error).toBeInstanceOf(NetError.ConnectionRefused)
      expect(error.message).toBe("dial tcp 127.0.0.1:1: connect: connection refused")
      expect(error.code).toBe("ECONNREFUSED")
      expect(error.syscall).toBe("connect")
      expect(error.reason).toBe("connection refused")
      expect(error.op).toBe("dial")
      expect(error.network).toBe("tcp")
      expect(error.address).toBe("127.0.0.1:1")
    })

    it("read timeout on a connection names source->address", () => {
      const error = NetError.make("Timeout", {
        op: "read",
        network: "tcp",
        source: "127.0.0.1:5000",
        address: "127.0.0.1:8080",
        reason: NetError.timeoutReason
      })
      expect(error.message).toBe("read tcp 127.0.0.1:5000->127.0.0.1:8080: i/o timeout")
      expect(NetError.isTimeout(error)).toBe(true)
    })

    it("closed: use of closed network connection, with and without a source", () => {
      expect(
        NetError.make("Closed", {
          op: "write",
          network: "unix",
          address: "/tmp/s.sock",
          reason: NetError.closedReason
        }).message
      ).toBe("write unix /tmp/s.sock: use of closed network connection")
      // an empty source (unix client) is left out, as Go does
      expect(
        NetError.make("Closed", {
          op: "read",
          network: "unix",
          source: "",
          address: "/tmp/s.sock",
          reason: NetError.closedReason
        }).message
      ).toBe("read unix /tmp/s.sock: use of closed network connection")
      expect(
        NetError.make("Closed", {
          op: "accept",
          network: "tcp",
          address: "127.0.0.1:80",
          reason: NetError.closedReason
        }).message
      ).toBe("accept tcp 127.0.0.1:80: use of closed network connection")
      const mapped = NetError.fromErrno(
        { code: "ERR_SOCKET_CLOSED" },
        { op: "write", network: "tcp", source: "127.0.0.1:5000", address: "127.0.0.1:8080" }
      )
      expect(mapped._tag).toBe("Closed")
      expect(mapped.message).toBe("write tcp 127.0.0.1:5000->127.0.0.1:8080: use of closed network connection")
    })

    it("DNS: the address is not repeated, the host is in the reason, no syscall", () => {
      const error = NetError.fromErrno(
        { code: "ENOTFOUND", syscall: "getaddrinfo", hostname: "x.invalid" },
        { op: "dial", network: "tcp", address: "x.invalid:80" }
      )
      expect(error._tag).toBe("DnsError")
      expect(error.message).toBe("dial tcp: lookup x.invalid: no such host")
      expect(error.address).toBe("x.invalid:80")
      expect(error.syscall).toBeUndefined()
      expect(error.code).toBe("ENOTFOUND")
      const again = NetError.fromErrno(
        { code: "EAI_AGAIN", hostname: "slow.example" },
        { op: "dial", network: "tcp4", address: "slow.example:443" }
      )
      expect(again.message).toBe("dial tcp4: lookup slow.example: temporary failure in name resolution")
    })

    it("address errors: the reason names the address, the address field is not repeated", () => {
      expect(
        NetError.make("AddressError", {
          op: "dial",
          network: "tcp",
          address: "::1:80",
          reason: "address ::1:80: too many colons in address"
        }).message
      ).toBe("dial tcp: address ::1:80: too many colons in address")
      expect(
        NetError.make("AddressError", { op: "listen", network: "tcpx", address: "", reason: "unknown network tcpx" })
          .message
      ).toBe("listen tcpx: unknown network tcpx")
    })

    it("formatMessage: the same text as message, for every tag", () => {
      for (const tag of allTags) {
        const fields: NetError.Fields = {
          op: "write",
          network: "tcp6",
          source: "[::1]:4000",
          address: "[::1]:80",
          syscall: "write",
          reason: "something"
        }
        const error = NetError.make(tag, fields)
        expect(error._tag).toBe(tag)
        expect(error).toBeInstanceOf(classes[tag])
        expect(error.message).toBe(NetError.formatMessage({ ...fields, _tag: tag }))
        if (tag === "AddressError" || tag === "DnsError") {
          expect(error.message).toBe("write tcp6: write: something")
        } else {
          expect(error.message).toBe("write tcp6 [::1]:4000->[::1]:80: write: something")
        }
      }
    })

    it("an empty network and address leave no stray spaces", () => {
      expect(NetError.formatMessage({ _tag: "SystemError", op: "close", network: "", address: "", reason: "x" }))
        .toBe("close: x")
    })
  })

  describe("errno table", () => {
    it("maps every entry to its tag and Go's text, keeping the code", () => {
      expect(NetError.errnoTable.size).toBeGreaterThan(20)
      for (const [code, [tag, text]] of NetError.errnoTable) {
        const error = NetError.fromErrno(
          { code, syscall: "connect", hostname: "h.example" },
          { op: "dial", network: "tcp", address: "h.example:80" }
        )
        expect(error._tag, code).toBe(tag)
        expect(error).toBeInstanceOf(classes[tag])
        expect(error.code, code).toBe(code)
        expect(NetError.isNetError(error)).toBe(true)
        if (tag === "DnsError") {
          expect(error.reason).toBe(`lookup h.example: ${text}`)
          expect(error.message).toBe(`dial tcp: lookup h.example: ${text}`)
        } else if (tag === "AddressError") {
          expect(error.reason).toBe(text)
          expect(error.message).toBe(`dial tcp: connect: ${text}`)
        } else {
          expect(error.reason).toBe(text)
          expect(error.message).toBe(`dial tcp h.example:80: connect: ${text}`)
        }
      }
    })

    it("the well-known codes land on the documented tags", () => {
      const expected: ReadonlyArray<readonly [string, NetError.Tag]> = [
        ["ECONNREFUSED", "ConnectionRefused"],
        ["ECONNRESET", "ConnectionReset"],
        ["ECONNABORTED", "ConnectionReset"],
        ["EPIPE", "BrokenPipe"],
        ["EADDRINUSE", "AddressInUse"],
        ["EADDRNOTAVAIL", "AddressNotAvailable"],
        ["EACCES", "PermissionDenied"],
        ["EPERM", "PermissionDenied"],
        ["ENETUNREACH", "Unreachable"],
        ["EHOSTUNREACH", "Unreachable"],
        ["ETIMEDOUT", "Timeout"],
        ["EMFILE", "TooManyOpenFiles"],
        ["ENFILE", "TooManyOpenFiles"],
        ["ENOTFOUND", "DnsError"],
        ["EAI_AGAIN", "DnsError"]
      ]
      for (const [code, tag] of expected) {
        expect(NetError.errnoTable.get(code)?.[0], code).toBe(tag)
      }
    })

    it("unknown codes become SystemError with the code and the OS message kept", () => {
      const error = NetError.fromErrno(
        { code: "EWEIRD", syscall: "read", message: "read EWEIRD something odd" },
        { op: "read", network: "tcp", source: "127.0.0.1:1", address: "127.0.0.1:2" }
      )
      expect(error._tag).toBe("SystemError")
      expect(error.code).toBe("EWEIRD")
      expect(error.reason).toBe("read EWEIRD something odd")
      expect(error.message).toBe("read tcp 127.0.0.1:1->127.0.0.1:2: read: read EWEIRD something odd")
    })

    it.prop(
      "any code outside the table is a SystemError that keeps it",
      [FastCheck.string({ minLength: 1, maxLength: 20 }).filter((code) => !NetError.errnoTable.has(code))],
      ([code]) => {
        const error = NetError.fromErrno({ code, message: "m" }, { op: "write", network: "unix", address: "/s" })
        expect(error._tag).toBe("SystemError")
        expect(error.code).toBe(code)
        expect(error.reason).toBe("m")
      },
      { timeout, fastCheck: { numRuns: 200 } }
    )

    it("a cause without a code is a SystemError without a code", () => {
      const error = NetError.fromErrno({ message: "no code here" }, { op: "dial", network: "tcp", address: "a:1" })
      expect(error._tag).toBe("SystemError")
      expect(error.code).toBeUndefined()
      expect(error.message).toBe("dial tcp a:1: no code here")
      // a non-string code is not kept as a code
      const numeric = NetError.fromErrno({ code: 104, message: "x" }, { op: "dial", network: "tcp", address: "a:1" })
      expect(numeric._tag).toBe("SystemError")
      expect(numeric.code).toBeUndefined()
    })
  })

  describe("TlsError", () => {
    const unknownAuthority = "tls: failed to verify certificate: x509: certificate signed by unknown authority"

    it("an adapter's cause with a TLS kind is a TlsError: code, kind, its message as the reason", () => {
      const error = NetError.fromErrno(
        { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE", message: unknownAuthority, kind: "verification" },
        { op: "dial", network: "tcp", address: "127.0.0.1:8443" }
      )
      expect(error).toBeInstanceOf(NetError.TlsError)
      expect(error).toMatchObject({ _tag: "TlsError", kind: "verification", code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" })
      expect(NetError.isTlsError(error)).toBe(true)
      expect(NetError.isNetError(error)).toBe(true)
      expect(error.message).toBe(`dial tcp 127.0.0.1:8443: ${unknownAuthority}`)
      // a kind that is not a TLS kind is ignored
      const odd = NetError.fromErrno({ code: "EWEIRD", message: "m", kind: "other" }, {
        op: "read",
        network: "tcp",
        address: "a:1"
      })
      expect(odd._tag).toBe("SystemError")
    })

    it("make: with its kind, or of kind handshake when made from plain fields", () => {
      const where = { op: "read", network: "tcp", source: "127.0.0.1:5", address: "127.0.0.1:6" } as const
      const alert = NetError.make("TlsError", { ...where, kind: "alert", reason: "remote error: tls: bad certificate" })
      expect(alert.kind).toBe("alert")
      expect(alert.message).toBe("read tcp 127.0.0.1:5->127.0.0.1:6: remote error: tls: bad certificate")
      const tag = "TlsError" as NetError.Tag // a tag chosen at run time
      expect(NetError.make(tag, { ...where, reason: "r" })).toMatchObject({ _tag: "TlsError", kind: "handshake" })
    })

    it.effect("catchTag over the union; the schema keeps its kind", () =>
      Effect.gen(function*() {
        const error: NetError.NetError = NetError.make("TlsError", {
          op: "dial",
          network: "tcp",
          address: "h:443",
          code: "CERT_HAS_EXPIRED",
          kind: "verification",
          reason: "tls: failed to verify certificate: x509: certificate has expired or is not yet valid"
        })
        const caught = yield* Effect.fail(error).pipe(
          Effect.catchTag("TlsError", (e) => Effect.succeed(e.kind)),
          Effect.catchAll(() => Effect.succeed("other"))
        )
        expect(caught).toBe("verification")
        const decoded = Schema.decodeUnknownSync(NetError.NetError)(
          JSON.parse(JSON.stringify(Schema.encodeSync(NetError.NetError)(error)))
        )
        expect(decoded).toBeInstanceOf(NetError.TlsError)
        expect(decoded).toMatchObject({ kind: "verification", code: "CERT_HAS_EXPIRED" })
        expect(decoded.message).toBe(error.message)
        expect(
          Either.isLeft(
            Schema.decodeUnknownEither(NetError.NetError)({
              _tag: "TlsError",
              op: "dial",
              network: "tcp",
              address: "",
              reason: "",
              kind: "nope"
            })
          )
        ).toBe(true)
      }))
  })

  describe("guards", () => {
    it("isNetError: true for every class, false for look-alikes", () => {
      for (const tag of allTags) {
        expect(NetError.isNetError(NetError.make(tag, { op: "read", network: "tcp", address: "a:1", reason: "r" })))
          .toBe(true)
      }
      expect(NetError.isNetError({ _tag: "Timeout", op: "read", network: "tcp", address: "", reason: "" })).toBe(false)
      expect(NetError.isNetError(new Error("Timeout"))).toBe(false)
      expect(NetError.isNetError({ _tag: "toString" })).toBe(false)
      expect(NetError.isNetError({ _tag: "constructor" })).toBe(false)
      expect(NetError.isNetError({ _tag: "__proto__" })).toBe(false)
      expect(NetError.isNetError(null)).toBe(false)
      expect(NetError.isNetError(undefined)).toBe(false)
      expect(NetError.isNetError("Timeout")).toBe(false)
      expect(NetError.isNetError(42)).toBe(false)
    })

    it("isTimeout only for Timeout", () => {
      for (const tag of allTags) {
        const error = NetError.make(tag, { op: "read", network: "tcp", address: "a:1", reason: "r" })
        expect(NetError.isTimeout(error)).toBe(tag === "Timeout")
      }
    })
  })

  describe("as Effect errors", () => {
    it.effect("errors are yieldable: yield* fails the effect with the error", () =>
      Effect.gen(function*() {
        const error = NetError.make("ConnectionReset", {
          op: "read",
          network: "tcp",
          address: "127.0.0.1:8080",
          reason: "connection reset by peer"
        })
        const exit = yield* Effect.exit(Effect.gen(function*() {
          yield* error
          return "unreachable"
        }))
        expect(failureOf(exit)).toBe(error)
      }), timeout)

    it.effect("Effect.catchTag discriminates the union", () =>
      Effect.gen(function*() {
        const refused: Effect.Effect<string, NetError.NetError> = Effect.fail(
          NetError.fromErrno({ code: "ECONNREFUSED", syscall: "connect" }, {
            op: "dial",
            network: "tcp",
            address: "127.0.0.1:1"
          })
        )
        const handled = yield* refused.pipe(
          Effect.catchTag("Timeout", () => Effect.succeed("timeout")),
          Effect.catchTag("ConnectionRefused", (e) => Effect.succeed(`refused ${e.address}`))
        )
        expect(handled).toBe("refused 127.0.0.1:1")

        // a tag that does not match leaves the failure in place
        const untouched = yield* Effect.exit(refused.pipe(Effect.catchTag("Timeout", () => Effect.succeed("timeout"))))
        expect(failureOf(untouched)._tag).toBe("ConnectionRefused")

        // catchTags over several tags
        const timedOut: Effect.Effect<string, NetError.NetError> = Effect.fail(
          NetError.make("Timeout", { op: "read", network: "tcp", address: "a:1", reason: NetError.timeoutReason })
        )
        const viaTags = yield* timedOut.pipe(
          Effect.catchTags({
            Closed: () => Effect.succeed("closed"),
            Timeout: (e) => Effect.succeed(e.message)
          })
        )
        expect(viaTags).toBe("read tcp a:1: i/o timeout")
      }), timeout)

    it("errors are real Errors with the Go message", () => {
      const error = NetError.make("BrokenPipe", {
        op: "write",
        network: "tcp",
        address: "127.0.0.1:80",
        syscall: "write",
        reason: "broken pipe"
      })
      expect(error).toBeInstanceOf(Error)
      expect(String(error)).toContain("write tcp 127.0.0.1:80: write: broken pipe")
    })
  })

  describe("Schema", () => {
    const encode = Schema.encodeSync(NetError.NetError)
    const decode = Schema.decodeUnknownSync(NetError.NetError)

    it("encode/decode roundtrip for every tag keeps class, fields and message", () => {
      for (const tag of allTags) {
        const error = NetError.make(tag, {
          op: "dial",
          network: "tcp",
          address: "127.0.0.1:1",
          source: "127.0.0.1:5",
          code: "ECODE",
          syscall: "connect",
          reason: "why"
        })
        const encoded = encode(error)
        expect(encoded).not.toBeInstanceOf(Error)
        expect(encoded._tag).toBe(tag)
        // survives JSON, as across a process boundary
        const decoded = decode(JSON.parse(JSON.stringify(encoded)))
        expect(decoded).toBeInstanceOf(classes[tag])
        expect(decoded._tag).toBe(tag)
        expect(decoded.message).toBe(error.message)
        expect({ ...decoded }).toEqual({ ...error })
        expect(NetError.isNetError(decoded)).toBe(true)
      }
    })

    it("decoding rejects an unknown tag or an unknown op", () => {
      const bad = Schema.decodeUnknownEither(NetError.NetError)
      expect(Either.isLeft(bad({ _tag: "Nope", op: "dial", network: "tcp", address: "", reason: "" }))).toBe(true)
      expect(Either.isLeft(bad({ _tag: "Timeout", op: "explode", network: "tcp", address: "", reason: "" }))).toBe(true)
      expect(Either.isLeft(bad({ _tag: "Timeout", op: "read", network: "tcp", address: "" }))).toBe(true)
      expect(Either.isRight(bad({ _tag: "Timeout", op: "read", network: "tcp", address: "", reason: "" }))).toBe(true)
    })

    it.prop(
      "roundtrip for arbitrary fields",
      [
        FastCheck.constantFrom(...allTags),
        FastCheck.constantFrom(...allOps),
        FastCheck.string({ maxLength: 30 }),
        FastCheck.string({ maxLength: 30 }),
        FastCheck.option(FastCheck.string({ maxLength: 30 }), { nil: undefined }),
        FastCheck.option(FastCheck.string({ maxLength: 12 }), { nil: undefined }),
        FastCheck.option(FastCheck.string({ maxLength: 12 }), { nil: undefined }),
        FastCheck.string({ maxLength: 40 })
      ],
      ([tag, op, network, address, source, code, syscall, reason]) => {
        const error = NetError.make(tag, { op, network, address, source, code, syscall, reason })
        const decoded = decode(JSON.parse(JSON.stringify(encode(error))))
        expect(decoded._tag).toBe(tag)
        expect(decoded).toBeInstanceOf(classes[tag])
        expect(decoded.op).toBe(op)
        expect(decoded.network).toBe(network)
        expect(decoded.address).toBe(address)
        expect(decoded.source).toBe(source)
        expect(decoded.code).toBe(code)
        expect(decoded.syscall).toBe(syscall)
        expect(decoded.reason).toBe(reason)
        expect(decoded.message).toBe(error.message)
      },
      { timeout, fastCheck: { numRuns: 200 } }
    )
  })
})
