import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"

/** @internal Schedules a callback after `ms` milliseconds; the returned function cancels it. */
export interface Timer {
  readonly schedule: (ms: number, f: () => void) => () => void
}

/** @internal setTimeout's upper bound; longer delays are chained. */
const maxDelay = 2 ** 31 - 1

/**
 * @internal Calls `f` after `ms` milliseconds on the host's timers (setTimeout), chaining
 * setTimeout's 2^31 - 1 ms bound for longer delays; `unref` keeps the timer from holding the
 * process open. The result cancels it.
 */
export const scheduleLive = (ms: number, f: () => void, unref = false): () => void => {
  let handle: ReturnType<typeof setTimeout>
  const arm = (remaining: number) => {
    handle = setTimeout(() => remaining > maxDelay ? arm(remaining - maxDelay) : f(), Math.min(remaining, maxDelay))
    if (unref && typeof (handle as { unref?: unknown }).unref === "function") (handle as { unref(): void }).unref()
  }
  arm(ms)
  return () => clearTimeout(handle)
}

/** @internal The host's timers (setTimeout), for real networks. */
export const liveTimer: Timer = { schedule: (ms, f) => scheduleLive(ms, f) }

/** @internal Timers on an Effect Clock, so that TestClock drives them. */
export const clockTimer = (clock: Clock.Clock): Timer => ({
  schedule(ms, f) {
    const fiber = Effect.runFork(clock.sleep(Duration.millis(ms)))
    fiber.addObserver((exit) => {
      if (Exit.isSuccess(exit)) f()
    })
    return () => fiber.unsafeInterruptAsFork(FiberId.none)
  }
})
