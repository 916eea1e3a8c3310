/**
 * @effect/rpc 0.76.2 over vvnet: `RpcServer.layerProtocolSocketServer` on
 * `PlatformSocketServer.layer`, `RpcClient.layerProtocolSocket` on `PlatformSocket.layerNet`,
 * over NodeNet tcp (127.0.0.1), NodeNet unix (a temporary directory) and MemoryNet, with ndjson
 * and msgpack. The restart cases stop the server (its layer's Scope closes: listener and every
 * connection closed), start a new one on the same address, and check that the same client's
 * next calls succeed: the socket dials a fresh connection each time the client re-runs it.
 */
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import { MemoryNet, Net } from "@vvnet/core"
import { NodeNet, PlatformSocket, PlatformSocketServer } from "@vvnet/node-adapter"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { baseline, expectBackTo } from "./helpers.js"

const timeout = 60_000
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-rpc-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0

class Api extends RpcGroup.make(
  Rpc.make("Echo", { payload: { text: Schema.String }, success: Schema.String }),
  Rpc.make("Count", { payload: { n: Schema.Number }, success: Schema.Number, stream: true }),
  Rpc.make("Fail", { payload: { reason: Schema.String }, error: Schema.String })
) {}

/** The handlers; `generation` tells which server instance answered. */
const handlers = (generation: number) =>
  Api.toLayer({
    Echo: ({ text }) => Effect.succeed(`${generation}:${text}`),
    Count: ({ n }) => Stream.range(1, n),
    Fail: ({ reason }) => Effect.fail(reason)
  })

interface Variant {
  readonly name: string
  readonly network: string
  /** The first server's address (`:0` resolved by the first listen). */
  readonly address: () => string
  readonly net: Layer.Layer<Net.Net>
  readonly serialization: Layer.Layer<RpcSerialization.RpcSerialization>
  readonly real: boolean
}

const variants: ReadonlyArray<Variant> = [
  {
    name: "NodeNet tcp, ndjson",
    network: "tcp",
    address: () => "127.0.0.1:0",
    net: NodeNet.layer,
    serialization: RpcSerialization.layerNdjson,
    real: true
  },
  {
    name: "NodeNet tcp, msgpack",
    network: "tcp",
    address: () => "127.0.0.1:0",
    net: NodeNet.layer,
    serialization: RpcSerialization.layerMsgPack,
    real: true
  },
  {
    name: "NodeNet unix, ndjson",
    network: "unix",
    address: () => Path.join(dir, `r${++sockets}.sock`),
    net: NodeNet.layer,
    serialization: RpcSerialization.layerNdjson,
    real: true
  },
  {
    name: "NodeNet unix, msgpack",
    network: "unix",
    address: () => Path.join(dir, `r${++sockets}.sock`),
    net: NodeNet.layer,
    serialization: RpcSerialization.layerMsgPack,
    real: true
  },
  {
    name: "MemoryNet tcp, msgpack",
    network: "tcp",
    address: () => "127.0.0.1:0",
    net: MemoryNet.layer,
    serialization: RpcSerialization.layerMsgPack,
    real: false
  }
]

/** What a call's failure was: the error's tag, or "defect: <message>". */
const failureName = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    return typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : String(error)
  }
  return `defect: ${Cause.pretty(cause).split("\n")[0]}`
}

/** The Go-form address a SocketServer listens on (to dial it, and to listen there again). */
const goAddress = (address: SocketServer.Address): string =>
  address._tag === "UnixAddress" ? address.path : `${address.hostname}:${address.port}`

