/**
 * Framing for streams of messages over a connection, on Effect's `Stream` and `Channel`: lines,
 * and length-prefixed frames (a big-endian length of 1, 2 or 4 bytes, then that many bytes).
 * Each format has a decoder, from bytes as they arrive (`conn.stream`) to one element per frame,
 * and an encoder, from frames to bytes for `conn.sink`:
 *
 * - `decodeLines` / `encodeLines`, with `lines` the decoding `Channel`;
 * - `decodeLengthPrefixed` / `encodeLengthPrefixed`, with `lengthPrefixed` the decoding `Channel`.
 *
 * Decoding does not depend on how the bytes were split into chunks: the same bytes give the
 * same frames, and the same error after them. A stream that ends in the middle of a frame fails
 * with `UnexpectedEof`, one that ends at a frame boundary just ends; a frame over its limit fails
 * with `FrameTooLarge` as soon as that is certain, so memory is bounded by the limit (plus the
 * chunk being decoded), never by the peer. Both are `FrameError`s; the upstream's own errors
 * (the connection's `NetError`) pass through unchanged. Frames are emitted as fresh arrays.
 *
 * The same formats, read one frame at a time and mixed with other reads, are in
 * `BufferedReader` (`readLine`, `readLengthPrefixed`).
 *
 * @example
 * ```ts
 * import { Framing, MemoryNet, Net } from "@vvnet/core"
 * import { Chunk, Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const listener = yield* Net.listen("tcp", "127.0.0.1:0")
 *   const conn = yield* Net.dial("tcp", listener.address)
 *   const server = yield* listener.accept
 *
 *   // encode: two frames with a 2-byte length header each, written to the connection
 *   yield* Stream.make("ping", "pong").pipe(
 *     Stream.map((s) => new TextEncoder().encode(s)),
 *     Framing.encodeLengthPrefixed({ lengthBytes: 2, maxFrameSize: 1024 }),
 *     Stream.run(conn.sink)
 *   )
 *   yield* conn.closeWrite
 *
 *   // decode: one element per frame, whatever the chunks the bytes arrived in
 *   const frames = yield* server.stream.pipe(
 *     Framing.decodeLengthPrefixed({ lengthBytes: 2, maxFrameSize: 1024 }),
 *     Stream.map((frame) => new TextDecoder().decode(frame)),
 *     Stream.runCollect
 *   )
 *   return Chunk.toReadonlyArray(frames) // ["ping", "pong"]
 * }).pipe(Effect.scoped, Effect.provide(MemoryNet.layer))
 *
 * Effect.runPromise(program).then(console.log) // [ 'ping', 'pong' ]
 * ```
 *
 * @since 0.2.0
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Stream from "effect/Stream"
import { FrameTooLarge, UnexpectedEof } from "./FrameError.js"
import type * as FrameError from "./FrameError.js"
import * as NetError from "./NetError.js"

/**
 * The default `maxLength` of `lines` and `decodeLines`: 65536 bytes.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultMaxLineLength = 64 * 1024

/**
 * Options of `lines` and `decodeLines`.
 *
 * - `maxLength`: the longest line accepted, in bytes, without its ending (default 65536,
 *   `defaultMaxLineLength`). Longer fails with `FrameTooLarge`.
 *
 * @since 0.2.0
 * @category models
 */
export interface LineOptions {
  readonly maxLength?: number | undefined
}

/**
 * Options of `encodeLines`.
 *
 * - `ending`: what ends each line, `"\n"` (default) or `"\r\n"`.
 * - `maxLength`: the longest line accepted, in bytes, without its ending (default: no limit);
 *   a longer one fails with `FrameTooLarge`.
 *
 * @since 0.2.0
 * @category models
 */
export interface LineEncodeOptions {
  readonly ending?: "\n" | "\r\n" | undefined
  readonly maxLength?: number | undefined
}

/**
 * The format of a length-prefixed frame, for decoding and encoding.
 *
 * - `lengthBytes`: the header's size, 1, 2 or 4 bytes: the body's length in bytes, unsigned,
 *   big-endian (network byte order); so a body holds at most 255, 65535 or 4294967295 bytes.
 * - `maxFrameSize`: the longest body accepted, in bytes (the header not counted). A decoder
 *   fails with `FrameTooLarge` on a header that declares more, before reading the body; an
 *   encoder on a longer frame, or one the header cannot express, before writing any of it.
 *
 * @since 0.2.0
 * @category models
 */
