/**
 * NodeTls beyond the conformance suite: handshake and verification failures are typed
 * (`TlsError` with the OpenSSL code and Go's text, through the `Net` layer too),
 * peer alerts, ALPN and SNI, client certificates, the server's handshake timeout, invalid
 * configurations, and interruption or timeout during a handshake leaving no fd, socket or timer.
 * Certificates come from `@vvnet/testkit/TlsCerts` (made at test time). Loopback and unix only.
 */
import { describe, expect, it } from "@effect/vitest"
import { Conn, Net, NetError } from "@vvnet/core"
import { NodeNet, NodeTls } from "@vvnet/node-adapter"
import { testCerts } from "@vvnet/testkit/TlsCerts"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { baseline, expectBackTo, text } from "./helpers.js"

const timeout = 60_000
const certs = testCerts()
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-tls-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

const server: NodeTls.Config = { cert: certs.server.cert, key: certs.server.key }
const client: NodeTls.Config = { ca: certs.ca }

/** The failure of an exit, asserting that it is a typed one. */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") {
    throw new Error(`expected a typed failure, got ${Exit.isSuccess(exit) ? "success" : String(exit.cause)}`)
  }
  return exit.cause.error
}

/** A TLS echo server with `config`; returns its listener. */
const echo = (config: NodeTls.Config, network = "tcp", address = "127.0.0.1:0") =>
  Effect.gen(function*() {
    const listener = yield* NodeTls.listen(network, address, config)
    yield* Net.serve(listener, (conn) => Effect.flatMap(conn.read(1024), (data) => conn.write(data))).pipe(
      Effect.provide(NodeNet.layer)
    )
    return listener
  })

/** Dials with `config` and returns the failure, asserting the dial failed. */
const dialFailure = (address: string, config: NodeTls.Config, network = "tcp") =>
  Effect.map(Effect.exit(Effect.scoped(NodeTls.dial(network, address, config))), failureOf)

