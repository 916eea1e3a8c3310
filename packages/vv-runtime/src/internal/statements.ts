/**
 * Statements and scopes: each scope (call, `begin`, if-branch, while iteration, test body,
 * module) runs its defers last in first out on every exit, evaluating each deferred statement
 * at that moment. Statements complete with a `Completion` (`break`, `continue`, `return`).
 */
import type * as Ast from "../Ast.js"
import { describeKind, none, VvRecord, type VvValue } from "../Values.js"
import { arityCheck, invoke } from "./calls.js"
import {
  BREAK,
  Cancelled,
  type Completion,
  CONTINUE,
  isPromise,
  type MaybePromise,
  rank,
  Returned,
  TailCall
} from "./control.js"
import { Env, Scope } from "./env.js"
import { evalAll, evalCall, evalCallParts, evalValue } from "./expressions.js"
import { Closure } from "./functions.js"
import { binary, compound, expectList, listIndex } from "./operators.js"
import { checkCancelled, type Ctx, fail } from "./task.js"

/** Runs statements in a new scope over `env`, then the scope's defers. */
export const runScope = (stmts: ReadonlyArray<Ast.Stmt>, env: Env, ctx: Ctx): MaybePromise<Completion> => {
  const scope = new Scope(env)
  let c: MaybePromise<Completion>
  try {
    c = execStmts(stmts, 0, scope, ctx)
  } catch (error) {
    if (scope.defers === undefined) throw error
    return unwindScope(scope, ctx, error)
  }
  if (isPromise(c)) return settleScope(c, scope, ctx)
  if (scope.defers === undefined) return c
  const done = c
  return runDefers(scope, ctx, undefined).then(() => done)
}

/** A block: a scope whose variables are new, over the enclosing ones. */
const runBlock = (stmts: ReadonlyArray<Ast.Stmt>, parent: Env, ctx: Ctx): MaybePromise<Completion> =>
  runScope(stmts, new Env(parent), ctx)

const unwindScope = async (scope: Scope, ctx: Ctx, error: unknown): Promise<never> => {
  await runDefers(scope, ctx, error)
  throw error
}

const settleScope = async (pending: Promise<Completion>, scope: Scope, ctx: Ctx): Promise<Completion> => {
  let c: Completion
  try {
    c = await pending
  } catch (error) {
    await runDefers(scope, ctx, error)
    throw error
  }
  await runDefers(scope, ctx, undefined)
  return c
}

/**
 * Runs the scope's deferred statements, last first, each in its own scope over the exiting
 * one's variables. `primary` is the error the scope is exiting with, if any: a deferred
 * statement's error replaces it only when it is graver (a runtime error over a `try`
 * unwind). A stopped task runs no defers (its bridge closes everything).
 */
export const runDefers = async (scope: Scope, ctx: Ctx, primary: unknown): Promise<void> => {
  const defers = scope.defers
  if (defers === undefined) return
  scope.defers = undefined
  if (primary instanceof Cancelled) return
  let replacement: unknown = undefined
  let worst = rank(primary)
  for (let i = defers.length - 1; i >= 0; i--) {
    try {
      const c = runScope([defers[i]!], scope.env, ctx)
      if (isPromise(c)) await c
    } catch (error) {
      if (rank(error) > worst) {
        replacement = error
        worst = rank(error)
      }
      if (error instanceof Cancelled) break
    }
  }
  if (replacement !== undefined) throw replacement
}

const execStmts = (stmts: ReadonlyArray<Ast.Stmt>, from: number, scope: Scope, ctx: Ctx): MaybePromise<Completion> => {
  for (let i = from; i < stmts.length; i++) {
    checkCancelled(ctx.task)
    const c = exec(stmts[i]!, scope, ctx)
    if (isPromise(c)) return execStmtsAsync(c, stmts, i, scope, ctx)
    if (c !== undefined) return c
  }
  return undefined
}

const execStmtsAsync = async (
  pending: Promise<Completion>,
  stmts: ReadonlyArray<Ast.Stmt>,
  index: number,
  scope: Scope,
  ctx: Ctx
): Promise<Completion> => {
  let c = await pending
  for (let i = index + 1; c === undefined && i < stmts.length; i++) {
    checkCancelled(ctx.task)
    const next = exec(stmts[i]!, scope, ctx)
    c = isPromise(next) ? await next : next
  }
  return c
}

