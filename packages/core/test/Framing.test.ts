import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Stream from "effect/Stream"
import * as Framing from "../src/Framing.js"
import * as MemoryNet from "../src/MemoryNet.js"
import * as NetError from "../src/NetError.js"
import { tagOf, text } from "./support/effects.js"
import { cutsArb, framingBytes, split } from "./support/framing.js"
import { concat, pair } from "./support/memory.js"
import { eventLoopTurn, propertyOptions } from "./support/soak.js"

const timeout = 60_000
const bytes = (s: string) => new TextEncoder().encode(s)

/** What a decoded stream gives: its frames (as arrays), and how it ended. */
const outcome = <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
  Effect.gen(function*() {
    const frames: Array<Array<number>> = []
    const exit = yield* Effect.exit(
      Stream.runForEach(stream, (frame) => Effect.sync(() => frames.push(Array.from(frame))))
    )
    const end = Exit.isSuccess(exit)
      ? "end"
      : exit.cause._tag === "Fail"
      ? { ...(exit.cause.error as object), message: (exit.cause.error as Error).message }
      : String(exit.cause)
    return { frames, end }
  })

const fromChunks = (chunks: ReadonlyArray<Uint8Array>) => Stream.fromIterable(chunks)
/** Each array in its own Stream chunk (Stream.fromIterable may batch them). */
const oneByOne = (chunks: ReadonlyArray<Uint8Array>) => Stream.fromChunks(...chunks.map((c) => Chunk.of(c)))

describe("Framing.decodeLines", () => {
  it.effect("LF and CRLF endings, a lone CR as data, empty lines, split anywhere", () =>
    Effect.gen(function*() {
      const result = yield* outcome(
        oneByOne([bytes("a\r"), bytes("\nb"), bytes("\n\n"), bytes("c\rd\r\n")]).pipe(Framing.decodeLines())
      )
      expect(result.frames.map((f) => text(new Uint8Array(f)))).toEqual(["a", "b", "", "c\rd"])
      expect(result.end).toBe("end")
    }))

  it.effect("input that ends inside a line fails with UnexpectedEof after the complete lines", () =>
    Effect.gen(function*() {
      const result = yield* outcome(fromChunks([bytes("one\ntwo\nthr")]).pipe(Framing.decodeLines()))
      expect(result.frames.map((f) => text(new Uint8Array(f)))).toEqual(["one", "two"])
      expect(result.end).toMatchObject({ _tag: "UnexpectedEof", frame: "line", received: 3 })
    }))

  it.effect("maxLength: exactly maxLength passes (LF or CRLF); one more fails with FrameTooLarge, also before its LF arrives", () =>
    Effect.gen(function*() {
      const ok = yield* outcome(
        oneByOne([bytes("abc\nabc\r"), bytes("\n")]).pipe(Framing.decodeLines({ maxLength: 3 }))
      )
      expect(ok.frames.length).toBe(2)
      expect(ok.end).toBe("end")
      const tooLong = yield* outcome(oneByOne([bytes("ab\nabcd\n")]).pipe(Framing.decodeLines({ maxLength: 3 })))
      expect(tooLong.frames.length).toBe(1)
      expect(tooLong.end).toMatchObject({ _tag: "FrameTooLarge", frame: "line", maxLength: 3 })
      // no LF ever: fails once more than maxLength + 1 bytes are pending, without waiting for the end
      const endless = Stream.concat(
        Stream.make(bytes("x\n")),
        Stream.repeatValue(new Uint8Array(1000).fill(0x61))
      )
      const result = yield* outcome(endless.pipe(Framing.decodeLines({ maxLength: 100_000 })))
      expect(result.frames).toEqual([[0x78]])
      expect(result.end).toMatchObject({ _tag: "FrameTooLarge", message: "line longer than 100000 bytes" })
    }))

  it.effect("an upstream error passes through unchanged, after the lines before it", () =>
    Effect.gen(function*() {
      const error = NetError.make("ConnectionReset", { op: "read", network: "tcp", address: "x", reason: "reset" })
      const result = yield* Effect.exit(
        Stream.concat(Stream.make(bytes("a\nb")), Stream.fail(error)).pipe(Framing.decodeLines(), Stream.runCollect)
      )
      expect(tagOf(result)).toBe("ConnectionReset")
    }))

  it.effect("the decoder as a Channel: Stream.pipeThroughChannelOrFail(stream, Framing.lines())", () =>
    Effect.gen(function*() {
      const decoded = yield* Stream.pipeThroughChannelOrFail(
        Stream.make(bytes("x\ny"), bytes("\n")),
        Framing.lines({ maxLength: 10 })
      ).pipe(Stream.map(text), Stream.runCollect)
      expect(Chunk.toReadonlyArray(decoded)).toEqual(["x", "y"])
    }))

  it.effect("a bad maxLength fails with InvalidArgument when the stream runs", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Stream.make(bytes("a\n")).pipe(Framing.decodeLines({ maxLength: -1 }), Stream.runCollect)
      )
      expect(tagOf(exit)).toBe("InvalidArgument")
    }))
})

