import type { NetError } from "@vvnet/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"

/**
 * @internal
 * Runs an attempt (interruptibly) and hands what it made to the caller's Scope. The attempt
 * object holds its socket from the start, so whatever ends the run (success, failure, or an
 * interruption arriving even after the socket connected) disposes of it or leaves it owned by
 * the Scope: no window leaks a socket, and a failed attempt leaves nothing in the Scope.
 */
export const owned = <A, E = NetError.NetError>(
  attempt: { readonly run: Effect.Effect<A, E>; dispose(): void }
): Effect.Effect<A, E, Scope.Scope> =>
  // the Scope read from the fiber's context in one step (what `Effect.scope` plus a flatMap do in three)
  Effect.withFiberRuntime((fiber) => {
    const scope = Context.unsafeGet(fiber.currentContext, Scope.Scope)
    // one match frame in an uninterruptible region (what `onExit` would wrap once more)
    return Effect.uninterruptibleMask((restore) =>
      Effect.matchCauseEffect(restore(attempt.run), {
        onFailure: (cause) => Effect.zipRight(Effect.sync(() => attempt.dispose()), Effect.failCause(cause)),
        onSuccess: (made) => Effect.as(Scope.addFinalizer(scope, Effect.sync(() => attempt.dispose())), made)
      })
    )
  })