/** One statement in `scope`. */
export const exec = (s: Ast.Stmt, scope: Scope, ctx: Ctx): MaybePromise<Completion> => {
  const env = scope.env
  switch (s._tag) {
    case "Let": {
      const v = evalValue(s.value, env, ctx)
      if (isPromise(v)) {
        return v.then((value) => {
          env.declare(s.name, value)
          return undefined
        })
      }
      env.declare(s.name, v)
      return undefined
    }
    case "LetRecord": {
      const v = evalValue(s.value, env, ctx)
      if (isPromise(v)) return v.then((value) => destructure(s, value, env, ctx))
      return destructure(s, v, env, ctx)
    }
    case "LetRec":
      return declareRec(s, env, ctx)
    case "Begin":
      return runBlock(s.body, env, ctx)
    case "While":
      return execWhile(s, scope, ctx)
    case "If":
      return execIf(s, 0, scope, ctx)
    case "Defer":
      ;(scope.defers ??= []).push(s.stmt)
      return undefined
    case "Assert": {
      const v = evalValue(s.expr, env, ctx)
      if (isPromise(v)) return v.then((value) => assert(s, value, ctx))
      return assert(s, v, ctx)
    }
    case "Break":
      return BREAK
    case "Continue":
      return CONTINUE
    case "Return":
      return execReturn(s, env, ctx)
    case "ExprStmt": {
      const e = s.expr
      const v = e._tag === "Call" ? evalCall(e, env, ctx) : evalValue(e, env, ctx)
      return isPromise(v) ? v.then(() => undefined) : undefined
    }
    case "Assign":
      return execAssign(s, env, ctx)
  }
}

/**
 * `fun rec f … also g … end`: the functions close over a scope of their own that holds all of
 * them (so each sees the group even if the names are later redeclared), then each is declared
 * in the current scope.
 */
const declareRec = (s: Ast.LetRec, env: Env, ctx: Ctx): Completion => {
  const group = new Env(env)
  const closures = s.funs.map((fn) => new Closure(ctx.machine.caller, fn, group, ctx.source))
  for (const closure of closures) group.declare(closure.name, closure)
  for (const closure of closures) env.declare(closure.name, closure)
  return undefined
}

const destructure = (s: Ast.LetRecord, value: VvValue, env: Env, ctx: Ctx): Completion => {
  if (!(value instanceof VvRecord)) {
    fail(`cannot destructure ${describeKind(value)}: a record was expected`, s.value.at, ctx)
  }
  for (const f of s.fields) {
    const v = value.get(f.field)
    if (v === undefined) fail(`field '${f.field}' not found in record`, f.at, ctx)
    env.declare(f.name, v)
  }
  return undefined
}

const assert = (s: Ast.Assert, value: VvValue, ctx: Ctx): Completion => {
  if (typeof value !== "boolean") fail(`assert expects a bool, got ${describeKind(value)}`, s.expr.at, ctx)
  if (!value) fail(`assertion failed: ${ctx.source.text.slice(s.expr.at, s.expr.end)}`, s.at, ctx)
  return undefined
}

const condition = (value: VvValue, e: Ast.Expr, construct: string, ctx: Ctx): boolean => {
  if (typeof value !== "boolean") {
    fail(`${construct} condition must be a bool, got ${describeKind(value)}`, e.at, ctx)
  }
  return value
}

const execIf = (s: Ast.If, from: number, scope: Scope, ctx: Ctx): MaybePromise<Completion> => {
  for (let i = from; i < s.branches.length; i++) {
    const branch = s.branches[i]!
    const v = evalValue(branch.cond, scope.env, ctx)
    if (isPromise(v)) {
      const index = i
      return v.then((value) =>
        condition(value, branch.cond, "if", ctx)
          ? runBlock(branch.body, scope.env, ctx)
          : execIf(s, index + 1, scope, ctx)
      )
    }
    if (condition(v, branch.cond, "if", ctx)) return runBlock(branch.body, scope.env, ctx)
  }
  return s.otherwise === undefined ? undefined : runBlock(s.otherwise, scope.env, ctx)
}

const execWhile = (s: Ast.While, scope: Scope, ctx: Ctx): MaybePromise<Completion> => {
  for (;;) {
    const pause = ctx.machine.maybeYield()
    if (pause !== undefined) return whileAsync(s, scope, ctx, pause, "pause")
    const v = evalValue(s.cond, scope.env, ctx)
    if (isPromise(v)) return whileAsync(s, scope, ctx, v, "cond")
    if (!condition(v, s.cond, "while", ctx)) return undefined
    const c = runBlock(s.body, scope.env, ctx)
    if (isPromise(c)) return whileAsync(s, scope, ctx, c, "body")
    if (c === BREAK) return undefined
    if (c instanceof Returned) return c
  }
}

