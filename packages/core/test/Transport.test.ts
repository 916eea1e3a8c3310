import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Conn from "../src/Conn.js"
import type { Listener } from "../src/Listener.js"
import * as MemoryNet from "../src/MemoryNet.js"
import * as Net from "../src/Net.js"
import * as Transport from "../src/Transport.js"
import { eventually, failure, flush, isPending, settled, tagOf, text } from "./support/effects.js"
import { collectGarbage } from "./support/memory.js"

const timeout = 30_000
const bytes = (s: string) => new TextEncoder().encode(s)

/** A fake ConnTransport that records every call. */
const fakeConn = (options?: { readonly syncWrites?: boolean }) => {
  const calls = {
    writes: [] as Array<{ readonly data: Uint8Array; readonly done: (error?: Transport.OsError) => void }>,
    closeWrites: [] as Array<(error?: Transport.OsError) => void>,
    pauses: 0,
    resumes: 0,
    closes: [] as Array<boolean>
  }
  let syncWrites = options?.syncWrites ?? false
  const transport: Transport.ConnTransport = {
    network: "tcp",
    localAddress: "127.0.0.1:5000",
    remoteAddress: "127.0.0.1:8080",
    write: (data, done) => {
      calls.writes.push({ data, done })
      return syncWrites
    },
    closeWrite: (done) => {
      calls.closeWrites.push(done)
    },
    pause: () => {
      calls.pauses++
    },
    resume: () => {
      calls.resumes++
    },
    close: (abort) => {
      calls.closes.push(abort)
    }
  }
  return {
    calls,
    transport,
    setSyncWrites: (sync: boolean) => {
      syncWrites = sync
    }
  }
}

const makeFakeConn = (options?: { readonly syncWrites?: boolean } & Transport.MakeConnOptions) => {
  const fake = fakeConn(options)
  const { conn, inbound } = Transport.makeConn(fake.transport, options)
  return { ...fake, conn, inbound }
}

const fakeListener = (backlog?: number) => {
  let closes = 0
  const transport: Transport.ListenerTransport = {
    network: "tcp",
    address: "127.0.0.1:9000",
    close: () => {
      closes++
    }
  }
  const made = Transport.makeListener(transport, backlog !== undefined ? { backlog } : undefined)
  return { ...made, closes: () => closes }
}

interface LogEntry {
  readonly level: string
  readonly message: string
  readonly cause: Cause.Cause<unknown>
  readonly annotations: HashMap.HashMap<string, unknown>
}

const captureLogs = () => {
  const logs: Array<LogEntry> = []
  const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
    logs.push({
      level: logLevel.label,
      message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
      cause,
      annotations
    })
  })
  return { logs, layer: Logger.add(logger) }
}

