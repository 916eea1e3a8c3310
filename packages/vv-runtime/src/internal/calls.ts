/**
 * Calls: arity checks, natives (their failures become located runtime errors), closures (a new
 * scope over the closed-over one, the depth limit, a fresh JavaScript stack when it runs deep)
 * and tail calls, made in a loop by the caller so they do not grow the stack.
 */
import { VvRuntimeError } from "@vvnet/vv-bridge"
import { VvError } from "../Errors.js"
import { describeKind, none, VvFunction, type VvValue } from "../Values.js"
import {
  Cancelled,
  catchTry,
  type Completion,
  completionValue,
  isPromise,
  type MaybePromise,
  type Result,
  TailCall,
  tooDeep,
  TryUnwind,
  VOID
} from "./control.js"
import { Env } from "./env.js"
import { arityMismatch, Closure } from "./functions.js"
import { runScope } from "./statements.js"
import { checkCancelled, type Ctx, fail, type Machine, maxNativeNesting, type Task } from "./task.js"

/** Calls a closure as the host does (a handler): a new task; no result is none. */
export const callFromHost = (
  machine: Machine,
  fn: Closure,
  args: ReadonlyArray<VvValue>,
  signal: AbortSignal
): MaybePromise<VvValue> => {
  const task: Task = { signal, depth: 0 }
  const r = callClosure(machine, fn, args, task, undefined)
  return isPromise(r) ? r.then((v) => v === VOID ? none() : v) : r === VOID ? none() : r
}

/** Fails when `args` does not match `fn`'s arity. */
export const arityCheck = (fn: VvFunction, args: ReadonlyArray<VvValue>, at: number, ctx: Ctx): void => {
  const mismatch = arityMismatch(fn, args)
  if (mismatch !== undefined) fail(mismatch, at, ctx)
}

/** What a native's failure becomes: a runtime error at the call. */
const nativeFailure = (error: unknown, fn: VvFunction, at: number, ctx: Ctx): unknown => {
  if (error instanceof VvError || error instanceof TryUnwind || error instanceof Cancelled) return error
  if (error instanceof VvRuntimeError) return new VvError(error.message, ctx.source.location(at))
  if (error instanceof RangeError) return new VvError(`${fn.name}: ${tooDeep}`, ctx.source.location(at))
  const message = error instanceof Error ? error.message : String(error)
  return new VvError(`${fn.name}: internal error: ${message}`, ctx.source.location(at))
}

/** Calls `fn` (a closure or a native) with `args` from vv code at `at`. */
export const invoke = (fn: VvValue, args: ReadonlyArray<VvValue>, at: number, ctx: Ctx): MaybePromise<Result> => {
  // the tasks the host starts (handlers), which carry no limit, follow the program's
  if (ctx.task.limit !== undefined) ctx.machine.limit = ctx.task.limit
  if (fn instanceof Closure) {
    arityCheck(fn, args, at, ctx)
    return callClosure(ctx.machine, fn, args, ctx.task, { at, ctx })
  }
  if (fn instanceof VvFunction) {
    arityCheck(fn, args, at, ctx)
    let r: MaybePromise<VvValue>
    try {
      r = fn.invoke(args, { signal: ctx.task.signal })
    } catch (error) {
      throw nativeFailure(error, fn, at, ctx)
    }
    if (isPromise(r)) {
      return r.then(
        (value) => {
          checkCancelled(ctx.task)
          return value
        },
        (error) => {
          throw nativeFailure(error, fn, at, ctx)
        }
      )
    }
    return r
  }
  return fail(`cannot call ${describeKind(fn)}`, at, ctx)
}

const callClosure = (
  machine: Machine,
  fn: Closure,
  args: ReadonlyArray<VvValue>,
  task: Task,
  site: { readonly at: number; readonly ctx: Ctx } | undefined
): MaybePromise<Result> => {
  const max = (task.limit ?? machine.limit).max
  if (task.depth >= max) {
    const detail = `call stack size overflow (max depth ${max})`
    if (site !== undefined) fail(detail, site.at, site.ctx)
    throw new VvError(detail, undefined)
  }
  const pause = machine.nesting >= maxNativeNesting ? Promise.resolve() : machine.maybeYield()
  if (pause !== undefined) return pause.then(() => callClosure(machine, fn, args, task, site))
  machine.nesting++
  task.depth++
  let r: MaybePromise<Result>
  try {
    r = runFunction(machine, fn, args, task)
  } catch (error) {
    task.depth--
    throw error
  } finally {
    machine.nesting--
  }
  if (isPromise(r)) {
    return r.then(
      (value) => {
        task.depth--
        return value
      },
      (error) => {
        task.depth--
        throw error
      }
    )
  }
  task.depth--
  return r
}

/**
 * Runs `fn`, and the tail calls it returns, in a loop. A loop of tail calls that never waits (on
 * natives that complete at once, or none) still yields to the event loop every ~10 ms.
 */
const runFunction = (machine: Machine, fn: Closure, args: ReadonlyArray<VvValue>, task: Task): MaybePromise<Result> => {
  for (;;) {
    const r = runBody(machine, fn, args, task)
    if (isPromise(r)) return runFunctionAsync(machine, r, task)
    if (!(r instanceof TailCall)) return r
    const pause = machine.maybeYield()
    if (pause !== undefined) return runFunctionAsync(machine, pause.then(() => r), task)
    fn = r.fn
    args = r.args
  }
}

const runFunctionAsync = async (machine: Machine, pending: Promise<Result | TailCall>, task: Task): Promise<Result> => {
  let r = await pending
  while (r instanceof TailCall) {
    const pause = machine.maybeYield()
    if (pause !== undefined) await pause
    const next = runBody(machine, r.fn, r.args, task)
    r = isPromise(next) ? await next : next
  }
  return r
}

/** One run of a function body: its result, a tail call, or (on `try`) the error record. */
const runBody = (
  machine: Machine,
  fn: Closure,
  args: ReadonlyArray<VvValue>,
  task: Task
): MaybePromise<Result | TailCall> => {
  const env = new Env(fn.env)
  const params = fn.node.params
  for (let i = 0; i < params.length; i++) env.declare(params[i]!, args[i]!)
  const ctx: Ctx = { source: fn.source, task, frame: "function", machine }
  let c: MaybePromise<Completion>
  try {
    c = runScope(fn.node.body, env, ctx)
  } catch (error) {
    return catchTry(error)
  }
  return isPromise(c) ? c.then(completionValue, catchTry) : completionValue(c)
}
