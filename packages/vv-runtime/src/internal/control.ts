/**
 * Control signals of the evaluator: what statements complete with (`break`, `continue`,
 * `return`, a tail call), what `try` and a stopped task unwind with, and the maybe-async
 * plumbing every step shares.
 *
 * - `break`/`continue`/`return` are completion values returned by statements;
 * - `try` of an error result throws `TryUnwind`, caught by the enclosing function (which returns
 *   the error record) or reported as an unhandled error at module top level and in tests;
 * - a task stopped by its host throws `Cancelled`;
 * - runtime errors are `VvError`s (see `Errors.ts`); nothing catches them.
 */
import type { VvValue } from "../Values.js"
import type { Closure } from "./functions.js"

/** A value now, or a promise of it when a step had to wait. */
export type MaybePromise<A> = A | Promise<A>

export const isPromise = <A>(u: MaybePromise<A>): u is Promise<A> => u instanceof Promise

/** What a call returns when the function ended without `return`: using it is an error. */
export const VOID: unique symbol = Symbol("vv.void")
export type Result = VvValue | typeof VOID

/** `return f(x)` in a function: the caller's loop makes the call (a tail call). */
export class TailCall {
  constructor(readonly fn: Closure, readonly args: ReadonlyArray<VvValue>) {}
}

export const BREAK = 1 as const
export const CONTINUE = 2 as const

/** `return` (with its value, or a tail call to make). */
export class Returned {
  constructor(readonly value: Result | TailCall) {}
}

/** How a statement ended: normally (`undefined`), by `break`, `continue` or `return`. */
export type Completion = undefined | typeof BREAK | typeof CONTINUE | Returned

/**
 * `try` of an error result: unwinds to the enclosing function, which returns `result`.
 * Not an `Error`: it is control flow and needs no stack.
 */
export class TryUnwind {
  constructor(readonly result: VvValue, readonly location: string) {}
}

/** Thrown when a task's signal aborted (its bridge was disposed): the task stops. */
export class Cancelled {
  static readonly instance = new Cancelled()
}

/**
 * How grave a way of leaving a scope is: normal < `try` unwind < runtime error < cancelled.
 * A deferred statement's failure replaces the scope's own only when it is graver.
 */
export const rank = (e: unknown): number =>
  e === undefined ? 0 : e instanceof TryUnwind ? 1 : e instanceof Cancelled ? 3 : 2

/** A function body's `try` unwind becomes the function's result. */
export const catchTry = (error: unknown): VvValue => {
  if (error instanceof TryUnwind) return error.result
  throw error
}

/** What a function body's completion makes the call return. */
export const completionValue = (c: Completion): Result | TailCall => c instanceof Returned ? c.value : VOID

/** The detail of a JavaScript `RangeError` (stack overflow) met while walking a value. */
export const tooDeep = "stack overflow: a value nested too deeply, or one that contains itself"
