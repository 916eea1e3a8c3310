import type { CallOptions } from "../Host.js"

/**
 * @internal
 * One call into vv code (a handler), as the options the host gets. Its `signal` is made on
 * first use: a host that never looks at it (a handler that returns at once, a host with no use
 * for cancellation) costs no AbortController, which Node builds at a few microseconds each.
 * `stop` (the bridge's `dispose`) aborts the signal, or makes it aborted from the start when it
 * is asked for later.
 */
export class Call implements CallOptions {
  private controller: AbortController | undefined = undefined
  private stopped = false

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.stopped) this.controller.abort()
    }
    return this.controller.signal
  }

  /** Whether `stop` was called: the bridge stopped listening to the call. */
  get isStopped(): boolean {
    return this.stopped
  }

  stop(): void {
    if (this.stopped) return
    this.stopped = true
    this.controller?.abort()
  }
}
