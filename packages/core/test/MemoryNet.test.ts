import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import type { Conn } from "../src/Conn.js"
import * as MemoryNet from "../src/MemoryNet.js"
import * as Net from "../src/Net.js"
import type * as NetError from "../src/NetError.js"
import { eventually, failure, flush, isPending, settled, tagOf, text } from "./support/effects.js"

const timeout = 60_000

/**
 * Under TestClock: advances the clock `stepMs` at a time until `fiber` is done (at most
 * `maxSteps` steps) and returns its Exit; dies when it never finishes.
 */
const advanceUntilDone = <A, E>(fiber: Fiber.Fiber<A, E>, stepMs: number, maxSteps: number) =>
  Effect.gen(function*() {
    for (let i = 0; i <= maxSteps; i++) {
      yield* flush
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) return done.value
      yield* TestClock.adjust(Duration.millis(stepMs))
    }
    return yield* Effect.dieMessage(`fiber not done after ${maxSteps} steps of ${stepMs} ms`)
  })

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
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

interface Drained {
  readonly data: Uint8Array
  /** Each non-empty read: the n asked for and the count returned. */
  readonly reads: ReadonlyArray<{ readonly n: number; readonly got: number }>
  /** "EOF", the failure's tag, or "max reads". */
  readonly end: string
  readonly error: NetError.NetError | undefined
}

/** Reads with the sizes in `sizes` (cycled) until EOF or a failure, at most `maxReads` reads. */
const drain = (conn: Conn, sizes: ReadonlyArray<number>, maxReads: number): Effect.Effect<Drained> =>
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
const pair = (network: string, address: string, dialOptions?: Net.DialOptions) =>
  Effect.gen(function*() {
    const listener = yield* Net.listen(network, address)
    const client = yield* Net.dial(network, listener.address, dialOptions)
    const server = yield* listener.accept
    return { listener, client, server }
  })

/** As `pair`, under TestClock with a delay fault (dial waits a delay on the Clock). */
const pairAdvancing = (maxDelay: number) =>
  Effect.gen(function*() {
    const listener = yield* Net.listen("tcp", "127.0.0.1:0")
    const dialing = yield* Effect.fork(Net.dial("tcp", listener.address))
    const dialed = yield* advanceUntilDone(dialing, maxDelay + 1, 10)
    const client = yield* dialed
    const server = yield* listener.accept
    return { listener, client, server }
  })

const writeAll = (conn: Conn, chunks: ReadonlyArray<Uint8Array>) =>
  Effect.forEach(chunks, (chunk) => conn.write(chunk), { discard: true })

const chunksArb = (maxChunks: number, maxChunk: number) =>
  FastCheck.array(FastCheck.uint8Array({ minLength: 1, maxLength: maxChunk }), { minLength: 1, maxLength: maxChunks })

