/**
 * Buffered reading over a `Conn` (Go's `bufio.Reader` with `textproto`'s line reading, as
 * Effects): lines, delimited frames, exact byte counts, length-prefixed frames and peeking,
 * mixed freely on one connection. The reader keeps the bytes it read ahead, so a protocol can
 * read a header line, then an exact body, then the next line, and hand what is left to other
 * code (`read`, `takeBuffered`, `stream`, or the whole connection through `toConn`).
 *
 * - A clean EOF, at a frame boundary, is a value, as `Conn.read`'s empty array is:
 *   `Option.none()`. EOF inside a frame fails with `UnexpectedEof` (`FrameError`).
 * - Every frame has a limit in bytes; a longer one fails with `FrameTooLarge` as soon as the
 *   limit is certainly passed, so memory is bounded by the limits, never by the peer.
 * - A call that fails consumes nothing: the bytes it read stay buffered (after a `Timeout`, retry
 *   the call once the deadline moved; after a `FrameError`, `discard` or `takeBuffered` them).
 * - It reads through `conn.read`, so the connection's read deadline applies to every call
 *   that has to wait for bytes, and its `NetError`s pass through unchanged.
 * - Interrupting a call loses no byte: bytes `conn.read` returned are in the buffer.
 *
 * A reader is for one fiber at a time (as Go's `bufio.Reader`): calls from several fibers at
 * once interleave their reads and may see each other's bytes. Use one reader per connection,
 * and read the connection only through it while it holds bytes.
 *
 * @example
 * ```ts
 * import { BufferedReader, MemoryNet, Net } from "@vvnet/core"
 * import { Effect, Option } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const listener = yield* Net.listen("tcp", "127.0.0.1:0")
 *   const conn = yield* Net.dial("tcp", listener.address)
 *   const server = yield* listener.accept
 *   yield* server.write("PUT 5\r\nhelloQUIT\n")
 *   yield* server.closeWrite
 *
 *   const reader = yield* BufferedReader.make(conn)
 *   const header = yield* reader.readLineString({ maxLength: 1024 }) // Some("PUT 5")
 *   const size = Number(Option.getOrThrow(header).split(" ")[1])
 *   const body = yield* reader.readExactly(size) // Some(the 5 bytes of "hello")
 *   const last = yield* reader.readLineString() // Some("QUIT"): a line ending in LF alone
 *   const end = yield* reader.readLine() // None: EOF at a line boundary
 *   const text = Option.map(body, (b) => new TextDecoder().decode(b))
 *   return [Option.getOrNull(header), Option.getOrNull(text), Option.getOrNull(last), Option.isNone(end)]
 * }).pipe(Effect.scoped, Effect.provide(MemoryNet.layer))
 *
 * Effect.runPromise(program).then(console.log) // [ 'PUT 5', 'hello', 'QUIT', true ]
 * ```
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Conn } from "./Conn.js"
import { FrameTooLarge, UnexpectedEof } from "./FrameError.js"
import type * as FrameError from "./FrameError.js"
import * as NetError from "./NetError.js"

/**
 * The default `size` of a reader: 65536 bytes, the chunk size of `Conn.stream`.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultSize = 64 * 1024

/**
 * The default limit of `readLine` and `readUntil`: 65536 bytes.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultMaxLength = 64 * 1024

/**
 * The largest byte count `readExactly`, `peek` and a length-prefixed frame may ask for:
 * 2^31 − 1 (V8's bound on a typed array on 64-bit hosts, as `Conn.readFull`).
 *
 * @since 0.2.0
 * @category constants
 */
export const maxCount = 2 ** 31 - 1

/**
 * Options of `make`.
 *
 * - `size`: the buffer's resting capacity in bytes, and the most bytes asked of each
 *   `conn.read` while it is not growing (default 65536, `defaultSize`). The buffer grows, by
 *   doubling, only to hold one frame that is longer (up to that call's limit) and shrinks back
 *   to `size` once that frame is consumed.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly size?: number | undefined
}

/**
 * Options of `readLine`, `readLineString` and `readUntil`.
 *
 * - `maxLength`: the longest frame accepted, in bytes, without its line ending or delimiter
 *   (default 65536, `defaultMaxLength`). Longer fails with `FrameTooLarge`.
 *
 * @since 0.2.0
 * @category models
 */
