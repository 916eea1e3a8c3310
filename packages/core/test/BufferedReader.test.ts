import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as BufferedReader from "../src/BufferedReader.js"
import * as Conn from "../src/Conn.js"
import * as FrameError from "../src/FrameError.js"
import * as MemoryNet from "../src/MemoryNet.js"
import * as NetError from "../src/NetError.js"
import { flush, settled, tagOf, text } from "./support/effects.js"
import { cutsArb, framingBytes, opArb, runScript, scriptedConn, split } from "./support/framing.js"
import { concat, pair, pattern } from "./support/memory.js"
import { eventLoopTurn, propertyOptions } from "./support/soak.js"

const timeout = 60_000
const bytes = (s: string) => new TextEncoder().encode(s)
const some = (o: Option.Option<Uint8Array>) => text(Option.getOrThrow(o))
/** The typed failure of an Exit, whatever its type. */
const errorOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") {
    throw new Error(`expected a typed failure, got ${tagOf(exit)}`)
  }
  return exit.cause.error
}

/** A reader over the client end of a MemoryNet pair whose server end wrote `chunks` then FIN. */
const readerOver = (network: "tcp" | "unix", chunks: ReadonlyArray<string | Uint8Array>, size?: number) =>
  Effect.gen(function*() {
    const { client, server } = yield* pair(network, network === "tcp" ? "127.0.0.1:0" : "/tmp/vvnet-reader.sock")
    for (const chunk of chunks) yield* server.write(chunk)
    yield* server.closeWrite
    const reader = yield* BufferedReader.make(client, size === undefined ? undefined : { size })
    return { reader, client, server }
  })

