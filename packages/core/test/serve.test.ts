import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as Conn from "../src/Conn.js"
import * as MemoryNet from "../src/MemoryNet.js"
import * as Net from "../src/Net.js"
import type * as NetError from "../src/NetError.js"
import { failure, flush, isPending, settled, tagOf } from "./support/effects.js"

const timeout = 60_000
const MiB = 1024 * 1024

/** Serve's log lines, captured from a test Logger. */
const captureLogs = () => {
  const logged: Array<Logger.Logger.Options<unknown>> = []
  const logger = Logger.make<unknown, void>((entry) => {
    logged.push(entry)
  })
  const serveLogs = () =>
    logged
      .map((entry) => ({
        level: entry.logLevel._tag,
        message: (Array.isArray(entry.message) ? entry.message : [entry.message]).map(String).join(" "),
        cause: entry.cause,
        annotations: Object.fromEntries(entry.annotations)
      }))
      .filter((entry) => entry.message.startsWith("vvnet serve:"))
  return { logger: Logger.replace(Logger.defaultLogger, logger), serveLogs }
}

/**
 * Serves, in a Scope of its own, a handler that waits for a byte and, when interrupted, writes
 * `size` bytes (in a finalizer) to a client that never reads; dials it and waits until the
 * handler runs. The finalizer's outcome ("success", "Closed", …) lands in `cleanup`.
 */
const blockedFinalizer = (size: number, options?: Net.ServeOptions) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    const cleanup = yield* Deferred.make<string>()
    const scope = yield* Scope.make()
    const listener = yield* Scope.extend(Net.listen("tcp", "127.0.0.1:0"), scope)
    yield* Scope.extend(
      Net.serve(
        listener,
        (conn) =>
          Effect.onInterrupt(
            Effect.zipRight(Deferred.succeed(started, undefined), conn.read(1)),
            () =>
              Effect.flatMap(
                Effect.exit(conn.write(new Uint8Array(size))),
                (exit) => Deferred.succeed(cleanup, tagOf(exit))
              )
          ),
        options
      ),
      scope
    )
    const client = yield* Net.dial("tcp", listener.address)
    yield* Deferred.await(started)
    return { scope, cleanup, client }
  })

