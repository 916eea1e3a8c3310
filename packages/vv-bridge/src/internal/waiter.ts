/**
 * @internal
 * One task waiting on a channel or a mutex: settled once, by a value (a sender, a receiver, an
 * unlock, a timer) or by a failure (the bridge's dispose). Settling runs the cleanups (leave the
 * wait queues, cancel the timer) before the promise resolves. Everything happens synchronously
 * at the native call, so waits are queued in call order.
 */
export class Waiter<A> {
  readonly promise: Promise<A>
  private done = false
  private resolve!: (a: A) => void
  private reject!: (error: unknown) => void
  private readonly cleanups: Array<() => void> = []

  constructor() {
    this.promise = new Promise<A>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }

  get isWaiting(): boolean {
    return !this.done
  }

  /** Runs `f` when the wait ends, however it ends. */
  onSettle(f: () => void): void {
    if (this.done) f()
    else this.cleanups.push(f)
  }

  /** Ends the wait with `a`; false when it already ended. */
  settle(a: A): boolean {
    if (!this.finish()) return false
    this.resolve(a)
    return true
  }

  /** Ends the wait with `error`; false when it already ended. */
  fail(error: unknown): boolean {
    if (!this.finish()) return false
    this.reject(error)
    return true
  }

  private finish(): boolean {
    if (this.done) return false
    this.done = true
    for (const f of this.cleanups.splice(0)) f()
    return true
  }
}
