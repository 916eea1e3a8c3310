/**
 * `PlatformSocket.makeNet` / `layerNet` / `fromDial`: a Socket that dials a fresh connection
 * each time it runs and closes it when the run ends, over NodeNet tcp, NodeNet unix and
 * MemoryNet: one connection per run, the run's end closes it, the writer follows the current
 * connection (waiting while there is none), open failures and their reasons, a server restart
 * at the socket level, and no fd left behind by many runs (NodeNet).
 */
import * as Socket from "@effect/platform/Socket"
import { describe, expect, it } from "@effect/vitest"
import { Conn, type Listener, MemoryNet, Net } from "@vvnet/core"
import { NodeNet, PlatformSocket } from "@vvnet/node-adapter"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { baseline, blackHole, expectBackTo, text } from "./helpers.js"

const timeout = 60_000
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-makenet-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0

const concat = (chunks: ReadonlyArray<Uint8Array>): string => chunks.map(text).join("")

interface Variant {
  readonly name: string
  readonly network: string
  readonly address: () => string
  readonly net: Layer.Layer<Net.Net>
  readonly real: boolean
}

const variants: ReadonlyArray<Variant> = [
  { name: "NodeNet tcp", network: "tcp", address: () => "127.0.0.1:0", net: NodeNet.layer, real: true },
  {
    name: "NodeNet unix",
    network: "unix",
    address: () => Path.join(dir, `m${++sockets}.sock`),
    net: NodeNet.layer,
    real: true
  },
  { name: "MemoryNet tcp", network: "tcp", address: () => "127.0.0.1:0", net: MemoryNet.layer, real: false }
]

/** Collects every chunk `socket.run` reads until EOF. */
const runToEnd = (socket: Socket.Socket) =>
  Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    return Effect.as(
      socket.run((chunk) => {
        chunks.push(chunk)
      }),
      chunks
    )
  })

