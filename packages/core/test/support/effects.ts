import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as NetError from "../../src/NetError.js"

const decoder = new TextDecoder()

/** UTF-8 text of bytes. */
export const text = (b: Uint8Array): string => decoder.decode(b)

/** The outcome of an Exit: "success", the NetError's tag, or the cause's tag (Die, Interrupt). */
export const tagOf = <A, E>(exit: Exit.Exit<A, E>): string =>
  Exit.isSuccess(exit)
    ? "success"
    : exit.cause._tag === "Fail"
    ? String((exit.cause.error as { readonly _tag?: unknown })._tag)
    : exit.cause._tag

/** The typed failure of an Exit; throws for a success or an untyped cause. */
export const failure = <A>(exit: Exit.Exit<A, NetError.NetError>): NetError.NetError => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  if (exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${exit.cause._tag}`)
  return exit.cause.error
}

/**
 * Lets every runnable fiber and callback run: several turns of the real event loop (Effect's
 * scheduler uses microtasks and, now and then, a timer). Needed under TestClock, where
 * `Effect.sleep` does not advance real time.
 */
export const flush: Effect.Effect<void> = Effect.promise(() =>
  new Promise<void>((resolve) => {
    let turns = 0
    const turn = () => (++turns >= 3 ? resolve() : setTimeout(() => setImmediate(turn), 0))
    setImmediate(turn)
  })
)

/** Whether the fiber is still running. */
export const isPending = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.map(Fiber.poll(fiber), Option.isNone)

/** Waits (event-loop turns, not clock time) until `fiber` is done, at most `turns` turns; its Exit. */
export const settled = <A, E>(fiber: Fiber.Fiber<A, E>, turns = 100) =>
  Effect.gen(function*() {
    for (let i = 0; i < turns; i++) {
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) return done.value
      yield* flush
    }
    return yield* Effect.dieMessage(`fiber still running after ${turns} turns of the event loop`)
  })

/** Waits (event-loop turns, not clock time) until `check()` holds, at most `turns` turns. */
export const eventually = (check: () => boolean, turns = 100) =>
  Effect.gen(function*() {
    for (let i = 0; i < turns && !check(); i++) yield* flush
  })