export interface LimitOptions {
  readonly maxLength?: number | undefined
}

/**
 * Options of `readLengthPrefixed`: the frame format of `Framing.decodeLengthPrefixed`.
 *
 * - `lengthBytes`: the header's size, 1, 2 or 4 bytes: an unsigned big-endian byte count of
 *   the body that follows (network byte order).
 * - `maxFrameSize`: the longest body accepted, in bytes; a header declaring more fails with
 *   `FrameTooLarge` before the body is read.
 *
 * @since 0.2.0
 * @category models
 */
export interface LengthPrefixOptions {
  readonly lengthBytes: 1 | 2 | 4
  readonly maxFrameSize: number
}

/**
 * The errors a reading call fails with: the connection's `NetError` (`Timeout`, `Closed`,
 * `ConnectionReset`, `InvalidArgument` for a bad argument, …) or a `FrameError`
 * (`UnexpectedEof`, `FrameTooLarge`).
 *
 * @since 0.2.0
 * @category models
 */
export type ReadError = NetError.NetError | FrameError.FrameError

/**
 * A buffered reader over a connection. Frames are returned as fresh arrays that belong to the
 * caller (copies: the reader never writes to them, and they do not keep its buffer alive).
 * Byte counts and limits are in bytes; a bad one (negative, fractional, above `maxCount`) fails
 * with `InvalidArgument` before any read. For one fiber at a time: the reader has no lock, and
 * two calls at once would interleave their reads.
 *
 * @since 0.2.0
 * @category models
 */
export interface BufferedReader {
  /** The connection read through. Read it directly only while `buffered` is 0. */
  readonly conn: Conn
  /** The buffer's resting capacity in bytes (`Options.size`). */
  readonly size: number
  /**
   * The bytes read ahead and held, not yet returned (Go's `Reader.Buffered`). They are the next
   * bytes every call returns, before any new byte from the connection.
   */
  readonly buffered: Effect.Effect<number>
  /**
   * Reads a line: the bytes up to the next LF, returned without the LF and without one CR right
   * before it (a lone CR elsewhere is data). `Option.none()` when EOF comes before any byte of
   * a line. Fails with `UnexpectedEof` (frame `"line"`) when EOF comes after part of a line,
   * and with `FrameTooLarge` when the line, without its ending, is longer than `maxLength`.
   * Go's `textproto.Reader.ReadLineBytes` with a limit.
   */
  readLine(options?: LimitOptions): Effect.Effect<Option.Option<Uint8Array>, ReadError>
  /** `readLine`, decoded as UTF-8 (invalid sequences become U+FFFD). */
  readLineString(options?: LimitOptions): Effect.Effect<Option.Option<string>, ReadError>
  /**
   * Reads up to the next occurrence of `delimiter` (a byte 0..255, a non-empty byte sequence,
   * or a non-empty string sent as UTF-8) and returns the bytes before it, consuming the
   * delimiter too. `Option.none()` when EOF comes before any byte; `UnexpectedEof` (frame
   * `"delimited"`) when EOF comes after some bytes but before the delimiter; `FrameTooLarge`
   * when more than `maxLength` bytes precede the delimiter. Go's `Reader.ReadSlice`, without the
   * delimiter in the result and with the limit as a parameter instead of the buffer size.
   */
  readUntil(
    delimiter: number | Uint8Array | string,
    options?: LimitOptions
  ): Effect.Effect<Option.Option<Uint8Array>, ReadError>
  /**
   * Reads exactly `n` bytes (Go's `io.ReadFull` over the reader). `Option.none()` when EOF
   * comes before any byte (and `n > 0`); `UnexpectedEof` (frame `"fixed"`, with `expected: n`)
   * after fewer than `n`. `n = 0` returns an empty array at once. Memory grows with the bytes
   * that arrive, never with `n` alone.
   */
  readExactly(n: number): Effect.Effect<Option.Option<Uint8Array>, ReadError>
  /**
   * Reads one length-prefixed frame (see `LengthPrefixOptions`) and returns its body.
   * `Option.none()` when EOF comes before any header byte; `UnexpectedEof` (frame
   * `"length-prefixed"`) inside the header or the body; `FrameTooLarge` (with `length`, the
   * declared size) when the header declares more than `maxFrameSize`, before the body is read
   * (as every failure, it consumes nothing: `discard(lengthBytes + length)` skips the frame).
   */
  readLengthPrefixed(options: LengthPrefixOptions): Effect.Effect<Option.Option<Uint8Array>, ReadError>
  /**
   * Returns the next `n` bytes without consuming them (Go's `Reader.Peek`), waiting for them to
   * arrive; fewer only when EOF comes first (an empty array: EOF with nothing buffered).
   */
  peek(n: number): Effect.Effect<Uint8Array, NetError.NetError>
  /**
   * Consumes the next `n` bytes without returning them (Go's `Reader.Discard`) and returns how
   * many were discarded: `n`, or fewer when EOF comes first. As every call, it consumes nothing
   * when it fails, so it holds the `n` bytes before dropping them: skip a large count in steps.
   */
  discard(n: number): Effect.Effect<number, NetError.NetError>
  /**
   * Reads at most `n` bytes, as `Conn.read` does (Go's `Reader.Read`): the buffered bytes first;
   * with none buffered, one `conn.read(n)` straight into the result. An empty array only at EOF
   * and for `n = 0`.
   */
  read(n: number): Effect.Effect<Uint8Array, NetError.NetError>
  /**
   * Removes and returns every buffered byte (possibly none) without reading the connection: the
   * bytes to hand on, with the connection, to code that reads `conn` directly.
   */
  readonly takeBuffered: Effect.Effect<Uint8Array>
  /**
   * The rest of the connection as a Stream: the buffered bytes first (taken when the stream
   * runs), then `conn.stream`; ends at EOF. Does not close the connection.
   */
  readonly stream: Stream.Stream<Uint8Array, NetError.NetError>
}

