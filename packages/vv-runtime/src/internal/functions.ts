/**
 * Function values: `Closure` (a function made by vv code, with the scope it closes over) and
 * natives (`nativeFunction`), with the parameter names arity messages quote.
 */
import type * as Ast from "../Ast.js"
import type { SourceFile } from "../Ast.js"
import { VvFunction, type VvValue } from "../Values.js"
import type { MaybePromise } from "./control.js"
import type { Env } from "./env.js"

/**
 * What a closure needs to be called from the host: the evaluator's entry for calls that start
 * a new task (`Evaluator.callFromHost`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClosureCaller {
  readonly callFromHost: (fn: Closure, args: ReadonlyArray<VvValue>, signal: AbortSignal) => MaybePromise<VvValue>
}

/**
 * A function value made by vv code: a `fun` literal or declaration and the scope it closes
 * over. Calling it from the host (the bridge's `net.accept`) runs it as a new task.
 *
 * @since 0.1.0
 * @category models
 */
export class Closure extends VvFunction {
  /**
   * The `fun` literal or declaration.
   *
   * @since 0.1.0
   */
  readonly node: Ast.FunLit
  /**
   * The scope it closes over (by reference: later assignments are seen).
   *
   * @since 0.1.0
   */
  readonly env: Env
  /**
   * The file it was written in (for messages).
   *
   * @since 0.1.0
   */
  readonly source: SourceFile

  constructor(evaluator: ClosureCaller, node: Ast.FunLit, env: Env, source: SourceFile) {
    const ref: { self?: Closure } = {}
    super(node.name, node.params.length, (args, options) => evaluator.callFromHost(ref.self!, args, options.signal))
    ref.self = this
    this.node = node
    this.env = env
    this.source = source
  }
}

/**
 * The parameter names of native functions, for arity messages (`read expects 2 arguments
 * (conn, n), got 1`).
 *
 * @since 0.1.0
 * @category models
 */
export const paramNames = new WeakMap<VvFunction, ReadonlyArray<string>>()

/**
 * A native function value: `name`, its parameter names (the arity), and its implementation.
 * `params` undefined makes it variadic.
 *
 * @since 0.1.0
 * @category constructors
 */
export const nativeFunction = (
  name: string,
  params: ReadonlyArray<string> | undefined,
  impl: (args: ReadonlyArray<VvValue>, signal: AbortSignal) => MaybePromise<VvValue>
): VvFunction => {
  const fn = new VvFunction(name, params?.length, (args, options) => impl(args, options.signal))
  if (params !== undefined) paramNames.set(fn, params)
  return fn
}

/**
 * The message of a call with the wrong number of arguments, or `undefined` when the count is
 * right: `f expects 2 arguments (a, b), got 1`.
 */
export const arityMismatch = (fn: VvFunction, args: ReadonlyArray<VvValue>): string | undefined => {
  if (fn.arity === undefined || fn.arity === args.length) return undefined
  const names = fn instanceof Closure ? fn.node.params : paramNames.get(fn) ?? []
  const params = names.length > 0 ? ` (${names.join(", ")})` : ""
  const name = fn.name === "<anonymous>" ? "function" : fn.name
  return `${name} expects ${fn.arity} argument${fn.arity === 1 ? "" : "s"}${params}, got ${args.length}`
}
