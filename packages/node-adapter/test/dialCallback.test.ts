/**
 * `Net.dialCallback` over NodeNet and NodeTls, on real loopback sockets: the dial hosts outside
 * Effect use (vv-bridge's `net.dial`). It calls back once and later, with the connection or the
 * same `NetError` `Net.dial` fails with; its cancel releases a dial in progress (fds and handles
 * back to baseline) and does nothing once the dial called back; and it declines, starting
 * nothing, what only `Net.dial` handles (a name to look up, a failure before any connect, a
 * `Net` without the capability).
 */
import { describe, expect, it } from "@effect/vitest"
import { Conn, MemoryNet, Net, type NetError } from "@vvnet/core"
import { NodeNet, NodeTls } from "@vvnet/node-adapter"
import { testCerts } from "@vvnet/testkit/TlsCerts"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { baseline, blackHole, expectBackTo, text } from "./helpers.js"

const timeout = 60_000

type Outcome = Either.Either<Conn.Conn, NetError.NetError>

/**
 * Starts `Net.dialCallback` with `net`: the cancel function, whether the callback came before
 * `dialCallback` returned, and the outcome (waited for up to 10 s).
 */
const start = (net: Net.Net["Type"], address: string, options?: Net.DialOptions, network = "tcp") => {
  let returned = false
  let early = false
  let calls = 0
  let resolve!: (outcome: Outcome) => void
  const outcome = new Promise<Outcome>((r) => {
    resolve = r
  })
  const cancel = Net.dialCallback(net, network, address, options, (result) => {
    calls++
    if (!returned) early = true
    resolve(result)
  })
  returned = true
  return {
    cancel,
    calledEarly: () => early,
    calls: () => calls,
    outcome: Effect.timeoutFail(Effect.promise(() => outcome), {
      duration: Duration.seconds(10),
      onTimeout: () => new Error("dialCallback never called back")
    })
  }
}

const node = NodeNet.make()

describe("Net.dialCallback over NodeNet", () => {
  it.scopedLive(
    "connects: the connection, called back later and once; it works and is the caller's to close",
    () =>
      Effect.gen(function*() {
        const listener = yield* Net.listen("tcp", "127.0.0.1:0").pipe(Effect.provide(NodeNet.layer))
        const dial = start(node, listener.address)
        expect(dial.cancel).toBeTypeOf("function")
        const outcome = yield* dial.outcome
        expect(dial.calledEarly()).toBe(false)
        expect(Either.isRight(outcome)).toBe(true)
        const conn = Either.getOrThrow(outcome)
        const accepted = yield* listener.accept
        expect(conn.remoteAddress).toBe(listener.address)
        expect(conn.localAddress).toBe(accepted.remoteAddress)
        yield* conn.write("ping")
        expect(text(yield* Conn.readFull(accepted, 4))).toBe("ping")
        // a cancel after the call back does nothing: the connection stays open
        dial.cancel!()
        yield* accepted.write("pong")
        expect(text(yield* Conn.readFull(conn, 4))).toBe("pong")
        expect(dial.calls()).toBe(1)
        yield* conn.close
        expect((yield* accepted.read(1)).length).toBe(0) // EOF: closed by its owner, gracefully
      }),
    timeout
  )

  it.scopedLive(
    "a refused connect: the NetError Net.dial fails with, and nothing left open",
    () =>
      Effect.gen(function*() {
        // a port that was just free: bound, then closed
        const address = yield* Effect.scoped(
          Effect.map(Net.listen("tcp", "127.0.0.1:0"), (listener) => listener.address)
        ).pipe(Effect.provide(NodeNet.layer))
        const base = yield* baseline
        const dial = start(node, address)
        const outcome = yield* dial.outcome
        expect(Either.isLeft(outcome)).toBe(true)
        const error = Either.getLeft(outcome).pipe((o) => o._tag === "Some" ? o.value : undefined)!
        expect(error._tag).toBe("ConnectionRefused")
        expect(error.message).toBe(`dial tcp ${address}: connect: connection refused`)
        const viaEffect = yield* Effect.flip(Effect.scoped(Net.dial("tcp", address))).pipe(
          Effect.provide(NodeNet.layer)
        )
        expect(viaEffect.message).toBe(error.message)
        yield* expectBackTo(base)
      }),
    timeout
  )

  it.scopedLive(
    "cancel while the connect is pending: no call back, and the socket and its fd are released",
    () =>
      Effect.gen(function*() {
        const hole = yield* blackHole
        const base = yield* baseline
        const dials = Array.from({ length: 5 }, () => start(node, hole))
        for (const dial of dials) expect(dial.cancel).toBeTypeOf("function")
        yield* Effect.sleep(Duration.millis(50))
        for (const dial of dials) dial.cancel!()
        yield* expectBackTo(base)
        yield* Effect.sleep(Duration.millis(100))
        expect(dials.map((dial) => dial.calls())).toEqual([0, 0, 0, 0, 0])
      }),
    timeout
  )

  it.scopedLive(
    "the dial's timeout: Timeout, as Net.dial reports it, and nothing left open",
    () =>
      Effect.gen(function*() {
        const hole = yield* blackHole
        const base = yield* baseline
        const dial = start(node, hole, { timeout: 100 })
        const outcome = yield* dial.outcome
        const error = Either.isLeft(outcome) ? outcome.left : undefined
        expect(error?._tag).toBe("Timeout")
        expect(error?.message).toBe(`dial tcp ${hole}: i/o timeout`)
        yield* expectBackTo(base)
      }),
    timeout
  )

  it.scopedLive("a unix socket path dials this way too", () =>
    Effect.gen(function*() {
      const path = `/tmp/vvnet-dialcb-${process.pid}-${Date.now()}.sock`
      const listener = yield* Net.listen("unix", path).pipe(Effect.provide(NodeNet.layer))
      const dial = start(node, path, undefined, "unix")
      const conn = Either.getOrThrow(yield* dial.outcome)
      const accepted = yield* listener.accept
      yield* accepted.write("hi")
      expect(text(yield* Conn.readFull(conn, 2))).toBe("hi")
      yield* conn.close
    }), timeout)

  it.scopedLive("declines, starting nothing, what only Net.dial handles", () =>
    Effect.gen(function*() {
      const base = yield* baseline
      const declined = (net: Net.Net["Type"], address: string, options?: Net.DialOptions, network = "tcp") =>
        Net.dialCallback(net, network, address, options, () => {
          throw new Error("must not call back")
        })
      expect(declined(node, "localhost:80")).toBeUndefined() // a name to look up
      expect(declined(node, "nonsense")).toBeUndefined() // an AddressError
      expect(declined(node, "127.0.0.1:80", undefined, "udp")).toBeUndefined() // an unknown network
      expect(declined(node, "127.0.0.1:80", { timeout: -1 })).toBeUndefined() // an invalid option
      expect(declined(node, "127.0.0.1:80", { localAddress: "localhost:0" })).toBeUndefined()
      const memory = yield* Effect.provide(Net.Net, MemoryNet.layer)
      expect(declined(memory, "127.0.0.1:80")).toBeUndefined() // no DialCallbackTypeId
      yield* expectBackTo(base)
    }), timeout)
})