const LF = 0x0a
const CR = 0x0d
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A read error of `conn` with the connection's addresses (this module's `InvalidArgument`). */
const invalid = (conn: Conn, reason: string): NetError.InvalidArgument =>
  NetError.make("InvalidArgument", {
    op: "read",
    network: conn.network,
    address: conn.remoteAddress,
    source: conn.localAddress,
    reason: `invalid argument: ${reason}`
  })

const isCount = (n: unknown, max: number): n is number =>
  typeof n === "number" && Number.isSafeInteger(n) && n >= 0 && n <= max

const describe = (u: unknown): string => typeof u === "number" ? String(u) : typeof u

const countError = (conn: Conn, name: string, n: unknown, max: number) =>
  isCount(n, max) ? undefined : invalid(conn, `${name} must be an integer from 0 to ${max}, got ${describe(n)}`)

/** Big-endian unsigned length from `lengthBytes` bytes. */
const readLength = (bytes: Uint8Array, offset: number, lengthBytes: 1 | 2 | 4): number => {
  let n = 0
  for (let i = 0; i < lengthBytes; i++) n = n * 256 + bytes[offset + i]!
  return n
}

/**
 * The engine: one contiguous buffer `buf` holding the unread bytes at `[start, end)`. It grows
 * (doubling) when one frame needs more room and returns to `size` after.
 */
class ReaderImpl implements BufferedReader {
  private buf: Uint8Array
  private start = 0
  private end = 0
  /** EOF was read: the connection has nothing more. */
  private eof = false

  constructor(readonly conn: Conn, readonly size: number) {
    this.buf = new Uint8Array(size)
  }

  get buffered(): Effect.Effect<number> {
    return Effect.sync(() => this.end - this.start)
  }

  private get count(): number {
    return this.end - this.start
  }