describe.each(variants)("PlatformSocket.makeNet over $name", (variant) => {
  const { network } = variant

  /** A listener in a Scope of its own (closed by `stop` or with the test's Scope). */
  const listenIn = (address: string) =>
    Effect.gen(function*() {
      const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
      const listener = yield* Scope.extend(Net.listen(network, address), scope)
      return { listener, scope, stop: Scope.close(scope, Exit.void) } as const
    })

  it.scopedLive("each run dials a fresh connection; the run's end closes it", () =>
    Effect.gen(function*() {
      const { listener, scope } = yield* listenIn(variant.address())
      const closedByClient = yield* Queue.unbounded<string>()
      let accepted = 0
      yield* Scope.extend(
        Net.serve(listener, (conn) =>
          Effect.gen(function*() {
            const n = ++accepted
            yield* conn.write(`conn ${n};`)
            yield* conn.closeWrite
            // the client never half-closes: its EOF is the run's end closing the connection
            const rest = yield* Conn.readAll(conn)
            yield* Queue.offer(closedByClient, `${n}:${rest.length}`)
          })),
        scope
      )
      const socket = yield* PlatformSocket.makeNet(network, listener.address)
      expect(concat(yield* runToEnd(socket))).toBe("conn 1;")
      expect(yield* Queue.take(closedByClient)).toBe("1:0")
      expect(concat(yield* runToEnd(socket))).toBe("conn 2;")
      expect(yield* Queue.take(closedByClient)).toBe("2:0")
      expect(accepted).toBe(2)
    }).pipe(Effect.provide(variant.net)), timeout)

  it.scopedLive("interrupting a run closes its connection", () =>
    Effect.gen(function*() {
      const { listener } = yield* listenIn(variant.address())
      const peerEof = yield* Deferred.make<number>()
      yield* Net.serve(listener, (conn) =>
        Effect.flatMap(Conn.readAll(conn), (rest) => Deferred.succeed(peerEof, rest.length)))
      const socket = yield* PlatformSocket.makeNet(network, listener.address)
      const opened = yield* Deferred.make<void>()
      const running = yield* Effect.fork(socket.run(() => {}, { onOpen: Deferred.succeed(opened, undefined) }))
      yield* Deferred.await(opened)
      yield* Fiber.interrupt(running)
      expect(yield* Deferred.await(peerEof)).toBe(0)
    }).pipe(Effect.provide(variant.net)), timeout)

  it.scopedLive(
    "a run's end is a graceful close: a peer still sending is not reset and reads EOF",
    () =>
      Effect.gen(function*() {
        const { listener } = yield* listenIn(variant.address())
        const clientGone = yield* Deferred.make<void>()
        const peer = yield* Deferred.make<string>()
        yield* Net.serve(listener, (conn) =>
          Effect.gen(function*() {
            expect(text(yield* Conn.readFull(conn, 7))).toBe("request")
            yield* conn.write("start")
            yield* Deferred.await(clientGone)
            // keeps sending after the client's close: the client drains it (NodeSocket's destroySoon
            // would answer it with a reset)
            const block = new Uint8Array(64 * 1024)
            for (let i = 0; i < 16; i++) yield* conn.write(block)
            const rest = yield* Conn.readAll(conn)
            yield* Deferred.succeed(peer, `wrote 1 MiB, then EOF (${rest.length} bytes)`)
          }).pipe(Effect.catchAll((error) => Deferred.succeed(peer, `failed: ${error._tag}`))))
        const socket = yield* PlatformSocket.makeNet(network, listener.address)
        const firstChunk = yield* Deferred.make<void>()
        const running = yield* Effect.fork(socket.run(() => Deferred.succeed(firstChunk, undefined)))
        // (a connection that never wrote has no reply to protect: its close is immediate)
        yield* Effect.scoped(Effect.flatMap(socket.writer, (write) => write("request")))
        yield* Deferred.await(firstChunk)
        yield* Fiber.interrupt(running) // the run's Scope closes the connection
        yield* Deferred.succeed(clientGone, undefined)
        expect(yield* Deferred.await(peer)).toBe("wrote 1 MiB, then EOF (0 bytes)")
      }).pipe(Effect.provide(variant.net)),
    timeout
  )

  it.scopedLive(
    "writer: a write before the first run waits for its connection; a CloseEvent half-closes it",
    () =>
      Effect.gen(function*() {
        const { listener } = yield* listenIn(variant.address())
        yield* Net.serve(
          listener,
          (conn) => Effect.flatMap(Conn.readAll(conn), (data) => conn.write(`got ${text(data)}`))
        )
        const socket = yield* PlatformSocket.makeNet(network, listener.address)
        const write = yield* socket.writer
        // no connection yet: the writes wait
        const writing = yield* Effect.fork(
          Effect.zipRight(write("hello"), write(new Socket.CloseEvent()))
        )
        yield* Effect.sleep(Duration.millis(20))
        expect(writing.unsafePoll()).toBeNull()
        // the run dials; the writes go to its connection; the server answers the half-close
        expect(concat(yield* runToEnd(socket))).toBe("got hello")
        yield* Fiber.join(writing)
      }).pipe(Effect.provide(variant.net)),
    timeout
  )

  it.scopedLive(
    "a server restart: a run fails with reason Open, the next run reaches the new server",
    () =>
      Effect.gen(function*() {
        const first = yield* listenIn(variant.address())
        const address = first.listener.address
        const served = (listener: Listener.Listener, scope: Scope.Scope, name: string) =>
          Scope.extend(
            Net.serve(
              listener,
              (conn) => Effect.flatMap(Conn.readAll(conn), (data) => conn.write(`${name}:${text(data)}`))
            ),
            scope
          )
        yield* served(first.listener, first.scope, "first")
        const socket = yield* PlatformSocket.makeNet(network, address)
        const write = yield* socket.writer
        const exchange = (data: string) =>
          Effect.gen(function*() {
            const running = yield* Effect.fork(runToEnd(socket))
            yield* write(data) // waits for the run's connection
            yield* write(new Socket.CloseEvent())
            return concat(yield* Fiber.join(running))
          })
        expect(yield* exchange("a")).toBe("first:a")

        yield* first.stop
        const refused = yield* Effect.flip(socket.run(() => {}))
        expect(refused).toMatchObject({ _tag: "SocketError", reason: "Open" })
        expect(Socket.isSocketError(refused)).toBe(true)
        // the NetError is the cause (ConnectionRefused, or the unix path's absence)
        expect((refused as Socket.SocketGenericError).cause).toMatchObject({ op: "dial", address })

        const second = yield* listenIn(address)
        yield* served(second.listener, second.scope, "second")
        expect(yield* exchange("b")).toBe("second:b")
        expect(yield* exchange("c")).toBe("second:c")
      }).pipe(Effect.provide(variant.net)),
    timeout
  )

  it.scopedLive("layerNet provides Socket.Socket; Socket.toChannel runs over it", () =>
    Effect.gen(function*() {
      const { listener } = yield* listenIn(variant.address())
      yield* Net.serve(listener, (conn) => Stream.run(conn.stream, conn.sink))
      const out = yield* Effect.gen(function*() {
        const socket = yield* Socket.Socket
        return yield* Stream.make("one ", "two").pipe(
          Stream.pipeThroughChannel(Socket.toChannelString(socket)),
          Stream.mkString
        )
      }).pipe(Effect.provide(PlatformSocket.layerNet(network, listener.address)))
      expect(out).toBe("one two")
    }).pipe(Effect.provide(variant.net)), timeout)

  it.effect("a malformed address fails each run with reason Open and an AddressError cause", () =>
    Effect.gen(function*() {
      const socket = yield* PlatformSocket.makeNet(
        network === "unix" ? "unix" : "tcp",
        network === "unix" ? "" : "::1:80"
      )
      const error = yield* Effect.flip(socket.run(() => {}))
      expect(error).toMatchObject({ reason: "Open", cause: { _tag: "AddressError" } })
    }).pipe(Effect.provide(variant.net)))

  if (variant.real) {
    it.scopedLive("100 runs (50 connected, 50 refused) leave no fd or handle behind", () =>
      Effect.gen(function*() {
        const before = yield* baseline
        yield* Effect.gen(function*() {
          const server = yield* listenIn(variant.address())
          const address = server.listener.address
          yield* Scope.extend(Net.serve(server.listener, (conn) => conn.write("x")), server.scope)
          const socket = yield* PlatformSocket.makeNet(network, address)
          for (let i = 0; i < 50; i++) expect(concat(yield* runToEnd(socket))).toBe("x")
          yield* server.stop
          for (let i = 0; i < 50; i++) {
            expect(yield* Effect.flip(socket.run(() => {}))).toMatchObject({ reason: "Open" })
          }
        }).pipe(Effect.scoped)
        yield* expectBackTo(before)
      }).pipe(Effect.provide(variant.net)), timeout)
  }
})

