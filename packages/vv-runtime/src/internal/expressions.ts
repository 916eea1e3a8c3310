/**
 * Expressions, evaluated twice over: `evalSync` walks an expression that contains no call
 * (nothing in it can wait) without a promise check per node; `evalAsync` walks one that may
 * call, awaiting each part. `evalValue` picks between them (`callAnalysis.ts`).
 */
import type * as Ast from "../Ast.js"
import { VvChar, VvList, VvRecord, type VvValue } from "../Values.js"
import { hasCall } from "./callAnalysis.js"
import { invoke } from "./calls.js"
import { isPromise, type MaybePromise, type Result, VOID } from "./control.js"
import type { Env } from "./env.js"
import { Closure } from "./functions.js"
import { binary, field, index, len, neg, not, show, slice, tryValue } from "./operators.js"
import { type Ctx, fail } from "./task.js"

/** Evaluates `e` to a value (a call's missing result is an error here). */
export const evalValue = (e: Ast.Expr, env: Env, ctx: Ctx): MaybePromise<VvValue> =>
  hasCall(e) ? evalAsync(e, env, ctx) : evalSync(e, env, ctx)

/** Evaluates `exprs` left to right. */
export const evalAll = (exprs: ReadonlyArray<Ast.Expr>, env: Env, ctx: Ctx): MaybePromise<Array<VvValue>> => {
  const values: Array<VvValue> = []
  for (let i = 0; i < exprs.length; i++) {
    const v = evalValue(exprs[i]!, env, ctx)
    if (isPromise(v)) return evalAllAsync(exprs, i, v, values, env, ctx)
    values.push(v)
  }
  return values
}

const evalAllAsync = async (
  exprs: ReadonlyArray<Ast.Expr>,
  index: number,
  pending: Promise<VvValue>,
  values: Array<VvValue>,
  env: Env,
  ctx: Ctx
): Promise<Array<VvValue>> => {
  values.push(await pending)
  for (let i = index + 1; i < exprs.length; i++) values.push(await evalValue(exprs[i]!, env, ctx))
  return values
}

/** A call's result where a value is needed: a function that ended without `return` fails. */
const resultValue = (r: Result, e: Ast.Call, ctx: Ctx): VvValue => {
  if (r !== VOID) return r
  const callee = e.callee
  const name = callee._tag === "Ident" ? callee.name : callee._tag === "Field" ? callee.name : "the function"
  return fail(`${name} ended without 'return': its result cannot be used`, e.at, ctx)
}

/** The callee and the arguments of a call, evaluated left to right, as one array. */
export const evalCallParts = (e: Ast.Call, env: Env, ctx: Ctx): MaybePromise<Array<VvValue>> =>
  evalAll([e.callee, ...e.args], env, ctx)

/** A call; its result may be VOID (allowed in statement and `return` position only). */
export const evalCall = (e: Ast.Call, env: Env, ctx: Ctx): MaybePromise<Result> => {
  const parts = evalCallParts(e, env, ctx)
  if (isPromise(parts)) return parts.then((values) => invoke(values[0]!, values.slice(1), e.at, ctx))
  return invoke(parts[0]!, parts.slice(1), e.at, ctx)
}

/** Evaluates an expression that may call (and so may wait), awaiting each part. */
const evalAsync = async (e: Ast.Expr, env: Env, ctx: Ctx): Promise<VvValue> => {
  switch (e._tag) {
    case "Call": {
      const r = evalCall(e, env, ctx)
      return resultValue(isPromise(r) ? await r : r, e, ctx)
    }
    case "String": {
      let text = ""
      for (const part of e.parts) {
        text += typeof part === "string" ? part : show(await evalValue(part, env, ctx), part.at, ctx)
      }
      return VvList.fromText(text)
    }
    case "List": {
      const items: Array<VvValue> = []
      for (const item of e.items) items.push(await evalValue(item, env, ctx))
      return VvList.unsafeFromArray(items)
    }
    case "Record": {
      const fields: Array<[string, VvValue]> = []
      for (const f of e.fields) fields.push([f.name, await evalValue(f.value, env, ctx)])
      return new VvRecord(fields)
    }
    case "Not":
      return not(await evalValue(e.expr, env, ctx), e, ctx)
    case "Len":
      return len(await evalValue(e.expr, env, ctx), e, ctx)
    case "Neg":
      return neg(await evalValue(e.expr, env, ctx), e, ctx)
    case "Try":
      return tryValue(await evalValue(e.expr, env, ctx), e, ctx)
    case "Binary": {
      const left = await evalValue(e.left, env, ctx)
      return binary(e.op, left, await evalValue(e.right, env, ctx), e.at, ctx)
    }
    case "Field":
      return field(await evalValue(e.object, env, ctx), e, ctx)
    case "Index": {
      const object = await evalValue(e.object, env, ctx)
      return index(object, await evalValue(e.index, env, ctx), e, ctx)
    }
    case "Slice": {
      const object = await evalValue(e.object, env, ctx)
      const start = e.start === undefined ? undefined : await evalValue(e.start, env, ctx)
      const stop = e.stop === undefined ? undefined : await evalValue(e.stop, env, ctx)
      return slice(object, start, stop, e, ctx)
    }
    default:
      return evalSync(e, env, ctx)
  }
}

/** Evaluates an expression that contains no call. */
const evalSync = (e: Ast.Expr, env: Env, ctx: Ctx): VvValue => {
  switch (e._tag) {
    case "Int":
    case "Float":
    case "Bool":
      return e.value
    case "Char":
      return VvChar.of(e.codePoint)
    case "String": {
      if (e.parts.length === 1 && typeof e.parts[0] === "string") return VvList.fromText(e.parts[0])
      let text = ""
      for (const part of e.parts) {
        text += typeof part === "string" ? part : show(evalSync(part, env, ctx), part.at, ctx)
      }
      return VvList.fromText(text)
    }
    case "Ident": {
      const v = env.lookup(e.name)
      return v !== undefined ? v : fail(`variable named '${e.name}' is not defined`, e.at, ctx)
    }
    case "Fun":
      return new Closure(ctx.machine.caller, e, env, ctx.source)
    case "List":
      return VvList.unsafeFromArray(e.items.map((item) => evalSync(item, env, ctx)))
    case "Record":
      return new VvRecord(e.fields.map((f) => [f.name, evalSync(f.value, env, ctx)] as const))
    case "Not":
      return not(evalSync(e.expr, env, ctx), e, ctx)
    case "Len":
      return len(evalSync(e.expr, env, ctx), e, ctx)
    case "Neg":
      return neg(evalSync(e.expr, env, ctx), e, ctx)
    case "Try":
      return tryValue(evalSync(e.expr, env, ctx), e, ctx)
    case "Binary":
      return binary(e.op, evalSync(e.left, env, ctx), evalSync(e.right, env, ctx), e.at, ctx)
    case "Field":
      return field(evalSync(e.object, env, ctx), e, ctx)
    case "Index":
      return index(evalSync(e.object, env, ctx), evalSync(e.index, env, ctx), e, ctx)
    case "Slice":
      return slice(
        evalSync(e.object, env, ctx),
        e.start === undefined ? undefined : evalSync(e.start, env, ctx),
        e.stop === undefined ? undefined : evalSync(e.stop, env, ctx),
        e,
        ctx
      )
    case "Call":
      throw new Error("vv: evalSync reached a call (a bug in the evaluator)")
  }
}