  /**
   * Reads more bytes into the buffer, making room for at least `want` bytes in total (the
   * buffer grows, doubling, up to `want`). Returns false at EOF. Uninterruptible from the
   * moment `conn.read` returned, so bytes read are never dropped.
   */
  private fill(want: number): Effect.Effect<boolean, NetError.NetError> {
    if (this.eof) return Effect.succeed(false)
    this.makeRoom(want)
    return Effect.uninterruptibleMask((restore) =>
      Effect.map(restore(this.conn.read(this.buf.length - this.end)), (chunk) => {
        if (chunk.length === 0) {
          this.eof = true
          return false
        }
        // the connection returns at most what was asked, so it fits
        this.buf.set(chunk, this.end)
        this.end += chunk.length
        return true
      })
    )
  }

  /**
   * Makes free space after `end` for a read that needs `want` bytes buffered in all: grows the
   * buffer (doubling, up to `want`) when the frame outgrows it and it is at least half full,
   * else moves the unread bytes to the front when they have drifted past the middle or reached
   * the end.
   */
  private makeRoom(want: number): void {
    const count = this.count
    const length = this.buf.length
    if ((want > length && count >= length >>> 1) || count === length) {
      const next = new Uint8Array(Math.max(count + 1, Math.min(length * 2, want)))
      next.set(this.buf.subarray(this.start, this.end))
      this.buf = next
      this.start = 0
      this.end = count
    } else if (this.start > 0 && (this.end === length || this.start >= length >>> 1)) {
      this.buf.copyWithin(0, this.start, this.end)
      this.start = 0
      this.end = count
    }
  }

  /** Removes `n` buffered bytes and returns a copy of the first `length` of them. */
  private take(n: number, length: number = n): Uint8Array {
    const out = this.buf.slice(this.start, this.start + length)
    this.skip(n)
    return out
  }

  private skip(n: number): void {
    this.start += n
    if (this.start === this.end) {
      this.start = 0
      this.end = 0
    }
    const count = this.count
    if (this.buf.length > this.size && count <= this.size >>> 1) {
      // the long frame is gone: back to the resting size
      const next = new Uint8Array(this.size)
      next.set(this.buf.subarray(this.start, this.end))
      this.buf = next
      this.start = 0
      this.end = count
    }
  }

  /** Where `delimiter` starts in the buffer at or after `from` (relative to `start`), or -1. */
  private indexOf(delimiter: Uint8Array, from: number): number {
    const buf = this.buf
    const first = delimiter[0]!
    const last = this.end - delimiter.length
    for (let i = this.start + from; i <= last; i++) {
      i = buf.indexOf(first, i)
      if (i === -1 || i > last) return -1
      let j = 1
      while (j < delimiter.length && buf[i + j] === delimiter[j]) j++
      if (j === delimiter.length) return i - this.start
    }
    return -1
  }

  /**
   * The shared loop of `readLine` and `readUntil`: finds `delimiter`, then `frameEnd` gives the
   * frame's length from the delimiter's index (for a line, one CR less).
   */
  private delimited(
    frame: "line" | "delimited",
    delimiter: Uint8Array,
    maxLength: number,
    frameLength: (index: number) => number
  ): Effect.Effect<Option.Option<Uint8Array>, ReadError> {
    // a line's CR is part of its ending, so it may take one byte past the limit
    const bound = maxLength + (frame === "line" ? 1 : 0) + delimiter.length
    let scanned = 0
    const loop: Effect.Effect<Option.Option<Uint8Array>, ReadError> = Effect.suspend(() => {
      const at = this.indexOf(delimiter, scanned)
      if (at !== -1) {
        const length = frameLength(at)
        if (length > maxLength) return Effect.fail(new FrameTooLarge({ frame, maxLength }))
        return Effect.succeed(Option.some(this.take(at + delimiter.length, length)))
      }
      const count = this.count
      if (count >= bound) return Effect.fail(new FrameTooLarge({ frame, maxLength }))
      scanned = Math.max(0, count - delimiter.length + 1)
      return Effect.flatMap(this.fill(bound), (more) => {
        if (more) return loop
        const received = this.count
        return received === 0
          ? Effect.succeed(Option.none())
          : Effect.fail(new UnexpectedEof({ frame, received }))
      })
    })
    return loop
  }

  private static readonly lf = new Uint8Array([LF])