describe("Framing length-prefixed", () => {
  it.effect.each([1, 2, 4] as const)(
    "lengthBytes %d: encode then decode gives the frames back, empty ones too",
    (lengthBytes) =>
      Effect.gen(function*() {
        const frames = [bytes("hello"), new Uint8Array(0), new Uint8Array(200).fill(7)]
        const encoded = yield* Stream.fromIterable(frames).pipe(
          Framing.encodeLengthPrefixed({ lengthBytes, maxFrameSize: 255 }),
          Stream.runCollect
        )
        const all = concat(Chunk.toReadonlyArray(encoded))
        expect(all.length).toBe(3 * lengthBytes + 205)
        expect(Array.from(all.subarray(0, lengthBytes + 1))).toEqual([...new Array(lengthBytes - 1).fill(0), 5, 0x68])
        const decoded = yield* outcome(
          oneByOne(split(all, [1, 2, 3, 50])).pipe(Framing.decodeLengthPrefixed({ lengthBytes, maxFrameSize: 255 }))
        )
        expect(decoded.frames).toEqual(frames.map((f) => Array.from(f)))
        expect(decoded.end).toBe("end")
      })
  )

  it.effect("a header over maxFrameSize fails with FrameTooLarge (with the declared length) before the body arrives", () =>
    Effect.gen(function*() {
      const result = yield* outcome(
        Stream.concat(Stream.make(new Uint8Array([0, 1, 0x61, 0xff, 0xff])), Stream.never).pipe(
          Framing.decodeLengthPrefixed({ lengthBytes: 2, maxFrameSize: 1000 })
        )
      )
      expect(result.frames).toEqual([[0x61]])
      expect(result.end).toMatchObject({
        _tag: "FrameTooLarge",
        frame: "length-prefixed",
        maxLength: 1000,
        length: 65535,
        message: "length-prefixed frame of 65535 bytes exceeds the maximum of 1000 bytes"
      })
    }))

  it.effect("truncated frames: inside the header and inside the body are UnexpectedEof with received and expected", () =>
    Effect.gen(function*() {
      const inHeader = yield* outcome(
        Stream.make(new Uint8Array([0, 0, 0, 1, 9, 0, 0])).pipe(
          Framing.decodeLengthPrefixed({ lengthBytes: 4, maxFrameSize: 10 })
        )
      )
      expect(inHeader.frames).toEqual([[9]])
      expect(inHeader.end).toMatchObject({ _tag: "UnexpectedEof", received: 2, expected: 4 })
      const inBody = yield* outcome(
        Stream.make(new Uint8Array([5, 1, 2])).pipe(Framing.decodeLengthPrefixed({ lengthBytes: 1, maxFrameSize: 10 }))
      )
      expect(inBody.end).toMatchObject({
        _tag: "UnexpectedEof",
        frame: "length-prefixed",
        received: 2,
        expected: 5,
        message: "unexpected EOF: 2 of 5 bytes of a length-prefixed frame"
      })
    }))

  it.effect("the encoder refuses a frame over maxFrameSize or over what the header can hold, after the frames before it", () =>
    Effect.gen(function*() {
      const over = yield* outcome(
        Stream.make(bytes("ok"), bytes("too long")).pipe(
          Framing.encodeLengthPrefixed({ lengthBytes: 4, maxFrameSize: 4 })
        )
      )
      expect(over.frames).toEqual([[0, 0, 0, 2, 0x6f, 0x6b]])
      expect(over.end).toMatchObject({ _tag: "FrameTooLarge", maxLength: 4, length: 8 })
      const header = yield* outcome(
        Stream.make(new Uint8Array(256)).pipe(Framing.encodeLengthPrefixed({ lengthBytes: 1, maxFrameSize: 1000 }))
      )
      expect(header.end).toMatchObject({ _tag: "FrameTooLarge", maxLength: 255, length: 256 })
      const bad = yield* Effect.exit(
        Stream.make(bytes("x")).pipe(
          Framing.encodeLengthPrefixed({ lengthBytes: 3 as 4, maxFrameSize: 1 }),
          Stream.runCollect
        )
      )
      expect(tagOf(bad)).toBe("InvalidArgument")
    }))
})

