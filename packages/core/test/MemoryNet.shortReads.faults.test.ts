import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as MemoryNet from "../src/MemoryNet.js"
import { concat, drain, pair, writeAll } from "./support/memory.js"
import { eventLoopTurn, propertyOptions, soakTimeout } from "./support/soak.js"

/**
 * MemoryNet's short-read fault (`faults.shortReads`): reads come up short, at random, the
 * same way for the same seed.
 * Part of the seeded-fault tests (`*.faults.test.ts`): they run in the normal suite with each
 * property's own small run count, and again in the soak run (`pnpm test:soak`) with
 * `VVNET_SOAK_RUNS` runs each; see `support/soak.ts`.
 */

const timeout = soakTimeout(60_000)

describe("MemoryNet faults: short reads", () => {
  it.scoped.prop(
    "short reads: bytes arrive in order and complete, no read returns more than n or more than the cap, and reads do come up short",
    {
      seed: FastCheck.integer(),
      // more bytes than any cap below, so a read of 64 cannot take them all
      first: FastCheck.uint8Array({ minLength: 17, maxLength: 2000 }),
      rest: FastCheck.array(FastCheck.uint8Array({ minLength: 1, maxLength: 2000 }), { maxLength: 6 }),
      readSizes: FastCheck.array(FastCheck.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 }),
      shortReads: FastCheck.oneof(FastCheck.constant(true as const), FastCheck.integer({ min: 1, max: 16 }))
    },
    ({ first, readSizes, rest, seed, shortReads }) => {
      const chunks = [first, ...rest]
      const data = concat(chunks)
      const cap = shortReads === true ? 7 : shortReads
      // the first read asks for more than the cap (at most 16) while every byte is buffered
      const sizes = [64, ...readSizes]
      return Effect.gen(function*() {
        const { client, server } = yield* pair("tcp", "127.0.0.1:0")
        // less than the receive buffer: every write completes before any read
        yield* writeAll(client, chunks)
        yield* client.closeWrite
        const drained = yield* drain(server, sizes, data.length + 10)
        expect(drained.end).toBe("EOF")
        expect(drained.data).toEqual(data)
        let consumed = 0
        let shortWithPending = 0
        for (const { got, n } of drained.reads) {
          expect(got).toBeGreaterThanOrEqual(1)
          expect(got).toBeLessThanOrEqual(n)
          expect(got).toBeLessThanOrEqual(cap)
          consumed += got
          if (got < n && consumed < data.length) shortWithPending++
        }
        expect(shortWithPending).toBeGreaterThan(0)
      }).pipe(Effect.provide(MemoryNet.layerWith({ faults: { seed, shortReads } })), Effect.zipLeft(eventLoopTurn))
    },
    propertyOptions(100, timeout)
  )

  /** The sizes of the reads of 3000 bytes with read(64) under short-read faults. */
  const readSizesFor = (seed: number) =>
    Effect.scoped(
      Effect.gen(function*() {
        const { client, server } = yield* pair("tcp", "127.0.0.1:0")
        const data = new Uint8Array(3000).map((_, i) => i % 256)
        yield* client.write(data)
        yield* client.closeWrite
        const drained = yield* drain(server, [64], 4000)
        expect(drained.data).toEqual(data)
        return drained.reads.map((r) => r.got)
      }).pipe(Effect.provide(MemoryNet.layerWith({ faults: { seed, shortReads: true } })))
    )

  it.effect.prop(
    "same seed, same sequence of read sizes",
    [FastCheck.integer()],
    ([seed]) =>
      Effect.gen(function*() {
        const first = yield* readSizesFor(seed)
        const second = yield* readSizesFor(seed)
        expect(first.length).toBeGreaterThan(3000 / 7 - 1)
        expect(second).toEqual(first)
      }).pipe(Effect.zipLeft(eventLoopTurn)),
    propertyOptions(30, timeout)
  )

  it.effect("different seeds give different read sizes", () =>
    Effect.gen(function*() {
      const runs = yield* Effect.forEach([1, 2, 3, 4, 5], readSizesFor)
      const distinct = new Set(runs.map((sizes) => sizes.join(",")))
      expect(distinct.size).toBeGreaterThan(1)
    }), timeout)
})