  readLine(options?: LimitOptions): Effect.Effect<Option.Option<Uint8Array>, ReadError> {
    const maxLength = options?.maxLength ?? defaultMaxLength
    const error = countError(this.conn, "maxLength", maxLength, maxCount - 2)
    if (error !== undefined) return Effect.fail(error)
    return this.delimited(
      "line",
      ReaderImpl.lf,
      maxLength,
      (at) => at > 0 && this.buf[this.start + at - 1] === CR ? at - 1 : at
    )
  }

  readLineString(options?: LimitOptions): Effect.Effect<Option.Option<string>, ReadError> {
    return Effect.map(this.readLine(options), Option.map((line) => decoder.decode(line)))
  }

  readUntil(
    delimiter: number | Uint8Array | string,
    options?: LimitOptions
  ): Effect.Effect<Option.Option<Uint8Array>, ReadError> {
    const maxLength = options?.maxLength ?? defaultMaxLength
    const bytes = typeof delimiter === "number"
      ? (Number.isInteger(delimiter) && delimiter >= 0 && delimiter <= 255 ? new Uint8Array([delimiter]) : undefined)
      : typeof delimiter === "string"
      ? encoder.encode(delimiter)
      : delimiter instanceof Uint8Array
      ? delimiter.slice()
      : undefined
    if (bytes === undefined || bytes.length === 0) {
      return Effect.fail(
        invalid(this.conn, `delimiter must be a byte 0..255 or a non-empty byte sequence, got ${describe(delimiter)}`)
      )
    }
    const error = countError(this.conn, "maxLength", maxLength, maxCount - bytes.length)
    if (error !== undefined) return Effect.fail(error)
    return this.delimited("delimited", bytes, maxLength, (at) => at)
  }

  /** Waits until `n` bytes are buffered or EOF came; the bytes buffered then. */
  private ensure(n: number): Effect.Effect<number, NetError.NetError> {
    const loop: Effect.Effect<number, NetError.NetError> = Effect.suspend(() =>
      this.count >= n
        ? Effect.succeed(this.count)
        : Effect.flatMap(this.fill(n), (more) => more ? loop : Effect.succeed(this.count))
    )
    return loop
  }

  private exactly(
    n: number,
    frame: "fixed" | "length-prefixed",
    eofAtStart: boolean
  ): Effect.Effect<Option.Option<Uint8Array>, ReadError> {
    return Effect.flatMap(this.ensure(n), (count) => {
      if (count >= n) return Effect.succeed(Option.some(this.take(n)))
      return count === 0 && eofAtStart
        ? Effect.succeed(Option.none())
        : Effect.fail(new UnexpectedEof({ frame, received: count, expected: n }))
    })
  }

  readExactly(n: number): Effect.Effect<Option.Option<Uint8Array>, ReadError> {
    const error = countError(this.conn, "n", n, maxCount)
    if (error !== undefined) return Effect.fail(error)
    if (n === 0) return Effect.succeed(Option.some(new Uint8Array(0)))
    return this.exactly(n, "fixed", true)
  }

  readLengthPrefixed(options: LengthPrefixOptions): Effect.Effect<Option.Option<Uint8Array>, ReadError> {
    const { lengthBytes, maxFrameSize } = options
    if (lengthBytes !== 1 && lengthBytes !== 2 && lengthBytes !== 4) {
      return Effect.fail(invalid(this.conn, `lengthBytes must be 1, 2 or 4, got ${describe(lengthBytes)}`))
    }
    const error = countError(this.conn, "maxFrameSize", maxFrameSize, maxCount - lengthBytes)
    if (error !== undefined) return Effect.fail(error)
    return Effect.flatMap(this.ensure(lengthBytes), (count): Effect.Effect<Option.Option<Uint8Array>, ReadError> => {
      if (count < lengthBytes) {
        return count === 0
          ? Effect.succeed(Option.none())
          : Effect.fail(new UnexpectedEof({ frame: "length-prefixed", received: count, expected: lengthBytes }))
      }
      const length = readLength(this.buf, this.start, lengthBytes)
      if (length > maxFrameSize) {
        return Effect.fail(new FrameTooLarge({ frame: "length-prefixed", maxLength: maxFrameSize, length }))
      }
      // the header stays buffered until the whole frame is, so a failed read consumes nothing
      return Effect.flatMap(this.ensure(lengthBytes + length), (count) => {
        if (count < lengthBytes + length) {
          return Effect.fail(
            new UnexpectedEof({ frame: "length-prefixed", received: count - lengthBytes, expected: length })
          )
        }
        this.skip(lengthBytes)
        return Effect.succeed(Option.some(this.take(length)))
      })
    })
  }