describe("Transport.makeConn", () => {
  it.effect(
    "only one close reaches the transport, however many closes run, also concurrently",
    () =>
      Effect.gen(function*() {
        const { calls, conn } = makeFakeConn()
        yield* conn.close
        yield* conn.close
        yield* Effect.all(Array.from({ length: 20 }, () => conn.close), { concurrency: "unbounded", discard: true })
        expect(calls.closes).toEqual([false])

        const other = makeFakeConn()
        yield* Effect.all(Array.from({ length: 20 }, () => other.conn.close), {
          concurrency: "unbounded",
          discard: true
        })
        yield* Conn.abort(other.conn)
        expect(other.calls.closes).toEqual([false])
        expect(tagOf(yield* Effect.exit(other.conn.read(1)))).toBe("Closed")
        expect(tagOf(yield* Effect.exit(other.conn.write("x")))).toBe("Closed")
        expect(other.calls.writes).toHaveLength(0)
      }),
    timeout
  )

  it.effect("Conn.abort closes with abort = true, once", () =>
    Effect.gen(function*() {
      const { calls, conn } = makeFakeConn()
      yield* Conn.abort(conn)
      yield* Conn.abort(conn)
      yield* conn.close
      expect(calls.closes).toEqual([true])
    }), timeout)

  it.effect("close ends a pending read with Closed and clears the buffer", () =>
    Effect.gen(function*() {
      const { calls, conn } = makeFakeConn()
      const reading = yield* Effect.fork(conn.read(10))
      yield* flush
      expect(yield* isPending(reading)).toBe(true)
      yield* conn.close
      const error = failure(yield* Fiber.await(reading))
      expect(error._tag).toBe("Closed")
      expect(error.message).toBe("read tcp 127.0.0.1:5000->127.0.0.1:8080: use of closed network connection")
      expect(calls.closes).toEqual([false])
    }), timeout)

  it.effect(
    "pause() when pushed bytes reach readBufferSize; resume() once reads drain to half",
    () =>
      Effect.gen(function*() {
        const { calls, conn, inbound } = makeFakeConn({ readBufferSize: 100 })
        expect(inbound.push(new Uint8Array(60))).toBe(true)
        expect(calls.pauses).toBe(0)
        expect(inbound.push(new Uint8Array(40))).toBe(false) // 100 buffered: at the mark
        expect(calls.pauses).toBe(1)
        expect(inbound.push(new Uint8Array(10))).toBe(false) // 110: still paused, not paused twice
        expect(calls.pauses).toBe(1)
        expect(calls.resumes).toBe(0)

        expect((yield* conn.read(59)).length).toBe(59) // 51 left: above half
        expect(calls.resumes).toBe(0)
        expect((yield* conn.read(2)).length).toBe(2) // 49 left: below half
        expect(calls.resumes).toBe(1)
        expect((yield* conn.read(10)).length).toBe(10)
        expect(calls.resumes).toBe(1) // not resumed twice

        // and again
        expect(inbound.push(new Uint8Array(200))).toBe(false)
        expect(calls.pauses).toBe(2)
        let drained = 0
        for (let i = 0; i < 100 && drained < 239; i++) drained += (yield* conn.read(1000)).length
        expect(drained).toBe(239)
        expect(calls.resumes).toBe(2)
      }),
    timeout
  )

  it.effect(
    "read(n) returns at most n, keeps the rest, joins chunks, and EOF is an empty array",
    () =>
      Effect.gen(function*() {
        const { conn, inbound } = makeFakeConn()
        inbound.push(bytes("AAAAABBB"))
        inbound.push(bytes("BBCC"))
        inbound.push(bytes("CCC"))
        expect(text(yield* conn.read(5))).toBe("AAAAA")
        expect(text(yield* conn.read(5))).toBe("BBBBB")
        expect(text(yield* conn.read(100))).toBe("CCCCC")
        inbound.end()
        expect((yield* conn.read(10)).length).toBe(0)
        expect((yield* conn.read(10)).length).toBe(0)
      }),
    timeout
  )

  it.effect("a write whose transport returns true resolves without waiting for done", () =>
    Effect.gen(function*() {
      const { calls, conn } = makeFakeConn({ syncWrites: true })
      expect(yield* conn.write("hello")).toBe(5)
      expect(yield* conn.write(new Uint8Array([1, 2, 3]))).toBe(3)
      expect(calls.writes.map((w) => Array.from(w.data))).toEqual([[104, 101, 108, 108, 111], [1, 2, 3]])
      // a done() after `true` breaks the contract; while no write is in flight it changes nothing
      calls.writes[0]!.done()
      calls.writes[1]!.done({ code: "EPIPE" })
      expect(yield* conn.write("x")).toBe(1)
    }), timeout)

  it.effect(
    "a write whose transport returns false waits for done(); done(error) fails it with the mapped error",
    () =>
      Effect.gen(function*() {
        const { calls, conn } = makeFakeConn()
        const writing = yield* Effect.fork(conn.write("abc"))
        yield* flush
        expect(yield* isPending(writing)).toBe(true)
        calls.writes[0]!.done()
        expect(yield* Fiber.join(writing)).toBe(3)

        const failing = yield* Effect.fork(conn.write("def"))
        yield* flush
        calls.writes[1]!.done({ code: "EPIPE", syscall: "write" })
        const error = failure(yield* Fiber.await(failing))
        expect(error._tag).toBe("BrokenPipe")
        expect(error.message).toBe("write tcp 127.0.0.1:5000->127.0.0.1:8080: write: broken pipe")
        // sticky: later writes fail the same way without reaching the transport
        expect(tagOf(yield* Effect.exit(conn.write("ghi")))).toBe("BrokenPipe")
        expect(calls.writes).toHaveLength(2)
      }),
    timeout
  )

  it.effect(
    "a transport may call done before write returns false: the write resolves with done's outcome",
    () =>
      Effect.gen(function*() {
        const { calls, conn, transport } = makeFakeConn()
        const outcomes: Array<Transport.OsError | undefined> = [undefined, { code: "ECONNRESET", syscall: "write" }]
        ;(transport as { write: Transport.ConnTransport["write"] }).write = (data, done) => {
          calls.writes.push({ data, done })
          done(outcomes[calls.writes.length - 1])
          return false
        }
        expect(yield* conn.write("abc")).toBe(3)
        const error = failure(yield* Effect.exit(conn.write("def")))
        expect(error._tag).toBe("ConnectionReset")
        expect(calls.writes).toHaveLength(2)
      }),
    timeout
  )

  it.effect(
    "one write at a time is in the transport: a second write is handed over only after the first's done",
    () =>
      Effect.gen(function*() {
        const { calls, conn } = makeFakeConn()
        const first = yield* Effect.fork(conn.write("one"))
        const second = yield* Effect.fork(conn.write("two"))
        yield* flush
        expect(calls.writes).toHaveLength(1)
        calls.writes[0]!.done()
        expect(yield* Fiber.join(first)).toBe(3)
        yield* flush
        expect(calls.writes.map((w) => text(w.data))).toEqual(["one", "two"])
        calls.writes[1]!.done()
        expect(yield* Fiber.join(second)).toBe(3)
      }),
    timeout
  )

  it.effect(
    "an interrupted write's bytes stay in the transport: the next write waits for its done, then goes",
    () =>
      Effect.gen(function*() {
        const { calls, conn } = makeFakeConn()
        const abandoned = yield* Effect.fork(conn.write("lost?"))
        yield* flush
        yield* Fiber.interrupt(abandoned)
        const next = yield* Effect.fork(conn.write("next"))
        yield* flush
        expect(calls.writes).toHaveLength(1)
        calls.writes[0]!.done()
        yield* flush
        expect(calls.writes).toHaveLength(2)
        calls.writes[1]!.done()
        expect(yield* Fiber.join(next)).toBe(4)
      }),
    timeout
  )

  it.effect("readLimit caps each read within 1..count, as MemoryNet's short reads do", () =>
    Effect.gen(function*() {
      const asked: Array<number> = []
      const limits = [2, 0, 100]
      const { conn, inbound } = makeFakeConn({
        readLimit: (count) => {
          asked.push(count)
          return limits[asked.length - 1]!
        }
      })
      inbound.push(bytes("abcdefgh"))
      expect(text(yield* conn.read(5))).toBe("ab")
      expect(text(yield* conn.read(5))).toBe("c") // 0 is raised to 1
      expect(text(yield* conn.read(4))).toBe("defg") // 100 is lowered to the count
      expect(asked).toEqual([5, 5, 4])
    }), timeout)

  it.effect(
    "more readers than the waiter sweep bound (64) waiting at once each get their byte",
    () =>
      Effect.gen(function*() {
        const { conn, inbound } = makeFakeConn()
        const readers = yield* Effect.forEach(Array.from({ length: 100 }), () => Effect.fork(conn.read(1)))
        yield* flush
        for (const reader of readers) expect(yield* isPending(reader)).toBe(true)
        inbound.push(new Uint8Array(100).fill(7))
        const got = yield* Effect.forEach(readers, Fiber.join)
        expect(got.map((chunk) => chunk.length)).toEqual(Array.from({ length: 100 }, () => 1))
      }),
    timeout
  )

  it.effect(
    "reads interrupted while waiting on a silent connection do not pile up: at most the sweep bound (64) of their fibers stay reachable",
    () =>
      Effect.gen(function*() {
        const { conn, inbound } = makeFakeConn()
        const refs: Array<WeakRef<object>> = []
        for (let i = 0; i < 300; i++) {
          const reader = yield* Effect.fork(conn.read(10))
          yield* Effect.yieldNow()
          refs.push(new WeakRef(reader))
          yield* Fiber.interrupt(reader)
        }
        yield* flush
        yield* collectGarbage
        const reachable = refs.filter((ref) => ref.deref() !== undefined).length
        expect(reachable).toBeLessThanOrEqual(64)
        // the connection still reads
        inbound.push(bytes("still here"))
        expect(text(yield* conn.read(10))).toBe("still here")
      }),
    timeout
  )

  it.effect(
    "an abandoned write's failure sticks: later writes fail with it without reaching the transport",
    () =>
      Effect.gen(function*() {
        const clock = yield* Effect.clock
        const { calls, conn } = makeFakeConn({ clock })
        yield* conn.setWriteTimeout(100)
        const writing = yield* Effect.fork(conn.write("abc"))
        yield* flush
        yield* TestClock.adjust("100 millis")
        yield* flush
        expect(failure(yield* settled(writing))._tag).toBe("Timeout")
        yield* conn.setWriteTimeout(0)
        // nobody waits for "abc" any more; the transport then reports it lost
        calls.writes[0]!.done({ code: "ECONNRESET", syscall: "write" })
        expect(tagOf(yield* Effect.exit(conn.write("x")))).toBe("ConnectionReset")
        expect(calls.writes).toHaveLength(1)
      }),
    timeout
  )

  for (
    const [what, end, tag] of [
      ["the connection fails", "fail", "ConnectionReset"],
      ["a write deadline passes", "deadline", "Timeout"],
      ["the connection closes", "close", "Closed"]
    ] as const
  ) {
    it.effect(
      `a write waiting behind the one in flight is released when ${what}: it fails with ${tag}`,
      () =>
        Effect.gen(function*() {
          const clock = yield* Effect.clock
          const { calls, conn, inbound } = makeFakeConn({ clock })
          if (end === "deadline") yield* conn.setWriteTimeout(100)
          const first = yield* Effect.fork(conn.write("first"))
          const second = yield* Effect.fork(conn.write("second"))
          yield* flush
          expect(yield* isPending(second)).toBe(true)
          if (end === "fail") inbound.fail({ code: "ECONNRESET" })
          else if (end === "deadline") yield* TestClock.adjust("100 millis")
          else yield* conn.close
          yield* flush
          expect(failure(yield* settled(first))._tag).toBe(tag)
          expect(failure(yield* settled(second))._tag).toBe(tag)
          expect(calls.writes).toHaveLength(1)
        }),
      timeout
    )
  }

  it.effect(
    "Conn.readNow: an Exit when the outcome is known (bytes, EOF, error, bad count), else the waiting read",
    () =>
      Effect.gen(function*() {
        const { conn, inbound } = makeFakeConn()
        const waiting = Conn.readNow(conn, 10)
        expect(Exit.isExit(waiting)).toBe(false)
        const reader = yield* Effect.fork(waiting)
        inbound.push(bytes("first"))
        expect(text(yield* Fiber.join(reader))).toBe("first")
        inbound.push(bytes("abcdef"))
        const now = Conn.readNow(conn, 4)
        expect(Exit.isExit(now)).toBe(true)
        // taken by the call itself: the rest is what a later read gets
        expect(text(yield* conn.read(10))).toBe("ef")
        expect(text(yield* now)).toBe("abcd")
        expect(Exit.isExit(Conn.readNow(conn, -1))).toBe(true)
        expect(tagOf(yield* Effect.exit(Conn.readNow(conn, -1)))).toBe("InvalidArgument")
        inbound.end()
        const eof = Conn.readNow(conn, 10)
        expect(Exit.isExit(eof)).toBe(true)
        expect((yield* eof).length).toBe(0)
      }),
    timeout
  )

  it.effect(
    "Conn.whenReadable calls back once, outside any fiber, at the next change for readers: bytes, EOF, a deadline, close",
    () =>
      Effect.gen(function*() {
        const { conn, inbound } = makeFakeConn()
        let woken = 0
        const wake = () => {
          woken++
        }
        expect(Conn.whenReadable(conn, wake)).toBe(true)
        expect(woken).toBe(0)
        inbound.push(bytes("ab"))
        expect(woken).toBe(1) // within the push itself
        inbound.push(bytes("cd"))
        expect(woken).toBe(1) // once: it was not registered again
        expect(text(yield* conn.read(10))).toBe("abcd")

        Conn.whenReadable(conn, wake)
        yield* conn.setReadTimeout(10)
        yield* eventually(() => woken === 2)
        expect(tagOf(yield* Effect.exit(Conn.readNow(conn, 1)))).toBe("Timeout")
        yield* conn.setReadTimeout(0)

        Conn.whenReadable(conn, wake)
        inbound.end()
        expect(woken).toBe(3)
        expect((yield* Conn.readNow(conn, 1)).length).toBe(0)

        const other = makeFakeConn()
        Conn.whenReadable(other.conn, wake)
        yield* other.conn.close
        expect(woken).toBe(4)

        // not built by the engine: nothing registered, the caller runs readNow's Effect instead
        const foreign: Conn.Conn = { ...conn, read: (n: number) => conn.read(n) }
        expect(Conn.whenReadable(foreign, wake)).toBe(false)
        yield* conn.close
        expect(woken).toBe(4)
      }),
    timeout
  )

  it.effect(
    "Conn.whenReadable: many readers that wait again after a wake-up that found nothing each run once per change, with no sweep storm",
    () =>
      Effect.gen(function*() {
        const { conn, inbound } = makeFakeConn()
        const readers = 200
        let runs = 0
        const got: Array<Exit.Exit<Uint8Array, unknown>> = []
        const reader = () => {
          runs++
          const step = Conn.readNow(conn, 1)
          if (Exit.isExit(step)) got.push(step as Exit.Exit<Uint8Array, unknown>)
          else Conn.whenReadable(conn, reader)
        }
        for (let i = 0; i < readers; i++) Conn.whenReadable(conn, reader)
        // registering that many may sweep (wake those waiting, as for fibers); they wait again
        const swept = runs
        expect(swept).toBeLessThan(2 * readers)
        inbound.push(bytes("x")) // one byte: one reader takes it, the others wait again
        expect(runs - swept).toBe(readers)
        expect(got.map((exit) => Exit.isSuccess(exit) ? text(exit.value) : "failure")).toEqual(["x"])
        yield* conn.close // every reader still waiting is woken once, and sees Closed
        expect(runs - swept).toBe(2 * readers - 1)
        expect(got).toHaveLength(readers)
        expect(got.slice(1).every((exit) => tagOf(exit) === "Closed")).toBe(true)
      }),
    timeout
  )

  it.effect(
    "Conn.closeNow closes an engine connection in the call itself and returns an Exit; a foreign Conn's close is left to run",
    () =>
      Effect.gen(function*() {
        const { calls, conn } = makeFakeConn()
        const reader = yield* Effect.fork(conn.read(5))
        yield* flush
        const closed = Conn.closeNow(conn)
        expect(Exit.isExit(closed)).toBe(true)
        expect(calls.closes).toEqual([false]) // graceful, before anything is run
        expect(tagOf(yield* Fiber.await(reader))).toBe("Closed")
        Conn.closeNow(conn) // twice: nothing more
        expect(calls.closes).toEqual([false])

        let foreignCloses = 0
        const foreign: Conn.Conn = { ...makeFakeConn().conn, close: Effect.sync(() => foreignCloses++) }
        const later = Conn.closeNow(foreign)
        expect(foreignCloses).toBe(0)
        yield* later
        expect(foreignCloses).toBe(1)
      }),
    timeout
  )

  it.effect(
    "Conn.writeNow hands the bytes over in the call: an Exit when the OS took them at once, else the wait for this write",
    () =>
      Effect.gen(function*() {
        const { calls, conn, setSyncWrites } = makeFakeConn({ syncWrites: true })
        const taken = Conn.writeNow(conn, "abc")
        expect(calls.writes).toHaveLength(1)
        expect(Exit.isExit(taken)).toBe(true)
        expect(yield* taken).toBe(3)
        setSyncWrites(false)
        const pending = Conn.writeNow(conn, "defg")
        expect(calls.writes).toHaveLength(2)
        expect(Exit.isExit(pending)).toBe(false)
        const writer = yield* Effect.fork(pending)
        yield* flush
        expect(yield* isPending(writer)).toBe(true)
        calls.writes[1]!.done()
        expect(yield* Fiber.join(writer)).toBe(4)
        yield* conn.close
        const closed = Conn.writeNow(conn, "x")
        expect(Exit.isExit(closed)).toBe(true)
        expect(tagOf(yield* Effect.exit(closed))).toBe("Closed")
        expect(calls.writes).toHaveLength(2)
      }),
    timeout
  )

  it.effect("a pending write is failed with Closed by close", () =>
    Effect.gen(function*() {
      const { calls, conn } = makeFakeConn()
      const writing = yield* Effect.fork(conn.write("abc"))
      yield* flush
      expect(yield* isPending(writing)).toBe(true)
      yield* conn.close
      const error = failure(yield* Fiber.await(writing))
      expect(error._tag).toBe("Closed")
      expect(error.op).toBe("write")
      // the transport's late done() changes nothing
      calls.writes[0]!.done()
      expect(calls.closes).toEqual([false])
    }), timeout)

  it.effect("a pending write is failed with Timeout by a write deadline (TestClock)", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      const { calls, conn, setSyncWrites } = makeFakeConn({ clock })
      yield* conn.setWriteTimeout(100)
      const writing = yield* Effect.fork(conn.write("abc"))
      yield* flush
      yield* TestClock.adjust("99 millis")
      yield* flush
      expect(yield* isPending(writing)).toBe(true)
      yield* TestClock.adjust("1 millis")
      yield* flush
      const error = failure(yield* settled(writing))
      expect(error._tag).toBe("Timeout")
      expect(error.message).toBe("write tcp 127.0.0.1:5000->127.0.0.1:8080: i/o timeout")
      // the deadline stays passed until moved
      expect(tagOf(yield* Effect.exit(conn.write("x")))).toBe("Timeout")
      expect(calls.writes).toHaveLength(1)
      yield* conn.setWriteTimeout(0)
      setSyncWrites(true)
      // the timed-out "abc" is still in the transport: the next write waits for it to drain
      // instead of queueing more bytes in memory
      const next = yield* Effect.fork(conn.write("x"))
      yield* flush
      expect(yield* isPending(next)).toBe(true)
      calls.writes[0]!.done()
      yield* flush
      expect(yield* Fiber.join(next)).toBe(1)
      // closing the connection cancels its deadline timers
      yield* conn.setWriteTimeout(50)
      yield* conn.setReadTimeout(50)
      yield* conn.close
      yield* TestClock.adjust("1 second")
      yield* flush
      expect(calls.closes).toEqual([false])
    }), timeout)

  it.effect("without a clock option, deadlines run on the host's timers", () =>
    Effect.gen(function*() {
      const { conn, inbound } = makeFakeConn()
      yield* conn.setReadTimeout(20)
      const error = failure(yield* Effect.exit(conn.read(5)))
      expect(error._tag).toBe("Timeout")
      inbound.push(bytes("late"))
      yield* conn.setReadTimeout(0)
      expect(text(yield* conn.read(5))).toBe("late")
      yield* conn.close
    }), timeout)

  it.effect(
    "inbound.fail(ECONNRESET) after bytes: reads return those bytes first, then ConnectionReset; writes fail with ConnectionReset",
    () =>
      Effect.gen(function*() {
        const { calls, conn, inbound } = makeFakeConn()
        const pendingWrite = yield* Effect.fork(conn.write("in flight"))
        yield* flush
        inbound.push(bytes("hello"))
        inbound.push(bytes("world"))
        inbound.fail({ code: "ECONNRESET", syscall: "read" })
        // ignored after the failure
        inbound.push(bytes("ignored"))
        inbound.end()

        expect(tagOf(yield* Fiber.await(pendingWrite))).toBe("ConnectionReset")
        expect(text(yield* conn.read(3))).toBe("hel")
        expect(text(yield* conn.read(100))).toBe("loworld")
        const reset = failure(yield* Effect.exit(conn.read(100)))
        expect(reset._tag).toBe("ConnectionReset")
        expect(reset.code).toBe("ECONNRESET")
        expect(reset.message).toBe("read tcp 127.0.0.1:5000->127.0.0.1:8080: read: connection reset by peer")
        expect(tagOf(yield* Effect.exit(conn.read(100)))).toBe("ConnectionReset")
        expect(tagOf(yield* Effect.exit(conn.write("x")))).toBe("ConnectionReset")
        expect(calls.writes).toHaveLength(1)
        // closing after a reset is quiet and reaches the transport once
        yield* conn.close
        yield* conn.close
        expect(calls.closes).toEqual([false])
      }),
    timeout
  )

  it.effect(
    "closeWrite reaches the transport once; later writes fail with BrokenPipe; reading goes on",
    () =>
      Effect.gen(function*() {
        const { calls, conn, inbound } = makeFakeConn()
        const closing = yield* Effect.fork(conn.closeWrite)
        yield* flush
        expect(calls.closeWrites).toHaveLength(1)
        calls.closeWrites[0]!()
        yield* Fiber.join(closing)
        yield* conn.closeWrite
        expect(calls.closeWrites).toHaveLength(1)
        expect(tagOf(yield* Effect.exit(conn.write("x")))).toBe("BrokenPipe")
        inbound.push(bytes("reply"))
        expect(text(yield* conn.read(10))).toBe("reply")
      }),
    timeout
  )
})

