/**
 * The natives of `std/int.vv`: `to_string(i)`, `abs(n)`, `min(a, b)`, `max(a, b)` on 64-bit
 * ints (`abs` of the smallest int wraps to itself, as int64 negation does).
 *
 * @since 0.2.0
 */
import { chars, int } from "../../Values.js"
import { intArg, native, type NativeModule, nativeModule } from "./args.js"

/**
 * The natives of `std/int.vv`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const intNatives = (): NativeModule =>
  nativeModule([
    native("to_string", ["i"], ([i]) => chars(intArg("to_string", "i", i!).toString())),
    native("abs", ["n"], ([n]) => {
      const v = intArg("abs", "n", n!)
      return v < 0n ? int(-v) : v
    }),
    native("min", ["a", "b"], ([a, b]) => {
      const x = intArg("min", "a", a!)
      const y = intArg("min", "b", b!)
      return y < x ? y : x
    }),
    native("max", ["a", "b"], ([a, b]) => {
      const x = intArg("max", "a", a!)
      const y = intArg("max", "b", b!)
      return x < y ? y : x
    })
  ])