  peek(n: number): Effect.Effect<Uint8Array, NetError.NetError> {
    const error = countError(this.conn, "n", n, maxCount)
    if (error !== undefined) return Effect.fail(error)
    return Effect.map(this.ensure(n), (count) => this.buf.slice(this.start, this.start + Math.min(n, count)))
  }

  discard(n: number): Effect.Effect<number, NetError.NetError> {
    const error = countError(this.conn, "n", n, maxCount)
    if (error !== undefined) return Effect.fail(error)
    // all or nothing, as every call: the bytes are buffered first, so a failure consumes none
    return Effect.map(this.ensure(n), (count) => {
      const discarded = Math.min(n, count)
      this.skip(discarded)
      return discarded
    })
  }

  read(n: number): Effect.Effect<Uint8Array, NetError.NetError> {
    return Effect.suspend(() => {
      // a bad n: the connection's own InvalidArgument
      if (!(Number.isSafeInteger(n) && n >= 0)) return this.conn.read(n)
      if (this.count > 0) return Effect.succeed(this.take(Math.min(n, this.count)))
      if (this.eof) return Effect.succeed(new Uint8Array(0))
      return Effect.tap(this.conn.read(n), (chunk) => {
        if (chunk.length === 0 && n > 0) this.eof = true
      })
    })
  }

  get takeBuffered(): Effect.Effect<Uint8Array> {
    return Effect.sync(() => this.take(this.count))
  }

  get stream(): Stream.Stream<Uint8Array, NetError.NetError> {
    return Stream.flatMap(
      Stream.fromEffect(this.takeBuffered),
      (rest) => {
        const tail = this.eof ? Stream.empty : this.conn.stream
        return rest.length === 0 ? tail : Stream.concat(Stream.succeed(rest), tail)
      }
    )
  }
}

/**
 * Makes a buffered reader over `conn` (see `BufferedReader`). The reader holds no resource of
 * its own: it needs no closing, and closing the connection ends its pending call with
 * `Closed`. Fails with `InvalidArgument` for a bad `size` (a positive integer is required).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (conn: Conn, options?: Options): Effect.Effect<BufferedReader, NetError.InvalidArgument> =>
  Effect.suspend(() => {
    const size = options?.size ?? defaultSize
    if (!(isCount(size, maxCount) && size > 0)) {
      return Effect.fail(invalid(conn, `size must be a positive integer, got ${describe(size)}`))
    }
    return Effect.succeed(new ReaderImpl(conn, size))
  })

/**
 * The connection as seen through the reader, for code that takes a `Conn` (a protocol handed on
 * after its first lines, `Conn.readAll`, `PlatformSocket.fromConn`): `read` and `stream` return
 * the reader's buffered bytes first (see `BufferedReader.read`, `BufferedReader.stream`; the
 * first chunk of `stream` may exceed 65536 bytes when a long frame grew the buffer), every other
 * member is the connection's own. Read through the view or the reader, one fiber at a time, not
 * through `conn` directly. `Conn.abort` on the view closes gracefully (the view is not the
 * engine's connection); abort `reader.conn` for a reset.
 *
 * @since 0.2.0
 * @category combinators
 */
export const toConn = (reader: BufferedReader): Conn => {
  const conn = reader.conn
  return {
    network: conn.network,
    localAddress: conn.localAddress,
    remoteAddress: conn.remoteAddress,
    read: (n) => reader.read(n),
    write: (data) => conn.write(data),
    closeWrite: conn.closeWrite,
    close: conn.close,
    setReadTimeout: (ms) => conn.setReadTimeout(ms),
    setWriteTimeout: (ms) => conn.setWriteTimeout(ms),
    stream: reader.stream,
    sink: conn.sink
  }
}
