import type { NetError } from "@vvnet/core"
import type { Cause } from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as FiberStatus from "effect/FiberStatus"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Scope from "effect/Scope"

/** @internal What `owned` runs: an attempt that holds its resource from the start. */
export interface Attempt<A, E> {
  readonly run: Effect.Effect<A, E>
  dispose(): void
}

/**
 * @internal
 * Runs an attempt (interruptibly) and hands what it made to the caller's Scope. The attempt
 * object holds its socket from the start, so whatever ends the run (success, failure, or an
 * interruption arriving even after the socket connected) disposes of it or leaves it owned by
 * the Scope: no window leaks a socket, and a failed attempt leaves nothing in the Scope.
 */
export const owned = <A, E = NetError.NetError>(attempt: Attempt<A, E>): Effect.Effect<A, E, Scope.Scope> =>
  Effect.withFiberRuntime((fiber, status) => ownedIn(fiber, status, attempt))

/**
 * @internal
 * `owned` for a caller already running in `Effect.withFiberRuntime` (a dial, on every
 * connection's path): the Scope is read from the fiber's context, and the caller's
 * interruptibility read from its status replaces `uninterruptibleMask` (one step fewer).
 */
export const ownedIn = <A, E>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  status: FiberStatus.Running,
  attempt: Attempt<A, E>
): Effect.Effect<A, E, Scope.Scope> => {
  const scope = Context.unsafeGet(fiber.currentContext, Scope.Scope)
  // one match frame in an uninterruptible region (what `onExit` would wrap once more)
  const handlers = {
    onFailure: (cause: Cause<E>) => Effect.zipRight(Effect.sync(() => attempt.dispose()), Effect.failCause(cause)),
    onSuccess: (made: A) => Effect.as(Scope.addFinalizer(scope, Effect.sync(() => attempt.dispose())), made)
  }
  return RuntimeFlags.interruption(status.runtimeFlags)
    ? Effect.uninterruptible(Effect.matchCauseEffect(Effect.interruptible(attempt.run), handlers))
    : Effect.matchCauseEffect(attempt.run, handlers) // already uninterruptible: the run stays so
}