describe("Framing.encodeLines", () => {
  it.effect("appends LF or CRLF; a chunk of lines becomes one array; strings are UTF-8", () =>
    Effect.gen(function*() {
      const lf = yield* Stream.make("a", bytes("b"), "é").pipe(Framing.encodeLines(), Stream.runCollect)
      expect(Chunk.size(lf)).toBe(1)
      expect(text(concat(Chunk.toReadonlyArray(lf)))).toBe("a\nb\né\n")
      const crlf = yield* Stream.make("a", "").pipe(Framing.encodeLines({ ending: "\r\n" }), Stream.runCollect)
      expect(text(concat(Chunk.toReadonlyArray(crlf)))).toBe("a\r\n\r\n")
    }))

  it.effect("a line holding LF fails with InvalidArgument, one over maxLength with FrameTooLarge, after the lines before", () =>
    Effect.gen(function*() {
      const lf = yield* outcome(Stream.make("a", "b\nc").pipe(Framing.encodeLines()))
      expect(lf.frames).toEqual([[0x61, 0x0a]])
      expect(lf.end).toMatchObject({ _tag: "InvalidArgument", op: "write" })
      const long = yield* outcome(Stream.make("abc", "abcd").pipe(Framing.encodeLines({ maxLength: 3 })))
      expect(long.end).toMatchObject({ _tag: "FrameTooLarge", frame: "line", maxLength: 3, length: 4 })
    }))
})