describe.each(["tcp", "unix"] as const)("BufferedReader over MemoryNet %s", (network) => {
  const layer = MemoryNet.layer
  const over = (chunks: ReadonlyArray<string | Uint8Array>, size?: number) => readerOver(network, chunks, size)

  it.scoped(
    "readLine: LF and CRLF endings are removed, a lone CR is data, empty lines, then None at a clean EOF",
    () =>
      Effect.gen(function*() {
        const { reader } = yield* over(["one\r\ntw", "o\n\nx\ry\r", "\n\r\n"])
        expect(some(yield* reader.readLine())).toBe("one")
        expect(some(yield* reader.readLine())).toBe("two")
        expect(some(yield* reader.readLine())).toBe("")
        expect(some(yield* reader.readLine())).toBe("x\ry")
        expect(yield* reader.readLineString()).toEqual(Option.some(""))
        expect(yield* reader.readLine()).toEqual(Option.none())
        // EOF stays EOF
        expect(yield* reader.readLine()).toEqual(Option.none())
        expect(yield* reader.readExactly(1)).toEqual(Option.none())
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "readLine: EOF after part of a line is UnexpectedEof with the bytes received, which stay buffered",
    () =>
      Effect.gen(function*() {
        const { reader } = yield* over(["ok\npartial\r"])
        expect(some(yield* reader.readLine())).toBe("ok")
        const error = errorOf(yield* Effect.exit(reader.readLine()))
        expect(error).toBeInstanceOf(FrameError.UnexpectedEof)
        expect(error).toMatchObject({ _tag: "UnexpectedEof", frame: "line", received: 8 })
        expect(error.message).toBe("unexpected EOF: 8 bytes of a line without its end")
        expect(yield* reader.buffered).toBe(8)
        expect(text(yield* reader.takeBuffered)).toBe("partial\r")
        expect(yield* reader.readLine()).toEqual(Option.none())
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "readLine maxLength: exactly maxLength bytes pass (with LF or CRLF), one more is FrameTooLarge, consuming nothing",
    () =>
      Effect.gen(function*() {
        const { reader } = yield* over(["abcd\nabcd\r\nabcde\nz\n\r\n"], 4)
        expect(some(yield* reader.readLine({ maxLength: 4 }))).toBe("abcd")
        expect(some(yield* reader.readLine({ maxLength: 4 }))).toBe("abcd")
        const error = errorOf(yield* Effect.exit(reader.readLine({ maxLength: 4 })))
        expect(error).toMatchObject({ _tag: "FrameTooLarge", frame: "line", maxLength: 4 })
        expect(error.message).toBe("line longer than 4 bytes")
        // nothing consumed: the same line reads with a larger limit
        expect(some(yield* reader.readLine({ maxLength: 5 }))).toBe("abcde")
        expect(some(yield* reader.readLine({ maxLength: 1 }))).toBe("z")
        expect(some(yield* reader.readLine({ maxLength: 0 }))).toBe("")
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "readLine maxLength: a peer that never sends LF fills at most the limit, not its whole output",
    () =>
      Effect.gen(function*() {
        const { client, server } = yield* pair(network, network === "tcp" ? "127.0.0.1:0" : "/tmp/vvnet-flood.sock")
        // 1 MiB without LF, written in the background (more than the limit, less than the pipe)
        yield* Effect.fork(server.write(new Uint8Array(1024 * 1024).fill(0x61)))
        const reader = yield* BufferedReader.make(client, { size: 1024 })
        const error = errorOf(yield* Effect.exit(reader.readLine({ maxLength: 10_000 })))
        expect(error._tag).toBe("FrameTooLarge")
        const held = yield* reader.buffered
        expect(held).toBeGreaterThanOrEqual(10_002)
        // at most the limit plus its ending plus what one read may add
        expect(held).toBeLessThanOrEqual(2 * (10_002 + 1024))
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "a line longer than the buffer's size grows it and is returned whole; the buffer returns to its size",
    () =>
      Effect.gen(function*() {
        const long = pattern(5000).map((b) => (b === 0x0a || b === 0x0d ? 0x20 : b))
        const { reader } = yield* over([long.subarray(0, 1234), long.subarray(1234), "\nshort\n"], 16)
        expect(Option.getOrThrow(yield* reader.readLine({ maxLength: 5000 }))).toEqual(long)
        expect(some(yield* reader.readLine())).toBe("short")
        expect(reader.size).toBe(16)
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "readUntil: a byte, a string and a byte-sequence delimiter, split across writes; the delimiter is consumed",
    () =>
      Effect.gen(function*() {
        const { reader } = yield* over(["a;b\r", "\nc--", "-", "-d\r\n\r", "\nrest"], 4)
        expect(some(yield* reader.readUntil(0x3b))).toBe("a")
        expect(some(yield* reader.readUntil("\r\n"))).toBe("b")
        expect(some(yield* reader.readUntil(new Uint8Array([0x2d, 0x2d, 0x2d])))).toBe("c")
        expect(some(yield* reader.readUntil("\r\n\r\n"))).toBe("-d")
        const error = errorOf(yield* Effect.exit(reader.readUntil(";")))
        expect(error).toMatchObject({ _tag: "UnexpectedEof", frame: "delimited", received: 4 })
        expect(text(yield* reader.peek(10))).toBe("rest")
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "readUntil maxLength: the delimiter right after maxLength bytes passes; one byte later is FrameTooLarge",
    () =>
      Effect.gen(function*() {
        const { reader } = yield* over(["abc\r", "\nabcd\r\n"])
        expect(some(yield* reader.readUntil("\r\n", { maxLength: 3 }))).toBe("abc")
        const error = errorOf(yield* Effect.exit(reader.readUntil("\r\n", { maxLength: 3 })))
        expect(error).toMatchObject({ _tag: "FrameTooLarge", frame: "delimited", maxLength: 3 })
        expect(error.message).toBe("delimited frame longer than 3 bytes")
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "readExactly: n bytes across many writes, 0 at once, None at a clean EOF, UnexpectedEof with expected",
    () =>
      Effect.gen(function*() {
        const data = pattern(100_000)
        const { reader } = yield* over(
          [data.subarray(0, 7), data.subarray(7, 70_000), data.subarray(70_000), "xyz"],
          1000
        )
        expect(yield* reader.readExactly(0)).toEqual(Option.some(new Uint8Array(0)))
        expect(Option.getOrThrow(yield* reader.readExactly(100_000))).toEqual(data)
        const error = errorOf(yield* Effect.exit(reader.readExactly(5)))
        expect(error).toMatchObject({ _tag: "UnexpectedEof", frame: "fixed", received: 3, expected: 5 })
        expect(error.message).toBe("unexpected EOF: 3 of 5 bytes of a fixed frame")
        expect(some(yield* reader.readExactly(3))).toBe("xyz")
        expect(yield* reader.readExactly(3)).toEqual(Option.none())
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "peek waits for n bytes without consuming them; fewer only at EOF; buffered counts what is held",
    () =>
      Effect.gen(function*() {
        const { reader } = yield* over(["he", "llo", " world"])
        expect(text(yield* reader.peek(5))).toBe("hello")
        expect(yield* reader.buffered).toBeGreaterThanOrEqual(5)
        expect(some(yield* reader.readExactly(6))).toBe("hello ")
        expect(text(yield* reader.peek(100))).toBe("world")
        expect(yield* reader.buffered).toBe(5)
        expect(yield* reader.discard(2)).toBe(2)
        expect(yield* reader.discard(100)).toBe(3)
        expect((yield* reader.peek(1)).length).toBe(0)
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "readLengthPrefixed: 1-, 2- and 4-byte headers, empty bodies, FrameTooLarge before the body, UnexpectedEof",
    () =>
      Effect.gen(function*() {
        const { reader } = yield* over([
          new Uint8Array([3, 0x61, 0x62]),
          new Uint8Array([0x63, 0, 2, 0x64, 0x65, 0, 0, 0, 0, 0, 0, 1]),
          new Uint8Array([0xff, 5, 1, 2])
        ])
        expect(some(yield* reader.readLengthPrefixed({ lengthBytes: 1, maxFrameSize: 3 }))).toBe("abc")
        expect(some(yield* reader.readLengthPrefixed({ lengthBytes: 2, maxFrameSize: 10 }))).toBe("de")
        expect(Option.getOrThrow(yield* reader.readLengthPrefixed({ lengthBytes: 4, maxFrameSize: 0 })).length).toBe(0)
        // header 1 (4 bytes: 0x00 0x00 0x01 0xff → 511), larger than allowed
        const tooLarge = errorOf(yield* Effect.exit(reader.readLengthPrefixed({ lengthBytes: 4, maxFrameSize: 10 })))
        expect(tooLarge).toMatchObject({
          _tag: "FrameTooLarge",
          frame: "length-prefixed",
          maxLength: 10,
          length: 0x1ff
        })
        expect(tooLarge.message).toBe("length-prefixed frame of 511 bytes exceeds the maximum of 10 bytes")
        // consumed nothing: the header is still there
        expect(Array.from(yield* reader.peek(4))).toEqual([0, 0, 1, 0xff])
        expect(yield* reader.discard(4)).toBe(4)
        const truncated = errorOf(yield* Effect.exit(reader.readLengthPrefixed({ lengthBytes: 1, maxFrameSize: 10 })))
        expect(truncated).toMatchObject({ _tag: "UnexpectedEof", frame: "length-prefixed", received: 2, expected: 5 })
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "mixing: a header line, an exact body, a delimited field, then the rest handed on through takeBuffered and conn.read",
    () =>
      Effect.gen(function*() {
        const { client, reader } = yield* over([
          "POST /x\r\nContent-Length: 5\r\n\r\nhel",
          "lo",
          "k=v;tail of the stream"
        ])
        expect(yield* reader.readLineString()).toEqual(Option.some("POST /x"))
        const header = Option.getOrThrow(yield* reader.readLineString())
        const length = Number(header.split(": ")[1])
        expect(yield* reader.readLineString()).toEqual(Option.some(""))
        expect(some(yield* reader.readExactly(length))).toBe("hello")
        expect(some(yield* reader.readUntil(";"))).toBe("k=v")
        const held = yield* reader.takeBuffered
        expect(yield* reader.buffered).toBe(0)
        const parts = [held]
        for (;;) {
          const chunk = yield* client.read(1000)
          if (chunk.length === 0) break
          parts.push(chunk)
        }
        expect(text(concat(parts))).toBe("tail of the stream")
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "stream: the buffered bytes first, then the connection, to EOF; read(n) serves the buffer first",
    () =>
      Effect.gen(function*() {
        const { reader } = yield* over(["first\nsecond ", "part"])
        expect(some(yield* reader.readLine())).toBe("first")
        expect(text(yield* reader.read(3))).toBe("sec")
        const rest = yield* Stream.runCollect(reader.stream)
        expect(text(concat(Chunk.toReadonlyArray(rest)))).toBe("ond part")
        expect((yield* reader.read(10)).length).toBe(0)
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "toConn: a Conn view that reads the buffered bytes first, for code that takes a Conn",
    () =>
      Effect.gen(function*() {
        const { client, reader } = yield* over(["HELLO proto/2\n", "binary", " rest"])
        expect(yield* reader.readLineString()).toEqual(Option.some("HELLO proto/2"))
        const view = BufferedReader.toConn(reader)
        expect(view.remoteAddress).toBe(client.remoteAddress)
        expect(text(yield* Conn.readAll(view))).toBe("binary rest")
        expect((yield* view.read(1)).length).toBe(0)
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "the connection's read deadline applies: Timeout mid-line loses nothing, and the retried readLine returns the line",
    () =>
      Effect.gen(function*() {
        const { client, server } = yield* pair(network, network === "tcp" ? "127.0.0.1:0" : "/tmp/vvnet-deadline.sock")
        const reader = yield* BufferedReader.make(client)
        yield* server.write("hal")
        yield* client.setReadTimeout(100)
        const reading = yield* Effect.fork(reader.readLine())
        yield* flush
        yield* TestClock.adjust("100 millis")
        const error = errorOf(yield* settled(reading))
        expect(error._tag).toBe("Timeout")
        expect(yield* reader.buffered).toBe(3)
        yield* client.setReadTimeout(0)
        yield* server.write("f\n")
        expect(some(yield* reader.readLine())).toBe("half")
      }).pipe(Effect.provide(layer)),
    timeout
  )

  it.scoped(
    "closing the connection ends a pending readLine with Closed; interrupting one loses no byte",
    () =>
      Effect.gen(function*() {
        const { client, server } = yield* pair(network, network === "tcp" ? "127.0.0.1:0" : "/tmp/vvnet-close.sock")
        const reader = yield* BufferedReader.make(client)
        yield* server.write("ab")
        const first = yield* Effect.fork(reader.readLine())
        yield* flush
        yield* Fiber.interrupt(first)
        yield* server.write("c\n")
        expect(some(yield* reader.readLine())).toBe("abc")
        const pending = yield* Effect.fork(reader.readLine())
        yield* flush
        yield* client.close
        expect(errorOf(yield* settled(pending))._tag).toBe("Closed")
      }).pipe(Effect.provide(layer)),
    timeout
  )
})

describe("BufferedReader: arguments and errors", () => {
  it.effect("readExactly of a huge n with 10 bytes then EOF: UnexpectedEof, having allocated about what arrived", () =>
    Effect.gen(function*() {
      const reader = yield* BufferedReader.make(scriptedConn([bytes("0123456789")]), { size: 16 })
      const error = errorOf(yield* Effect.exit(reader.readExactly(BufferedReader.maxCount)))
      expect(error).toMatchObject({ _tag: "UnexpectedEof", frame: "fixed", received: 10, expected: 2 ** 31 - 1 })
      expect(text(yield* reader.takeBuffered)).toBe("0123456789")
    }))

  it.effect("bad sizes, counts and delimiters fail with InvalidArgument before any read", () =>
    Effect.gen(function*() {
      const conn = scriptedConn([bytes("abc\n")])
      expect(tagOf(yield* Effect.exit(BufferedReader.make(conn, { size: 0 })))).toBe("InvalidArgument")
      expect(tagOf(yield* Effect.exit(BufferedReader.make(conn, { size: 1.5 })))).toBe("InvalidArgument")
      const reader = yield* BufferedReader.make(conn)
      const error = errorOf(yield* Effect.exit(reader.readExactly(-1)))
      expect(error._tag).toBe("InvalidArgument")
      expect(error.message).toBe(
        "read tcp 127.0.0.1:1->127.0.0.1:2: invalid argument: n must be an integer from 0 to 2147483647, got -1"
      )
      expect(tagOf(yield* Effect.exit(reader.peek(2 ** 31)))).toBe("InvalidArgument")
      expect(tagOf(yield* Effect.exit(reader.readLine({ maxLength: -1 })))).toBe("InvalidArgument")
      expect(tagOf(yield* Effect.exit(reader.readUntil("")))).toBe("InvalidArgument")
      expect(tagOf(yield* Effect.exit(reader.readUntil(256)))).toBe("InvalidArgument")
      expect(
        tagOf(yield* Effect.exit(reader.readLengthPrefixed({ lengthBytes: 3 as 1, maxFrameSize: 1 })))
      ).toBe("InvalidArgument")
      expect(tagOf(yield* Effect.exit(reader.read(-1)))).toBe("InvalidArgument")
      // nothing was read
      expect(some(yield* reader.readLine())).toBe("abc")
    }))

  it.effect("a connection error passes through unchanged, after the bytes before it", () =>
    Effect.gen(function*() {
      const error = NetError.make("ConnectionReset", {
        op: "read",
        network: "tcp",
        address: "127.0.0.1:2",
        code: "ECONNRESET",
        reason: "connection reset by peer"
      })
      const reader = yield* BufferedReader.make(scriptedConn([bytes("a\nb")], error))
      expect(some(yield* reader.readLine())).toBe("a")
      expect(errorOf(yield* Effect.exit(reader.readLine()))).toBe(error)
      expect(text(yield* reader.takeBuffered)).toBe("b")
    }))

  it("FrameError schema round-trips and the guard knows its classes", () => {
    const e = new FrameError.FrameTooLarge({ frame: "line", maxLength: 3 })
    expect(FrameError.isFrameError(e)).toBe(true)
    expect(FrameError.isFrameError({ _tag: "FrameTooLarge" })).toBe(false)
    expect(new FrameError.UnexpectedEof({ frame: "length-prefixed", received: 1, expected: 4 }).message).toBe(
      "unexpected EOF: 1 of 4 bytes of a length-prefixed frame"
    )
  })
})

describe("BufferedReader properties", () => {
  it.effect.prop(
    "what every call returns does not depend on how the bytes were split, nor on the buffer's size",
    {
      data: framingBytes(160),
      cuts: cutsArb,
      ops: FastCheck.array(opArb, { maxLength: 24 }),
      size: FastCheck.integer({ min: 1, max: 32 })
    },
    ({ cuts, data, ops, size }) =>
      Effect.gen(function*() {
        const whole = yield* runScript(scriptedConn([data]), ops)
        const chunked = yield* runScript(scriptedConn(split(data, cuts)), ops, size)
        expect(chunked).toEqual(whole)
        // every byte is accounted for: returned, peeked-and-later-returned, discarded or left
        expect(whole.rest.length).toBeLessThanOrEqual(data.length)
      }),
    { timeout, fastCheck: { numRuns: 300 } }
  )

  it.effect.prop(
    "a call that fails with Timeout consumes nothing: retried, it returns what it would have returned without the Timeout",
    {
      data: framingBytes(160),
      cuts: cutsArb,
      ops: FastCheck.array(opArb, { maxLength: 24 }),
      size: FastCheck.integer({ min: 1, max: 32 }),
      // at least one read in every four succeeds, so every call ends
      timeouts: FastCheck.array(FastCheck.boolean(), { minLength: 1, maxLength: 8 }).map((t) => [...t, false])
    },
    ({ cuts, data, ops, size, timeouts }) =>
      Effect.gen(function*() {
        const whole = yield* runScript(scriptedConn([data]), ops)
        const flaky = yield* runScript(scriptedConn(split(data, cuts), undefined, timeouts), ops, size)
        expect(flaky).toEqual(whole)
      }),
    { timeout, fastCheck: { numRuns: 200 } }
  )

  it.effect.prop(
    "readLine returns the LF-separated lines of the input, a CR before each LF removed, then None or UnexpectedEof",
    { data: framingBytes(200), cuts: cutsArb },
    ({ cuts, data }) =>
      Effect.gen(function*() {
        // one call per line, and two more: at the end, then past it
        const calls = data.filter((b) => b === 0x0a).length + 2
        const lines = yield* runScript(
          scriptedConn(split(data, cuts)),
          Array.from({ length: calls }, () => ({ op: "readLine" as const, maxLength: 1000 }))
        )
        // the model: split on LF
        const expected: Array<unknown> = []
        let from = 0
        for (let i = 0; i < data.length; i++) {
          if (data[i] === 0x0a) {
            const end = i > from && data[i - 1] === 0x0d ? i - 1 : i
            expected.push({ ok: Array.from(data.subarray(from, end)) })
            from = i + 1
          }
        }
        const tail = data.length - from
        while (expected.length < calls) {
          expected.push(
            tail === 0 ? { ok: null } : {
              error: "UnexpectedEof",
              frame: "line",
              received: tail,
              expected: undefined,
              maxLength: undefined,
              length: undefined
            }
          )
        }
        expect(lines.outcomes).toEqual(expected)
      }),
    { timeout, fastCheck: { numRuns: 200 } }
  )

  it.scoped.prop(
    "over MemoryNet with seeded short reads (tcp and unix), every call returns what it returns over one whole chunk",
    {
      seed: FastCheck.integer(),
      network: FastCheck.constantFrom("tcp" as const, "unix" as const),
      data: framingBytes(300),
      cuts: cutsArb,
      ops: FastCheck.array(opArb, { maxLength: 30 }),
      size: FastCheck.integer({ min: 1, max: 64 })
    },
    ({ cuts, data, network, ops, seed, size }) =>
      Effect.gen(function*() {
        const whole = yield* runScript(scriptedConn([data]), ops)
        const { client, server } = yield* pair(network, network === "tcp" ? "127.0.0.1:0" : "/tmp/vvnet-prop.sock")
        for (const chunk of split(data, cuts)) yield* server.write(chunk)
        yield* server.closeWrite
        expect(yield* runScript(client, ops, size)).toEqual(whole)
      }).pipe(
        Effect.provide(MemoryNet.layerWith({ faults: { seed, shortReads: true } })),
        Effect.zipLeft(eventLoopTurn)
      ),
    propertyOptions(60, timeout)
  )
})