describe.each(variants)("@effect/rpc over vvnet: $name", (variant) => {
  const { network, serialization } = variant

  /**
   * Starts a server (generation `generation`) on `address` in a Scope of its own; returns the
   * address it listens on and the Effect that stops it.
   */
  const startServer = (address: string, generation: number) =>
    Effect.gen(function*() {
      // closed by `stop`, or with the test's Scope
      const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
      const layer = RpcServer.layer(Api).pipe(
        Layer.provide(handlers(generation)),
        Layer.provide(RpcServer.layerProtocolSocketServer),
        Layer.provideMerge(PlatformSocketServer.layer(network, address)),
        Layer.provide(serialization)
      )
      const context = yield* Layer.buildWithScope(layer, scope)
      const server = Context.get(context, SocketServer.SocketServer)
      return { address: goAddress(server.address), stop: Scope.close(scope, Exit.void) } as const
    })

  const makeClient = (address: string, retrySchedule: Schedule.Schedule<unknown, Socket.SocketError> | undefined) =>
    Effect.gen(function*() {
      const protocol = RpcClient.layerProtocolSocket({ retrySchedule }).pipe(
        Layer.provide(PlatformSocket.layerNet(network, address)),
        Layer.provide(serialization)
      )
      const context = yield* Layer.build(protocol)
      return yield* Effect.provide(RpcClient.make(Api), context)
    })

  it.scopedLive("unary, streaming and failing calls; 50 concurrent calls", () =>
    Effect.gen(function*() {
      const before = variant.real ? yield* baseline : undefined
      yield* Effect.gen(function*() {
        const server = yield* startServer(variant.address(), 1)
        const client = yield* makeClient(server.address, undefined)
        expect(yield* client.Echo({ text: "hello" })).toBe("1:hello")
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(client.Count({ n: 1000 })))).toEqual(
          Array.from({ length: 1000 }, (_, i) => i + 1)
        )
        expect(yield* Effect.flip(client.Fail({ reason: "nope" }))).toBe("nope")
        const replies = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (i) => client.Echo({ text: `#${i}` }),
          { concurrency: "unbounded" }
        )
        expect(replies).toEqual(Array.from({ length: 50 }, (_, i) => `1:#${i}`))
        // a large payload crosses many reads and writes
        const big = "x".repeat(2 * 1024 * 1024)
        expect((yield* client.Echo({ text: big })).length).toBe(big.length + 2)
      }).pipe(Effect.scoped)
      // client and server closed: every socket released
      if (before !== undefined) yield* expectBackTo(before)
    }).pipe(Effect.provide(variant.net)), timeout)

  it.scopedLive("a server restart: the same client's next calls succeed", () =>
    Effect.gen(function*() {
      const before = variant.real ? yield* baseline : undefined
      const evidence = yield* Effect.gen(function*() {
        const first = yield* startServer(variant.address(), 1)
        const client = yield* makeClient(first.address, Schedule.spaced(Duration.millis(50)))
        expect(yield* client.Echo({ text: "before" })).toBe("1:before")

        yield* first.stop
        // while it is down, calls fail (typed or as a defect of the write): none hangs
        const downCall = yield* client.Echo({ text: "down" }).pipe(Effect.timeout(Duration.seconds(5)), Effect.exit)
        expect(Exit.isFailure(downCall)).toBe(true)
        const downFailure = Exit.isFailure(downCall) ? failureName(downCall.cause) : "success"
        expect(downFailure).not.toBe("TimeoutException")

        // a new server, same address
        const second = yield* startServer(first.address, 2)
        expect(second.address).toBe(first.address)
        const restartedAt = Date.now()
        const failures: Array<string> = []
        const firstReply = yield* client.Echo({ text: "after" }).pipe(
          Effect.timeout(Duration.seconds(5)),
          Effect.tapErrorCause((cause) =>
            Effect.sync(() => {
              failures.push(failureName(cause))
            })
          ),
          Effect.retry(Schedule.spaced(Duration.millis(20)).pipe(Schedule.upTo(Duration.seconds(15))))
        )
        const recoveredMs = Date.now() - restartedAt
        expect(firstReply).toBe("2:after")
        // and every call after that one succeeds, on the new server
        const replies = yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) => client.Echo({ text: `${i}` }),
          { concurrency: 4 }
        )
        expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => `2:${i}`))
        expect(Chunk.size(yield* Stream.runCollect(client.Count({ n: 100 })))).toBe(100)
        return { downFailure, failuresAfterRestart: failures, recoveredMs }
      }).pipe(Effect.scoped)
      expect(evidence.recoveredMs).toBeLessThan(15_000)
      if (process.env.VVNET_REPORT) console.log(`rpc restart (${variant.name}):`, JSON.stringify(evidence))
      if (before !== undefined) yield* expectBackTo(before)
    }).pipe(Effect.provide(variant.net)), timeout)
})

