/**
 * @internal
 * vvnet's one accept loop, shared by `Net.serve` (a fiber per connection) and
 * `Net.serveCallback` (a plain callback per connection, for hosts outside Effect). What the two
 * differ in is `register`: what happens to a connection once it is taken.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { Conn } from "../Conn.js"
import type { Listener } from "../Listener.js"
import type * as NetError from "../NetError.js"
import { type Takeable, TakeTypeId } from "./listener.js"

/** Go's net/http accept back-off: 5 ms, doubling, at most 1 s. */
const backoffStart = 5
const backoffMax = 1000

/** @internal What the loop needs besides the listener and `register`. */
export interface AcceptLoopOptions {
  /** Taken before each accept and given back when the accept fails; `release` gives one back. */
  readonly permits?: { readonly take: Effect.Effect<void>; readonly release: Effect.Effect<void> } | undefined
  /** Reports a transient accept error before the retry after `retryMillis` ms; must not fail. */
  readonly onAcceptError?: ((error: NetError.NetError, retryMillis: number) => Effect.Effect<void>) | undefined
  /** The prefix of the default warning: `"vvnet serve"`. */
  readonly logPrefix: string
}

/**
 * @internal
 * Accepts until the listener closes (or the fiber is interrupted), handing every connection to
 * `register` without an interruption point between taking it and `register` (so an interrupted
 * loop drops no connection). The loop runs in one uninterruptible region where only waiting (for
 * a permit, a connection or a back-off) is interruptible, and there is one interruption point
 * between two connections, so a loop with connections queued still stops at once. Transient
 * accept errors are reported and retried after a back-off (5 ms doubling to 1 s). Runs with no
 * Scope of its own: a listener not built by the engine accepts into a Scope that `register`'s
 * success leaves to whoever took the connection.
 */
export const acceptLoop = <R>(
  listener: Listener,
  register: (conn: Conn) => Effect.Effect<void, never, R>,
  options: AcceptLoopOptions
): Effect.Effect<void, never, R> =>
  Effect.uninterruptibleMask((restore) => {
    const engine = TakeTypeId in listener ? (listener as unknown as Takeable) : undefined
    // one take effect made once, rather than one per connection
    const take = engine !== undefined
      ? engine[TakeTypeId](restore, register)
      : Effect.flatMap(Scope.make(), (scope) =>
        Effect.matchCauseEffect(restore(Scope.extend(listener.accept, scope)), {
          // the connection's close is in `scope` until it is registered
          onFailure: (cause) => Effect.zipRight(Scope.close(scope, Exit.void), Effect.failCause(cause)),
          onSuccess: register
        }))
    const permits = options.permits
    const acceptOne = permits === undefined
      ? take
      : Effect.zipRight(restore(permits.take), Effect.tapErrorCause(take, () => permits.release))
    const onAcceptError = options.onAcceptError
    const retry = (error: NetError.NetError, delay: number): Effect.Effect<void, never, R> => {
      if (error._tag === "Closed") return Effect.void
      const next = delay === 0 ? backoffStart : Math.min(delay * 2, backoffMax)
      const report = onAcceptError !== undefined
        ? Effect.catchAllCause(Effect.suspend(() => onAcceptError(error, next)), () => Effect.void)
        : Effect.logWarning(`${options.logPrefix}: ${error.message}; retrying in ${next} ms`)
      return Effect.zipRight(
        restore(Effect.zipRight(report, Effect.sleep(Duration.millis(next)))),
        Effect.suspend(() => acceptFrom(next))
      )
    }
    const acceptFrom = (delay: number): Effect.Effect<void, never, R> =>
      delay === 0 ? steady : Effect.matchEffect(acceptOne, {
        onSuccess: () => next,
        onFailure: (error) => retry(error, delay)
      })
    // An interruption point between two connections: with connections queued, taking never
    // waits, and an interrupted loop would otherwise go on until the whole queue was registered.
    const next: Effect.Effect<void, never, R> = Effect.zipRight(restore(Effect.void), Effect.suspend(() => steady))
    // the loop once accepting works: the same effect for every connection
    const steady: Effect.Effect<void, never, R> = Effect.matchEffect(acceptOne, {
      onSuccess: () => next,
      onFailure: (error) => retry(error, 0)
    })
    return steady
  })