describe.each(["tcp", "unix"] as const)("Framing over MemoryNet %s", (network) => {
  const address = network === "tcp" ? "127.0.0.1:0" : "/tmp/vvnet-framing.sock"

  it.scoped(
    "lines and length-prefixed frames, encoded to conn.sink and decoded from conn.stream",
    () =>
      Effect.gen(function*() {
        const { client, server } = yield* pair(network, address)
        const lines = Array.from({ length: 500 }, (_, i) => `line ${i} ${"x".repeat(i % 97)}`)
        const frames = Array.from({ length: 50 }, (_, i) => new Uint8Array(i * 1000).fill(i))
        // more than a unix connection holds: written while the server reads
        yield* Effect.fork(Effect.gen(function*() {
          yield* Stream.fromIterable(lines).pipe(Framing.encodeLines({ ending: "\r\n" }), Stream.run(client.sink))
          yield* Stream.fromIterable(frames).pipe(
            Framing.encodeLengthPrefixed({ lengthBytes: 4, maxFrameSize: 1 << 20 }),
            Stream.run(client.sink)
          )
          yield* client.closeWrite
        }))
        // the lines, then the frames (mixing formats on one connection is BufferedReader's job):
        // the server collects the bytes and decodes each part
        const all = concat(Chunk.toReadonlyArray(yield* Stream.runCollect(server.stream)))
        const boundary = all.lastIndexOf(0x0a, all.length - 1 - frames.reduce((n, f) => n + 4 + f.length, 0)) + 1
        const decodedLines = yield* Stream.make(all.subarray(0, boundary)).pipe(
          Framing.decodeLines(),
          Stream.map((line) => text(line)),
          Stream.runCollect
        )
        expect(Chunk.toReadonlyArray(decodedLines)).toEqual(lines)
        const decodedFrames = yield* Stream.make(all.subarray(boundary)).pipe(
          Framing.decodeLengthPrefixed({ lengthBytes: 4, maxFrameSize: 1 << 20 }),
          Stream.runCollect
        )
        // compared as lengths and one concatenation: vitest's deep equality is slow on 1 MiB
        expect(Chunk.toReadonlyArray(decodedFrames).map((f) => f.length)).toEqual(frames.map((f) => f.length))
        expect(sameBytes(concat(Chunk.toReadonlyArray(decodedFrames)), concat(frames))).toBe(true)
      }).pipe(Effect.provide(MemoryNet.layer)),
    timeout
  )

  it.scoped(
    "conn.stream.pipe(decodeLines()): a request/response loop over one connection",
    () =>
      Effect.gen(function*() {
        const { client, server } = yield* pair(network, address)
        // the server echoes each line upper-cased, until the client's FIN
        yield* Effect.fork(
          server.stream.pipe(
            Framing.decodeLines(),
            Stream.map((line) => text(line).toUpperCase()),
            Framing.encodeLines(),
            Stream.run(server.sink),
            Effect.zipRight(server.closeWrite)
          )
        )
        yield* client.write("hello\nworld\n")
        yield* client.closeWrite
        const replies = yield* client.stream.pipe(Framing.decodeLines(), Stream.map(text), Stream.runCollect)
        expect(Chunk.toReadonlyArray(replies)).toEqual(["HELLO", "WORLD"])
      }).pipe(Effect.provide(MemoryNet.layer)),
    timeout
  )
})

