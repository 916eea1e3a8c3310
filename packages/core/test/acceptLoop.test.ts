/**
 * What `Net.serve`'s accept loop promises (issue 11), on a listener fed by hand through the
 * Transport seam so that every accept outcome is chosen by the test: a finished handler's
 * permit comes back, the back-off starts over after a success, every transient accept error is
 * retried, and `handlerOwnsConnection` leaves the connection to the handler; and what
 * `Net.serveCallback`, the same loop with a plain callback per connection, promises.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import type * as Conn from "../src/Conn.js"
import * as Net from "../src/Net.js"
import * as Transport from "../src/Transport.js"
import { flush } from "./support/effects.js"
import { captureLogs } from "./support/logs.js"

/** A connection whose transport only records whether it was closed. */
const fakeConn = () => {
  const state = { closed: false }
  const { conn } = Transport.makeConn({
    network: "tcp",
    localAddress: "127.0.0.1:9000",
    remoteAddress: "127.0.0.1:50000",
    write: () => true,
    closeWrite: (done) => done(),
    pause: () => {},
    resume: () => {},
    close: () => {
      state.closed = true
    }
  })
  return { conn, state }
}

const fakeListener = () => Transport.makeListener({ network: "tcp", address: "127.0.0.1:9000", close: () => {} })

describe("serve's accept loop", () => {
  it.scoped("a finished handler's permit comes back: clients beyond the concurrency bound are all served", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      const served = yield* Ref.make(0)
      yield* Net.serve(listener, () => Ref.update(served, (n) => n + 1), { concurrency: 2 })
      for (let i = 0; i < 7; i++) acceptor.push(fakeConn().conn)
      for (let i = 0; i < 20; i++) yield* flush
      expect(yield* Ref.get(served)).toBe(7)
    }))

  it.scoped("a failed accept returns its permit: at concurrency 1, clients after accept errors are served", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      const served = yield* Ref.make(0)
      yield* Net.serve(listener, () => Ref.update(served, (n) => n + 1), {
        concurrency: 1,
        onAcceptError: () => Effect.void
      })
      for (let round = 0; round < 3; round++) {
        acceptor.fail({ code: "ECONNABORTED", syscall: "accept" })
        for (let i = 0; i < 10; i++) yield* flush
        yield* TestClock.adjust(1000)
        for (let i = 0; i < 10; i++) yield* flush
      }
      for (let i = 0; i < 3; i++) acceptor.push(fakeConn().conn)
      for (let i = 0; i < 20; i++) yield* flush
      expect(yield* Ref.get(served)).toBe(3)
    }))

  it.scoped("the back-off doubles on consecutive errors and starts over after a success", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      const retries: Array<number> = []
      const served = yield* Ref.make(0)
      yield* Net.serve(listener, () => Ref.update(served, (n) => n + 1), {
        onAcceptError: (_error, retryMillis) => Effect.sync(() => retries.push(retryMillis))
      })
      const failOnce = (code: string) =>
        Effect.gen(function*() {
          acceptor.fail({ code, syscall: "accept" })
          for (let i = 0; i < 5; i++) yield* flush
          yield* TestClock.adjust(retries[retries.length - 1] ?? 0)
          for (let i = 0; i < 5; i++) yield* flush
        })
      yield* failOnce("EMFILE")
      yield* failOnce("EMFILE")
      yield* failOnce("EMFILE")
      expect(retries).toEqual([5, 10, 20])
      acceptor.push(fakeConn().conn)
      for (let i = 0; i < 5; i++) yield* flush
      expect(yield* Ref.get(served)).toBe(1)
      yield* failOnce("EMFILE")
      expect(retries).toEqual([5, 10, 20, 5])
    }))

  it.scoped("every transient accept error is retried, not only TooManyOpenFiles", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      const codes: Array<string> = []
      const served = yield* Ref.make(0)
      yield* Net.serve(listener, () => Ref.update(served, (n) => n + 1), {
        onAcceptError: (error, retryMillis) =>
          Effect.zipRight(Effect.sync(() => codes.push(error.code ?? error._tag)), TestClock.adjust(retryMillis))
      })
      for (const code of ["ECONNABORTED", "ENFILE", "ENOBUFS", "ENOMEM", "EPROTO", "EPERM", "EWHATEVER"]) {
        acceptor.fail({ code, syscall: "accept" })
        for (let i = 0; i < 10; i++) yield* flush
        yield* TestClock.adjust(1000)
        for (let i = 0; i < 10; i++) yield* flush
        acceptor.push(fakeConn().conn)
        for (let i = 0; i < 10; i++) yield* flush
      }
      expect(codes).toEqual(["ECONNABORTED", "ENFILE", "ENOBUFS", "ENOMEM", "EPROTO", "EPERM", "EWHATEVER"])
      expect(yield* Ref.get(served)).toBe(7)
    }))

  it.scoped("handlerOwnsConnection: the connection outlives its handler, unless the handler is interrupted", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      const scope = yield* Scope.make()
      const release = yield* Deferred.make<void>()
      yield* Scope.extend(
        Net.serve(
          listener,
          (conn) =>
            conn.remoteAddress === "done"
              ? Effect.void
              : conn.remoteAddress === "fails"
              ? Effect.fail("on purpose")
              : conn.remoteAddress === "inner"
              // a failure whose cause holds an interruption of the handler's own child fiber
              ? Effect.all([Effect.fail("on purpose"), Effect.never], { concurrency: 2 })
              : Deferred.await(release),
          { handlerOwnsConnection: true, shutdownTimeout: 0 }
        ),
        scope
      )
      const make = (remoteAddress: string) => {
        const made = fakeConn()
        Object.defineProperty(made.conn, "remoteAddress", { value: remoteAddress })
        return made
      }
      const done = make("done")
      const fails = make("fails")
      const waiting = make("waiting")
      const inner = make("inner")
      for (const c of [done, fails, waiting, inner]) acceptor.push(c.conn)
      for (let i = 0; i < 10; i++) yield* flush
      expect(done.state.closed).toBe(false)
      expect(fails.state.closed).toBe(false)
      expect(waiting.state.closed).toBe(false)
      expect(inner.state.closed).toBe(false)
      yield* Scope.close(scope, Exit.void)
      // the interrupted handler's connection is closed; the others belong to their handlers
      expect(waiting.state.closed).toBe(true)
      expect(done.state.closed).toBe(false)
      expect(fails.state.closed).toBe(false)
    }))

  it.scoped("by default serve closes the connection when its handler ends", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      yield* Net.serve(listener, () => Effect.void)
      const c = fakeConn()
      acceptor.push(c.conn)
      for (let i = 0; i < 10; i++) yield* flush
      expect(c.state.closed).toBe(true)
    }))

  it.scoped("handlerOwnsConnection and onAcceptError are validated", () =>
    Effect.gen(function*() {
      const { listener } = fakeListener()
      const bad = [
        { handlerOwnsConnection: "yes" as unknown as boolean },
        { onAcceptError: 5 as unknown as Net.ServeOptions["onAcceptError"] }
      ]
      for (const options of bad) {
        const exit = yield* Effect.exit(Net.serve(listener, () => Effect.void, options))
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error._tag : "success").toBe(
          "InvalidArgument"
        )
      }
    }))
})