describe("Transport.makeListener", () => {
  it.scoped("pushing beyond the backlog closes the extra connection", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener(2)
      const conns = [makeFakeConn(), makeFakeConn(), makeFakeConn(), makeFakeConn()]
      expect(acceptor.push(conns[0]!.conn)).toBe(true)
      expect(acceptor.push(conns[1]!.conn)).toBe(true)
      expect(acceptor.push(conns[2]!.conn)).toBe(false)
      expect(conns[2]!.calls.closes).toEqual([false])
      expect(conns[0]!.calls.closes).toEqual([])
      expect(conns[1]!.calls.closes).toEqual([])
      // accepting frees a slot, in order
      expect(yield* listener.accept).toBe(conns[0]!.conn)
      expect(acceptor.push(conns[3]!.conn)).toBe(true)
      expect(yield* listener.accept).toBe(conns[1]!.conn)
      expect(yield* listener.accept).toBe(conns[3]!.conn)
      expect(conns[3]!.calls.closes).toEqual([])
    }), timeout)

  it.effect("accept puts the connection's close in the caller's Scope", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      const fake = makeFakeConn()
      acceptor.push(fake.conn)
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* listener.accept
        expect(conn).toBe(fake.conn)
        expect(fake.calls.closes).toEqual([])
      }))
      expect(fake.calls.closes).toEqual([false])
    }), timeout)

  it.scoped(
    "listener close closes queued connections, fails later accepts with Closed; transport closed once",
    () =>
      Effect.gen(function*() {
        const { acceptor, closes, listener } = fakeListener()
        const queued = [makeFakeConn(), makeFakeConn()]
        for (const q of queued) acceptor.push(q.conn)
        yield* listener.close
        yield* listener.close
        expect(closes()).toBe(1)
        for (const q of queued) expect(q.calls.closes).toEqual([false])
        const error = failure(yield* Effect.exit(listener.accept))
        expect(error._tag).toBe("Closed")
        expect(error.message).toBe("accept tcp 127.0.0.1:9000: use of closed network connection")
        // a connection pushed after close is closed and refused
        const late = makeFakeConn()
        expect(acceptor.push(late.conn)).toBe(false)
        expect(late.calls.closes).toEqual([false])
      }),
    timeout
  )

  it.scoped(
    "more accepts than the waiter sweep bound (64) waiting at once each get a connection of their own",
    () =>
      Effect.gen(function*() {
        const { acceptor, listener } = fakeListener()
        const accepts = yield* Effect.forEach(Array.from({ length: 100 }), () => Effect.fork(listener.accept))
        yield* flush
        const conns = Array.from({ length: 100 }, () => makeFakeConn().conn)
        for (const conn of conns) acceptor.push(conn)
        const got = yield* Effect.forEach(accepts, Fiber.join)
        expect(new Set(got).size).toBe(100)
        for (const conn of got) expect(conns).toContain(conn)
      }),
    timeout
  )

  it.scoped("listener close fails a pending accept with Closed", () =>
    Effect.gen(function*() {
      const { closes, listener } = fakeListener()
      const accepting = yield* Effect.fork(listener.accept)
      const alsoAccepting = yield* Effect.fork(listener.accept)
      yield* flush
      expect(yield* isPending(accepting)).toBe(true)
      yield* listener.close
      expect(tagOf(yield* Fiber.await(accepting))).toBe("Closed")
      expect(tagOf(yield* Fiber.await(alsoAccepting))).toBe("Closed")
      expect(closes()).toBe(1)
    }), timeout)

  it.scoped(
    "acceptor.fail(EMFILE) surfaces as TooManyOpenFiles; a burst of them coalesces into one",
    () =>
      Effect.gen(function*() {
        const { acceptor, listener } = fakeListener()
        acceptor.fail({ code: "EMFILE", syscall: "accept" })
        const error = failure(yield* Effect.exit(listener.accept))
        expect(error._tag).toBe("TooManyOpenFiles")
        expect(error.code).toBe("EMFILE")
        expect(error.message).toBe("accept tcp 127.0.0.1:9000: accept: too many open files")

        for (let i = 0; i < 5; i++) acceptor.fail({ code: "EMFILE", syscall: "accept" })
        const fake = makeFakeConn()
        acceptor.push(fake.conn)
        expect(tagOf(yield* Effect.exit(listener.accept))).toBe("TooManyOpenFiles")
        // one error stood for the burst: the next accept gets the connection
        expect(yield* listener.accept).toBe(fake.conn)

        // a pending accept is woken by the error
        const accepting = yield* Effect.fork(listener.accept)
        yield* flush
        acceptor.fail({ code: "ENFILE", syscall: "accept" })
        expect(tagOf(yield* Fiber.await(accepting))).toBe("TooManyOpenFiles")
      }),
    timeout
  )

  it.scoped("an interrupted accept drops no connection", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      const accepting = yield* Effect.fork(listener.accept)
      yield* flush
      yield* Fiber.interrupt(accepting)
      const fake = makeFakeConn()
      acceptor.push(fake.conn)
      expect(yield* listener.accept).toBe(fake.conn)
      expect(fake.calls.closes).toEqual([])
    }), timeout)

  it.effect("connections emits each pushed connection and ends when the listener closes", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      const fakes = [makeFakeConn(), makeFakeConn(), makeFakeConn()]
      const collecting = yield* Effect.fork(Stream.runCollect(listener.connections))
      for (const f of fakes) {
        acceptor.push(f.conn)
        yield* flush
      }
      yield* listener.close
      const got = Array.from(yield* Fiber.join(collecting))
      expect(got).toEqual(fakes.map((f) => f.conn))
    }), timeout)
})