export interface LengthPrefixOptions {
  readonly lengthBytes: 1 | 2 | 4
  readonly maxFrameSize: number
}

const LF = 0x0a
const CR = 0x0d
const encoder = new TextEncoder()

/** A bad option: `InvalidArgument`, raised when the stream runs. */
const invalid = (op: "read" | "write", reason: string): NetError.InvalidArgument =>
  NetError.make("InvalidArgument", { op, network: "", address: "", reason: `invalid argument: ${reason}` })

const describe = (u: unknown): string => typeof u === "number" ? String(u) : typeof u

const invalidLimit = (name: string, n: unknown): string | undefined =>
  typeof n === "number" && Number.isSafeInteger(n) && n >= 0
    ? undefined
    : `${name} must be a non-negative integer, got ${describe(n)}`

const invalidFormat = (options: LengthPrefixOptions): string | undefined =>
  options.lengthBytes !== 1 && options.lengthBytes !== 2 && options.lengthBytes !== 4
    ? `lengthBytes must be 1, 2 or 4, got ${describe(options.lengthBytes)}`
    : invalidLimit("maxFrameSize", options.maxFrameSize)

const concat = (parts: ReadonlyArray<Uint8Array>, length: number): Uint8Array => {
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** A decoder's state machine: `push` decodes one input array into `out`, `end` checks the end. */
interface Decoder {
  push(bytes: Uint8Array, out: Array<Uint8Array>): FrameError.FrameError | undefined
  end(): FrameError.FrameError | undefined
}

/**
 * A channel running a fresh `Decoder` per run: frames decoded from an input chunk are written
 * as one chunk, before the error that may end it; upstream failures pass through.
 */
const decoderChannel = <E>(
  make: () => Decoder | NetError.InvalidArgument
): Channel.Channel<
  Chunk.Chunk<Uint8Array>,
  Chunk.Chunk<Uint8Array>,
  E | FrameError.FrameError | NetError.InvalidArgument,
  E,
  void,
  unknown
> =>
  Channel.suspend((): Channel.Channel<
    Chunk.Chunk<Uint8Array>,
    Chunk.Chunk<Uint8Array>,
    E | FrameError.FrameError | NetError.InvalidArgument,
    E,
    void,
    unknown
  > => {
    const decoder = make()
    if (!("push" in decoder)) return Channel.fail(decoder)
    const loop: Channel.Channel<
      Chunk.Chunk<Uint8Array>,
      Chunk.Chunk<Uint8Array>,
      E | FrameError.FrameError,
      E,
      void,
      unknown
    > = Channel.readWithCause({
      onInput: (input: Chunk.Chunk<Uint8Array>) => {
        const out: Array<Uint8Array> = []
        let error: FrameError.FrameError | undefined = undefined
        for (const bytes of input) {
          error = decoder.push(bytes, out)
          if (error !== undefined) break
        }
        const next = error === undefined ? loop : Channel.fail(error)
        return out.length === 0 ? next : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), next)
      },
      onFailure: (cause) => Channel.failCause(cause),
      onDone: () => {
        const error = decoder.end()
        return error === undefined ? Channel.void : Channel.fail(error)
      }
    })
    return loop
  })

/** Splits at LF; a CR right before the LF belongs to the ending. */
class LineDecoder implements Decoder {
  private pending: Array<Uint8Array> = []
  private pendingLength = 0

  constructor(private readonly maxLength: number) {}

  push(bytes: Uint8Array, out: Array<Uint8Array>): FrameError.FrameError | undefined {
    let from = 0
    for (;;) {
      const at = bytes.indexOf(LF, from)
      if (at === -1) {
        if (from < bytes.length) {
          this.pending.push(bytes.subarray(from))
          this.pendingLength += bytes.length - from
        }
        // more than the limit and a CR without the LF yet: too long, whatever comes next
        return this.pendingLength > this.maxLength + 1
          ? new FrameTooLarge({ frame: "line", maxLength: this.maxLength })
          : undefined
      }
      let line: Uint8Array
      if (this.pendingLength === 0) {
        line = bytes.slice(from, at)
      } else {
        this.pending.push(bytes.subarray(from, at))
        line = concat(this.pending, this.pendingLength + at - from)
        this.pending = []
        this.pendingLength = 0
      }
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1)
      if (line.length > this.maxLength) return new FrameTooLarge({ frame: "line", maxLength: this.maxLength })
      out.push(line)
      from = at + 1
    }
  }

  end(): FrameError.FrameError | undefined {
    return this.pendingLength === 0 ? undefined : new UnexpectedEof({ frame: "line", received: this.pendingLength })
  }
}

