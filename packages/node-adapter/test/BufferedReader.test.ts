/**
 * `BufferedReader` and `Framing` (core) over real sockets: loopback TCP on 127.0.0.1 and unix
 * sockets in a fresh temp dir. The kernel splits and joins the bytes as it likes; the writer
 * adds its own splits (byte by byte, with pauses) so that frames straddle reads. Every socket
 * lives in the test's Scope.
 */
import { describe, expect, it } from "@effect/vitest"
import { BufferedReader, Framing, Net } from "@vvnet/core"
import { NodeNet } from "@vvnet/node-adapter"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { text } from "./helpers.js"

const timeout = 30_000
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-framing-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0

const networks = [
  ["tcp", () => "127.0.0.1:0"],
  ["unix", () => Path.join(dir, `f${++sockets}.sock`)]
] as const

/** Listens, dials and accepts: both ends of one real connection, in the current Scope. */
const pair = (network: string, address: string) =>
  Effect.gen(function*() {
    const listener = yield* Net.listen(network, address)
    const client = yield* Net.dial(network, listener.address)
    const server = yield* listener.accept
    return { client, server }
  })

const some = (o: Option.Option<Uint8Array>) => text(Option.getOrThrow(o))

describe.each(networks)("BufferedReader and Framing over NodeNet %s", (network, address) => {
  it.scopedLive(
    "a request written byte by byte and in pieces: header lines, an exact body, a delimited field, a length-prefixed frame",
    () =>
      Effect.gen(function*() {
        const { client, server } = yield* pair(network, address())
        const request = new TextEncoder().encode(
          "POST /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello worldkey=value;"
        )
        const frame = new Uint8Array([0, 3, 0x61, 0x62, 0x63])
        yield* Effect.fork(Effect.gen(function*() {
          // byte by byte with pauses, so frames straddle the reads of the other side
          for (let i = 0; i < request.length; i += 3) {
            yield* server.write(request.subarray(i, i + 3))
            if (i % 12 === 0) yield* Effect.sleep(Duration.millis(2))
          }
          for (const byte of frame) {
            yield* server.write(new Uint8Array([byte]))
            yield* Effect.sleep(Duration.millis(1))
          }
          yield* server.write("left over")
          yield* server.closeWrite
        }))
        const reader = yield* BufferedReader.make(client, { size: 8 })
        expect(yield* reader.readLineString()).toEqual(Option.some("POST /echo HTTP/1.1"))
        expect(yield* reader.readLineString()).toEqual(Option.some("Content-Length: 11"))
        expect(yield* reader.readLineString()).toEqual(Option.some(""))
        expect(some(yield* reader.readExactly(11))).toBe("hello world")
        expect(some(yield* reader.readUntil(";"))).toBe("key=value")
        expect(some(yield* reader.readLengthPrefixed({ lengthBytes: 2, maxFrameSize: 10 }))).toBe("abc")
        const rest = yield* Stream.runCollect(reader.stream)
        expect(text(Buffer.concat(Chunk.toReadonlyArray(rest)))).toBe("left over")
        expect(yield* reader.readLine()).toEqual(Option.none())
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "the connection's read deadline: Timeout in the middle of a line, then the retried readLine gets it whole",
    () =>
      Effect.gen(function*() {
        const { client, server } = yield* pair(network, address())
        const reader = yield* BufferedReader.make(client)
        yield* server.write("par")
        yield* client.setReadTimeout(100)
        const error = yield* Effect.flip(reader.readLine())
        expect(error._tag).toBe("Timeout")
        expect(yield* reader.buffered).toBe(3)
        yield* client.setReadTimeout(0)
        yield* server.write("tial\r\n")
        expect(some(yield* reader.readLine())).toBe("partial")
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "the peer's EOF inside a line is UnexpectedEof, after the lines before it",
    () =>
      Effect.gen(function*() {
        const { client, server } = yield* pair(network, address())
        const reader = yield* BufferedReader.make(client)
        yield* server.write("done\nhalf")
        yield* server.closeWrite
        expect(some(yield* reader.readLine())).toBe("done")
        const error = yield* Effect.flip(reader.readLine())
        expect(error).toMatchObject({ _tag: "UnexpectedEof", frame: "line", received: 4 })
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "an echo server on Framing: decodeLines from conn.stream, encodeLines to conn.sink, 2000 lines both ways",
    () =>
      Effect.gen(function*() {
        const { client, server } = yield* pair(network, address())
        const serving = yield* Effect.fork(
          server.stream.pipe(
            Framing.decodeLines({ maxLength: 1024 }),
            Stream.map((line) => `echo ${text(line)}`),
            Framing.encodeLines({ ending: "\r\n" }),
            Stream.run(server.sink),
            Effect.zipRight(server.closeWrite)
          )
        )
        const lines = Array.from({ length: 2000 }, (_, i) => `${i} ${"abcdefgh".repeat(i % 50)}`)
        yield* Effect.fork(
          Stream.fromIterable(lines).pipe(
            Stream.rechunk(37),
            Framing.encodeLines(),
            Stream.run(client.sink),
            Effect.zipRight(client.closeWrite)
          )
        )
        const replies = yield* client.stream.pipe(
          Framing.decodeLines({ maxLength: 1024 }),
          Stream.map(text),
          Stream.runCollect
        )
        expect(Chunk.toReadonlyArray(replies)).toEqual(lines.map((l) => `echo ${l}`))
        expect(Exit.isSuccess(yield* Fiber.await(serving))).toBe(true)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "length-prefixed frames up to 1 MiB round-trip; a header over maxFrameSize fails with FrameTooLarge",
    () =>
      Effect.gen(function*() {
        const { client, server } = yield* pair(network, address())
        const frames = [0, 1, 255, 65536, 1024 * 1024].map((n) => new Uint8Array(n).map((_, i) => (i * 7 + n) % 256))
        yield* Effect.fork(
          Stream.fromIterable([...frames, new Uint8Array(1024 * 1024 + 1)]).pipe(
            Framing.encodeLengthPrefixed({ lengthBytes: 4, maxFrameSize: 2 * 1024 * 1024 }),
            Stream.run(client.sink),
            Effect.zipRight(client.closeWrite)
          )
        )
        const received: Array<Uint8Array> = []
        const exit = yield* Effect.exit(
          server.stream.pipe(
            Framing.decodeLengthPrefixed({ lengthBytes: 4, maxFrameSize: 1024 * 1024 }),
            Stream.runForEach((frame) => Effect.sync(() => received.push(frame)))
          )
        )
        expect(received.map((f) => f.length)).toEqual(frames.map((f) => f.length))
        expect(received.every((f, i) => Buffer.compare(f, frames[i]!) === 0)).toBe(true)
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined).toMatchObject({
          _tag: "FrameTooLarge",
          length: 1024 * 1024 + 1,
          maxLength: 1024 * 1024
        })
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )
})
