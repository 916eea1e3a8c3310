import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as MemoryNet from "../src/MemoryNet.js"
import { flush, tagOf } from "./support/effects.js"
import {
  advanceUntilDone,
  chunksArb,
  collectGarbage,
  concat,
  drain,
  isPrefix,
  pair,
  pairAdvancing,
  pattern,
  writeAll
} from "./support/memory.js"
import { eventLoopTurn, propertyOptions, soakTimeout } from "./support/soak.js"

/**
 * MemoryNet's reset fault (`faults.resetAfterBytes`): the reader gets a prefix then
 * `ConnectionReset`, never a short stream then EOF; the boundaries hold.
 * Part of the seeded-fault tests (`*.faults.test.ts`): they run in the normal suite with each
 * property's own small run count, and again in the soak run (`pnpm test:soak`) with
 * `VVNET_SOAK_RUNS` runs each; see `support/soak.ts`.
 */

const timeout = soakTimeout(60_000)

describe("MemoryNet faults: resets", () => {
  it.scoped.prop(
    "reset after k bytes: the reader gets exactly the first k bytes, then ConnectionReset (never EOF); the writer fails with ConnectionReset",
    {
      seed: FastCheck.integer(),
      chunks: chunksArb(12, 900),
      kSeed: FastCheck.nat(),
      readSizes: FastCheck.array(FastCheck.integer({ min: 1, max: 2048 }), { minLength: 1, maxLength: 8 }),
      readBufferSize: FastCheck.integer({ min: 16, max: 4096 }),
      serverWrites: FastCheck.boolean()
    },
    ({ chunks, kSeed, readBufferSize, readSizes, seed, serverWrites }) => {
      const data = concat(chunks)
      const k = kSeed % data.length // 0 <= k < data.length: more than k bytes are written
      return Effect.gen(function*() {
        const { client, server } = yield* pair("tcp", "127.0.0.1:0")
        const [writer, reader] = serverWrites ? [server, client] : [client, server]
        const writing = yield* Effect.fork(writeAll(writer, chunks))
        const drained = yield* drain(reader, readSizes, data.length + 10)
        expect(drained.end).toBe("ConnectionReset")
        expect(drained.data.length).toBe(k)
        expect(drained.data).toEqual(data.subarray(0, k))
        for (const { got, n } of drained.reads) expect(got).toBeLessThanOrEqual(n)
        expect(drained.error?.message).toContain("connection reset by peer")

        const written = yield* Fiber.await(writing)
        expect(tagOf(written)).toBe("ConnectionReset")
        // the reset is sticky on both ends
        expect(tagOf(yield* Effect.exit(writer.write("more")))).toBe("ConnectionReset")
        expect(tagOf(yield* Effect.exit(reader.read(10)))).toBe("ConnectionReset")
        expect(["BrokenPipe", "ConnectionReset"]).toContain(tagOf(yield* Effect.exit(reader.write("x"))))
      }).pipe(
        Effect.provide(MemoryNet.layerWith({ readBufferSize, faults: { seed, resetAfterBytes: k } })),
        Effect.zipLeft(eventLoopTurn)
      )
    },
    propertyOptions(100, timeout)
  )

  it.scoped(
    "reset after k bytes, with the bytes written in one write that is still in flight",
    () =>
      Effect.gen(function*() {
        const { client, server } = yield* pair("tcp", "127.0.0.1:0")
        const data = new Uint8Array(10_000).map((_, i) => i % 253)
        const writing = yield* Effect.fork(client.write(data))
        const drained = yield* drain(server, [100], 1000)
        expect(drained.data).toEqual(data.subarray(0, 3000))
        expect(drained.end).toBe("ConnectionReset")
        expect(tagOf(yield* Fiber.await(writing))).toBe("ConnectionReset")
      }).pipe(
        Effect.provide(MemoryNet.layerWith({ readBufferSize: 512, faults: { seed: 7, resetAfterBytes: 3000 } }))
      ),
    timeout
  )

  /** The sums of the first 0, 1, …, n chunk sizes: the byte positions where a write ends. */
  const boundaries = (chunks: ReadonlyArray<Uint8Array>): Array<number> => {
    const sums = [0]
    for (const chunk of chunks) sums.push(sums[sums.length - 1]! + chunk.length)
    return sums
  }

  it.scoped.prop(
    "P-reset a seeded reset at any byte: the reader gets a prefix then ConnectionReset, or every byte handed to write then EOF, never a short stream then EOF (with short reads, delays, and a graceful close while a write is pending)",
    {
      seed: FastCheck.integer(),
      chunks: chunksArb(8, 3000),
      // where the reset falls: on a write's last byte, anywhere, or past the end (no reset)
      cut: FastCheck.constantFrom("boundary" as const, "any" as const, "beyond" as const),
      cutSeed: FastCheck.nat(),
      readBufferSize: FastCheck.integer({ min: 16, max: 8192 }),
      readSizes: FastCheck.array(FastCheck.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 6 }),
      shortReads: FastCheck.oneof(
        FastCheck.constant(undefined),
        FastCheck.constant(true as const),
        FastCheck.integer({ min: 1, max: 16 })
      ),
      delay: FastCheck.option(
        FastCheck.record({
          min: FastCheck.integer({ min: 0, max: 10 }),
          spread: FastCheck.integer({ min: 0, max: 10 })
        }),
        { nil: undefined, freq: 3 }
      ),
      // how the writer ends: half-close, close once every write returned, or close while a
      // write still waits for room or for its delay (its bytes were handed to the transport)
      end: FastCheck.constantFrom("closeWrite" as const, "close" as const, "closePending" as const),
      serverWrites: FastCheck.boolean()
    },
    ({ chunks, cut, cutSeed, delay, end, readBufferSize, readSizes, seed, serverWrites, shortReads }) => {
      const data = concat(chunks)
      const ends = boundaries(chunks)
      const k = cut === "boundary"
        ? ends[cutSeed % ends.length]!
        : cut === "any"
        ? cutSeed % (data.length + 1)
        : data.length + 1 + (cutSeed % 100)
      const range = delay === undefined ? undefined : { min: delay.min, max: delay.min + delay.spread }
      // the linger never runs out here: what the reader sees depends on the reset alone
      const options = { linger: 3_600_000 }
      return Effect.gen(function*() {
        const { client, server } = range === undefined
          ? yield* pair("tcp", "127.0.0.1:0", options, options)
          : yield* pairAdvancing(range.max, options, options)
        const [writer, reader] = serverWrites ? [server, client] : [client, server]
        let completed = 0 // writes that returned their byte count
        const writing = yield* Effect.fork(Effect.gen(function*() {
          for (const chunk of chunks) {
            const exit = yield* Effect.exit(writer.write(chunk))
            if (Exit.isFailure(exit)) return tagOf(exit)
            expect(exit.value).toBe(chunk.length)
            completed++
          }
          if (end === "closeWrite") return tagOf(yield* Effect.exit(writer.closeWrite))
          if (end === "close") yield* writer.close
          return "done"
        }))
        let completedAtClose = 0
        if (end === "closePending") {
          // nobody reads yet: the writer stops in a write that waits for room or for its delay
          yield* flush
          completedAtClose = completed
          yield* writer.close
        }
        const reading = yield* Effect.fork(drain(reader, readSizes, data.length + 10))
        const drained = yield* yield* (range === undefined
          ? Fiber.await(reading)
          : advanceUntilDone(reading, range.max + 1, (chunks.length + 4) * 8))
        const written = range === undefined
          ? yield* Fiber.await(writing)
          : yield* advanceUntilDone(writing, range.max + 1, 10)
        expect(Exit.isSuccess(written)).toBe(true)

        // every write that started was handed to the transport: those that returned, and the
        // one that failed or was pending when the writer closed
        const started = end === "closePending"
          ? Math.min(completedAtClose + 1, chunks.length)
          : Math.min(completed + 1, chunks.length)
        const handed = ends[started]!

        // the property: a prefix then ConnectionReset, or everything handed then EOF
        expect(isPrefix(drained.data, data)).toBe(true)
        expect(["EOF", "ConnectionReset"]).toContain(drained.end)
        if (drained.end === "EOF") expect(drained.data.length).toBe(handed)

        // exactly: the reset falls at byte k when k bytes were handed to write
        if (k <= handed) {
          expect(drained.end).toBe("ConnectionReset")
          expect(drained.data.length).toBe(k)
          expect(drained.error?.message).toContain("connection reset by peer")
        } else {
          expect(drained.end).toBe("EOF")
          expect(drained.data.length).toBe(handed)
        }
        // a write is counted only when every byte of it was delivered; one that ends on the
        // k-th byte is counted
        const counted = ends[end === "closePending" ? completedAtClose : completed]!
        expect(counted).toBeLessThanOrEqual(drained.data.length)
        if (end !== "closePending") {
          expect(counted).toBe(k > data.length ? data.length : Math.max(...ends.filter((e) => e <= k)))
        }
        const cap = shortReads === true ? 7 : shortReads
        for (const { got, n } of drained.reads) {
          expect(got).toBeLessThanOrEqual(n)
          if (cap !== undefined) expect(got).toBeLessThanOrEqual(cap)
        }
      }).pipe(
        Effect.provide(MemoryNet.layerWith({
          readBufferSize,
          faults: { seed, resetAfterBytes: k, shortReads, delay: range }
        })),
        Effect.zipLeft(eventLoopTurn)
      )
    },
    propertyOptions(25, timeout)
  )

  describe("a reset after k bytes holds at its boundary", () => {
    const exactly = (k: number, sizes: ReadonlyArray<number>, readBufferSize: number) =>
      Effect.gen(function*() {
        const { client, server } = yield* pair("tcp", "127.0.0.1:0")
        const data = pattern(k, 5)
        const chunks: Array<Uint8Array> = []
        let offset = 0
        for (const size of sizes) {
          chunks.push(data.subarray(offset, offset + size))
          offset += size
        }
        expect(offset).toBe(k)
        const reading = yield* Effect.fork(drain(server, [1000], k + 10))
        // every write returns its count: its last byte is at most the k-th
        for (const chunk of chunks) expect(yield* client.write(chunk)).toBe(chunk.length)
        const drained = yield* Fiber.join(reading)
        expect(drained.data).toEqual(data)
        expect(drained.end).toBe("ConnectionReset")
        // the reset is the writer's next operation's error
        expect(tagOf(yield* Effect.exit(client.write("x")))).toBe("ConnectionReset")
        expect(tagOf(yield* Effect.exit(client.closeWrite))).toBe("ConnectionReset")
      }).pipe(Effect.provide(MemoryNet.layerWith({ readBufferSize, faults: { seed: 1, resetAfterBytes: k } })))

    it.scoped(
      "exactly k bytes in one write: that write succeeds, the reader gets k bytes then ConnectionReset",
      () => exactly(10, [10], 4096),
      timeout
    )

    it.scoped(
      "exactly k bytes in several writes, each larger than the receive buffer",
      () => exactly(1000, [300, 700], 64),
      timeout
    )

    it.scoped("k = 0: the FIN of a writer that wrote nothing is a reset", () =>
      Effect.gen(function*() {
        const { client, server } = yield* pair("tcp", "127.0.0.1:0")
        expect(tagOf(yield* Effect.exit(client.closeWrite))).toBe("ConnectionReset")
        const drained = yield* drain(server, [10], 10)
        expect(drained.data.length).toBe(0)
        expect(drained.end).toBe("ConnectionReset")
      }).pipe(Effect.provide(MemoryNet.layerWith({ faults: { seed: 1, resetAfterBytes: 0 } }))), timeout)

    it.scoped(
      "a reset ends both directions: what waited to go the other way is dropped, and nothing holds it",
      () =>
        Effect.gen(function*() {
          const { client, server } = yield* pair("tcp", "127.0.0.1:0", { readBufferSize: 16 })
          // 1 MiB from the server waits for the client, which reads nothing: 16 bytes get through
          const weak = yield* Effect.suspend(() => {
            const bytes = new Uint8Array(1024 * 1024)
            return Effect.as(Effect.fork(server.write(bytes)), new WeakRef(bytes))
          })
          yield* flush
          const reading = yield* Effect.fork(drain(server, [1000], 10))
          yield* client.write(pattern(100)) // the reset falls on its last byte
          expect((yield* Fiber.join(reading)).end).toBe("ConnectionReset")
          yield* flush
          yield* collectGarbage
          expect(weak.deref()).toBeUndefined()
          const drained = yield* drain(client, [1000], 10)
          expect(drained.data.length).toBe(16)
          expect(drained.end).toBe("ConnectionReset")
          expect(tagOf(yield* Effect.exit(server.write("x")))).toBe("ConnectionReset")
        }).pipe(Effect.provide(MemoryNet.layerWith({ faults: { seed: 1, resetAfterBytes: 100 } }))),
      timeout
    )
  })
})
