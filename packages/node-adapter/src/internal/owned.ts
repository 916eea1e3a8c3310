import type { NetError } from "@vvnet/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"

/**
 * @internal
 * Runs an attempt (interruptibly) and hands what it made to the caller's Scope. The attempt
 * object holds its socket from the start, so whatever ends the run (success, failure, or an
 * interruption arriving even after the socket connected) disposes of it or leaves it owned by
 * the Scope: no window leaks a socket, and a failed attempt leaves nothing in the Scope.
 */
export const owned = <A, E = NetError.NetError>(attempt: { readonly run: Effect.Effect<A, E>; dispose(): void }) =>
  Effect.flatMap(
    Effect.scope,
    (scope) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.onExit(restore(attempt.run), (exit) => {
          const dispose = Effect.sync(() => attempt.dispose())
          return Exit.isSuccess(exit) ? Scope.addFinalizer(scope, dispose) : dispose
        })
      )
  )