describe("serveCallback", () => {
  it.scoped("calls back once per connection, in order, and leaves each connection open to its owner", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      const seen: Array<Conn.Conn> = []
      yield* Net.serveCallback(listener, (conn) => {
        seen.push(conn)
      })
      const made = Array.from({ length: 5 }, fakeConn)
      for (const c of made) acceptor.push(c.conn)
      for (let i = 0; i < 10; i++) yield* flush
      expect(seen).toEqual(made.map((c) => c.conn))
      expect(made.map((c) => c.state.closed)).toEqual([false, false, false, false, false])
    }))

  it.scoped("the callback runs on the loop's fiber, synchronously: a connection queued behind waits for it", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      const order: Array<string> = []
      yield* Net.serveCallback(listener, (conn) => {
        order.push(`start ${conn.remoteAddress}`)
        order.push(`end ${conn.remoteAddress}`)
      })
      const a = fakeConn()
      const b = fakeConn()
      Object.defineProperty(a.conn, "remoteAddress", { value: "a" })
      Object.defineProperty(b.conn, "remoteAddress", { value: "b" })
      acceptor.push(a.conn)
      acceptor.push(b.conn)
      for (let i = 0; i < 10; i++) yield* flush
      expect(order).toEqual(["start a", "end a", "start b", "end b"])
    }))

  it.effect("a callback that throws has its connection closed and is logged at Error; the loop goes on", () => {
    const { layer, logged } = captureLogs("vvnet serveCallback:")
    return Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      const served: Array<string> = []
      yield* Net.serveCallback(listener, (conn) => {
        if (conn.remoteAddress === "bad") throw new Error("on purpose")
        served.push(conn.remoteAddress)
      })
      const bad = fakeConn()
      Object.defineProperty(bad.conn, "remoteAddress", { value: "bad" })
      const good = fakeConn()
      acceptor.push(bad.conn)
      acceptor.push(good.conn)
      for (let i = 0; i < 10; i++) yield* flush
      expect(bad.state.closed).toBe(true)
      expect(good.state.closed).toBe(false)
      expect(served).toEqual(["127.0.0.1:50000"])
      expect(logged).toHaveLength(1)
      expect(logged[0]!.level).toBe("Error")
      expect(logged[0]!.message).toBe("vvnet serveCallback: onConnection threw; its connection is closed")
      expect(Cause.squash(logged[0]!.cause)).toEqual(new Error("on purpose"))
      expect(logged[0]!.annotations).toEqual({ remoteAddress: "bad", localAddress: "127.0.0.1:9000" })
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.scoped("closing the Scope stops accepting; connections handed over stay open", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      const scope = yield* Scope.make()
      let calls = 0
      yield* Scope.extend(
        Net.serveCallback(listener, () => {
          calls++
        }),
        scope
      )
      const before = fakeConn()
      acceptor.push(before.conn)
      for (let i = 0; i < 10; i++) yield* flush
      expect(calls).toBe(1)
      yield* Scope.close(scope, Exit.void)
      const after = fakeConn()
      acceptor.push(after.conn)
      for (let i = 0; i < 10; i++) yield* flush
      expect(calls).toBe(1)
      expect(before.state.closed).toBe(false)
      // still queued in the listener, which closes it when the listener closes
      expect(after.state.closed).toBe(false)
      yield* listener.close
      expect(after.state.closed).toBe(true)
    }))

  it.scoped("closing the Scope with connections queued stops before the next one, not after the queue", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = Transport.makeListener(
        { network: "tcp", address: "127.0.0.1:9000", close: () => {} },
        { backlog: 10_000 }
      )
      const scope = yield* Scope.make()
      let calls = 0
      let closing: Fiber.RuntimeFiber<void> | undefined
      yield* Scope.extend(
        Net.serveCallback(listener, () => {
          // the close begins while the loop runs through a queue that never makes it wait
          if (++calls === 10) closing = Effect.runFork(Scope.close(scope, Exit.void))
        }),
        scope
      )
      const queued = Array.from({ length: 5_000 }, fakeConn)
      for (const c of queued) acceptor.push(c.conn)
      for (let i = 0; i < 20 && closing === undefined; i++) yield* flush
      yield* Fiber.join(closing!)
      for (let i = 0; i < 10; i++) yield* flush
      expect(calls).toBe(10)
      // the rest are still the listener's, closed with it
      yield* listener.close
      expect(queued.slice(10).every((c) => c.state.closed)).toBe(true)
    }))

  it.scoped("transient accept errors are reported with the back-off and retried; the loop ends when the listener closes", () =>
    Effect.gen(function*() {
      const { acceptor, listener } = fakeListener()
      const retries: Array<string> = []
      let calls = 0
      const scope = yield* Effect.scope
      const fiber = yield* Effect.forkIn(
        Effect.scoped(Effect.zipRight(
          Net.serveCallback(listener, () => {
            calls++
          }, {
            onAcceptError: (error, retryMillis) => Effect.sync(() => retries.push(`${error.code} ${retryMillis}`))
          }),
          Effect.never
        )),
        scope
      )
      for (const code of ["EMFILE", "ENFILE"]) {
        acceptor.fail({ code, syscall: "accept" })
        for (let i = 0; i < 5; i++) yield* flush
        yield* TestClock.adjust(1000)
        for (let i = 0; i < 5; i++) yield* flush
      }
      expect(retries).toEqual(["EMFILE 5", "ENFILE 10"])
      acceptor.push(fakeConn().conn)
      for (let i = 0; i < 5; i++) yield* flush
      expect(calls).toBe(1)
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("onConnection and onAcceptError are validated", () =>
    Effect.gen(function*() {
      const { listener } = fakeListener()
      const bad: Array<[unknown, Net.ServeCallbackOptions | undefined]> = [
        ["not a function", undefined],
        [() => {}, { onAcceptError: 5 as unknown as Net.ServeCallbackOptions["onAcceptError"] }]
      ]
      for (const [callback, options] of bad) {
        const exit = yield* Effect.exit(
          Net.serveCallback(listener, callback as (conn: Conn.Conn) => void, options)
        )
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error._tag : "success").toBe(
          "InvalidArgument"
        )
      }
    }))
})
