/**
 * Interop with @effect/platform: @effect/platform socket code (`Socket.toChannel`,
 * `Socket.toChannelString`, `socket.run`, `socket.writer`) running over a vvnet connection
 * viewed through `PlatformSocket.fromConn`, against servers served by `Net.serve`; and `run`'s
 * backpressure against a fast peer.
 */
import * as Socket from "@effect/platform/Socket"
import { describe, expect, it } from "@effect/vitest"
import { Conn, type Listener, MemoryNet, Net } from "@vvnet/core"
import { NodeNet, PlatformSocket } from "@vvnet/node-adapter"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { MiB, text } from "./helpers.js"

const timeout = 60_000
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-platform-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0
const encoder = new TextEncoder()

const concat = (chunks: Iterable<Uint8Array>): Uint8Array => {
  const all = Array.from(chunks)
  const out = new Uint8Array(all.reduce((n, c) => n + c.length, 0))
  let offset = 0
  for (const c of all) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

/** Echoes every chunk as it arrives until EOF, then the handler ends and serve closes the conn. */
const echoServer = (network: string, address: string) =>
  Effect.gen(function*() {
    const listener = yield* Net.listen(network, address)
    yield* Net.serve(listener, (conn) => Stream.run(conn.stream, conn.sink))
    return listener
  })

const variants = [
  { name: "tcp", network: "tcp", address: () => "127.0.0.1:0" },
  { name: "unix", network: "unix", address: () => Path.join(dir, `p${++sockets}.sock`) }
] as const

describe.each(variants)("PlatformSocket over NodeNet $name", ({ address, network }) => {
  const dialSocket = (listener: Listener.Listener) =>
    Effect.map(Net.dial(network, listener.address), (conn) => ({ conn, socket: PlatformSocket.fromConn(conn) }))

  it.scopedLive(
    "Socket.toChannel: a Stream piped through an echo server comes back whole",
    () =>
      Effect.gen(function*() {
        const listener = yield* echoServer(network, address())
        const { socket } = yield* dialSocket(listener)
        const words = ["hello", " ", "vvnet", " ", "over", " ", "@effect/platform"]
        const out = yield* Stream.fromIterable(words).pipe(
          Stream.map((w) => encoder.encode(w)),
          Stream.pipeThroughChannel(Socket.toChannel(socket)),
          Stream.runCollect
        )
        // the input's end half-closes (as NodeSocket's writer does), so the echo ends too
        expect(text(concat(out))).toBe(words.join(""))
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive("Socket.toChannel: 4 MiB in 64 KiB chunks arrives in order", () =>
    Effect.gen(function*() {
      const listener = yield* echoServer(network, address())
      const { socket } = yield* dialSocket(listener)
      const total = 4 * MiB
      const payload = new Uint8Array(total)
      for (let i = 0; i < total; i++) payload[i] = (i * 13) & 0xff
      const out = yield* Stream.range(0, total / (64 * 1024) - 1).pipe(
        Stream.map((i) => payload.subarray(i * 64 * 1024, (i + 1) * 64 * 1024)),
        Stream.pipeThroughChannel(Socket.toChannel(socket)),
        Stream.runCollect
      )
      const joined = concat(out)
      expect(joined.length).toBe(total)
      expect(Buffer.compare(joined, payload)).toBe(0) // (toEqual on 4 MiB is very slow)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("Socket.toChannelString with a CloseEvent at the end of the input", () =>
    Effect.gen(function*() {
      const listener = yield* echoServer(network, address())
      const { socket } = yield* dialSocket(listener)
      const out = yield* Stream.make<Array<string | Socket.CloseEvent>>("ping ", "pong", new Socket.CloseEvent()).pipe(
        Stream.pipeThroughChannel(Socket.toChannelString(socket)),
        Stream.runCollect
      )
      expect(Chunk.join(out, "")).toBe("ping pong")
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("writer: a CloseEvent half-closes; the reply still arrives through run", () =>
    Effect.gen(function*() {
      const serverGot = yield* Deferred.make<string>()
      const listener = yield* Net.listen(network, address())
      yield* Net.serve(listener, (conn) =>
        Effect.gen(function*() {
          const got = text(yield* Conn.readAll(conn)) // to EOF: the client's FIN
          yield* Deferred.succeed(serverGot, got)
          yield* conn.write(`got ${got}`)
        }))
      const { conn, socket } = yield* dialSocket(listener)
      const write = yield* socket.writer
      yield* write("ping")
      yield* write(encoder.encode("!"))
      yield* write(new Socket.CloseEvent())
      expect(yield* Deferred.await(serverGot)).toBe("ping!")
      const received: Array<Uint8Array> = []
      yield* socket.run((chunk) => {
        received.push(chunk)
      })
      expect(text(concat(received))).toBe("got ping!")
      // after the half-close, writing fails as a SocketError with the NetError as its cause
      const late = yield* Effect.either(write("late"))
      expect(Either.isLeft(late) && Socket.isSocketError(late.left)).toBe(true)
      if (Either.isLeft(late)) {
        expect(late.left).toMatchObject({ _tag: "SocketError", reason: "Write", cause: { _tag: "BrokenPipe" } })
      }
      yield* conn.close
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive(
    "run: a read error is a SocketError with reason Read and the NetError as cause",
    () =>
      Effect.gen(function*() {
        const listener = yield* Net.listen(network, address())
        const { conn, socket } = yield* dialSocket(listener)
        const opened = yield* Deferred.make<void>()
        const running = yield* Effect.fork(
          Effect.either(socket.run(() => {}, { onOpen: Deferred.succeed(opened, undefined) }))
        )
        yield* Deferred.await(opened)
        yield* conn.close
        const result = yield* running.await.pipe(Effect.flatten)
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) {
          expect(result.left).toMatchObject({ _tag: "SocketError", reason: "Read", cause: { _tag: "Closed" } })
        }
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )
})

const layers: ReadonlyArray<{ readonly name: string; readonly layer: Layer.Layer<Net.Net> }> = [
  { name: "NodeNet tcp", layer: NodeNet.layer },
  { name: "MemoryNet", layer: MemoryNet.layer }
]

describe.each(layers)("PlatformSocket writer release over $name", ({ layer }) => {
  const stuckPair = Effect.gen(function*() {
    const listener = yield* Net.listen("tcp", "127.0.0.1:0")
    const client = yield* Net.dial("tcp", listener.address)
    yield* listener.accept // the peer never reads
    return client
  })

  it.scopedLive("releasing the writer does not wait for a peer that does not read", () =>
    Effect.gen(function*() {
      const client = yield* stuckPair
      const socket = PlatformSocket.fromConn(client)
      const writing = yield* Effect.fork(
        Effect.scoped(Effect.flatMap(socket.writer, (write) => write(new Uint8Array(32 * MiB))))
      )
      yield* Effect.sleep(Duration.millis(50))
      expect(writing.unsafePoll()).toBeNull()
      // taken and released while the big write is stuck: the release returns at once (its
      // half-close is queued behind the stuck write)
      yield* Effect.scoped(socket.writer)
      yield* client.close
      expect((yield* Fiber.await(writing))._tag).toBe("Failure")
    }).pipe(Effect.provide(layer)), timeout)

  it.scopedLive("a closeWrite pending behind a stuck write is settled by close", () =>
    Effect.gen(function*() {
      const client = yield* stuckPair
      const writing = yield* Effect.fork(client.write(new Uint8Array(32 * MiB)))
      const halfClosing = yield* Effect.fork(client.closeWrite)
      yield* Effect.sleep(Duration.millis(50))
      expect(writing.unsafePoll()).toBeNull()
      expect(halfClosing.unsafePoll()).toBeNull()
      yield* client.close
      yield* Fiber.join(halfClosing)
      expect((yield* Fiber.await(writing))._tag).toBe("Failure")
    }).pipe(Effect.provide(layer)), timeout)
})

describe("PlatformSocket run over NodeNet tcp: backpressure", () => {
  it.scopedLive(
    "run with a slow effectful handler holds a fast peer back: the peer's writes stall, memory stays bounded",
    () =>
      Effect.gen(function*() {
        const total = 64 * MiB
        const listener = yield* Net.listen("tcp", "127.0.0.1:0")
        const client = yield* Net.dial("tcp", listener.address)
        const peer = yield* listener.accept
        const socket = PlatformSocket.fromConn(client)
        const arrayBuffersBefore = process.memoryUsage().arrayBuffers

        // the peer writes as fast as the kernel lets it; `written` counts what the OS took
        let written = 0
        const block = new Uint8Array(64 * 1024)
        const writing = yield* Effect.fork(Effect.whileLoop({
          while: () => written < total,
          body: () => peer.write(block),
          step: (n) => {
            written += n
          }
        }))

        // The consumer behind the handler is serial (one permit), as a file or a downstream
        // socket would be, and slow: 10 ms a chunk, ~6 MB/s at most. If `run` did not wait for
        // the handler's Effect, chunks would pile up in memory behind it instead of in the kernel.
        const consumer = yield* Effect.makeSemaphore(1)
        const chunksToHandle = 100
        let handledChunks = 0
        let handledBytes = 0
        const handledEnough = yield* Deferred.make<void>()
        const running = yield* Effect.fork(socket.run((chunk) =>
          consumer.withPermits(1)(Effect.gen(function*() {
            yield* Effect.sleep(Duration.millis(10))
            handledBytes += chunk.length
            if (++handledChunks === chunksToHandle) yield* Deferred.succeed(handledEnough, undefined)
          }))
        ))

        // whichever comes first: the slow handler got through its chunks, or the peer wrote it all
        yield* Effect.raceFirst(Deferred.await(handledEnough), Effect.asVoid(Fiber.await(writing)))
        const arrayBuffersGrowth = process.memoryUsage().arrayBuffers - arrayBuffersBefore

        // Counts, not times: what the peer got ahead of the handler is what the kernel buffers
        // hold (~5 MiB seen on loopback) plus vvnet's read buffer; without backpressure the peer
        // writes all 64 MiB while the handler has seen a few. Margins: half the total.
        expect(written).toBeLessThan(total)
        expect(written - handledBytes).toBeLessThan(total / 2)
        // what this process read stays small too (handled chunks, not yet collected, included)
        expect(arrayBuffersGrowth).toBeLessThan(total / 2)
        expect(handledChunks).toBeGreaterThanOrEqual(chunksToHandle) // (not ended by the peer)

        yield* Fiber.interrupt(running)
        yield* Fiber.interrupt(writing)
        yield* client.close
        yield* peer.close
        yield* listener.close
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )
})