describe("@effect/rpc over vvnet: the client's default retry schedule", () => {
  it.scopedLive("NodeNet tcp: three restarts, each followed by successful calls", () =>
    Effect.gen(function*() {
      const before = yield* baseline
      yield* Effect.gen(function*() {
        let address = "127.0.0.1:0"
        let echo: ((text: string) => Effect.Effect<string, unknown>) | undefined
        for (let generation = 1; generation <= 4; generation++) {
          const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
          const context = yield* Layer.buildWithScope(
            RpcServer.layer(Api).pipe(
              Layer.provide(handlers(generation)),
              Layer.provide(RpcServer.layerProtocolSocketServer),
              Layer.provideMerge(PlatformSocketServer.layer("tcp", address)),
              Layer.provide(RpcSerialization.layerNdjson)
            ),
            scope
          )
          address = goAddress(Context.get(context, SocketServer.SocketServer).address)
          if (echo === undefined) {
            const protocol = yield* Layer.build(
              RpcClient.layerProtocolSocket().pipe(
                Layer.provide(PlatformSocket.layerNet("tcp", address)),
                Layer.provide(RpcSerialization.layerNdjson)
              )
            )
            const api = yield* Effect.provide(RpcClient.make(Api), protocol)
            echo = (text) => api.Echo({ text })
          }
          // the default schedule (500 ms × 1.5ⁿ, at most 5 s apart) reconnects within seconds
          const reply = yield* echo("hi").pipe(
            Effect.timeout(Duration.seconds(5)),
            Effect.retry(Schedule.spaced(Duration.millis(50)).pipe(Schedule.upTo(Duration.seconds(20))))
          )
          expect(reply).toBe(`${generation}:hi`)
          expect(yield* echo("again")).toBe(`${generation}:again`)
          yield* Scope.close(scope, Exit.void)
        }
      }).pipe(Effect.scoped)
      yield* expectBackTo(before)
    }).pipe(Effect.provide(NodeNet.layer)), 90_000)
})

describe("@effect/rpc over vvnet: why the socket must dial per run", () => {
  it.scopedLive(
    "a client on PlatformSocket.fromConn (one connection for good) never recovers from a restart",
    () =>
      Effect.gen(function*() {
        const start = (address: string, generation: number) =>
          Effect.gen(function*() {
            const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
            const context = yield* Layer.buildWithScope(
              RpcServer.layer(Api).pipe(
                Layer.provide(handlers(generation)),
                Layer.provide(RpcServer.layerProtocolSocketServer),
                Layer.provideMerge(PlatformSocketServer.layer("tcp", address)),
                Layer.provide(RpcSerialization.layerNdjson)
              ),
              scope
            )
            return {
              address: goAddress(Context.get(context, SocketServer.SocketServer).address),
              stop: Scope.close(scope, Exit.void)
            } as const
          })
        const first = yield* start("127.0.0.1:0", 1)
        // what users wrote before makeNet: the Socket over one dialed connection
        const conn = yield* Net.dial("tcp", first.address)
        const protocol = yield* Layer.build(
          RpcClient.layerProtocolSocket({ retrySchedule: Schedule.spaced(Duration.millis(20)) }).pipe(
            Layer.provide(Layer.succeed(Socket.Socket, PlatformSocket.fromConn(conn))),
            Layer.provide(RpcSerialization.layerNdjson)
          )
        )
        const client = yield* Effect.provide(RpcClient.make(Api), protocol)
        expect(yield* client.Echo({ text: "before" })).toBe("1:before")
        yield* first.stop
        yield* start(first.address, 2)
        // a second of calls, 20 ms apart, against the restarted server: every one fails
        const results = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (i) =>
            client.Echo({ text: `${i}` }).pipe(
              Effect.timeout(Duration.seconds(2)),
              Effect.exit,
              Effect.zipLeft(Effect.sleep(Duration.millis(20)))
            )
        )
        expect(results.filter(Exit.isSuccess)).toHaveLength(0)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )
})