describe("serve", () => {
  describe("options", () => {
    it.scoped("defaultShutdownTimeout is 2000 ms", () =>
      Effect.sync(() => {
        expect(Net.defaultShutdownTimeout).toBe(2000)
      }))

    it.scoped(
      "a bad shutdownTimeout, peerErrorLogLevel or concurrency is InvalidArgument, and nothing is served",
      () =>
        Effect.gen(function*() {
          const listener = yield* Net.listen("tcp", "127.0.0.1:0")
          let handled = 0
          const handler = () => Effect.sync(() => handled++)
          const bad: ReadonlyArray<readonly [Net.ServeOptions, string]> = [
            [{ shutdownTimeout: -1 }, "shutdownTimeout must be a finite, non-negative number of milliseconds, got -1"],
            [{ shutdownTimeout: Number.NaN }, "got NaN"],
            [{ shutdownTimeout: Number.POSITIVE_INFINITY }, "got Infinity"],
            [{ shutdownTimeout: Number.NEGATIVE_INFINITY }, "got -Infinity"],
            [{ shutdownTimeout: "2000" as unknown as number }, "got string"],
            [{ peerErrorLogLevel: "Debug" as unknown as LogLevel.LogLevel }, "peerErrorLogLevel must be a LogLevel"],
            [{ peerErrorLogLevel: { _tag: "Verbose" } as unknown as LogLevel.LogLevel }, "peerErrorLogLevel"],
            [{ concurrency: 0 }, "concurrency must be a positive integer, got 0"]
          ]
          for (const [options, reason] of bad) {
            const error = failure(yield* Effect.exit(Net.serve(listener, handler, options)))
            expect(error._tag, JSON.stringify(options)).toBe("InvalidArgument")
            expect(error.op).toBe("accept")
            expect(error.address).toBe(listener.address)
            expect(error.message).toContain(reason)
          }
          // nothing was started: a client is never handled
          const client = yield* Net.dial("tcp", listener.address)
          yield* flush
          expect(handled).toBe(0)
          yield* client.close
          // the good ones: 0, fractions, every level, LogLevel.None
          for (
            const options of [
              { shutdownTimeout: 0 },
              { shutdownTimeout: 2.5 },
              { shutdownTimeout: 2 ** 40 },
              ...LogLevel.allLevels.map((peerErrorLogLevel) => ({ peerErrorLogLevel }))
            ]
          ) {
            expect(tagOf(yield* Effect.exit(Effect.scoped(Net.serve(listener, handler, options))))).toBe("success")
          }
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )
  })

  describe("bounded shutdown, on the TestClock", () => {
    it.scoped(
      "closing the Scope waits shutdownTimeout for a blocked finalizer, then closes its connection",
      () =>
        Effect.gen(function*() {
          const { cleanup, client, scope } = yield* blockedFinalizer(32 * MiB, { shutdownTimeout: 1000 })
          const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
          yield* flush
          yield* TestClock.adjust("999 millis")
          yield* flush
          expect(yield* isPending(closing)).toBe(true)
          expect(yield* Deferred.isDone(cleanup)).toBe(false)
          yield* TestClock.adjust("1 millis")
          expect(tagOf(yield* settled(closing))).toBe("success")
          expect(yield* Deferred.await(cleanup)).toBe("Closed")
          // the connection is closed: what it took arrives, then EOF
          expect((yield* Conn.readAll(client)).length).toBeLessThanOrEqual(32 * MiB)
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped(
      "the default grace period is 2000 ms",
      () =>
        Effect.gen(function*() {
          const { cleanup, scope } = yield* blockedFinalizer(32 * MiB)
          const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
          yield* flush
          yield* TestClock.adjust("1999 millis")
          yield* flush
          expect(yield* isPending(closing)).toBe(true)
          yield* TestClock.adjust("1 millis")
          expect(tagOf(yield* settled(closing))).toBe("success")
          expect(yield* Deferred.await(cleanup)).toBe("Closed")
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped(
      "shutdownTimeout 0 closes the connections at once",
      () =>
        Effect.gen(function*() {
          const { cleanup, scope } = yield* blockedFinalizer(32 * MiB, { shutdownTimeout: 0 })
          const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
          expect(tagOf(yield* settled(closing))).toBe("success")
          expect(yield* Deferred.await(cleanup)).toBe("Closed")
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )

    it.scoped(
      "finalizers that finish in time end the close without waiting for the clock",
      () =>
        Effect.gen(function*() {
          const { cleanup, client, scope } = yield* blockedFinalizer(1000, { shutdownTimeout: 60_000 })
          const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
          expect(tagOf(yield* settled(closing))).toBe("success")
          expect(yield* Deferred.await(cleanup)).toBe("success")
          expect((yield* Conn.readAll(client)).length).toBe(1000)
        }).pipe(Effect.provide(MemoryNet.layer)),
      timeout
    )
  })

  describe("log levels", () => {
    /** Serves `handler` with `options` and the captured logger; one client that resets. */
    const resetByPeer = (options: Net.ServeOptions | undefined, minimum: LogLevel.LogLevel) =>
      Effect.gen(function*() {
        const { logger, serveLogs } = captureLogs()
        const ended = yield* Deferred.make<NetError.NetError | undefined>()
        const listener = yield* Net.listen("tcp", "127.0.0.1:0")
        const started = yield* Deferred.make<void>()
        yield* Net.serve(
          listener,
          (conn) =>
            Effect.zipRight(Deferred.succeed(started, undefined), conn.read(1)).pipe(
              Effect.tapError((error) => Deferred.succeed(ended, error))
            ),
          options
        ).pipe(Effect.provide(logger), Logger.withMinimumLogLevel(minimum))
        const client = yield* Net.dial("tcp", listener.address)
        yield* Deferred.await(started)
        yield* Conn.abort(client)
        const error = yield* Deferred.await(ended)
        yield* flush
        return { error, logs: serveLogs(), listener, client }
      })

    it.scoped("by default a peer's reset is logged at Debug: nothing at the default Info level", () =>
      Effect.gen(function*() {
        const atInfo = yield* resetByPeer(undefined, LogLevel.Info)
        expect(atInfo.error?._tag).toBe("ConnectionReset")
        expect(atInfo.logs).toEqual([])

        const atAll = yield* resetByPeer(undefined, LogLevel.All)
        expect(atAll.logs).toEqual([{
          level: "Debug",
          message: `vvnet serve: handler ended by its peer: ${atAll.error!.message}`,
          cause: expect.objectContaining({ _tag: "Empty" }),
          annotations: { remoteAddress: atAll.client.localAddress, localAddress: atAll.listener.address }
        }])
        expect(atAll.logs[0]!.message).toMatch(/^vvnet serve: handler ended by its peer: read tcp .*: connection reset/)
      }).pipe(Effect.provide(MemoryNet.layer)))

    it.scoped("peerErrorLogLevel sets the level; LogLevel.None logs nothing", () =>
      Effect.gen(function*() {
        const warning = yield* resetByPeer({ peerErrorLogLevel: LogLevel.Warning }, LogLevel.Info)
        expect(warning.logs.map((entry) => entry.level)).toEqual(["Warning"])

        const none = yield* resetByPeer({ peerErrorLogLevel: LogLevel.None }, LogLevel.All)
        expect(none.error?._tag).toBe("ConnectionReset")
        expect(none.logs).toEqual([])
      }).pipe(Effect.provide(MemoryNet.layer)))

    it.scoped("a failure mixing a peer error with another one, or with a defect, is an Error", () =>
      Effect.gen(function*() {
        const { logger, serveLogs } = captureLogs()
        const listener = yield* Net.listen("tcp", "127.0.0.1:0")
        let calls = 0
        yield* Net.serve(listener, (conn) => {
          // a real Closed error, then a cause that holds more than it
          const closed = Effect.flip(Effect.zipRight(conn.close, conn.read(1)))
          return Effect.flatMap(closed, (error) =>
            Effect.failCause(
              calls++ === 0
                ? Cause.parallel(Cause.fail(error), Cause.fail("other"))
                : Cause.sequential(Cause.fail(error), Cause.die("defect"))
            ))
        }).pipe(Effect.provide(logger), Logger.withMinimumLogLevel(LogLevel.All))
        yield* Net.dial("tcp", listener.address)
        yield* Net.dial("tcp", listener.address)
        for (let i = 0; i < 100 && serveLogs().length < 2; i++) yield* flush
        expect(serveLogs().map((entry) => [entry.level, entry.message])).toEqual([
          ["Error", "vvnet serve: handler failed; its connection is closed"],
          ["Error", "vvnet serve: handler failed; its connection is closed"]
        ])
      }).pipe(Effect.provide(MemoryNet.layer)))
  })
})

describe("serve shutdown with connections queued", () => {
  // With connections waiting in the listener's queue, taking one never waits; without an
  // interruption point between connections, closing the Scope waited until every queued
  // connection had a handler (5,000 queued: 4,659 handlers started after the close began).
  // design.md §2: closing the scope stops accepting and returns within a bounded time.
  it.effect(
    "closing serve's Scope with thousands of connections queued stops accepting at once: handlers start for a bounded few, not the whole queue",
    () =>
      Effect.gen(function*() {
        const queued = 5000
        const listener = yield* Net.listen("tcp", "127.0.0.1:0", { backlog: 2 * queued })
        for (let i = 0; i < queued; i++) yield* Net.dial("tcp", listener.address)
        let started = 0
        const scope = yield* Scope.make()
        yield* Scope.extend(
          Net.serve(listener, () => Effect.zipRight(Effect.sync(() => started++), Effect.never)),
          scope
        )
        while (started < 1) yield* Effect.yieldNow()
        const atClose = started
        yield* Scope.close(scope, Exit.void)
        // handlers started after the close began: bounded, not the whole queue
        expect(started - atClose).toBeLessThan(1000)
      }).pipe(Effect.scoped, Effect.provide(MemoryNet.layer)),
    timeout
  )
})
