/**
 * The natives of `std/sync.vv`: mutexes, for state shared by concurrent accept handlers.
 *
 * | native       | result                                                                 |
 * | ------------ | ---------------------------------------------------------------------- |
 * | `mutex()`    | an unlocked mutex (userdata)                                           |
 * | `lock(m)`    | none, once the mutex is this task's (blocks while another task holds it) |
 * | `unlock(m)`  | none; unlocking an unlocked mutex is a runtime error                   |
 *
 * As Go's `sync.Mutex`: not reentrant (a task locking a mutex it holds waits forever), and
 * any task may unlock it. Waiting lockers get the mutex first come, first served; `unlock`
 * hands it straight to the next one.
 *
 * @since 0.1.0
 */
import type { Native } from "./Host.js"
import { VvRuntimeError } from "./Host.js"
import { type Args, defineNative, type Handle } from "./internal/args.js"
import type { NativeContext } from "./internal/context.js"
import { Waiter } from "./internal/waiter.js"

/**
 * The logical module path these natives are registered under.
 *
 * @since 0.1.0
 * @category constants
 */
export const modulePath = "std/sync.vv"

/**
 * The text of `std/sync.vv`: the extern declarations of the natives.
 *
 * @since 0.1.0
 * @category constants
 */
export const source = `/// std/sync: mutexes for state shared between tasks.

/// A new, unlocked mutex.
pub extern "native" fun mutex()
/// Locks m, waiting while another task holds it; returns none.
pub extern "native" fun lock(m)
/// Unlocks m; returns none. Unlocking an unlocked mutex is a runtime error.
pub extern "native" fun unlock(m)
`

/**
 * The handle inside a mutex's userdata.
 *
 * @since 0.1.0
 * @category models
 */
export class Mutex implements Handle {
  /**
   * What `sys.type` and messages call this userdata.
   *
   * @since 0.1.0
   */
  readonly vvType = "mutex"
  private held = false
  /** Waiting lockers; `grant` gives one the mutex, false when it no longer waits. */
  private readonly waiters: Array<() => boolean> = []

  /** Whether a task holds it. */
  get isLocked(): boolean {
    return this.held
  }

  /** @internal Takes the mutex when free. */
  tryLock(): boolean {
    if (this.held) return false
    this.held = true
    return true
  }

  /** @internal Waits for the mutex (the returned function stops waiting). */
  wait(grant: () => boolean): () => void {
    this.waiters.push(grant)
    return () => {
      const i = this.waiters.indexOf(grant)
      if (i >= 0) this.waiters.splice(i, 1)
    }
  }

  /** @internal Releases it, handing it to the first waiter; false when it was not locked. */
  unlock(): boolean {
    if (!this.held) return false
    while (this.waiters.length > 0) {
      if (this.waiters.shift()!()) return true
    }
    this.held = false
    return true
  }
}

/**
 * The natives of `std/sync.vv` for one bridge.
 *
 * @since 0.1.0
 * @category constructors
 */
export const natives = <V>(context: NativeContext<V>): ReadonlyMap<string, Native<V>> => {
  const { host } = context
  const define = (name: string, params: ReadonlyArray<string>, impl: (args: Args<V>) => V | Promise<V>) =>
    defineNative(host, context.ensureOpen, name, params, impl)
  const mutex = (args: Args<V>) => args.handle(0, Mutex, "a mutex")

  const list: ReadonlyArray<Native<V>> = [
    define("mutex", [], () => host.userdata(new Mutex())),
    define("lock", ["m"], (args) => {
      const m = mutex(args)
      if (m.tryLock()) return host.none()
      const waiter = new Waiter<V>()
      waiter.onSettle(m.wait(() => waiter.settle(host.none())))
      return context.wait("lock", waiter)
    }),
    define("unlock", ["m"], (args) => {
      if (!mutex(args).unlock()) throw new VvRuntimeError("unlock of an unlocked mutex", { native: "unlock" })
      return host.none()
    })
  ]
  return new Map(list.map((native) => [native.name, native]))
}
