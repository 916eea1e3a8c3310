/**
 * STARTTLS: `NodeTls.client` / `NodeTls.server` upgrade an existing `Conn` (Go's `tls.Client`
 * and `tls.Server`), over NodeNet tcp and unix and over MemoryNet (TLS over any `Conn`): the
 * plain exchange before, the TLS exchange after with half-close both ways, typed failures,
 * the server's handshake timeout, and no leak when a handshake is interrupted.
 */
import { describe, expect, it } from "@effect/vitest"
import { BufferedReader, Conn, MemoryNet, Net } from "@vvnet/core"
import { NodeNet, NodeTls } from "@vvnet/node-adapter"
import { testCerts } from "@vvnet/testkit/TlsCerts"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { baseline, expectBackTo, text } from "./helpers.js"

const timeout = 60_000
const certs = testCerts()
const serverConfig: NodeTls.Config = { cert: certs.server.cert, key: certs.server.key }
const clientConfig: NodeTls.Config = { ca: certs.ca, serverName: "localhost" }
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-starttls-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") {
    throw new Error(`expected a typed failure, got ${Exit.isSuccess(exit) ? "success" : String(exit.cause)}`)
  }
  return exit.cause.error
}

/** An SMTP-like exchange: `STARTTLS`, `220 ready`, then TLS both ways. */
const starttls = (network: string, address: string, layer: Layer.Layer<Net.Net>) =>
  Effect.gen(function*() {
    const listener = yield* Net.listen(network, address)
    const serverDone = yield* Deferred.make<string, unknown>()
    yield* Net.serve(listener, (plain) =>
      Effect.gen(function*() {
        const reader = yield* BufferedReader.make(plain)
        const command = yield* reader.readLineString()
        expect(Option.getOrThrow(command)).toBe("STARTTLS")
        yield* plain.write("220 ready\r\n")
        // through the reader, so bytes it buffered past the command are not lost
        const secure = yield* NodeTls.server(BufferedReader.toConn(reader), serverConfig)
        const request = text(yield* Conn.readAll(secure))
        yield* secure.write(`secure reply to ${request}`)
        yield* secure.closeWrite
        return request
      }).pipe(Effect.exit, Effect.flatMap((exit) => Deferred.done(serverDone, exit)), Effect.scoped))

    const plain = yield* Net.dial(network, listener.address)
    yield* plain.write("STARTTLS\r\n")
    const reader = yield* BufferedReader.make(plain)
    expect(Option.getOrThrow(yield* reader.readLineString())).toBe("220 ready")
    const secure = yield* NodeTls.client(BufferedReader.toConn(reader), clientConfig)
    const state = Option.getOrThrow(NodeTls.connectionState(secure))
    expect(state.version).toBe("TLSv1.3")
    expect(state.serverName).toBe("localhost")
    expect(secure.remoteAddress).toBe(plain.remoteAddress)
    yield* secure.write("hello")
    yield* secure.closeWrite
    expect(text(yield* Conn.readAll(secure))).toBe("secure reply to hello")
    expect(yield* Deferred.await(serverDone)).toBe("hello")
    yield* secure.close
  }).pipe(Effect.provide(layer))

describe("NodeTls STARTTLS", () => {
  it.scopedLive("over NodeNet tcp", () => starttls("tcp", "127.0.0.1:0", NodeNet.layer), timeout)
  it.scopedLive(
    "over NodeNet unix",
    () => starttls("unix", Path.join(dir, `u${++sockets}.sock`), NodeNet.layer),
    timeout
  )
  it.scopedLive("over MemoryNet (TLS over any Conn)", () => starttls("tcp", "127.0.0.1:0", MemoryNet.layer), timeout)

  it.scopedLive("a bulk transfer both ways keeps every byte and its order", () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", "127.0.0.1:0")
      const size = 8 * 1024 * 1024
      const payload = new Uint8Array(size)
      for (let i = 0; i < size; i++) payload[i] = (i * 13) % 251
      yield* Net.serve(listener, (plain) =>
        Effect.gen(function*() {
          const secure = yield* NodeTls.server(plain, serverConfig)
          const got = yield* Conn.readAll(secure, 2 * size)
          yield* secure.write(got)
          yield* secure.closeWrite
        }).pipe(Effect.scoped))
      const secure = yield* Effect.flatMap(Net.dial("tcp", listener.address), (c) => NodeTls.client(c, clientConfig))
      const reading = yield* Effect.fork(Conn.readAll(secure, 2 * size))
      yield* secure.write(payload)
      yield* secure.closeWrite
      const echoed = yield* Fiber.join(reading)
      expect(echoed.length).toBe(size)
      expect(echoed.findIndex((b, i) => b !== payload[i])).toBe(-1)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("failures are typed; the underlying connection is closed", () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", "127.0.0.1:0")
      yield* Net.serve(listener, (plain) => Effect.scoped(Effect.exit(NodeTls.server(plain, certs.expired))))
      const plain = yield* Net.dial("tcp", listener.address)
      const error = failureOf(yield* Effect.exit(NodeTls.client(plain, clientConfig)))
      expect(error).toMatchObject({ _tag: "TlsError", code: "CERT_HAS_EXPIRED", op: "dial" })
      expect(error.message).toBe(
        `dial tcp ${plain.localAddress}->${plain.remoteAddress}: tls: failed to verify certificate: x509: certificate has expired or is not yet valid`
      )
      expect(failureOf(yield* Effect.exit(plain.write("x")))._tag).toBe("Closed")

      const noName = yield* Net.dial("tcp", listener.address)
      const invalid = failureOf(yield* Effect.exit(NodeTls.server(noName, {})))
      expect(invalid._tag).toBe("InvalidArgument")
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("the server's handshake timeout; an interrupted handshake leaks nothing", () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", "127.0.0.1:0")
      const outcome = yield* Deferred.make<NodeTls.TlsError | string>()
      yield* Net.serve(listener, (plain) =>
        Effect.scoped(NodeTls.server(plain, { ...serverConfig, handshakeTimeout: 200 })).pipe(
          Effect.matchEffect({
            onFailure: (e) =>
              Deferred.succeed(outcome, e._tag === "TlsError" ? e : e._tag),
            onSuccess: () => Deferred.succeed(outcome, "success")
          })
        ))
      const silent = yield* Net.dial("tcp", listener.address)
      const error = yield* Deferred.await(outcome)
      expect(error).toMatchObject({ _tag: "TlsError", kind: "timeout" })
      expect((yield* silent.read(10)).length).toBe(0)

      const base = yield* baseline
      for (let i = 0; i < 10; i++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const quiet = yield* Net.listen("tcp", "127.0.0.1:0")
          const plain = yield* Net.dial("tcp", quiet.address)
          const accepted = yield* quiet.accept
          const handshaking = yield* Effect.fork(Effect.scoped(NodeTls.client(plain, clientConfig)))
          const serving = yield* Effect.fork(Effect.scoped(NodeTls.server(accepted, serverConfig)))
          yield* Effect.sleep(Duration.millis(i % 2 === 0 ? 1 : 5))
          yield* Fiber.interrupt(handshaking)
          yield* Fiber.interrupt(serving)
        }))
      }
      yield* expectBackTo(base)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)
})
