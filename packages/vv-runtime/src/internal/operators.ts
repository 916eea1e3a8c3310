/**
 * The operators: unary (`not`, `len`, `-`, `try`), binary (`==`, `<`, `<=`, `and`, `or`,
 * arithmetic, list `+`), fields, indexes and slices, and interpolation's printing. Each takes
 * values already evaluated and the context, for messages.
 */
import { DefaultHost } from "@vvnet/vv-bridge"
import type * as Ast from "../Ast.js"
import { show as printValue } from "../Printer.js"
import { describeKind, toResult, VvChar, VvList, VvRecord, type VvValue } from "../Values.js"
import { tooDeep, TryUnwind } from "./control.js"
import { type Ctx, fail } from "./task.js"

const int64 = (n: bigint): bigint => BigInt.asIntN(64, n)

/** A value as interpolation prints it. */
export const show = (v: VvValue, at: number, ctx: Ctx): string => {
  try {
    return printValue(v)
  } catch (error) {
    if (error instanceof RangeError) return fail(`cannot print: ${tooDeep}`, at, ctx)
    throw error
  }
}

export const not = (v: VvValue, e: Ast.Expr, ctx: Ctx): VvValue => {
  if (typeof v !== "boolean") fail(`not expects a bool, got ${describeKind(v)}`, e.at, ctx)
  return !v
}

export const len = (v: VvValue, e: Ast.Expr, ctx: Ctx): VvValue => {
  if (!(v instanceof VvList)) fail(`len expects a list, got ${describeKind(v)}`, e.at, ctx)
  return BigInt(v.length)
}

export const neg = (v: VvValue, e: Ast.Expr, ctx: Ctx): VvValue => {
  if (typeof v === "bigint") return int64(-v)
  if (typeof v === "number") return -v
  return fail(`cannot negate ${describeKind(v)}`, e.at, ctx)
}

/** `try v`: an ok result's value; an error result unwinds; anything else passes through. */
export const tryValue = (v: VvValue, e: Ast.Try, ctx: Ctx): VvValue => {
  const result = toResult(v)
  if (result === undefined) return v
  if (result.ok) return result.value
  throw new TryUnwind(v, ctx.source.location(e.at))
}

export const binary = (op: Ast.BinaryOp, a: VvValue, b: VvValue, at: number, ctx: Ctx): VvValue => {
  switch (op) {
    case "==":
      try {
        return DefaultHost.equals(a, b)
      } catch (error) {
        if (error instanceof RangeError) return fail(`cannot compare: ${tooDeep}`, at, ctx)
        return fail(error instanceof Error ? error.message : String(error), at, ctx)
      }
    case "<":
    case "<=": {
      if (typeof a === "bigint" && typeof b === "bigint") return op === "<" ? a < b : a <= b
      if (typeof a === "number" && typeof b === "number") return op === "<" ? a < b : a <= b
      if (a instanceof VvChar && b instanceof VvChar) {
        return op === "<" ? a.codePoint < b.codePoint : a.codePoint <= b.codePoint
      }
      return fail(`cannot compare ${describeKind(a)} with ${describeKind(b)} using '${op}'`, at, ctx)
    }
    case "and":
    case "or":
      if (typeof a !== "boolean" || typeof b !== "boolean") {
        fail(`'${op}' expects two bools, got ${describeKind(a)} and ${describeKind(b)}`, at, ctx)
      }
      return op === "and" ? a && b : a || b
    case "+":
      if (a instanceof VvList && b instanceof VvList) return a.concat(b)
      return arithmetic(op, a, b, at, ctx)
    default:
      return arithmetic(op, a, b, at, ctx)
  }
}

const verbs = {
  "+": "add",
  "-": "subtract",
  "*": "multiply",
  "/": "divide",
  "/:": "divide",
  "%": "take the remainder of"
} as const

