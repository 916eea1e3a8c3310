import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as BufferedReader from "../../src/BufferedReader.js"
import type { Conn } from "../../src/Conn.js"
import * as NetError from "../../src/NetError.js"

/** Test helpers for BufferedReader and Framing: a scripted connection, op scripts, chunkings. */

/**
 * A read-only Conn over fixed chunks: `read(n)` returns at most `n` bytes and never crosses a
 * chunk boundary, then EOF (or `end`, a failure). Writes are accepted and dropped.
 */
export const scriptedConn = (
  chunks: ReadonlyArray<Uint8Array>,
  end?: NetError.NetError,
  /** Read i fails with `Timeout`, consuming nothing, when `timeouts[i % length]` (a flaky deadline). */
  timeouts: ReadonlyArray<boolean> = []
): Conn => {
  let index = 0
  let offset = 0
  let reads = 0
  const read = (n: number): Effect.Effect<Uint8Array, NetError.NetError> =>
    Effect.suspend(() => {
      if (timeouts.length > 0 && timeouts[reads++ % timeouts.length]) {
        return Effect.fail(
          NetError.make("Timeout", { op: "read", network: "tcp", address: "", reason: NetError.timeoutReason })
        )
      }
      if (!(Number.isSafeInteger(n) && n >= 0)) {
        return Effect.fail(
          NetError.make("InvalidArgument", { op: "read", network: "tcp", address: "", reason: "invalid argument" })
        )
      }
      if (n === 0) return Effect.succeed(new Uint8Array(0))
      while (index < chunks.length && offset === chunks[index]!.length) {
        index++
        offset = 0
      }
      if (index === chunks.length) return end === undefined ? Effect.succeed(new Uint8Array(0)) : Effect.fail(end)
      const chunk = chunks[index]!
      const take = Math.min(n, chunk.length - offset)
      const out = chunk.slice(offset, offset + take)
      offset += take
      return Effect.succeed(out)
    })
  return {
    network: "tcp",
    localAddress: "127.0.0.1:1",
    remoteAddress: "127.0.0.1:2",
    read,
    write: (data) => Effect.succeed(typeof data === "string" ? new TextEncoder().encode(data).length : data.length),
    closeWrite: Effect.void,
    close: Effect.void,
    setReadTimeout: () => Effect.void,
    setWriteTimeout: () => Effect.void,
    stream: Stream.repeatEffectOption(
      Effect.flatMap(
        Effect.mapError(read(65536), Option.some),
        (chunk) => chunk.length === 0 ? Effect.fail(Option.none()) : Effect.succeed(chunk)
      )
    ),
    sink: Sink.forEach(() => Effect.void)
  }
}

/** Splits `data` at the given cut points (any numbers; taken modulo the length, sorted). */
export const split = (data: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = Array.from(new Set(cuts.map((c) => data.length === 0 ? 0 : c % (data.length + 1))))
    .filter((p) => p > 0 && p < data.length)
    .sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let from = 0
  for (const p of points) {
    out.push(data.slice(from, p))
    from = p
  }
  out.push(data.slice(from))
  return out.filter((c) => c.length > 0)
}

/** Bytes rich in the ones framing cares about: LF, CR, `;`, `a`, `b`, NUL, small lengths. */
export const framingByte = FastCheck.oneof(
  { weight: 3, arbitrary: FastCheck.constantFrom(0x0a, 0x0d, 0x3b, 0x61, 0x62, 0x00, 0x01, 0x03) },
  { weight: 1, arbitrary: FastCheck.integer({ min: 0, max: 255 }) }
)

export const framingBytes = (maxLength: number) =>
  FastCheck.array(framingByte, { maxLength }).map((bytes) => new Uint8Array(bytes))

export const cutsArb = FastCheck.array(FastCheck.nat(), { maxLength: 40 })

