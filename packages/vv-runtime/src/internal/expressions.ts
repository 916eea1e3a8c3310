/**
 * Expressions, evaluated twice over: `evalSync` walks an expression that contains no call
 * (nothing in it can wait) without a promise check per node; `evalMaybe` walks one that may
 * call, synchronously while each part has its value at once, following a part's promise only
 * when it returns one. `evalValue` picks between them (`callAnalysis.ts`).
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
  hasCall(e) ? evalMaybe(e, env, ctx) : evalSync(e, env, ctx)

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

/** `f` of a value now, or of a promised value once it is there. */
const then = <A, B>(v: MaybePromise<A>, f: (a: A) => MaybePromise<B>): MaybePromise<B> =>
  isPromise(v) ? v.then(f) : f(v)

/**
 * Evaluates an expression that may call, part by part in order: synchronously as long as every
 * part has its value at once (a native that completed at once, a closure that did not wait), so
 * the program goes on in the same turn; from the first part that returns a promise, the rest
 * follows that promise.
 */
const evalMaybe = (e: Ast.Expr, env: Env, ctx: Ctx): MaybePromise<VvValue> => {
  switch (e._tag) {
    case "Call":
      return then(evalCall(e, env, ctx), (r) => resultValue(r, e, ctx))
    case "String":
      return evalString(e, 0, "", env, ctx)
    case "List":
      return then(evalAll(e.items, env, ctx), (items) => VvList.unsafeFromArray(items))
    case "Record":
      return then(
        evalAll(e.fields.map((f) => f.value), env, ctx),
        (values) => new VvRecord(e.fields.map((f, i) => [f.name, values[i]!] as const))
      )
    case "Not":
      return then(evalValue(e.expr, env, ctx), (v) => not(v, e, ctx))
    case "Len":
      return then(evalValue(e.expr, env, ctx), (v) => len(v, e, ctx))
    case "Neg":
      return then(evalValue(e.expr, env, ctx), (v) => neg(v, e, ctx))
    case "Try":
      return then(evalValue(e.expr, env, ctx), (v) => tryValue(v, e, ctx))
    case "Binary":
      return then(evalAll([e.left, e.right], env, ctx), ([left, right]) => binary(e.op, left!, right!, e.at, ctx))
    case "Field":
      return then(evalValue(e.object, env, ctx), (v) => field(v, e, ctx))
    case "Index":
      return then(evalAll([e.object, e.index], env, ctx), ([object, i]) => index(object!, i!, e, ctx))
    case "Slice": {
      const parts = [e.object]
      if (e.start !== undefined) parts.push(e.start)
      if (e.stop !== undefined) parts.push(e.stop)
      return then(evalAll(parts, env, ctx), (values) => {
        const start = e.start === undefined ? undefined : values[1]
        const stop = e.stop === undefined ? undefined : values[values.length - 1]
        return slice(values[0]!, start, stop, e, ctx)
      })
    }
    default:
      return evalSync(e, env, ctx)
  }
}

/** An interpolated string from part `from` on, `text` holding what came before. */
const evalString = (e: Ast.StringLit, from: number, text: string, env: Env, ctx: Ctx): MaybePromise<VvValue> => {
  for (let i = from; i < e.parts.length; i++) {
    const part = e.parts[i]!
    if (typeof part === "string") {
      text += part
      continue
    }
    const v = evalValue(part, env, ctx)
    if (isPromise(v)) {
      const before = text
      return v.then((value) => evalString(e, i + 1, before + show(value, part.at, ctx), env, ctx))
    }
    text += show(v, part.at, ctx)
  }
  return VvList.fromText(text)
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
