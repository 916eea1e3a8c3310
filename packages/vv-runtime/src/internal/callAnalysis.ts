/**
 * Call analysis: which expressions may call a function, and so may wait. The evaluator walks
 * the others synchronously (`evalSync`), without a promise check per node.
 */
import type * as Ast from "../Ast.js"

const hasCallCache = new WeakMap<Ast.Expr, boolean>()

/** Whether evaluating `e` may call a function (and so may wait). Function bodies don't count. */
export const hasCall = (e: Ast.Expr): boolean => {
  let cached = hasCallCache.get(e)
  if (cached === undefined) {
    cached = computeHasCall(e)
    hasCallCache.set(e, cached)
  }
  return cached
}

const computeHasCall = (e: Ast.Expr): boolean => {
  switch (e._tag) {
    case "Call":
      return true
    case "Int":
    case "Float":
    case "Bool":
    case "Char":
    case "Ident":
    case "Fun":
      return false
    case "String":
      return e.parts.some((p) => typeof p !== "string" && hasCall(p))
    case "List":
      return e.items.some(hasCall)
    case "Record":
      return e.fields.some((f) => hasCall(f.value))
    case "Not":
    case "Len":
    case "Neg":
    case "Try":
      return hasCall(e.expr)
    case "Binary":
      return hasCall(e.left) || hasCall(e.right)
    case "Field":
      return hasCall(e.object)
    case "Index":
      return hasCall(e.object) || hasCall(e.index)
    case "Slice":
      return hasCall(e.object) || (e.start !== undefined && hasCall(e.start)) ||
        (e.stop !== undefined && hasCall(e.stop))
  }
}