const arithmetic = (op: "+" | "-" | "*" | "/" | "/:" | "%", a: VvValue, b: VvValue, at: number, ctx: Ctx): VvValue => {
  if ((typeof a !== "bigint" && typeof a !== "number") || (typeof b !== "bigint" && typeof b !== "number")) {
    return fail(`cannot ${verbs[op]} ${describeKind(a)} and ${describeKind(b)} with '${op}'`, at, ctx)
  }
  if (typeof a === "bigint" && typeof b === "bigint") {
    switch (op) {
      case "+":
        return int64(a + b)
      case "-":
        return int64(a - b)
      case "*":
        return int64(a * b)
      case "/":
        if (b === 0n) fail("division by zero", at, ctx)
        return Number(a) / Number(b)
      case "/:":
        if (b === 0n) fail("division by zero", at, ctx)
        return int64(a / b)
      case "%":
        if (b === 0n) fail("division by zero", at, ctx)
        return a % b
    }
  }
  if (op === "/:") return fail(`'/:' expects two ints, got ${describeKind(a)} and ${describeKind(b)}`, at, ctx)
  const x = Number(a)
  const y = Number(b)
  switch (op) {
    case "+":
      return x + y
    case "-":
      return x - y
    case "*":
      return x * y
    case "/":
      if (y === 0) fail("division by zero", at, ctx)
      return x / y
    case "%":
      if (y === 0) fail("division by zero", at, ctx)
      return x % y
  }
}

/** `a += b` and `a -= b`: the operator they apply. */
export const compound = (op: Ast.Assign["op"]): "+" | "-" => op === "+=" ? "+" : "-"

export const field = (object: VvValue, e: Ast.Field, ctx: Ctx): VvValue => {
  if (!(object instanceof VvRecord)) {
    return fail(`cannot read field '${e.name}' of ${describeKind(object)}`, e.at, ctx)
  }
  const v = object.get(e.name)
  return v !== undefined ? v : fail(`field '${e.name}' not found in record`, e.at, ctx)
}

export const expectList = (v: VvValue, at: number, ctx: Ctx): VvList =>
  v instanceof VvList ? v : fail(`cannot index ${describeKind(v)}: a list was expected`, at, ctx)

/** The position of `index` in `list` (negative counts from the end); out of range fails. */
export const listIndex = (list: VvList, index: VvValue, at: number, ctx: Ctx): number => {
  if (typeof index !== "bigint") fail(`list index must be an int, got ${describeKind(index)}`, at, ctx)
  const i = index < 0n ? index + BigInt(list.length) : index
  if (i < 0n || i >= BigInt(list.length)) {
    fail(`list index out of range: ${index} (length ${list.length})`, at, ctx)
  }
  return Number(i)
}

export const index = (object: VvValue, i: VvValue, e: Ast.Index, ctx: Ctx): VvValue => {
  const list = expectList(object, e.at, ctx)
  return list.get(listIndex(list, i, e.index.at, ctx))!
}

export const slice = (
  object: VvValue,
  start: VvValue | undefined,
  stop: VvValue | undefined,
  e: Ast.Slice,
  ctx: Ctx
): VvValue => {
  if (!(object instanceof VvList)) {
    return fail(`cannot slice ${describeKind(object)}: a list was expected`, e.at, ctx)
  }
  const from = sliceBound(object.length, start, 0, e.start?.at ?? e.at, ctx)
  const to = sliceBound(object.length, stop, object.length, e.stop?.at ?? e.at, ctx)
  return object.slice(from, Math.max(from, to))
}

/** A slice bound: negative counts from the end; clamped to 0..length. */
const sliceBound = (length: number, v: VvValue | undefined, fallback: number, at: number, ctx: Ctx): number => {
  if (v === undefined) return fallback
  if (typeof v !== "bigint") fail(`slice bounds must be ints, got ${describeKind(v)}`, at, ctx)
  const n = v < 0n ? v + BigInt(length) : v
  return n < 0n ? 0 : n > BigInt(length) ? length : Number(n)
}
