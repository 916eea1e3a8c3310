/**
 * Argument checks shared by the std natives: each returns the argument in its TypeScript form
 * or throws `VvRuntimeError` (`name: expects x to be an int, got a list`), which the evaluator
 * turns into a vv runtime error at the call's location.
 *
 * @since 0.2.0
 */
import { VvRuntimeError } from "@vvnet/vv-bridge"
import { nativeFunction } from "../../Evaluator.js"
import { describeKind, VvChar, type VvFunction, VvList, VvRecord, VvUserdata, type VvValue } from "../../Values.js"

/**
 * The natives of one std module, by name.
 *
 * @since 0.2.0
 * @category models
 */
export type NativeModule = ReadonlyMap<string, VvValue>

/**
 * A module of natives from functions (keyed by their names) and named values.
 *
 * @since 0.2.0
 * @category constructors
 */
export const nativeModule = (
  fns: ReadonlyArray<VvFunction>,
  values: Readonly<Record<string, VvValue>> = {}
): NativeModule => new Map<string, VvValue>([...fns.map((f) => [f.name, f] as const), ...Object.entries(values)])

/**
 * A native function (see `nativeFunction`), re-exported for the natives' files.
 *
 * @since 0.2.0
 * @category constructors
 */
export const native = nativeFunction

/**
 * Throws the runtime error `native: message`.
 *
 * @since 0.2.0
 * @category errors
 */
export const fail = (native: string, message: string): never => {
  throw new VvRuntimeError(`${native}: ${message}`, { native })
}

const expected = (native: string, param: string, what: string, value: VvValue): never =>
  fail(native, `expects ${param} to be ${what}, got ${describeKind(value)}`)

/**
 * The argument as an int.
 *
 * @since 0.2.0
 * @category getters
 */
export const intArg = (native: string, param: string, value: VvValue): bigint =>
  typeof value === "bigint" ? value : expected(native, param, "an int", value)

/**
 * The argument as a float (an int is not accepted, as on the reference).
 *
 * @since 0.2.0
 * @category getters
 */
export const floatArg = (native: string, param: string, value: VvValue): number =>
  typeof value === "number" ? value : expected(native, param, "a float", value)

/**
 * The argument as a bool.
 *
 * @since 0.2.0
 * @category getters
 */
export const boolArg = (native: string, param: string, value: VvValue): boolean =>
  typeof value === "boolean" ? value : expected(native, param, "a bool", value)

/**
 * The argument as a char.
 *
 * @since 0.2.0
 * @category getters
 */
export const charArg = (native: string, param: string, value: VvValue): VvChar =>
  value instanceof VvChar ? value : expected(native, param, "a char", value)

/**
 * The argument as a list.
 *
 * @since 0.2.0
 * @category getters
 */
export const listArg = (native: string, param: string, value: VvValue): VvList =>
  value instanceof VvList ? value : expected(native, param, "a list", value)

/**
 * The argument as a record.
 *
 * @since 0.2.0
 * @category getters
 */
export const recordArg = (native: string, param: string, value: VvValue): VvRecord =>
  value instanceof VvRecord ? value : expected(native, param, "a record", value)

/**
 * The argument as userdata.
 *
 * @since 0.2.0
 * @category getters
 */
export const userdataArg = (native: string, param: string, value: VvValue): VvUserdata =>
  value instanceof VvUserdata ? value : expected(native, param, "userdata", value)

/**
 * The argument as text: a string (a list of chars; the empty list is the empty string).
 *
 * @since 0.2.0
 * @category getters
 */
export const textArg = (native: string, param: string, value: VvValue): string => {
  if (!(value instanceof VvList)) return expected(native, param, "a string", value)
  if (value.length === 0) return ""
  const text = value.text()
  if (text === undefined) {
    const bad = value.elements().find((x) => !(x instanceof VvChar))!
    return fail(native, `expects ${param} to be a string (a list of chars), got ${describeKind(bad)} in it`)
  }
  return text
}
