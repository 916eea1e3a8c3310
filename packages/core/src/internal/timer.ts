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

/** @internal The host's timers (setTimeout), for real networks. */
export const liveTimer: Timer = {
  schedule(ms, f) {
    let handle: ReturnType<typeof setTimeout>
    const arm = (remaining: number) => {
      handle = setTimeout(() => remaining > maxDelay ? arm(remaining - maxDelay) : f(), Math.min(remaining, maxDelay))
    }
    arm(ms)
    return () => clearTimeout(handle)
  }
}

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