/** One call on a reader, as data. */
export type Op =
  | { readonly op: "readLine"; readonly maxLength: number }
  | { readonly op: "readUntil"; readonly delimiter: number | string; readonly maxLength: number }
  | { readonly op: "readExactly"; readonly n: number }
  | { readonly op: "peek"; readonly n: number }
  | { readonly op: "discard"; readonly n: number }
  | { readonly op: "readLengthPrefixed"; readonly lengthBytes: 1 | 2; readonly maxFrameSize: number }

export const opArb: FastCheck.Arbitrary<Op> = FastCheck.oneof(
  FastCheck.record({ op: FastCheck.constant("readLine" as const), maxLength: FastCheck.integer({ min: 0, max: 24 }) }),
  FastCheck.record({
    op: FastCheck.constant("readUntil" as const),
    delimiter: FastCheck.constantFrom<number | string>(0x3b, 0x00, "\r\n", "ab", "aba"),
    maxLength: FastCheck.integer({ min: 0, max: 24 })
  }),
  FastCheck.record({ op: FastCheck.constant("readExactly" as const), n: FastCheck.integer({ min: 0, max: 40 }) }),
  FastCheck.record({ op: FastCheck.constant("peek" as const), n: FastCheck.integer({ min: 0, max: 40 }) }),
  FastCheck.record({ op: FastCheck.constant("discard" as const), n: FastCheck.integer({ min: 0, max: 12 }) }),
  FastCheck.record({
    op: FastCheck.constant("readLengthPrefixed" as const),
    lengthBytes: FastCheck.constantFrom<1 | 2>(1, 2),
    maxFrameSize: FastCheck.integer({ min: 0, max: 40 })
  })
)

/** A result as plain data: the value (bytes as arrays, none as null) or the error's tag and fields. */
export type Outcome = unknown

const plainError = (error: unknown): Outcome => {
  const e = error as Record<string, unknown>
  return e._tag === "UnexpectedEof" || e._tag === "FrameTooLarge"
    ? {
      error: e._tag,
      frame: e.frame,
      received: e.received,
      expected: e.expected,
      maxLength: e.maxLength,
      length: e.length
    }
    : { error: e._tag }
}

const plain = (value: unknown): Outcome =>
  value instanceof Uint8Array
    ? Array.from(value)
    : Option.isOption(value)
    ? (Option.isSome(value) ? plain(value.value) : null)
    : value

const call = (reader: BufferedReader.BufferedReader, op: Op): Effect.Effect<unknown, unknown> => {
  switch (op.op) {
    case "readLine":
      return reader.readLine({ maxLength: op.maxLength })
    case "readUntil":
      return reader.readUntil(op.delimiter, { maxLength: op.maxLength })
    case "readExactly":
      return reader.readExactly(op.n)
    case "peek":
      return reader.peek(op.n)
    case "discard":
      return reader.discard(op.n)
    case "readLengthPrefixed":
      return reader.readLengthPrefixed({ lengthBytes: op.lengthBytes, maxFrameSize: op.maxFrameSize })
  }
}

/**
 * Runs `ops` on a reader over `conn`, then drains it with `read` to EOF: every outcome, and the
 * bytes left (concatenated: how `read` splits them depends on the chunking, their order not).
 */
export const runScript = (conn: Conn, ops: ReadonlyArray<Op>, size?: number) =>
  Effect.gen(function*() {
    const reader = yield* BufferedReader.make(conn, size === undefined ? undefined : { size })
    const outcomes: Array<Outcome> = []
    const rest: Array<number> = []
    // a Timeout is retried, as a caller moving its deadline would: the call must then return
    // what it would have returned without the Timeout
    const retried = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.catchIf(effect, (e) => (e as { readonly _tag?: unknown })._tag === "Timeout", () => retried(effect))
    for (const op of ops) {
      const exit = yield* Effect.exit(retried(call(reader, op)))
      outcomes.push(
        Exit.isSuccess(exit)
          ? { ok: plain(exit.value) }
          : exit.cause._tag === "Fail"
          ? plainError(exit.cause.error)
          : { defect: String(exit.cause) }
      )
    }
    for (;;) {
      const chunk = yield* retried(reader.read(7))
      if (chunk.length === 0) break
      rest.push(...chunk)
    }
    return { outcomes, rest }
  })