describe("PlatformSocket.makeNet: dial timeout", () => {
  it.scopedLive(
    "a dial past its timeout fails the run with reason OpenTimeout; nothing is left open",
    () =>
      Effect.gen(function*() {
        const hole = yield* blackHole
        const before = yield* baseline
        const socket = yield* PlatformSocket.makeNet("tcp", hole, { timeout: 200 })
        const started = Date.now()
        const error = yield* Effect.flip(socket.run(() => {}))
        expect(Date.now() - started).toBeLessThan(10_000)
        expect(error).toMatchObject({ _tag: "SocketError", reason: "OpenTimeout", cause: { _tag: "Timeout" } })
        yield* expectBackTo(before)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )
})

describe("PlatformSocket.fromDial", () => {
  it.scopedLive("dials with the Effect given, its requirements taken where fromDial ran", () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", "127.0.0.1:0")
      yield* Net.serve(listener, (conn) => conn.write(conn.remoteAddress))
      let dials = 0
      const socket = yield* PlatformSocket.fromDial(
        Effect.zipRight(
          Effect.sync(() => {
            dials++
          }),
          Net.dial("tcp", listener.address, { noDelay: true })
        )
      )
      // run where another Net is provided: the socket still dials with the one it was made with
      const runs = yield* Effect.all([runToEnd(socket), runToEnd(socket)]).pipe(Effect.provide(MemoryNet.layer))
      expect(dials).toBe(2)
      // two connections, from two different local ports
      expect(new Set(runs.map(concat)).size).toBe(2)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)
})