describe("NodeTls", () => {
  it.scopedLive(
    "a round trip; connectionState on both sides; none for other connections",
    () =>
      Effect.gen(function*() {
        const listener = yield* NodeTls.listen("tcp", "127.0.0.1:0", server)
        const conn = yield* NodeTls.dial("tcp", listener.address, client)
        const accepted = yield* listener.accept
        yield* conn.write("ping")
        expect(text(yield* Conn.readFull(accepted, 4))).toBe("ping")
        const state = Option.getOrThrow(NodeTls.connectionState(conn))
        expect(state.version).toBe("TLSv1.3")
        expect(state.cipherSuite).toMatch(/^TLS_/)
        expect(state.verified).toBe(true)
        expect(state.negotiatedProtocol).toBeUndefined()
        expect(state.serverName).toBeUndefined() // an IP was dialled: no SNI
        expect(state.peerCertificate?.subject).toContain("CN=localhost")
        const serverState = Option.getOrThrow(NodeTls.connectionState(accepted))
        expect(serverState.peerCertificate).toBeUndefined()
        expect(serverState.verified).toBe(false)
        expect(conn.localAddress).toBe(accepted.remoteAddress)
        expect(conn.remoteAddress).toBe(listener.address)
        yield* conn.close
        // readable after close
        expect(Option.isSome(NodeTls.connectionState(conn))).toBe(true)
        const plain = yield* Net.listen("tcp", "127.0.0.1:0").pipe(Effect.provide(NodeNet.layer))
        const plainConn = yield* Net.dial("tcp", plain.address).pipe(Effect.provide(NodeNet.layer))
        expect(Option.isNone(NodeTls.connectionState(plainConn))).toBe(true)
      }),
    timeout
  )

  it.scopedLive(
    "verification failures are TlsErrors with the OpenSSL code and Go's text",
    () =>
      Effect.gen(function*() {
        const good = yield* echo(server)
        const unknown = yield* dialFailure(good.address, {}) // Node's roots do not know the test CA
        expect(unknown._tag).toBe("TlsError")
        expect(unknown).toMatchObject({ kind: "verification", code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE", op: "dial" })
        expect(unknown.message).toBe(
          `dial tcp ${good.address}: tls: failed to verify certificate: x509: certificate signed by unknown authority`
        )

        const selfSigned = yield* echo(certs.selfSigned)
        const self = yield* dialFailure(selfSigned.address, client)
        expect(self).toMatchObject({ _tag: "TlsError", code: "DEPTH_ZERO_SELF_SIGNED_CERT" })
        expect(self.message).toContain("x509: certificate signed by unknown authority")

        const expired = yield* echo(certs.expired)
        const old = yield* dialFailure(expired.address, client)
        expect(old).toMatchObject({ _tag: "TlsError", kind: "verification", code: "CERT_HAS_EXPIRED" })
        expect(old.message).toContain(
          "tls: failed to verify certificate: x509: certificate has expired or is not yet valid"
        )

        const wrongHost = yield* echo(certs.wrongHost)
        const byIp = yield* dialFailure(wrongHost.address, client)
        expect(byIp).toMatchObject({ _tag: "TlsError", code: "ERR_TLS_CERT_ALTNAME_INVALID" })
        expect(byIp.message).toContain(
          "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"
        )
        const byName = yield* dialFailure(wrongHost.address, { ...client, serverName: "localhost" })
        expect(byName.message).toContain("x509: certificate is valid for other.example, not localhost")

        // skipping verification accepts any of them, and says so
        const insecure = yield* NodeTls.dial("tcp", selfSigned.address, { insecureSkipVerify: true })
        expect(Option.getOrThrow(NodeTls.connectionState(insecure)).verified).toBe(false)
        yield* insecure.write("x")
        expect(text(yield* insecure.read(1))).toBe("x")
      }),
    timeout
  )

  it.scopedLive(
    "through NodeTls.layer's Net the same failure is the same TlsError, caught by its tag",
    () =>
      Effect.gen(function*() {
        const listener = yield* echo(certs.expired)
        const exit = yield* Effect.exit(Effect.scoped(Net.dial("tcp", listener.address))).pipe(
          Effect.provide(NodeTls.layer(client))
        )
        const error = failureOf(exit)
        expect(error._tag).toBe("TlsError")
        expect(error).toBeInstanceOf(NodeTls.TlsError)
        expect(error).toMatchObject({ code: "CERT_HAS_EXPIRED", kind: "verification", op: "dial" })
        expect(NetError.isNetError(error)).toBe(true)
        expect(NodeTls.isTlsFailure(error)).toBe(true)
        expect(error.message).toBe(
          `dial tcp ${listener.address}: tls: failed to verify certificate: x509: certificate has expired or is not yet valid`
        )
      }),
    timeout
  )

  it.scopedLive(
    "Net.dial over NodeTls.layer to an unknown CA fails with TlsError and Go's text; catchTag works both ways",
    () =>
      Effect.gen(function*() {
        const listener = yield* echo(server)
        const caught = <R>(dial: Effect.Effect<Conn.Conn, NetError.NetError, R>) =>
          Effect.scoped(dial).pipe(
            Effect.as("connected"),
            Effect.catchTag("TlsError", (e) => Effect.succeed(`${e.kind} ${e.code}: ${e.message}`))
          )
        const expected = `verification UNABLE_TO_VERIFY_LEAF_SIGNATURE: dial tcp ${listener.address}: ` +
          "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        // Node's roots do not know the test CA
        expect(yield* caught(Net.dial("tcp", listener.address)).pipe(Effect.provide(NodeTls.layer({})))).toBe(expected)
        expect(yield* caught(NodeTls.dial("tcp", listener.address, {}))).toBe(expected)
        // with the CA the same dial succeeds
        const conn = yield* Net.dial("tcp", listener.address).pipe(Effect.provide(NodeTls.layer(client)))
        yield* conn.write("ok")
        expect(text(yield* Conn.readFull(conn, 2))).toBe("ok")
      }),
    timeout
  )

  it.scopedLive(
    "handshakes that fail on the server are reported as TlsErrors and serve goes on serving",
    () =>
      Effect.gen(function*() {
        const reported: Array<NetError.NetError> = []
        const tls = NodeTls.layer({
          ...server,
          ca: certs.ca,
          clientAuth: "require",
          onHandshakeError: (error) => Effect.sync(() => reported.push(error))
        })
        const listener = yield* Net.listen("tcp", "127.0.0.1:0").pipe(Effect.provide(tls))
        yield* Net.serve(listener, (conn) => Effect.flatMap(conn.read(1024), (data) => conn.write(data)))
        // a client without the certificate the server requires: the server's alert ends both sides
        const noCert = yield* dialFailure(listener.address, { ...client, maxVersion: "TLSv1.2" })
        expect(noCert).toMatchObject({ _tag: "TlsError", kind: "alert" })
        // a client that does not speak TLS
        const plain = yield* Net.dial("tcp", listener.address).pipe(Effect.provide(NodeNet.layer))
        yield* plain.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        expect((yield* Conn.readAll(plain)).length).toBe(0) // dropped
        for (let i = 0; i < 200 && reported.length < 2; i++) yield* Effect.sleep(Duration.millis(10))
        expect(reported.map((e) => e._tag)).toEqual(["TlsError", "TlsError"])
        const byCode = new Map(reported.map((e) => [e.code, e]))
        expect(byCode.get("ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE")?.message).toMatch(
          /^accept tcp 127\.0\.0\.1:\d+->127\.0\.0\.1:\d+: tls: client didn't provide a certificate$/
        )
        expect(byCode.get("ERR_SSL_HTTP_REQUEST")).toMatchObject({ op: "accept", kind: "handshake" })
        expect(byCode.get("ERR_SSL_HTTP_REQUEST")?.message).toContain(
          "tls: first record does not look like a TLS handshake"
        )
        // serve is alive: a client with its certificate is served
        const conn = yield* NodeTls.dial("tcp", listener.address, { ...client, ...certs.client })
        yield* conn.write("still here")
        expect(text(yield* Conn.readFull(conn, 10))).toBe("still here")
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "client certificates: required, verified against ca, refused by alert; the server reports",
    () =>
      Effect.gen(function*() {
        const reported: Array<NodeTls.TlsError | NetError.NetError> = []
        const listener = yield* echo({
          ...server,
          ca: certs.ca,
          clientAuth: "require",
          onHandshakeError: (error) => Effect.sync(() => reported.push(error))
        })
        // a trusted client certificate: accepted, and the server sees it
        const accepted = yield* Deferred.make<Option.Option<NodeTls.ConnectionState>>()
        const side = yield* NodeTls.listen("tcp", "127.0.0.1:0", { ...server, ca: certs.ca, clientAuth: "require" })
        yield* Effect.fork(
          Effect.scoped(
            Effect.flatMap(side.accept, (conn) => Deferred.succeed(accepted, NodeTls.connectionState(conn)))
          )
        )
        yield* NodeTls.dial("tcp", side.address, { ...client, ...certs.client })
        const seen = Option.getOrThrow(yield* Deferred.await(accepted))
        expect(seen.verified).toBe(true)
        expect(seen.peerCertificate?.subject).toContain("CN=vvnet test client")

        // TLS 1.2: the server's alert ends the dial
        const noCert12 = yield* dialFailure(listener.address, { ...client, maxVersion: "TLSv1.2" })
        expect(noCert12).toMatchObject({ _tag: "TlsError", kind: "alert" })
        expect(noCert12.message).toMatch(/remote error: tls: (handshake failure|bad certificate)$/)
        // an untrusted client certificate: node:tls closes without an alert (the client reads a
        // reset); the server reports the verification code
        const otherCa12 = yield* dialFailure(listener.address, {
          ...client,
          ...certs.otherClient,
          maxVersion: "TLSv1.2"
        })
        expect(otherCa12._tag).toBe("ConnectionReset")

        // TLS 1.3: the client's handshake ends first; the alert arrives on the first read
        const noCert13 = yield* NodeTls.dial("tcp", listener.address, client)
        const readExit = yield* Effect.exit(noCert13.read(10))
        const readError = failureOf(readExit)
        expect(readError).toMatchObject({ _tag: "TlsError", kind: "alert" })
        expect(readError.code).toBe("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED")
        expect(readError.message).toMatch(/^read tcp .*: remote error: tls: certificate required$/)
        expect(NodeTls.isTlsFailure(readError)).toBe(true)

        for (let i = 0; i < 200 && reported.length < 3; i++) yield* Effect.sleep(Duration.millis(10))
        expect(reported.length).toBe(3)
        for (const error of reported) {
          expect(error._tag).toBe("TlsError")
          expect(error.message).toMatch(/^accept tcp 127\.0\.0\.1:\d+->127\.0\.0\.1:\d+: tls: /)
        }
        const codes = reported.map((e) => e.code)
        expect(codes).toContain("ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE")
        expect(codes).toContain("UNABLE_TO_VERIFY_LEAF_SIGNATURE")
        const unverified = reported.find((e) => e.code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE")!
        expect(unverified.message).toContain(
          "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        )
      }),
    timeout
  )

  it.scopedLive(
    "ALPN picks the server's preference among the client's; no common protocol is an alert",
    () =>
      Effect.gen(function*() {
        const listener = yield* NodeTls.listen("tcp", "127.0.0.1:0", { ...server, alpnProtocols: ["h2", "http/1.1"] })
        const conn = yield* NodeTls.dial("tcp", listener.address, { ...client, alpnProtocols: ["http/1.1", "h2"] })
        const accepted = yield* listener.accept
        expect(Option.getOrThrow(NodeTls.connectionState(conn)).negotiatedProtocol).toBe("h2")
        expect(Option.getOrThrow(NodeTls.connectionState(accepted)).negotiatedProtocol).toBe("h2")
        const none = yield* dialFailure(listener.address, { ...client, alpnProtocols: ["spdy/1"] })
        expect(none).toMatchObject({ _tag: "TlsError", kind: "alert" })
        expect(none.message).toContain("remote error: tls: no application protocol")
        // a client offering nothing is accepted, with no protocol
        const plain = yield* NodeTls.dial("tcp", listener.address, client)
        expect(Option.getOrThrow(NodeTls.connectionState(plain)).negotiatedProtocol).toBeUndefined()
      }),
    timeout
  )

  it.scopedLive("SNI: a host name is sent and verified; the server reads it", () =>
    Effect.gen(function*() {
      const listener = yield* NodeTls.listen("tcp", "127.0.0.1:0", server)
      const port = listener.address.split(":")[1]
      const resolver: NodeNet.Resolver = () => Effect.succeed(["127.0.0.1"])
      const conn = yield* NodeTls.dial("tcp", `localhost:${port}`, { ...client, resolver })
      const accepted = yield* listener.accept
      expect(Option.getOrThrow(NodeTls.connectionState(conn)).serverName).toBe("localhost")
      expect(Option.getOrThrow(NodeTls.connectionState(accepted)).serverName).toBe("localhost")
      expect(conn.remoteAddress).toBe(`127.0.0.1:${port}`)
    }), timeout)

  it.scopedLive(
    "unix: serverName names the certificate; without it (and verification on) InvalidArgument",
    () =>
      Effect.gen(function*() {
        const path = Path.join(dir, "sni.sock")
        yield* echo(server, "unix", path)
        const missing = yield* dialFailure(path, client, "unix")
        expect(missing._tag).toBe("InvalidArgument")
        expect(missing.message).toContain("either serverName or insecureSkipVerify")
        const conn = yield* NodeTls.dial("unix", path, { ...client, serverName: "localhost" })
        yield* conn.write("over unix")
        expect(text(yield* Conn.readFull(conn, 9))).toBe("over unix")
        expect(Option.getOrThrow(NodeTls.connectionState(conn)).serverName).toBe("localhost")
      }),
    timeout
  )

  it.scopedLive("a peer that does not speak TLS; no common version", () =>
    Effect.gen(function*() {
      const plain = yield* Net.listen("tcp", "127.0.0.1:0").pipe(Effect.provide(NodeNet.layer))
      yield* Net.serve(plain, (conn) => Effect.zipRight(conn.write("SSH-2.0-OpenSSH_9.6\r\n"), conn.read(1))).pipe(
        Effect.provide(NodeNet.layer)
      )
      const notTls = yield* dialFailure(plain.address, client)
      expect(notTls).toMatchObject({ _tag: "TlsError", kind: "handshake" })
      expect(notTls.message).toBe(`dial tcp ${plain.address}: tls: first record does not look like a TLS handshake`)

      const old = yield* echo({ ...server, maxVersion: "TLSv1.2" })
      const version = yield* dialFailure(old.address, { ...client, minVersion: "TLSv1.3" })
      expect(version._tag).toBe("TlsError")
      expect(version.message).toContain("protocol version not supported")
    }), timeout)

  it.scopedLive("invalid configurations fail with InvalidArgument before any socket", () =>
    Effect.gen(function*() {
      const tags = (effect: Effect.Effect<unknown, unknown, never>) => Effect.map(Effect.exit(effect), failureOf)
      const noCert = yield* tags(Effect.scoped(NodeTls.listen("tcp", "127.0.0.1:0", {})))
      expect(noCert).toMatchObject({ _tag: "InvalidArgument" })
      const badKey = yield* tags(
        Effect.scoped(NodeTls.listen("tcp", "127.0.0.1:0", { cert: certs.server.cert, key: "x" }))
      )
      expect(badKey).toMatchObject({ _tag: "InvalidArgument" })
      const badCa = yield* tags(Effect.scoped(NodeTls.dial("tcp", "127.0.0.1:1", { ca: "not a pem" })))
      expect(badCa).toMatchObject({ _tag: "InvalidArgument" })
      const brokenCa = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
      expect(yield* tags(Effect.scoped(NodeTls.dial("tcp", "127.0.0.1:1", { ca: brokenCa })))).toMatchObject({
        _tag: "InvalidArgument"
      })
      const badClientKey = yield* tags(
        Effect.scoped(NodeTls.dial("tcp", "127.0.0.1:1", { cert: certs.client.cert, key: "x" }))
      )
      expect(badClientKey).toMatchObject({ _tag: "InvalidArgument" })
      const badAlpn = yield* tags(Effect.scoped(NodeTls.dial("tcp", "127.0.0.1:1", { alpnProtocols: [""] })))
      expect(badAlpn).toMatchObject({ _tag: "InvalidArgument" })
      const badVersion = yield* tags(
        Effect.scoped(NodeTls.dial("tcp", "127.0.0.1:1", { minVersion: "TLSv9" as "TLSv1.3" }))
      )
      expect(badVersion).toMatchObject({ _tag: "InvalidArgument" })
      const badTimeout = yield* tags(
        Effect.scoped(NodeTls.listen("tcp", "127.0.0.1:0", { ...server, handshakeTimeout: -1 }))
      )
      expect(badTimeout).toMatchObject({ _tag: "InvalidArgument" })
    }), timeout)

  it.scopedLive(
    "the server's handshake timeout drops a silent client, reported as a timeout",
    () =>
      Effect.gen(function*() {
        const reported = yield* Deferred.make<NodeTls.TlsError | NetError.NetError>()
        const listener = yield* NodeTls.listen("tcp", "127.0.0.1:0", {
          ...server,
          handshakeTimeout: 200,
          onHandshakeError: (error) => Deferred.succeed(reported, error)
        })
        const silent = yield* Net.dial("tcp", listener.address).pipe(Effect.provide(NodeNet.layer))
        const error = yield* Deferred.await(reported)
        expect(error).toMatchObject({ _tag: "TlsError", kind: "timeout", code: "ERR_TLS_HANDSHAKE_TIMEOUT" })
        expect((yield* silent.read(10)).length).toBe(0) // dropped: EOF
      }),
    timeout
  )
})

describe("NodeTls resources", () => {
  /** A plain TCP listener that accepts and never answers: a TLS dial to it waits in its handshake. */
  const silentServer = Effect.gen(function*() {
    const listener = yield* Net.listen("tcp", "127.0.0.1:0").pipe(Effect.provide(NodeNet.layer))
    // reads the ClientHello and what follows, answers nothing, ends at the client's EOF
    yield* Net.serve(listener, (conn) => Conn.readAll(conn)).pipe(Effect.provide(NodeNet.layer))
    return listener
  })

  it.scopedLive(
    "interrupting a dial during its handshake, and a dial timeout in it, leave nothing",
    () =>
      Effect.gen(function*() {
        const listener = yield* silentServer
        const base = yield* baseline
        for (let i = 0; i < 20; i++) {
          const dialing = yield* Effect.fork(Effect.scoped(NodeTls.dial("tcp", listener.address, client)))
          yield* Effect.sleep(Duration.millis(i % 5 * 10 + 20))
          yield* Fiber.interrupt(dialing)
        }
        // the dial timeout covers the handshake (the connect succeeds at once)
        const started = Date.now()
        const timedOut = yield* Effect.exit(
          Effect.scoped(NodeTls.dial("tcp", listener.address, client, { timeout: 200 }))
        )
        expect(failureOf(timedOut)._tag).toBe("Timeout")
        expect(Date.now() - started).toBeGreaterThanOrEqual(150)
        yield* expectBackTo(base)
      }),
    timeout
  )

  it.scopedLive("closing a TLS listener closes the connections still in their handshake", () =>
    Effect.gen(function*() {
      const base = yield* baseline
      yield* Effect.scoped(Effect.gen(function*() {
        const listener = yield* NodeTls.listen("tcp", "127.0.0.1:0", server)
        // raw TCP clients that never start a handshake
        const silent = yield* Effect.all(
          Array.from({ length: 5 }, () => Net.dial("tcp", listener.address).pipe(Effect.provide(NodeNet.layer)))
        )
        yield* Effect.sleep(Duration.millis(100))
        yield* listener.close
        for (const conn of silent) expect((yield* conn.read(10)).length).toBe(0)
      }))
      yield* expectBackTo(base)
    }), timeout)

  it.scopedLive(
    "serve over TLS: connections and listener closed with the scope leave nothing",
    () =>
      Effect.gen(function*() {
        const base = yield* baseline
        yield* Effect.scoped(Effect.gen(function*() {
          const listener = yield* echo(server)
          for (let i = 0; i < 10; i++) {
            yield* Effect.scoped(Effect.gen(function*() {
              const conn = yield* NodeTls.dial("tcp", listener.address, client)
              yield* conn.write(`n${i}`)
              expect(text(yield* Conn.readFull(conn, 2))).toBe(`n${i}`)
            }))
          }
        }))
        yield* expectBackTo(base)
      }),
    timeout
  )
})