/** Header, then body, then the next header. */
class LengthPrefixedDecoder implements Decoder {
  private readonly header: Uint8Array
  private headerFilled = 0
  /** The body's declared length, once the header is complete; -1 while reading a header. */
  private length = -1
  private parts: Array<Uint8Array> = []
  private received = 0

  constructor(private readonly lengthBytes: 1 | 2 | 4, private readonly maxFrameSize: number) {
    this.header = new Uint8Array(lengthBytes)
  }

  push(bytes: Uint8Array, out: Array<Uint8Array>): FrameError.FrameError | undefined {
    let from = 0
    while (from < bytes.length || this.length === 0) {
      if (this.length === -1) {
        const take = Math.min(this.lengthBytes - this.headerFilled, bytes.length - from)
        this.header.set(bytes.subarray(from, from + take), this.headerFilled)
        this.headerFilled += take
        from += take
        if (this.headerFilled < this.lengthBytes) return undefined
        let length = 0
        for (const byte of this.header) length = length * 256 + byte
        if (length > this.maxFrameSize) {
          return new FrameTooLarge({ frame: "length-prefixed", maxLength: this.maxFrameSize, length })
        }
        this.length = length
        this.headerFilled = 0
        continue
      }
      const take = Math.min(this.length - this.received, bytes.length - from)
      if (this.received === 0 && take === this.length) {
        out.push(bytes.slice(from, from + take))
      } else {
        this.parts.push(bytes.subarray(from, from + take))
        this.received += take
        if (this.received < this.length) return undefined
        out.push(concat(this.parts, this.length))
        this.parts = []
        this.received = 0
      }
      from += take
      this.length = -1
    }
    return undefined
  }

  end(): FrameError.FrameError | undefined {
    if (this.length !== -1) {
      return new UnexpectedEof({ frame: "length-prefixed", received: this.received, expected: this.length })
    }
    return this.headerFilled === 0
      ? undefined
      : new UnexpectedEof({ frame: "length-prefixed", received: this.headerFilled, expected: this.lengthBytes })
  }
}

/**
 * The line decoder as a `Channel`, from chunks of bytes to chunks of lines (see `decodeLines`).
 * Fails with `FrameTooLarge`, `UnexpectedEof`, `InvalidArgument` (a bad `maxLength`), or the
 * upstream's error `E`.
 *
 * @since 0.2.0
 * @category channels
 */
export const lines = <E = never>(
  options?: LineOptions
): Channel.Channel<
  Chunk.Chunk<Uint8Array>,
  Chunk.Chunk<Uint8Array>,
  E | FrameError.FrameError | NetError.InvalidArgument,
  E,
  void,
  unknown
> =>
  decoderChannel<E>(() => {
    const maxLength = options?.maxLength ?? defaultMaxLineLength
    const reason = invalidLimit("maxLength", maxLength)
    return reason === undefined ? new LineDecoder(maxLength) : invalid("read", reason)
  })

/**
 * Decodes a byte stream into lines (Go's `bufio.Scanner` with `ScanLines`, strict at the end):
 * each line without its LF and without one CR right before it; a lone CR elsewhere is data. The
 * stream ends when its input ends after a LF (or with no byte); input that ends after part of a
 * line fails with `UnexpectedEof` (frame `"line"`) after every complete line. A line longer than
 * `maxLength` bytes (without its ending) fails with `FrameTooLarge` after the lines before it.
 *
 * @example
 * ```ts
 * import { Framing } from "@vvnet/core"
 * import { Effect, Stream } from "effect"
 *
 * const bytes = (s: string) => new TextEncoder().encode(s)
 * const lines = Stream.make(bytes("GET / HTTP/1.1\r\nHo"), bytes("st: a\r\n\r\n")).pipe(
 *   Framing.decodeLines({ maxLength: 8192 }),
 *   Stream.map((line) => new TextDecoder().decode(line)),
 *   Stream.runCollect
 * )
 * Effect.runPromise(lines).then(console.log) // { _id: 'Chunk', values: [ 'GET / HTTP/1.1', 'Host: a', '' ] }
 * ```
 *
 * @since 0.2.0
 * @category decoders
 */
