import * as Effect from "effect/Effect"

/** @internal How a waiting fiber is resumed: the `resume` that `Effect.async` hands its register function. */
export type Resume<A, E> = (effect: Effect.Effect<A, E>) => void

/**
 * Waiters left by interrupted fibers are swept (woken, see `WaitList`) once this many wait on
 * one condition of one connection.
 */
const sweepAt = 64

/**
 * @internal
 * Fibers waiting for one condition of a connection or listener (readable, drained, acceptable), woken all at once; each
 * re-checks its condition when it runs and waits again if it still does not hold.
 *
 * A waiter is the bare `resume` of an `Effect.async` registered with no canceler, because an
 * `Effect.async` with one wraps every wait in `onInterrupt` (an uninterruptible region, a match
 * frame and a finalizer): measured, that was the largest cost of a blocking read or write, and
 * its garbage outlived young-generation collections. The price: an interrupted fiber's waiter
 * stays in the list until the next wake-up, where resuming it does nothing (Effect ignores a
 * resume after the fiber left the wait). So that reads repeatedly interrupted on a silent
 * connection (a `timeout` around `read`, in a loop) cannot pile them up, `add` sweeps: once
 * the list is long, it wakes every waiter; live ones wait again, stale ones are gone. "Long"
 * is `sweepAt`, or twice the waiters that ran again since the last wake-up, so many fibers
 * genuinely waiting at once are not woken over and over.
 */
export class WaitList {
  /** The usual case, one waiter, in a field: an array's first push reserves room for 17. */
  private one: Resume<void, never> | undefined = undefined
  /** Further waiters, when several fibers wait at once. */
  private more: Array<Resume<void, never>> | undefined = undefined
  /** Waiters that ran (and re-checked) since the last wake-up: live ones. */
  rechecked = 0

  add(resume: Resume<void, never>): void {
    if (this.one === undefined) {
      this.one = resume
      return
    }
    const more = this.more
    if (more !== undefined && more.length + 1 >= sweepAt && more.length + 1 >= 2 * this.rechecked) {
      this.wakeAll()
      // a waiter woken synchronously (a `Conn.whenReadable` callback) may have waited again
      // within the sweep: join the list after it rather than take its place
      if (this.one === undefined) {
        this.one = resume
        return
      }
    }
    ;(this.more ??= []).push(resume)
  }

  wakeAll(): void {
    const one = this.one
    if (one === undefined) return
    const more = this.more
    this.one = undefined
    this.more = undefined
    this.rechecked = 0
    one(Effect.void)
    if (more !== undefined) { for (let i = 0; i < more.length; i++) more[i]!(Effect.void) }
  }
}