/** The rest of a `while` once a step waits: one loop in one async call, however long it runs. */
const whileAsync = async (
  s: Ast.While,
  scope: Scope,
  ctx: Ctx,
  pending: Promise<unknown>,
  step: "pause" | "cond" | "body"
): Promise<Completion> => {
  let first: Promise<unknown> | undefined = pending
  for (;;) {
    let c: Completion
    if (first !== undefined && step === "body") {
      c = (await first) as Completion
    } else {
      if (first !== undefined && step === "pause") await first
      let v: MaybePromise<VvValue> = first !== undefined && step === "cond"
        ? (first as Promise<VvValue>)
        : evalValue(s.cond, scope.env, ctx)
      if (isPromise(v)) v = await v
      if (!condition(v, s.cond, "while", ctx)) return undefined
      const body = runBlock(s.body, scope.env, ctx)
      c = isPromise(body) ? await body : body
    }
    first = undefined
    if (c === BREAK) return undefined
    if (c instanceof Returned) return c
    const pause = ctx.machine.maybeYield()
    if (pause !== undefined) await pause
  }
}

const execReturn = (s: Ast.Return, env: Env, ctx: Ctx): MaybePromise<Completion> => {
  const e = s.value
  if (e === undefined) return new Returned(none())
  if (e._tag !== "Call") {
    const v = evalValue(e, env, ctx)
    return isPromise(v) ? v.then((value) => new Returned(value)) : new Returned(v)
  }
  if (ctx.frame !== "function") {
    const v = evalCall(e, env, ctx)
    return isPromise(v) ? v.then((value) => new Returned(value)) : new Returned(v)
  }
  // a tail call: evaluate the callee and the arguments here, call from the caller's loop
  const parts = evalCallParts(e, env, ctx)
  return isPromise(parts) ? parts.then((values) => tailCall(values, e, ctx)) : tailCall(parts, e, ctx)
}

const tailCall = (values: ReadonlyArray<VvValue>, e: Ast.Call, ctx: Ctx): MaybePromise<Completion> => {
  const fn = values[0]!
  const args = values.slice(1)
  if (fn instanceof Closure) {
    arityCheck(fn, args, e.at, ctx)
    return new Returned(new TailCall(fn, args))
  }
  const v = invoke(fn, args, e.at, ctx)
  return isPromise(v) ? v.then((value) => new Returned(value)) : new Returned(v)
}

const execAssign = (s: Ast.Assign, env: Env, ctx: Ctx): MaybePromise<Completion> => {
  const target = s.target
  switch (target._tag) {
    case "Ident": {
      const v = evalValue(s.value, env, ctx)
      return isPromise(v)
        ? v.then((value) => assignName(s, target, value, env, ctx))
        : assignName(s, target, v, env, ctx)
    }
    case "Field": {
      const parts = evalAll([target.object, s.value], env, ctx)
      return isPromise(parts)
        ? parts.then((values) => assignField(s, target, values, ctx))
        : assignField(s, target, parts, ctx)
    }
    case "Index": {
      const parts = evalAll([target.object, target.index, s.value], env, ctx)
      return isPromise(parts)
        ? parts.then((values) => assignIndex(s, target, values, ctx))
        : assignIndex(s, target, parts, ctx)
    }
  }
}

const assignName = (s: Ast.Assign, target: Ast.Ident, value: VvValue, env: Env, ctx: Ctx): Completion => {
  if (s.op !== "=") {
    const current = env.lookup(target.name)
    if (current === undefined) fail(`variable named '${target.name}' is not defined`, target.at, ctx)
    value = binary(compound(s.op), current, value, s.at, ctx)
  }
  if (!env.assign(target.name, value)) fail(`variable named '${target.name}' is not defined`, target.at, ctx)
  return undefined
}

const assignField = (
  s: Ast.Assign,
  target: Ast.Field,
  [object, value]: ReadonlyArray<VvValue>,
  ctx: Ctx
): Completion => {
  if (!(object instanceof VvRecord)) {
    return fail(`cannot set field '${target.name}' of ${describeKind(object!)}`, target.at, ctx)
  }
  let v = value!
  if (s.op !== "=") {
    const current = object.get(target.name)
    if (current === undefined) fail(`field '${target.name}' not found in record`, target.at, ctx)
    v = binary(compound(s.op), current, v, s.at, ctx)
  }
  object.set(target.name, v)
  return undefined
}

const assignIndex = (
  s: Ast.Assign,
  target: Ast.Index,
  [object, index, value]: ReadonlyArray<VvValue>,
  ctx: Ctx
): Completion => {
  const list = expectList(object!, target.object.at, ctx)
  const i = listIndex(list, index!, target.index.at, ctx)
  let v = value!
  if (s.op !== "=") v = binary(compound(s.op), list.get(i)!, v, s.at, ctx)
  list.set(i, v)
  return undefined
}