describe("MemoryNet", () => {
  describe("faults", () => {
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
          Effect.provide(MemoryNet.layerWith({ readBufferSize, faults: { seed, resetAfterBytes: k } }))
        )
      },
      { timeout, fastCheck: { numRuns: 100 } }
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
        }).pipe(Effect.provide(MemoryNet.layerWith({ faults: { seed, shortReads } })))
      },
      { timeout, fastCheck: { numRuns: 100 } }
    )

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
          Effect.provide(MemoryNet.layerWith({ faults: { seed, delay: { min, max }, shortReads } }))
        )
      },
      { timeout, fastCheck: { numRuns: 40 } }
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
        }),
      { timeout, fastCheck: { numRuns: 30 } }
    )

    it.effect("different seeds give different read sizes", () =>
      Effect.gen(function*() {
        const runs = yield* Effect.forEach([1, 2, 3, 4, 5], readSizesFor)
        const distinct = new Set(runs.map((sizes) => sizes.join(",")))
        expect(distinct.size).toBeGreaterThan(1)
      }), timeout)

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
  })

  describe("deadlines and delays on the TestClock", () => {
    it.scoped(
      "setReadTimeout(100): a pending read times out only once the clock passes 100 ms",
      () =>
        Effect.gen(function*() {
          const { client, server } = yield* pair("tcp", "127.0.0.1:0")
          yield* client.setReadTimeout(100)
          const reading = yield* Effect.fork(client.read(10))
          yield* flush
          yield* TestClock.adjust("99 millis")
          yield* flush
          expect(yield* isPending(reading)).toBe(true)
          yield* TestClock.adjust("1 millis")
          yield* flush
          const error = failure(yield* settled(reading))
          expect(error._tag).toBe("Timeout")
          expect(error.op).toBe("read")
          expect(error.message).toBe(`read tcp ${client.localAddress}->${client.remoteAddress}: i/o timeout`)
          // the deadline stays passed until moved; no byte is lost
          yield* server.write("abc")
          expect(tagOf(yield* Effect.exit(client.read(10)))).toBe("Timeout")
          yield* client.setReadTimeout(0)
          expect(text(yield* client.read(10))).toBe("abc")
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped(
      "a deadline set while a read is pending applies to it; moving it moves the timeout",
      () =>
        Effect.gen(function*() {
          const { client } = yield* pair("tcp", "127.0.0.1:0")
          const reading = yield* Effect.fork(client.read(10))
          yield* flush
          yield* client.setReadTimeout(100)
          yield* TestClock.adjust("50 millis")
          yield* client.setReadTimeout(100) // now due at 150
          yield* TestClock.adjust("60 millis")
          yield* flush
          expect(yield* isPending(reading)).toBe(true)
          yield* TestClock.adjust("40 millis")
          yield* flush
          expect(tagOf(yield* settled(reading))).toBe("Timeout")
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped(
      "setReadTimeout(0) clears the deadline: time passes, the read still gets the byte",
      () =>
        Effect.gen(function*() {
          const { client, server } = yield* pair("tcp", "127.0.0.1:0")
          yield* client.setReadTimeout(100)
          yield* client.setReadTimeout(0)
          const reading = yield* Effect.fork(client.read(1))
          yield* flush
          yield* TestClock.adjust("10 seconds")
          yield* flush
          expect(yield* isPending(reading)).toBe(true)
          yield* server.write("x")
          expect(text(yield* Fiber.join(reading))).toBe("x")
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped(
      "setWriteTimeout(100): a write stuck on backpressure times out only past 100 ms",
      () =>
        Effect.gen(function*() {
          const { client } = yield* pair("tcp", "127.0.0.1:0")
          yield* client.setWriteTimeout(100)
          const writing = yield* Effect.fork(client.write(new Uint8Array(64 * 1024)))
          yield* flush
          yield* TestClock.adjust("99 millis")
          yield* flush
          expect(yield* isPending(writing)).toBe(true)
          yield* TestClock.adjust("1 millis")
          yield* flush
          const error = failure(yield* settled(writing))
          expect(error._tag).toBe("Timeout")
          expect(error.op).toBe("write")
        }).pipe(Effect.provide(MemoryNet.layerWith({ readBufferSize: 4096 }))),
      timeout
    )

    it.scoped("a delivery delay delivers only when the TestClock advances", () =>
      Effect.gen(function*() {
        const listener = yield* Net.listen("tcp", "127.0.0.1:0")
        // the dial itself waits the delay
        const dialing = yield* Effect.fork(Net.dial("tcp", listener.address))
        yield* flush
        yield* TestClock.adjust("49 millis")
        yield* flush
        expect(yield* isPending(dialing)).toBe(true)
        yield* TestClock.adjust("1 millis")
        yield* flush
        const client = yield* Fiber.join(dialing)
        const server = yield* listener.accept

        const reading = yield* Effect.fork(server.read(10))
        const writing = yield* Effect.fork(client.write("hi"))
        yield* flush
        yield* TestClock.adjust("49 millis")
        yield* flush
        expect(yield* isPending(reading)).toBe(true)
        expect(yield* isPending(writing)).toBe(true)
        yield* TestClock.adjust("1 millis")
        yield* flush
        expect(text(Exit.getOrElse(yield* settled(reading), () => new Uint8Array()))).toBe("hi")
        expect(yield* settled(writing)).toEqual(Exit.succeed(2))
      }).pipe(Effect.provide(MemoryNet.layerWith({ faults: { seed: 3, delay: { min: 50, max: 50 } } }))), timeout)
  })

  describe("bad input is a typed failure, never a throw", () => {
    it.scoped("read(n) with a bad n → InvalidArgument", () =>
      Effect.gen(function*() {
        const { client, server } = yield* pair("tcp", "127.0.0.1:0")
        for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -0.5, 2 ** 53, "5" as unknown as number]) {
          let exit: Exit.Exit<Uint8Array, NetError.NetError> | undefined
          expect(() => {
            exit = Effect.runSyncExit(client.read(n))
          }).not.toThrow()
          const error = failure(exit!)
          expect(error._tag, String(n)).toBe("InvalidArgument")
          expect(error.op).toBe("read")
          expect(error.message).toContain("invalid argument")
        }
        // the connection still works afterwards
        yield* server.write("ok")
        expect(text(yield* client.read(2))).toBe("ok")
        // read(0) is not an error: it returns empty at once
        expect((yield* client.read(0)).length).toBe(0)
      }).pipe(Effect.provide(MemoryNet.layer)), timeout)

    it.scoped(
      "setReadTimeout / setWriteTimeout with negative, NaN or infinite ms → InvalidArgument",
      () =>
        Effect.gen(function*() {
          const { client } = yield* pair("tcp", "127.0.0.1:0")
          for (const ms of [-1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
            const read = failure(yield* Effect.exit(client.setReadTimeout(ms)))
            expect(read._tag, String(ms)).toBe("InvalidArgument")
            expect(read.op).toBe("set_read_timeout")
            const write = failure(yield* Effect.exit(client.setWriteTimeout(ms)))
            expect(write._tag, String(ms)).toBe("InvalidArgument")
            expect(write.op).toBe("set_write_timeout")
          }
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    const badAddresses: ReadonlyArray<readonly [network: string, address: string]> = [
      ["tcp", "::1:80"],
      ["tcp", "[::1"],
      ["tcp", "[example.com]:80"],
      ["tcp", "127.0.0.1:70000"],
      ["tcp", "localhost"],
      ["tcpx", "127.0.0.1:80"],
      ["udp", "127.0.0.1:80"],
      ["unix", ""],
      ["unix", "/tmp/" + "x".repeat(200)]
    ]

    it.scoped(
      "C10 malformed addresses and unknown networks → AddressError, for dial and for listen",
      () =>
        Effect.gen(function*() {
          for (const [network, address] of badAddresses) {
            const dialed = failure(yield* Effect.exit(Net.dial(network, address)))
            expect(dialed._tag, `dial ${network} ${address}`).toBe("AddressError")
            expect(dialed.op).toBe("dial")
            expect(dialed.network).toBe(network)
            const listened = failure(yield* Effect.exit(Net.listen(network, address)))
            expect(listened._tag, `listen ${network} ${address}`).toBe("AddressError")
            expect(listened.op).toBe("listen")
          }
          expect(failure(yield* Effect.exit(Net.dial("tcp", "::1:80"))).message)
            .toBe("dial tcp: address ::1:80: too many colons in address")
          expect(failure(yield* Effect.exit(Net.listen("tcpx", "127.0.0.1:80"))).message)
            .toBe("listen tcpx: unknown network tcpx")
        }).pipe(Effect.provide(MemoryNet.layerWith({ hosts: { "example.com": ["10.0.0.1"] } }))),
      timeout
    )

    it.scoped(
      "write of something that is neither a Uint8Array nor a string → InvalidArgument",
      () =>
        Effect.gen(function*() {
          const { client, server } = yield* pair("tcp", "127.0.0.1:0")
          for (const bad of [42, null, undefined, { length: 3 }, [1, 2, 3], new ArrayBuffer(4), new Uint16Array(2)]) {
            let exit: Exit.Exit<number, NetError.NetError> | undefined
            expect(() => {
              exit = Effect.runSyncExit(client.write(bad as any))
            }).not.toThrow()
            const error = failure(exit!)
            expect(error._tag).toBe("InvalidArgument")
            expect(error.op).toBe("write")
          }
          // nothing was sent; the connection still works
          yield* client.write("ok")
          yield* client.closeWrite
          expect(text((yield* drain(server, [100], 10)).data)).toBe("ok")
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped(
      "Net.serve with concurrency 0, -1, 1.5 or NaN → InvalidArgument, and nothing is served",
      () =>
        Effect.gen(function*() {
          const listener = yield* Net.listen("tcp", "127.0.0.1:0")
          let handled = 0
          for (const concurrency of [0, -1, 1.5, Number.NaN]) {
            const error = failure(
              yield* Effect.exit(Net.serve(listener, () => Effect.sync(() => handled++), { concurrency }))
            )
            expect(error._tag, String(concurrency)).toBe("InvalidArgument")
            expect(error.message).toContain("concurrency")
          }
          yield* Net.dial("tcp", listener.address)
          yield* flush
          expect(handled).toBe(0)
          // the listener is untouched: the connection is still there to accept
          const server = yield* listener.accept
          expect(server.localAddress).toBe(listener.address)
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped("bad readBufferSize or backlog options → InvalidArgument", () =>
      Effect.gen(function*() {
        const listener = yield* Net.listen("tcp", "127.0.0.1:0")
        for (const size of [0, -1, 1.5, Number.NaN]) {
          expect(tagOf(yield* Effect.exit(Net.dial("tcp", listener.address, { readBufferSize: size }))), String(size))
            .toBe("InvalidArgument")
          expect(tagOf(yield* Effect.exit(Net.listen("tcp", "127.0.0.1:0", { backlog: size }))), String(size))
            .toBe("InvalidArgument")
          expect(tagOf(yield* Effect.exit(Net.listen("tcp", "127.0.0.1:0", { readBufferSize: size }))), String(size))
            .toBe("InvalidArgument")
        }
      }).pipe(Effect.provide(MemoryNet.layer)), timeout)
  })

  describe("backpressure", () => {
    it.scoped(
      "a writer to a peer that never reads suspends after about readBufferSize bytes",
      () =>
        Effect.gen(function*() {
          const bufferSize = 4096
          const { client, server } = yield* pair("tcp", "127.0.0.1:0")
          let completed = 0
          const chunk = new Uint8Array(1024)
          const writing = yield* Effect.fork(Effect.gen(function*() {
            for (let i = 0; i < 1024; i++) { // 1 MiB at most
              completed += yield* client.write(chunk)
            }
          }))
          for (let i = 0; i < 5; i++) yield* flush
          expect(yield* isPending(writing)).toBe(true)
          expect(completed).toBeGreaterThan(0)
          expect(completed).toBeLessThanOrEqual(4 * bufferSize)
          const stalledAt = completed
          for (let i = 0; i < 5; i++) yield* flush
          expect(completed).toBe(stalledAt)

          // the reader never gets more than the buffer holds, and reading lets the writer go on
          const got = yield* server.read(1024 * 1024)
          expect(got.length).toBeGreaterThan(0)
          expect(got.length).toBeLessThanOrEqual(2 * bufferSize)
          yield* eventually(() => completed > stalledAt)
          expect(completed).toBeGreaterThan(stalledAt)
          expect(completed).toBeLessThanOrEqual(stalledAt + got.length + 4 * bufferSize)
          yield* Fiber.interrupt(writing)
        }).pipe(Effect.provide(MemoryNet.layerWith({ readBufferSize: 4096 }))),
      timeout
    )

    it.scoped(
      "one large write to a silent peer stays pending; the bytes are delivered as the peer reads",
      () =>
        Effect.gen(function*() {
          const { client, server } = yield* pair("tcp", "127.0.0.1:0")
          const data = new Uint8Array(256 * 1024).map((_, i) => (i * 7) % 256)
          const writing = yield* Effect.fork(client.write(data))
          for (let i = 0; i < 5; i++) yield* flush
          expect(yield* isPending(writing)).toBe(true)
          const received: Array<Uint8Array> = []
          let total = 0
          for (let i = 0; i < 1000 && total < data.length; i++) {
            const got = yield* server.read(1024 * 1024)
            expect(got.length).toBeLessThanOrEqual(2 * 4096)
            received.push(got)
            total += got.length
          }
          expect(concat(received)).toEqual(data)
          expect(yield* Fiber.join(writing)).toBe(data.length)
        }).pipe(Effect.provide(MemoryNet.layerWith({ readBufferSize: 4096 }))),
      timeout
    )
  })

  describe("addresses", () => {
    it.scoped(
      "listening twice on one tcp address → AddressInUse; after close, listening again works",
      () =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const first = yield* Scope.extend(Net.listen("tcp", "127.0.0.1:5000"), scope)
          expect(first.address).toBe("127.0.0.1:5000")
          const again = failure(yield* Effect.exit(Net.listen("tcp", "127.0.0.1:5000")))
          expect(again._tag).toBe("AddressInUse")
          expect(again.op).toBe("listen")
          expect(again.message).toBe("listen tcp 127.0.0.1:5000: bind: address already in use")
          // the wildcard host conflicts both ways
          expect(tagOf(yield* Effect.exit(Net.listen("tcp", ":5000")))).toBe("AddressInUse")
          expect(tagOf(yield* Effect.exit(Net.listen("tcp", "0.0.0.0:5000")))).toBe("AddressInUse")
          // the failed listens did not disturb the first one
          const client = yield* Net.dial("tcp", "127.0.0.1:5000")
          const server = yield* first.accept
          yield* client.write("hi")
          expect(text(yield* server.read(2))).toBe("hi")

          yield* Scope.close(scope, Exit.void)
          const second = yield* Net.listen("tcp", "127.0.0.1:5000")
          expect(second.address).toBe("127.0.0.1:5000")
          // closed directly (not through the Scope) frees it too
          yield* second.close
          const wildcard = yield* Net.listen("tcp", ":5000")
          expect(tagOf(yield* Effect.exit(Net.listen("tcp", "127.0.0.1:5000")))).toBe("AddressInUse")
          yield* wildcard.close
          yield* Net.listen("tcp", "127.0.0.1:5000")
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped(
      "listening twice on one unix path → AddressInUse; after close, listening again works",
      () =>
        Effect.gen(function*() {
          const path = "/tmp/vvnet-test.sock"
          const first = yield* Net.listen("unix", path)
          expect(first.address).toBe(path)
          const again = failure(yield* Effect.exit(Net.listen("unix", path)))
          expect(again._tag).toBe("AddressInUse")
          expect(again.message).toBe(`listen unix ${path}: bind: address already in use`)
          yield* first.close
          yield* first.close
          const second = yield* Net.listen("unix", path)
          const client = yield* Net.dial("unix", path)
          const server = yield* second.accept
          yield* server.write("u")
          expect(text(yield* client.read(1))).toBe("u")
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped(
      "port 0: the listener reports a real, distinct, non-zero port, and dialing it works",
      () =>
        Effect.gen(function*() {
          const a = yield* Net.listen("tcp", "127.0.0.1:0")
          const b = yield* Net.listen("tcp", "127.0.0.1:0")
          const all = yield* Net.listen("tcp", ":0")
          const v6 = yield* Net.listen("tcp", "[::1]:0")
          const ports = [a, b, all, v6].map((l) => {
            const m = /:(\d+)$/.exec(l.address)
            expect(m, l.address).not.toBeNull()
            return Number(m![1])
          })
          for (const port of ports) {
            expect(port).toBeGreaterThan(0)
            expect(port).toBeLessThanOrEqual(65535)
          }
          expect(new Set(ports).size).toBe(4)
          expect(a.address).toMatch(/^127\.0\.0\.1:\d+$/)
          expect(all.address).toMatch(/^:\d+$/)
          expect(v6.address).toMatch(/^\[::1\]:\d+$/)

          const client = yield* Net.dial("tcp", a.address)
          const server = yield* a.accept
          expect(client.remoteAddress).toBe(a.address)
          expect(server.localAddress).toBe(a.address)
          expect(server.remoteAddress).toBe(client.localAddress)
          expect(client.localAddress).toMatch(/^127\.0\.0\.1:[1-9]\d*$/)

          const viaLoopback = yield* Net.dial("tcp", `127.0.0.1:${ports[2]}`)
          const accepted = yield* all.accept
          yield* viaLoopback.write("w")
          expect(text(yield* accepted.read(1))).toBe("w")

          const viaV6 = yield* Net.dial("tcp6", v6.address)
          yield* v6.accept
          expect(viaV6.remoteAddress).toBe(v6.address)
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped("names from the hosts option resolve; unknown names → DnsError", () =>
      Effect.gen(function*() {
        const listener = yield* Net.listen("tcp", "10.1.2.3:5432")
        const client = yield* Net.dial("tcp", "db.internal:5432")
        expect(client.remoteAddress).toBe("10.1.2.3:5432")
        const server = yield* listener.accept
        yield* client.write("select 1")
        expect(text(yield* server.read(100))).toBe("select 1")

        const unknown = failure(yield* Effect.exit(Net.dial("tcp", "nope.internal:5432")))
        expect(unknown._tag).toBe("DnsError")
        expect(unknown.message).toBe("dial tcp: lookup nope.internal: no such host")
        // a name with only an IPv4 address does not resolve on tcp6
        expect(tagOf(yield* Effect.exit(Net.dial("tcp6", "db.internal:5432")))).toBe("DnsError")
        // localhost resolves without the option
        const local = yield* Net.listen("tcp", "localhost:0")
        expect(local.address).toMatch(/^127\.0\.0\.1:\d+$/)

        const listenUnknown = failure(yield* Effect.exit(Net.listen("tcp", "nope.internal:0")))
        expect(listenUnknown._tag).toBe("DnsError")
        expect(listenUnknown.op).toBe("listen")
        expect(listenUnknown.message).toBe("listen tcp: lookup nope.internal: no such host")
      }).pipe(Effect.provide(MemoryNet.layerWith({ hosts: { "db.internal": ["10.1.2.3"] } }))), timeout)

    it.scoped(
      "dialing a closed or never-bound address → ConnectionRefused; a missing unix path → an error value",
      () =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const listener = yield* Scope.extend(Net.listen("tcp", "127.0.0.1:0"), scope)
          yield* Scope.close(scope, Exit.void)
          const refused = failure(yield* Effect.exit(Net.dial("tcp", listener.address)))
          expect(refused._tag).toBe("ConnectionRefused")
          expect(refused.message).toBe(`dial tcp ${listener.address}: connect: connection refused`)
          expect(tagOf(yield* Effect.exit(Net.dial("tcp", "127.0.0.1:1")))).toBe("ConnectionRefused")
          const missing = yield* Effect.exit(Net.dial("unix", "/nowhere/x.sock"))
          expect(Exit.isFailure(missing) && missing.cause._tag === "Fail").toBe(true)
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped("each MemoryNet layer is its own namespace", () =>
      Effect.gen(function*() {
        yield* Net.listen("tcp", "127.0.0.1:7000").pipe(Effect.provide(MemoryNet.layer))
        // another MemoryNet: the port is free there, and nothing listens on it
        yield* Effect.gen(function*() {
          expect(tagOf(yield* Effect.exit(Net.dial("tcp", "127.0.0.1:7000")))).toBe("ConnectionRefused")
          yield* Net.listen("tcp", "127.0.0.1:7000")
        }).pipe(Effect.provide(MemoryNet.layer))
      }), timeout)
  })
})