describe("Net.serve", () => {
  it.scoped("a handler failing on the first connection is logged; later connections are still served", () => {
    const { layer, logs } = captureLogs()
    return Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", "127.0.0.1:0")
      let calls = 0
      yield* Net.serve(listener, (conn) =>
        Effect.gen(function*() {
          const n = ++calls
          if (n === 1) return yield* Effect.fail("boom on the first connection")
          if (n === 2) return yield* Effect.die(new Error("defect on the second connection"))
          const data = yield* Conn.readAll(conn)
          yield* conn.write(data)
        }))

      const first = yield* Net.dial("tcp", listener.address)
      // the failed connection is closed: the client sees EOF
      expect((yield* first.read(10)).length).toBe(0)
      const second = yield* Net.dial("tcp", listener.address)
      expect((yield* second.read(10)).length).toBe(0)

      const third = yield* Net.dial("tcp", listener.address)
      yield* third.write("still served")
      yield* third.closeWrite
      expect(text(yield* Conn.readAll(third))).toBe("still served")
      expect(calls).toBe(3)

      const errors = logs.filter((l) => l.level === "ERROR")
      expect(errors).toHaveLength(2)
      expect(errors[0]!.message).toContain("handler failed")
      expect(Option.getOrUndefined(Cause.failureOption(errors[0]!.cause))).toBe("boom on the first connection")
      expect(Option.getOrUndefined(HashMap.get(errors[0]!.annotations, "remoteAddress"))).toBe(first.localAddress)
      expect(Cause.isDie(errors[1]!.cause)).toBe(true)
      expect(Cause.pretty(errors[1]!.cause)).toContain("defect on the second connection")
    }).pipe(Effect.provide(MemoryNet.layer), Effect.provide(layer))
  }, timeout)

  it.scoped("accept errors are retried with back-off (TestClock), never in a busy loop; serving resumes", () => {
    const { layer, logs } = captureLogs()
    return Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      let accepts = 0
      let failing = true
      // every accept meets EMFILE while `failing` is set
      const counting: Listener = {
        network: listener.network,
        address: listener.address,
        accept: Effect.suspend(() => {
          accepts++
          if (failing) acceptor.fail({ code: "EMFILE", syscall: "accept" })
          return listener.accept
        }),
        connections: listener.connections,
        close: listener.close
      }
      const handled = yield* Deferred.make<Conn.Conn>()
      yield* Net.serve(counting, (conn) => Deferred.succeed(handled, conn))

      // no time passes: one attempt, then the loop sleeps instead of spinning
      yield* eventually(() => accepts >= 1)
      for (let i = 0; i < 5; i++) yield* flush
      expect(accepts).toBe(1)

      // the documented schedule: 5 ms, doubling
      yield* TestClock.adjust("4 millis")
      yield* flush
      expect(accepts).toBe(1)
      yield* TestClock.adjust("1 millis") // t = 5
      yield* eventually(() => accepts === 2)
      yield* flush
      expect(accepts).toBe(2)
      yield* TestClock.adjust("9 millis") // t = 14
      yield* flush
      expect(accepts).toBe(2)
      yield* TestClock.adjust("1 millis") // t = 15
      yield* eventually(() => accepts === 3)
      yield* flush
      expect(accepts).toBe(3)
      yield* TestClock.adjust("20 millis") // t = 35
      yield* eventually(() => accepts === 4)
      yield* flush
      expect(accepts).toBe(4)

      // ten seconds later: it kept retrying, at most about once a second
      for (let i = 0; i < 100; i++) {
        yield* TestClock.adjust("100 millis")
        yield* flush
      }
      expect(accepts).toBeGreaterThanOrEqual(12)
      expect(accepts).toBeLessThanOrEqual(25)
      const warnings = logs.filter((l) => l.level === "WARN")
      expect(warnings).toHaveLength(accepts)
      expect(warnings[0]!.message).toContain("too many open files")
      expect(warnings[0]!.message).toContain("retrying in 5 ms")
      expect(logs.filter((l) => l.level === "ERROR")).toHaveLength(0)

      // file descriptors free up: the next attempt (within the 1 s cap) serves a connection
      failing = false
      const fake = makeFakeConn()
      acceptor.push(fake.conn)
      for (let i = 0; i < 11 && (yield* Deferred.isDone(handled)) === false; i++) {
        yield* TestClock.adjust("100 millis")
        yield* flush
      }
      expect(yield* Deferred.await(handled)).toBe(fake.conn)
      // the handler ended, so serve closed the connection
      yield* eventually(() => fake.calls.closes.length > 0)
      expect(fake.calls.closes).toEqual([false])

      // closing the listener ends the loop: no more attempts, however long we wait
      yield* listener.close
      yield* flush
      const final = accepts
      yield* TestClock.adjust(Duration.seconds(30))
      yield* flush
      expect(accepts).toBe(final)
    }).pipe(Effect.provide(layer))
  }, timeout)
})