describe("Framing properties", () => {
  const lineOptions = FastCheck.integer({ min: 0, max: 30 })

  it.effect.prop(
    "decodeLines: the same frames and the same end however the bytes are chunked",
    { data: framingBytes(300), cuts: cutsArb, maxLength: lineOptions },
    ({ cuts, data, maxLength }) =>
      Effect.gen(function*() {
        const whole = yield* outcome(Stream.make(data).pipe(Framing.decodeLines({ maxLength })))
        const chunked = yield* outcome(oneByOne(split(data, cuts)).pipe(Framing.decodeLines({ maxLength })))
        expect(chunked).toEqual(whole)
        // and the frames are the model's: LF-separated, CR before LF removed
        if (whole.end === "end") {
          expect(whole.frames).toEqual(splitLines(data))
        }
      }),
    { timeout, fastCheck: { numRuns: 200 } }
  )

  it.effect.prop(
    "decodeLengthPrefixed: the same frames and the same end however the bytes are chunked",
    {
      data: framingBytes(300),
      cuts: cutsArb,
      lengthBytes: FastCheck.constantFrom<1 | 2 | 4>(1, 2, 4),
      maxFrameSize: FastCheck.integer({ min: 0, max: 300 })
    },
    ({ cuts, data, lengthBytes, maxFrameSize }) =>
      Effect.gen(function*() {
        const options = { lengthBytes, maxFrameSize }
        const whole = yield* outcome(Stream.make(data).pipe(Framing.decodeLengthPrefixed(options)))
        const chunked = yield* outcome(oneByOne(split(data, cuts)).pipe(Framing.decodeLengthPrefixed(options)))
        expect(chunked).toEqual(whole)
      }),
    { timeout, fastCheck: { numRuns: 200 } }
  )

  it.effect.prop(
    "encode then decode (lines and length-prefixed) is the identity, however the encoded bytes are chunked",
    {
      frames: FastCheck.array(framingBytes(60), { maxLength: 20 }),
      cuts: cutsArb,
      lengthBytes: FastCheck.constantFrom<1 | 2 | 4>(1, 2, 4),
      crlf: FastCheck.boolean()
    },
    ({ crlf, cuts, frames, lengthBytes }) =>
      Effect.gen(function*() {
        const options = { lengthBytes, maxFrameSize: 60 }
        const encoded = concat(Chunk.toReadonlyArray(
          yield* Stream.fromIterable(frames).pipe(Framing.encodeLengthPrefixed(options), Stream.runCollect)
        ))
        const decoded = yield* outcome(oneByOne(split(encoded, cuts)).pipe(Framing.decodeLengthPrefixed(options)))
        expect(decoded).toEqual({ frames: frames.map((f) => Array.from(f)), end: "end" })
        // lines: without LF, and with LF endings without a trailing CR (the decoder would take
        // it as the ending's)
        const lines = frames.map((f) => f.filter((b) => b !== 0x0a)).map((f) => {
          let end = f.length
          while (!crlf && end > 0 && f[end - 1] === 0x0d) end--
          return f.subarray(0, end)
        })
        const encodedLines = concat(Chunk.toReadonlyArray(
          yield* Stream.fromIterable(lines).pipe(
            Framing.encodeLines({ ending: crlf ? "\r\n" : "\n" }),
            Stream.runCollect
          )
        ))
        const decodedLines = yield* outcome(oneByOne(split(encodedLines, cuts)).pipe(Framing.decodeLines()))
        expect(decodedLines).toEqual({ frames: lines.map((f) => Array.from(f)), end: "end" })
      }),
    { timeout, fastCheck: { numRuns: 150 } }
  )

  it.scoped.prop(
    "over MemoryNet with seeded short reads (tcp and unix), conn.stream decodes to what one whole chunk decodes to",
    {
      seed: FastCheck.integer(),
      network: FastCheck.constantFrom("tcp" as const, "unix" as const),
      data: framingBytes(400),
      cuts: cutsArb,
      maxLength: lineOptions,
      lengthBytes: FastCheck.constantFrom<1 | 2>(1, 2)
    },
    ({ cuts, data, lengthBytes, maxLength, network, seed }) =>
      Effect.gen(function*() {
        const wholeLines = yield* outcome(Stream.make(data).pipe(Framing.decodeLines({ maxLength })))
        const options = { lengthBytes, maxFrameSize: 200 }
        const wholeFrames = yield* outcome(Stream.make(data).pipe(Framing.decodeLengthPrefixed(options)))
        type Decode = (
          self: Stream.Stream<Uint8Array, NetError.NetError>
        ) => Stream.Stream<Uint8Array, unknown>
        const cases: Array<readonly [Decode, unknown, string]> = [
          [Framing.decodeLines({ maxLength }), wholeLines, "lines"],
          [Framing.decodeLengthPrefixed(options), wholeFrames, "frames"]
        ]
        for (const [decode, whole, name] of cases) {
          const address = network === "tcp" ? "127.0.0.1:0" : `/tmp/vvnet-framing-${name}.sock`
          const { client, listener, server } = yield* pair(network, address)
          for (const chunk of split(data, cuts)) yield* client.write(chunk)
          yield* client.closeWrite
          expect(yield* outcome(server.stream.pipe(decode))).toEqual(whole)
          yield* client.close
          yield* server.close
          yield* listener.close
        }
      }).pipe(
        Effect.provide(MemoryNet.layerWith({ faults: { seed, shortReads: true } })),
        Effect.zipLeft(eventLoopTurn)
      ),
    propertyOptions(60, timeout)
  )
})

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The model of line splitting: complete lines only. */
const splitLines = (data: Uint8Array): Array<Array<number>> => {
  const out: Array<Array<number>> = []
  let from = 0
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0x0a) {
      const end = i > from && data[i - 1] === 0x0d ? i - 1 : i
      out.push(Array.from(data.subarray(from, end)))
      from = i + 1
    }
  }
  return out
}
