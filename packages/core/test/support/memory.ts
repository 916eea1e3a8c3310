import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import type { Conn } from "../../src/Conn.js"
import * as Net from "../../src/Net.js"
import type * as NetError from "../../src/NetError.js"
import { failure, flush, tagOf } from "./effects.js"

/** Test helpers for MemoryNet: pairs of connected ends, draining, the TestClock. */

/**
 * Under TestClock: advances the clock `stepMs` at a time until `fiber` is done (at most
 * `maxSteps` steps) and returns its Exit; dies when it never finishes.
 */
export const advanceUntilDone = <A, E>(fiber: Fiber.Fiber<A, E>, stepMs: number, maxSteps: number) =>
  Effect.gen(function*() {
    for (let i = 0; i <= maxSteps; i++) {
      yield* flush
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) return done.value
      yield* TestClock.adjust(Duration.millis(stepMs))
    }
    return yield* Effect.dieMessage(`fiber not done after ${maxSteps} steps of ${stepMs} ms`)
  })

export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  let size = 0
  for (const p of parts) size += p.length
  const out = new Uint8Array(size)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/** `length` bytes of a recognisable pattern, so a misplaced byte shows. */
export const pattern = (length: number, seed = 0): Uint8Array => {
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) % 251
  return bytes
}

export interface Drained {
  readonly data: Uint8Array
  /** Each non-empty read: the n asked for and the count returned. */
  readonly reads: ReadonlyArray<{ readonly n: number; readonly got: number }>
  /** "EOF", the failure's tag, or "max reads". */
  readonly end: string
  readonly error: NetError.NetError | undefined
}

/** Reads with the sizes in `sizes` (cycled) until EOF or a failure, at most `maxReads` reads. */
export const drain = (conn: Conn, sizes: ReadonlyArray<number>, maxReads: number): Effect.Effect<Drained> =>
  Effect.gen(function*() {
    const parts: Array<Uint8Array> = []
    const reads: Array<{ n: number; got: number }> = []
    for (let i = 0; i < maxReads; i++) {
      const n = sizes[i % sizes.length]!
      const exit = yield* Effect.exit(conn.read(n))
      if (Exit.isFailure(exit)) {
        return { data: concat(parts), reads, end: tagOf(exit), error: failure(exit) }
      }
      if (exit.value.length === 0) return { data: concat(parts), reads, end: "EOF", error: undefined }
      reads.push({ n, got: exit.value.length })
      parts.push(exit.value)
    }
    return { data: concat(parts), reads, end: "max reads", error: undefined }
  })

/** Listens on `address`, dials it and accepts: both ends of one connection. */
export const pair = (
  network: string,
  address: string,
  dialOptions?: Net.DialOptions,
  listenOptions?: Net.ListenOptions
) =>
  Effect.gen(function*() {
    const listener = yield* Net.listen(network, address, listenOptions)
    const client = yield* Net.dial(network, listener.address, dialOptions)
    const server = yield* listener.accept
    return { listener, client, server }
  })

/** As `pair`, under TestClock with a delay fault (dial waits a delay on the Clock). */
export const pairAdvancing = (maxDelay: number, dialOptions?: Net.DialOptions, listenOptions?: Net.ListenOptions) =>
  Effect.gen(function*() {
    const listener = yield* Net.listen("tcp", "127.0.0.1:0", listenOptions)
    const dialing = yield* Effect.fork(Net.dial("tcp", listener.address, dialOptions))
    const dialed = yield* advanceUntilDone(dialing, maxDelay + 1, 10)
    const client = yield* dialed
    const server = yield* listener.accept
    return { listener, client, server }
  })

export const writeAll = (conn: Conn, chunks: ReadonlyArray<Uint8Array>) =>
  Effect.forEach(chunks, (chunk) => conn.write(chunk), { discard: true })

export const chunksArb = (maxChunks: number, maxChunk: number) =>
  FastCheck.array(FastCheck.uint8Array({ minLength: 1, maxLength: maxChunk }), { minLength: 1, maxLength: maxChunks })

/** Whether `prefix` is a prefix of `whole`. */
export const isPrefix = (prefix: Uint8Array, whole: Uint8Array): boolean => {
  if (prefix.length > whole.length) return false
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== whole[i]) return false
  return true
}

/**
 * A Clock whose time moves only by `advance`, and which counts the sleeps still pending: an
 * interrupted sleep leaves the count (TestClock keeps listing interrupted sleeps), so a timer
 * that was cancelled can be told from one that is still armed.
 */
export const manualClock = () => {
  let now = 0
  const sleepers = new Set<{ readonly at: number; readonly wake: () => void }>()
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeMillis: Effect.sync(() => now),
    currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
    sleep: (duration) =>
      Effect.async<void>((resume) => {
        const at = now + Duration.toMillis(duration)
        if (at <= now) return resume(Effect.void)
        const sleeper = { at, wake: () => resume(Effect.void) }
        sleepers.add(sleeper)
        return Effect.sync(() => {
          sleepers.delete(sleeper)
        })
      })
  }
  return {
    clock,
    /** Sleeps neither done nor interrupted. */
    pending: () => sleepers.size,
    advance: (ms: number) =>
      Effect.sync(() => {
        now += ms
        for (const sleeper of Array.from(sleepers)) {
          if (sleeper.at <= now) {
            sleepers.delete(sleeper)
            sleeper.wake()
          }
        }
      })
  }
}

/**
 * Runs V8's garbage collector (`--expose-gc` set at run time), so a test can check through a
 * `WeakRef` that nothing holds some bytes any more. Call it in a later event-loop turn than
 * the last `deref()`: a deref keeps its target alive until the current job ends.
 */
export const collectGarbage: Effect.Effect<void> = Effect.sync(() => {
  v8.setFlagsFromString("--expose-gc")
  ;(vm.runInNewContext("gc") as () => void)()
})
