/**
 * Review findings on serve's accept loop (commit 46feb92: one uninterruptible region for the
 * whole loop, only waits interruptible).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as MemoryNet from "../src/MemoryNet.js"
import * as Net from "../src/Net.js"

describe("serve shutdown with connections queued", () => {
  // With connections waiting in the listener's queue, the loop takes one after another without
  // ever reaching an interruptible wait, so Fiber.interrupt(accepting) in shutdown waits until
  // the queue is empty: every queued connection gets a handler, whose body runs after the
  // Scope's close began, and the close takes time proportional to the queue (5000 queued:
  // ~250 ms here, 20000: ~1 s, every handler run; before 46feb92: ~20 ms and ~190 handlers,
  // whatever the queue). design.md §2: closing the scope stops accepting and returns within a
  // bounded time.
  it.skip(
    "BUG: closing serve's Scope drains the whole accept queue, starting a handler for every queued connection",
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
    60_000
  )
})
