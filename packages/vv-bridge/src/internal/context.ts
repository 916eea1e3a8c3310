import type * as Net from "@vvnet/core/Net"
import type * as Effect from "effect/Effect"
import type * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import type { Host } from "../Host.js"
import type { Call } from "./call.js"
import type { Waiter } from "./waiter.js"

/**
 * @internal
 * What the natives of one bridge share: the host, the root Scope every connection and listener
 * lives in, the FiberSet of every fiber the bridge runs (natives in flight, accept loops,
 * handlers), and the way to run an Effect on the bridge's runtime.
 */
export interface NativeContext<V> {
  readonly host: Host<V>
  /**
   * Starts a call into vv code (a handler): the `Call` is the host call's options; its `signal`
   * is aborted by `dispose` unless `endCall` came first.
   */
  readonly beginCall: () => Call
  /** Ends a call `beginCall` started. */
  readonly endCall: (call: Call) => void
  /** Parent of each connection's and listener's own Scope; closed by `dispose`. */
  readonly root: Scope.Scope
  /** Every fiber of the bridge; interrupted by `dispose`. */
  readonly fibers: FiberSet.FiberSet<unknown, unknown>
  /**
   * Runs `effect` on the bridge's runtime, synchronously as far as it goes: its value at once
   * when it completed without waiting; otherwise a promise of it, while the fiber goes on as a
   * tracked fiber of the bridge. Throws `VvRuntimeError` when the bridge is disposed; the
   * promise rejects with one when the fiber is interrupted by `dispose` or dies (a bridge
   * defect, or a `Net` layer that failed to build; a promise then even when it died at once).
   */
  readonly run: <A>(native: string, effect: Effect.Effect<A, never, Net.Net>) => A | Promise<A>
  /** Runs `effect` in the background as a tracked fiber (the accept loop). */
  readonly fork: (native: string, effect: Effect.Effect<void, never, Net.Net>) => void
  /**
   * Tracks a waiting channel or mutex operation and returns its promise; `dispose` fails it
   * with `VvRuntimeError`.
   */
  readonly wait: <A>(native: string, waiter: Waiter<A>) => Promise<A>
  /**
   * The `Net` service of the bridge's layer, for `Net.dialCallback`: built on first use when the
   * layer builds without waiting; `undefined` when it does not (or fails to build), and the
   * natives then run through `run`, which reports a failed layer.
   */
  readonly netService: () => Net.Net["Type"] | undefined
  /** Whether `dispose` has begun. */
  readonly isDisposed: () => boolean
  /** Throws `VvRuntimeError` when the bridge is disposed. */
  readonly ensureOpen: (native: string) => void
}
