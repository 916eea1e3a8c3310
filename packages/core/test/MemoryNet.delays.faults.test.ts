import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as Conn from "../src/Conn.js"
import * as MemoryNet from "../src/MemoryNet.js"
import * as Net from "../src/Net.js"
import { flush, isPending, tagOf } from "./support/effects.js"
import { advanceUntilDone, chunksArb, concat, drain, manualClock, pairAdvancing, writeAll } from "./support/memory.js"
import { eventLoopTurn, propertyOptions, soakTimeout } from "./support/soak.js"

/**
 * MemoryNet's delay fault (`faults.delay`): deliveries wait on the Clock, over the whole
 * configured range, the same way for the same seed.
 * Part of the seeded-fault tests (`*.faults.test.ts`): they run in the normal suite with each
 * property's own small run count, and again in the soak run (`pnpm test:soak`) with
 * `VVNET_SOAK_RUNS` runs each; see `support/soak.ts`.
 */

const timeout = soakTimeout(60_000)

describe("MemoryNet faults: delays", () => {
  it.scoped.prop(
    "delayed delivery (with and without short reads): bytes read equal bytes written, in order; no read returns more than n",
    {
      seed: FastCheck.integer(),
      min: FastCheck.integer({ min: 0, max: 20 }),
      spread: FastCheck.integer({ min: 0, max: 30 }),
      shortReads: FastCheck.boolean(),
      chunks: chunksArb(10, 3000),
      readSizes: FastCheck.array(FastCheck.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 8 })
    },
    ({ chunks, min, readSizes, seed, shortReads, spread }) => {
      const max = min + spread
      const data = concat(chunks)
      return Effect.gen(function*() {
        const { client, server } = yield* pairAdvancing(max)
        const reading = yield* Effect.fork(drain(server, readSizes, data.length + 10))
        const writing = yield* Effect.fork(Effect.zipRight(writeAll(client, chunks), client.closeWrite))
        if (min > 0) {
          // nothing is delivered before the clock moves
          yield* flush
          expect(yield* isPending(writing)).toBe(true)
          expect(yield* isPending(reading)).toBe(true)
        }
        const drainedExit = yield* advanceUntilDone(reading, max + 1, (chunks.length + 2) * 4)
        const drained = yield* drainedExit
        expect(drained.end).toBe("EOF")
        expect(drained.data).toEqual(data)
        for (const { got, n } of drained.reads) {
          expect(got).toBeLessThanOrEqual(n)
          if (shortReads) expect(got).toBeLessThanOrEqual(7)
        }
        expect(tagOf(yield* advanceUntilDone(writing, max + 1, 10))).toBe("success")
      }).pipe(
        Effect.provide(MemoryNet.layerWith({ faults: { seed, delay: { min, max }, shortReads } })),
        Effect.zipLeft(eventLoopTurn)
      )
    },
    propertyOptions(40, timeout)
  )

  it.scoped("same seed, same delivery times under delay faults", () => {
    const deliveryTimes = (seed: number) =>
      Effect.scoped(
        Effect.gen(function*() {
          const { client, server } = yield* pairAdvancing(40)
          const start = yield* TestClock.currentTimeMillis
          const times: Array<number> = []
          const reading = yield* Effect.fork(Effect.gen(function*() {
            for (let i = 0; i < 8; i++) {
              yield* server.read(1)
              times.push((yield* TestClock.currentTimeMillis) - start)
            }
          }))
          const writing = yield* Effect.fork(
            Effect.forEach([0, 1, 2, 3, 4, 5, 6, 7], (i) => client.write(new Uint8Array([i])), { discard: true })
          )
          expect(tagOf(yield* advanceUntilDone(reading, 1, 8 * 41))).toBe("success")
          expect(tagOf(yield* advanceUntilDone(writing, 1, 10))).toBe("success")
          return times
        }).pipe(Effect.provide(MemoryNet.layerWith({ faults: { seed, delay: { min: 1, max: 40 } } })))
      )
    return Effect.gen(function*() {
      const a = yield* deliveryTimes(42)
      const b = yield* deliveryTimes(42)
      expect(a).toHaveLength(8)
      expect(b).toEqual(a)
      // time only moves forward, and each write waited at least min
      for (let i = 1; i < a.length; i++) expect(a[i]!).toBeGreaterThan(a[i - 1]!)
    })
  }, timeout)

  it.scoped("a write waiting for its delay leaves no timer armed once its connection is reset", () => {
    const manual = manualClock()
    return Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", "127.0.0.1:0")
      const dialing = yield* Effect.fork(Net.dial("tcp", listener.address))
      yield* flush
      yield* manual.advance(50) // the dial's own delay
      const client = yield* Fiber.join(dialing)
      yield* listener.accept
      yield* Effect.fork(client.write("late"))
      yield* flush
      expect(manual.pending()).toBe(1) // the write's delay
      yield* Conn.abort(client)
      yield* flush
      expect(manual.pending()).toBe(0)
    }).pipe(
      Effect.provide(MemoryNet.layerWith({ faults: { seed: 1, delay: { min: 50, max: 50 } } })),
      Effect.withClock(manual.clock)
    )
  }, timeout)

  describe("delays are drawn over the whole configured range", () => {
    /** The delay of each of `count` writes, one at a time: when its timer is due, after the write. */
    const delays = (min: number, max: number, count: number, seed: number) =>
      Effect.gen(function*() {
        const { client, server } = yield* pairAdvancing(max)
        const seen: Array<number> = []
        for (let i = 0; i < count; i++) {
          const before = Chunk.toReadonlyArray(yield* TestClock.sleeps())
          const now = yield* TestClock.currentTimeMillis
          const writing = yield* Effect.fork(client.write(new Uint8Array([i % 256])))
          yield* flush
          const timers = Chunk.toReadonlyArray(yield* TestClock.sleeps()).filter((t) => !before.includes(t))
          if (timers.length === 0) {
            // a delay of 0 ms: delivered at once
            seen.push(0)
          } else {
            expect(timers.length).toBe(1)
            seen.push(timers[0]! - now)
            yield* TestClock.adjust(timers[0]! - now)
          }
          expect(tagOf(yield* advanceUntilDone(writing, 1, 2))).toBe("success")
          expect((yield* server.read(1)).length).toBe(1)
        }
        return seen
      }).pipe(Effect.scoped, Effect.provide(MemoryNet.layerWith({ faults: { seed, delay: { min, max } } })))

    for (const [min, max] of [[0, 1], [2, 5], [7, 7]] as const) {
      it.effect(
        `delay { min: ${min}, max: ${max} }: every whole ms from min to max, max included, nothing outside`,
        () =>
          Effect.gen(function*() {
            const seen = yield* delays(min, max, 60, 42)
            const expected = Array.from({ length: max - min + 1 }, (_, i) => min + i)
            expect([...new Set(seen)].sort((a, b) => a - b)).toEqual(expected)
          }),
        timeout
      )
    }
  })
})