describe("Net.dialCallback over NodeTls", () => {
  const certs = testCerts()
  const serverConfig: NodeTls.Config = { cert: certs.server.cert, key: certs.server.key }

  it.scopedLive("the handshake is part of the dial: a verified connection", () =>
    Effect.gen(function*() {
      const listener = yield* NodeTls.listen("tcp", "127.0.0.1:0", serverConfig)
      yield* Net.serve(listener, (conn) => Effect.flatMap(conn.read(16), (data) => conn.write(data))).pipe(
        Effect.provide(NodeNet.layer)
      )
      const trusting = NodeTls.make({ ca: certs.ca, serverName: "localhost" })
      const conn = Either.getOrThrow(yield* start(trusting, listener.address).outcome)
      expect(NodeTls.connectionState(conn).pipe((o) => o._tag === "Some" && o.value.verified)).toBe(true)
      yield* conn.write("echo")
      expect(text(yield* Conn.readFull(conn, 4))).toBe("echo")
      yield* conn.close
    }), timeout)

  it.scopedLive(
    "a certificate from an unknown CA: TlsError; both ends released while the listener stays open",
    () =>
      Effect.gen(function*() {
        const listener = yield* NodeTls.listen("tcp", "127.0.0.1:0", serverConfig)
        const base = yield* baseline
        for (let i = 0; i < 3; i++) {
          const outcome = yield* start(NodeTls.make({}), listener.address).outcome
          const error = Either.isLeft(outcome) ? outcome.left : undefined
          expect(error?._tag).toBe("TlsError")
          expect(error?.message).toMatch(/^dial tcp 127\.0\.0\.1:\d+: tls: failed to verify certificate/)
        }
        // the server's end of each failed handshake too, at the client's FIN: a half-open server
        // socket used to wait for its handshake timeout (30 s) with its fd open
        yield* expectBackTo(base, 5)
      }),
    timeout
  )

  it.scopedLive("an invalid config is declined (Net.dial reports it)", () =>
    Effect.gen(function*() {
      const bad = NodeTls.make({ ca: "not a PEM" })
      expect(Net.dialCallback(bad, "tcp", "127.0.0.1:443", undefined, () => {})).toBeUndefined()
      const viaLayer = yield* Effect.flip(Effect.scoped(Net.dial("tcp", "127.0.0.1:443"))).pipe(
        Effect.provide(Layer.succeed(Net.Net, bad))
      )
      expect(viaLayer._tag).toBe("InvalidArgument")
    }), timeout)
})
