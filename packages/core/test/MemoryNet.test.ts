import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as Conn from "../src/Conn.js"
import * as MemoryNet from "../src/MemoryNet.js"
import * as Net from "../src/Net.js"
import type * as NetError from "../src/NetError.js"
import { defaultLinger } from "../src/Transport.js"
import { eventually, failure, flush, isPending, settled, tagOf, text } from "./support/effects.js"
import { collectGarbage, concat, drain, isPrefix, manualClock, pair, pattern, writeAll } from "./support/memory.js"

const timeout = 60_000

describe("MemoryNet", () => {
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

  describe("graceful close", () => {
    const KiB = 1024
    /** A small receive buffer on both ends, so a peer that does not read pushes back at once. */
    const small = MemoryNet.layerWith({ readBufferSize: 4 * KiB })

    it.scoped(
      "close delivers every byte already handed to write, then FIN, while the peer keeps writing; the peer's writes succeed until the linger (default 5000 ms) passes, then fail with BrokenPipe",
      () =>
        Effect.gen(function*() {
          expect(defaultLinger).toBe(5000)
          const { client, server } = yield* pair("tcp", "127.0.0.1:0")
          const request = pattern(64 * KiB, 1)
          // pending: the server reads nothing yet, so most of it waits for room
          yield* Effect.fork(client.write(request))
          // the server keeps talking: far more than the client's buffer holds
          const talking = yield* Effect.fork(writeAll(server, Array.from({ length: 64 }, () => pattern(KiB, 2))))
          yield* flush
          expect(yield* isPending(talking)).toBe(true)
          yield* client.close
          // the closed client reads and discards what the server sends: its writes complete
          expect(tagOf(yield* settled(talking))).toBe("success")
          // every byte the client handed to write arrives, then EOF
          const drained = yield* drain(server, [10_000], 1000)
          expect(drained.end).toBe("EOF")
          expect(drained.data).toEqual(request)
          // the client lingers until the server's FIN or the linger bound, on the Clock
          yield* TestClock.adjust(defaultLinger - 1)
          yield* flush
          expect(yield* server.write("still talking")).toBe(13)
          yield* TestClock.adjust(1)
          yield* flush
          const late = failure(yield* Effect.exit(server.write("too late")))
          expect(late._tag).toBe("BrokenPipe")
          expect(late.message).toContain("broken pipe")
        }).pipe(Effect.provide(small)),
      timeout
    )

    it.scoped(
      "close returns at once, even with a write pending to a peer that never reads: closing the dialer's Scope takes no clock time",
      () =>
        Effect.gen(function*() {
          const listener = yield* Net.listen("tcp", "127.0.0.1:0")
          const scope = yield* Scope.make()
          const client = yield* Scope.extend(Net.dial("tcp", listener.address), scope)
          const server = yield* listener.accept
          yield* Effect.fork(client.write(pattern(256 * KiB)))
          yield* flush
          const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
          expect(tagOf(yield* settled(closing))).toBe("success")
          // and the bytes still arrive
          const drained = yield* drain(server, [64 * KiB], 1000)
          expect(drained.end).toBe("EOF")
          expect(drained.data).toEqual(pattern(256 * KiB))
        }).pipe(Effect.provide(small)),
      timeout
    )

    it.scoped(
      "the peer's FIN ends the linger at once: no timer is left armed, also when both ends close with input unread",
      () => {
        const manual = manualClock()
        return Effect.gen(function*() {
          {
            const { client, server } = yield* pair("tcp", "127.0.0.1:0")
            yield* client.write("hello")
            yield* client.close
            yield* flush
            expect(manual.pending()).toBe(1) // the linger bound
            const drained = yield* drain(server, [100], 10)
            expect(text(drained.data)).toBe("hello")
            expect(drained.end).toBe("EOF")
            yield* server.closeWrite
            yield* flush
            expect(manual.pending()).toBe(0)
          }
          {
            // both ends wrote more than the other reads, and both close
            const { client, server } = yield* pair("tcp", "127.0.0.1:0")
            yield* Effect.fork(client.write(pattern(64 * KiB)))
            yield* Effect.fork(server.write(pattern(64 * KiB)))
            yield* flush
            yield* client.close
            yield* server.close
            yield* flush
            expect(manual.pending()).toBe(0)
          }
        }).pipe(Effect.provide(small), Effect.withClock(manual.clock))
      },
      timeout
    )

    it.scoped(
      "a peer that neither reads nor closes: when the dial's linger (1000 ms) passes, the rest is dropped and the peer reads what it got, then ConnectionReset, never EOF",
      () =>
        Effect.gen(function*() {
          const { client, server } = yield* pair("tcp", "127.0.0.1:0", { linger: 1000 })
          const request = pattern(64 * KiB, 3)
          yield* Effect.fork(client.write(request))
          yield* flush
          yield* client.close
          yield* TestClock.adjust(999)
          yield* flush
          expect(yield* server.write("x")).toBe(1) // still lingering: drained
          yield* TestClock.adjust(1)
          yield* flush
          const drained = yield* drain(server, [100_000], 1000)
          expect(drained.end).toBe("ConnectionReset")
          expect(drained.data.length).toBeGreaterThan(0)
          expect(drained.data.length).toBeLessThan(request.length)
          expect(isPrefix(drained.data, request)).toBe(true)
          expect(tagOf(yield* Effect.exit(server.write("y")))).toBe("ConnectionReset")
        }).pipe(Effect.provide(small)),
      timeout
    )

    it.scoped(
      "listen's linger (200 ms) bounds the close of accepted connections",
      () =>
        Effect.gen(function*() {
          const { client, server } = yield* pair("tcp", "127.0.0.1:0", undefined, { linger: 200 })
          yield* Effect.fork(server.write(pattern(64 * KiB)))
          yield* flush
          yield* server.close
          yield* TestClock.adjust(199)
          yield* flush
          expect(yield* client.write("x")).toBe(1)
          yield* TestClock.adjust(1)
          yield* flush
          expect(tagOf(yield* Effect.exit(client.write("y")))).toBe("ConnectionReset")
          const drained = yield* drain(client, [100_000], 1000)
          expect(drained.end).toBe("ConnectionReset")
          expect(isPrefix(drained.data, pattern(64 * KiB))).toBe(true)
        }).pipe(Effect.provide(small)),
      timeout
    )

    it.scoped(
      "linger 0: released right after the FIN when everything was delivered (the peer's writes fail at once); a reset when bytes still waited for room",
      () =>
        Effect.gen(function*() {
          {
            const { client, server } = yield* pair("tcp", "127.0.0.1:0", { linger: 0 })
            yield* client.write("abc")
            yield* client.close
            const drained = yield* drain(server, [100], 10)
            expect(text(drained.data)).toBe("abc")
            expect(drained.end).toBe("EOF")
            expect(tagOf(yield* Effect.exit(server.write("x")))).toBe("BrokenPipe")
          }
          {
            const { client, server } = yield* pair("tcp", "127.0.0.1:0", { linger: 0 })
            yield* Effect.fork(client.write(pattern(64 * KiB)))
            yield* flush
            yield* client.close
            const drained = yield* drain(server, [100_000], 1000)
            expect(drained.end).toBe("ConnectionReset")
            expect(drained.data.length).toBeLessThan(64 * KiB)
          }
        }).pipe(Effect.provide(small)),
      timeout
    )

    it.scoped(
      "a FIN takes no room: a writer that filled its peer's buffer and closed delivers its FIN, so the peer reads every byte then EOF even after the linger",
      () =>
        Effect.gen(function*() {
          const { client, server } = yield* pair("tcp", "127.0.0.1:0")
          const request = pattern(4 * KiB, 6)
          // exactly the server's buffer: the write completes, and the server's buffer is full
          expect(yield* client.write(request)).toBe(request.length)
          yield* client.close
          yield* TestClock.adjust(defaultLinger)
          yield* flush
          const drained = yield* drain(server, [100_000], 1000)
          expect(drained.data).toEqual(request)
          expect(drained.end).toBe("EOF")
        }).pipe(Effect.provide(small)),
      timeout
    )

    it.scoped(
      "a connection that never wrote a byte is released at once: the peer reads EOF and its next write fails with BrokenPipe, with no clock time passing",
      () =>
        Effect.gen(function*() {
          const { client, server } = yield* pair("tcp", "127.0.0.1:0")
          yield* server.close
          expect((yield* client.read(10)).length).toBe(0)
          expect(tagOf(yield* Effect.exit(client.write("x")))).toBe("BrokenPipe")
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped(
      "Conn.abort stays the immediate reset: queued bytes are dropped, the peer reads what it got, then ConnectionReset, and its writes fail with ConnectionReset",
      () =>
        Effect.gen(function*() {
          const { client, server } = yield* pair("tcp", "127.0.0.1:0")
          const request = pattern(64 * KiB, 4)
          yield* Effect.fork(client.write(request))
          yield* flush
          yield* Conn.abort(client)
          expect(tagOf(yield* Effect.exit(server.write("x")))).toBe("ConnectionReset")
          const drained = yield* drain(server, [100_000], 1000)
          expect(drained.end).toBe("ConnectionReset")
          expect(drained.data.length).toBeLessThan(request.length)
          expect(isPrefix(drained.data, request)).toBe(true)
        }).pipe(Effect.provide(small)),
      timeout
    )

    it.scoped(
      "a released connection holds nothing: the bytes a linger dropped can be garbage-collected",
      () =>
        Effect.gen(function*() {
          const { client } = yield* pair("tcp", "127.0.0.1:0", { linger: 1000 })
          // the only strong reference to the bytes is the one handed to write
          const weak = yield* Effect.suspend(() => {
            const bytes = new Uint8Array(1024 * KiB)
            return Effect.as(Effect.fork(client.write(bytes)), new WeakRef(bytes))
          })
          yield* flush
          yield* client.close
          yield* flush
          yield* collectGarbage
          expect(weak.deref()).toBeDefined() // lingering: still to be delivered
          yield* TestClock.adjust(1000)
          yield* flush
          yield* collectGarbage
          expect(weak.deref()).toBeUndefined()
        }).pipe(Effect.provide(small)),
      timeout
    )

    it.scoped(
      "linger must be a finite, non-negative number of milliseconds → InvalidArgument",
      () =>
        Effect.gen(function*() {
          const listener = yield* Net.listen("tcp", "127.0.0.1:0")
          for (const linger of [-1, Number.NaN, Number.POSITIVE_INFINITY, "5" as unknown as number]) {
            const dialed = failure(yield* Effect.exit(Net.dial("tcp", listener.address, { linger })))
            expect(dialed._tag, String(linger)).toBe("InvalidArgument")
            expect(dialed.op).toBe("dial")
            expect(dialed.message).toContain("linger must be a finite, non-negative number of milliseconds")
            const listened = failure(yield* Effect.exit(Net.listen("tcp", "127.0.0.1:0", { linger })))
            expect(listened._tag, String(linger)).toBe("InvalidArgument")
            expect(listened.op).toBe("listen")
          }
          // zero and fractions are fine
          yield* Net.dial("tcp", listener.address, { linger: 0 })
          yield* Net.listen("tcp", "127.0.0.1:0", { linger: 2.5 })
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )
  })

  describe("like the OS where tests rely on it", () => {
    const KiB = 1024
    const MiB = 1024 * KiB

    it.scoped(
      "a full backlog refuses the next dial (ConnectionRefused); the queued connection is still accepted",
      () =>
        Effect.gen(function*() {
          const listener = yield* Net.listen("tcp", "127.0.0.1:0", { backlog: 1 })
          const first = yield* Net.dial("tcp", listener.address)
          expect(tagOf(yield* Effect.exit(Net.dial("tcp", listener.address)))).toBe("ConnectionRefused")
          const accepted = yield* listener.accept
          yield* first.write("one")
          expect(text(yield* accepted.read(10))).toBe("one")
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped(
      "ports belong to an address family (Linux, bindv6only = 0): tcp4 on 0.0.0.0:P and tcp6 on [::]:P coexist; tcp on a wildcard is dual stack",
      () =>
        Effect.gen(function*() {
          const listenTag = (network: string, address: string) =>
            Effect.map(Effect.exit(Effect.scoped(Net.listen(network, address))), tagOf)
          const echoOnce = (client: Conn.Conn, server: Conn.Conn) =>
            Effect.gen(function*() {
              yield* client.write("?")
              expect(text(yield* server.read(1))).toBe("?")
            })

          // IPv4-only and IPv6-only wildcards share a port; each family reaches its own
          const v4 = yield* Net.listen("tcp4", "0.0.0.0:6000")
          const v6 = yield* Net.listen("tcp6", "[::]:6000")
          const c4 = yield* Net.dial("tcp", "127.0.0.1:6000")
          const s4 = yield* v4.accept
          yield* echoOnce(c4, s4)
          const c6 = yield* Net.dial("tcp", "[::1]:6000")
          const s6 = yield* v6.accept
          yield* echoOnce(c6, s6)
          expect(s6.localAddress).toBe("[::1]:6000")
          // within a family, a wildcard holds every address of the port
          for (
            const [network, address] of [
              ["tcp4", "127.0.0.1:6000"],
              ["tcp", "127.0.0.1:6000"],
              ["tcp6", "[::1]:6000"],
              ["tcp", "[::1]:6000"],
              ["tcp4", ":6000"],
              ["tcp6", ":6000"],
              ["tcp", ":6000"],
              ["tcp", "[::]:6000"],
              ["tcp", "0.0.0.0:6000"]
            ] as const
          ) {
            expect(yield* listenTag(network, address), `${network} ${address}`).toBe("AddressInUse")
          }

          // tcp on :P, [::]:P or 0.0.0.0:P holds the port in both families and accepts both
          for (const [address, port] of [[":6001", 6001], ["[::]:6002", 6002], ["0.0.0.0:6003", 6003]] as const) {
            yield* Effect.scoped(Effect.gen(function*() {
              const dual = yield* Net.listen("tcp", address)
              for (const other of ["tcp4 0.0.0.0", "tcp4 127.0.0.1", "tcp6 [::]", "tcp6 [::1]", "tcp "] as const) {
                const [network, host] = other.split(" ") as [string, string]
                expect(yield* listenTag(network, `${host}:${port}`), `${address} vs ${other}`).toBe("AddressInUse")
              }
              const via4 = yield* Net.dial("tcp4", `127.0.0.1:${port}`)
              const at4 = yield* dual.accept
              expect(at4.localAddress).toBe(`127.0.0.1:${port}`)
              yield* echoOnce(via4, at4)
              const via6 = yield* Net.dial("tcp6", `[::1]:${port}`)
              const at6 = yield* dual.accept
              expect(at6.localAddress).toBe(`[::1]:${port}`)
              yield* echoOnce(via6, at6)
              // a dial to the unspecified address reaches this host's loopback of its family
              const viaAny6 = yield* Net.dial("tcp", `[::]:${port}`)
              expect(viaAny6.remoteAddress).toBe(`[::1]:${port}`)
              yield* dual.accept
            }))
          }

          // nor can a dual stack listener bind over a listener of either family
          yield* Net.listen("tcp4", "127.0.0.1:6004")
          expect(yield* listenTag("tcp", ":6004")).toBe("AddressInUse")
          yield* Net.listen("tcp6", "[::1]:6005")
          expect(yield* listenTag("tcp", ":6005")).toBe("AddressInUse")

          // addresses of different families share a port; the wildcards conflict per family
          yield* Net.listen("tcp", "127.0.0.1:6006")
          yield* Net.listen("tcp", "[::1]:6006")
          expect(yield* listenTag("tcp6", "[::]:6006")).toBe("AddressInUse")
          expect(yield* listenTag("tcp4", "0.0.0.0:6006")).toBe("AddressInUse")

          // a family with no listener on the port refuses
          yield* Net.listen("tcp4", "0.0.0.0:6007")
          expect(tagOf(yield* Effect.exit(Net.dial("tcp6", "[::1]:6007")))).toBe("ConnectionRefused")
          yield* Net.listen("tcp6", "[::]:6008")
          expect(tagOf(yield* Effect.exit(Net.dial("tcp4", "127.0.0.1:6008")))).toBe("ConnectionRefused")
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    for (
      const [network, address, capacity] of [
        ["tcp", "127.0.0.1:0", MemoryNet.defaultReadBufferSize],
        ["unix", "/vvnet-memory/capacity.sock", MemoryNet.defaultUnixReadBufferSize]
      ] as const
    ) {
      it.scoped(
        `${network}: by default a direction holds about what loopback does (${
          capacity / KiB
        } KiB) before a writer to a silent peer suspends`,
        () =>
          Effect.gen(function*() {
            expect(MemoryNet.defaultReadBufferSize).toBe(4 * MiB)
            expect(MemoryNet.defaultUnixReadBufferSize).toBe(256 * KiB)
            const { client } = yield* pair(network, address)
            let completed = 0
            const chunk = new Uint8Array(64 * KiB)
            const writing = yield* Effect.fork(Effect.gen(function*() {
              for (let i = 0; i < 1024; i++) completed += yield* client.write(chunk)
            }))
            for (let i = 0; i < 5; i++) yield* flush
            expect(yield* isPending(writing)).toBe(true)
            expect(completed).toBeGreaterThanOrEqual(capacity)
            expect(completed).toBeLessThanOrEqual(capacity + 64 * KiB)
          }).pipe(Effect.provide(MemoryNet.layer)),
        timeout
      )

      it.scoped(
        `${network}: writing 256 KiB and then reading it back through an echo server completes, as over loopback`,
        () =>
          Effect.gen(function*() {
            const listener = yield* Net.listen(network, address)
            yield* Net.serve(listener, (conn) =>
              Effect.gen(function*() {
                while (true) {
                  const data = yield* conn.read(64 * KiB)
                  if (data.length === 0) break
                  yield* conn.write(data)
                }
                yield* conn.closeWrite
              }))
            const client = yield* Net.dial(network, listener.address)
            const request = pattern(256 * KiB, 9)
            // the whole request is taken before the client reads a byte of the reply
            const writing = yield* Effect.fork(client.write(request))
            expect(tagOf(yield* settled(writing))).toBe("success")
            yield* client.closeWrite
            const drained = yield* drain(client, [64 * KiB], 1000)
            expect(drained.end).toBe("EOF")
            expect(drained.data).toEqual(request)
          }).pipe(Effect.provide(MemoryNet.layer)),
        timeout
      )
    }
  })
})
