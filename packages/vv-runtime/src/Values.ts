/**
 * vv values, in the bridge's default representation (`@vvnet/vv-bridge` `DefaultHost`): bools
 * are `boolean`, ints `bigint` (wrapped to 64 bits), floats `number`, and chars, lists,
 * records, functions and userdata are `VvChar`, `VvList`, `VvRecord`, `VvFunction` and
 * `VvUserdata`. The runtime adds `Closure`, the function value of vv code (in `Evaluator.ts`).
 *
 * @since 0.1.0
 */
import { DefaultHost } from "@vvnet/vv-bridge"

/**
 * @since 0.1.0
 * @category models
 */
export type VvValue = DefaultHost.VvValue
/**
 * @since 0.1.0
 * @category models
 */
export const VvChar = DefaultHost.VvChar
/**
 * @since 0.1.0
 * @category models
 */
export type VvChar = DefaultHost.VvChar
/**
 * @since 0.1.0
 * @category models
 */
export const VvList = DefaultHost.VvList
/**
 * @since 0.1.0
 * @category models
 */
export type VvList = DefaultHost.VvList
/**
 * @since 0.1.0
 * @category models
 */
export const VvRecord = DefaultHost.VvRecord
/**
 * @since 0.1.0
 * @category models
 */
export type VvRecord = DefaultHost.VvRecord
/**
 * @since 0.1.0
 * @category models
 */
export const VvFunction = DefaultHost.VvFunction
/**
 * @since 0.1.0
 * @category models
 */
export type VvFunction = DefaultHost.VvFunction
/**
 * @since 0.1.0
 * @category models
 */
export const VvUserdata = DefaultHost.VvUserdata
/**
 * @since 0.1.0
 * @category models
 */
export type VvUserdata = DefaultHost.VvUserdata

/**
 * @since 0.1.0
 * @category constructors
 */
export const { chars, error, fun, int, none, ok, record } = DefaultHost

/**
 * The kind of a value, as `sys.type` names it.
 *
 * @since 0.1.0
 * @category getters
 */
export const kindOf = DefaultHost.kindOf

/**
 * Reads a result record (`undefined` for anything else).
 *
 * @since 0.1.0
 * @category getters
 */
export const toResult = DefaultHost.toResult

/**
 * A kind with its article, for messages: "an int", "a list", "userdata".
 *
 * @since 0.1.0
 * @category getters
 */
export const describeKind = (value: VvValue): string => {
  const kind = kindOf(value)
  return kind === "int" ? "an int" : kind === "userdata" ? "userdata" : `a ${kind}`
}