export const decodeLines = (options?: LineOptions) =>
<E, R>(
  self: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<Uint8Array, E | FrameError.FrameError | NetError.InvalidArgument, R> =>
  Stream.pipeThroughChannelOrFail(self, lines<E>(options))

/**
 * The length-prefixed decoder as a `Channel`, from chunks of bytes to chunks of frame bodies
 * (see `decodeLengthPrefixed`). Fails with `FrameTooLarge`, `UnexpectedEof`, `InvalidArgument`
 * (a bad option), or the upstream's error `E`.
 *
 * @since 0.2.0
 * @category channels
 */
export const lengthPrefixed = <E = never>(
  options: LengthPrefixOptions
): Channel.Channel<
  Chunk.Chunk<Uint8Array>,
  Chunk.Chunk<Uint8Array>,
  E | FrameError.FrameError | NetError.InvalidArgument,
  E,
  void,
  unknown
> =>
  decoderChannel<E>(() => {
    const reason = invalidFormat(options)
    return reason === undefined
      ? new LengthPrefixedDecoder(options.lengthBytes, options.maxFrameSize)
      : invalid("read", reason)
  })

/**
 * Decodes a byte stream into the bodies of length-prefixed frames (see `LengthPrefixOptions`;
 * an empty body is a frame too). The stream ends when its input ends at a frame boundary; input
 * that ends inside a header or a body fails with `UnexpectedEof` (frame `"length-prefixed"`,
 * with the bytes `received` of the header or body and the `expected` count). A header declaring
 * more than `maxFrameSize` fails with `FrameTooLarge` (with `length`) before the body is read.
 * Memory: a body is collected as it arrives, at most `maxFrameSize` bytes. The format of Netty's
 * `LengthFieldBasedFrameDecoder` with the length first, big-endian, not counting itself, and
 * stripped from the output.
 *
 * @example
 * ```ts
 * import { Framing } from "@vvnet/core"
 * import { Effect, Stream } from "effect"
 *
 * // a 1-byte header (3), "abc", then a header (2) and "de" split across two chunks
 * const frames = Stream.make(new Uint8Array([3, 97, 98, 99, 2, 100]), new Uint8Array([101])).pipe(
 *   Framing.decodeLengthPrefixed({ lengthBytes: 1, maxFrameSize: 255 }),
 *   Stream.map((frame) => new TextDecoder().decode(frame)),
 *   Stream.runCollect
 * )
 * Effect.runPromise(frames).then(console.log) // { _id: 'Chunk', values: [ 'abc', 'de' ] }
 * ```
 *
 * @since 0.2.0
 * @category decoders
 */
export const decodeLengthPrefixed = (options: LengthPrefixOptions) =>
<E, R>(
  self: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<Uint8Array, E | FrameError.FrameError | NetError.InvalidArgument, R> =>
  Stream.pipeThroughChannelOrFail(self, lengthPrefixed<E>(options))

/**
 * Encodes each chunk of frames into one array of bytes (so a chunk becomes one write on
 * `conn.sink`); a frame `encode` rejects ends the stream after the frames before it.
 */
const encodeChunks = <A, E, R>(
  self: Stream.Stream<A, E, R>,
  validate: () => NetError.InvalidArgument | undefined,
  size: (frame: A) => FrameError.FrameError | NetError.InvalidArgument | number,
  write: (frame: A, out: Uint8Array, offset: number) => number
): Stream.Stream<Uint8Array, E | FrameError.FrameError | NetError.InvalidArgument, R> =>
  Stream.suspend(() => {
    const error = validate()
    if (error !== undefined) return Stream.fail(error)
    return Stream.flatMap(
      Stream.chunks(self),
      (frames) => {
        let total = 0
        let count = 0
        let failure: FrameError.FrameError | NetError.InvalidArgument | undefined = undefined
        for (const frame of frames) {
          const length = size(frame)
          if (typeof length !== "number") {
            failure = length
            break
          }
          total += length
          count++
        }
        const out = new Uint8Array(total)
        let offset = 0
        let i = 0
        for (const frame of frames) {
          if (i++ === count) break
          offset = write(frame, out, offset)
        }
        const encoded = total === 0 && count === 0 ? Stream.empty : Stream.succeed(out)
        return failure === undefined ? encoded : Stream.concat(encoded, Stream.fail(failure))
      }
    )
  })

const toBytes = (frame: Uint8Array | string): Uint8Array => typeof frame === "string" ? encoder.encode(frame) : frame

/**
 * Encodes lines for `conn.sink`: each element (bytes, or a string sent as UTF-8) followed by
 * `ending` (default LF). A chunk of lines becomes one array (one write). A line containing LF
 * fails with `InvalidArgument` (op `"write"`), one longer than `maxLength` with `FrameTooLarge`,
 * after the lines before it. With the LF ending, a line that ends in CR reads back without that
 * CR (`decodeLines` takes CRLF as one ending), as in every LF/CRLF-tolerant protocol.
 *
 * @example
 * ```ts
 * import { Framing, MemoryNet, Net } from "@vvnet/core"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const listener = yield* Net.listen("tcp", "127.0.0.1:0")
 *   const conn = yield* Net.dial("tcp", listener.address)
 *   yield* Stream.make("PING", "QUIT").pipe(Framing.encodeLines({ ending: "\r\n" }), Stream.run(conn.sink))
 * }).pipe(Effect.scoped, Effect.provide(MemoryNet.layer))
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.2.0
 * @category encoders
 */
export const encodeLines = (options?: LineEncodeOptions) =>
<E, R>(
  self: Stream.Stream<Uint8Array | string, E, R>
): Stream.Stream<Uint8Array, E | FrameError.FrameError | NetError.InvalidArgument, R> => {
  const ending = options?.ending === "\r\n" ? new Uint8Array([CR, LF]) : new Uint8Array([LF])
  const maxLength = options?.maxLength
  return encodeChunks(
    Stream.map(self, toBytes),
    () => {
      if (options?.ending !== undefined && options.ending !== "\n" && options.ending !== "\r\n") {
        return invalid("write", `ending must be "\\n" or "\\r\\n", got ${JSON.stringify(options.ending)}`)
      }
      const reason = maxLength === undefined ? undefined : invalidLimit("maxLength", maxLength)
      return reason === undefined ? undefined : invalid("write", reason)
    },
    (line) => {
      if (maxLength !== undefined && line.length > maxLength) {
        return new FrameTooLarge({ frame: "line", maxLength, length: line.length })
      }
      if (line.indexOf(LF) !== -1) return invalid("write", "a line must not contain LF")
      return line.length + ending.length
    },
    (line, out, offset) => {
      out.set(line, offset)
      out.set(ending, offset + line.length)
      return offset + line.length + ending.length
    }
  )
}

/**
 * Encodes frames for `conn.sink`: each body preceded by its length in `lengthBytes` bytes,
 * big-endian (see `LengthPrefixOptions`). A chunk of frames becomes one array (one write). A
 * body longer than `maxFrameSize`, or than the header can express, fails with `FrameTooLarge`
 * (with `length`, and `maxLength` the smaller of the two bounds) after the frames before it.
 *
 * @since 0.2.0
 * @category encoders
 */
export const encodeLengthPrefixed = (options: LengthPrefixOptions) =>
<E, R>(
  self: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<Uint8Array, E | FrameError.FrameError | NetError.InvalidArgument, R> => {
  const { lengthBytes } = options
  const maxLength = Math.min(options.maxFrameSize, 2 ** (8 * lengthBytes) - 1)
  return encodeChunks(
    self,
    () => {
      const reason = invalidFormat(options)
      return reason === undefined ? undefined : invalid("write", reason)
    },
    (frame) =>
      frame.length > maxLength
        ? new FrameTooLarge({ frame: "length-prefixed", maxLength, length: frame.length })
        : lengthBytes + frame.length,
    (frame, out, offset) => {
      let length = frame.length
      for (let i = lengthBytes - 1; i >= 0; i--) {
        out[offset + i] = length & 0xff
        length = Math.floor(length / 256)
      }
      out.set(frame, offset + lengthBytes)
      return offset + lengthBytes + frame.length
    }
  )
}
