/**
 * The natives of `std/float.vv`: `to_string(f)` (Go's `%g`, as floats print), `floor`, `ceil`,
 * `round` (half away from zero, as Go's `math.Round`), `abs`, `min`, `max` (a NaN argument
 * gives NaN) on floats, and `from_int(i)`.
 *
 * @since 0.2.0
 */
import { formatFloat } from "../../Printer.js"
import { chars } from "../../Values.js"
import { floatArg, intArg, native, type NativeModule, nativeModule } from "./args.js"

const unary = (name: string, f: (x: number) => number) => native(name, ["f"], ([x]) => f(floatArg(name, "f", x!)))

const binary = (name: string, f: (x: number, y: number) => number) =>
  native(name, ["a", "b"], ([a, b]) => f(floatArg(name, "a", a!), floatArg(name, "b", b!)))

/** Go's `math.Round`: half away from zero; keeps -0, NaN and infinities. */
const roundHalfAway = (x: number): number => {
  if (!Number.isFinite(x) || x === 0) return x
  const r = Math.sign(x) * Math.round(Math.abs(x))
  // Math.round rounds half up on the magnitude: 2.5 → 3, as wanted; -0 for small negatives
  return r === 0 ? (x < 0 ? -0 : 0) : r
}

/**
 * The natives of `std/float.vv`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const floatNatives = (): NativeModule =>
  nativeModule([
    native("to_string", ["f"], ([f]) => chars(formatFloat(floatArg("to_string", "f", f!)))),
    unary("floor", Math.floor),
    unary("ceil", Math.ceil),
    unary("round", roundHalfAway),
    unary("abs", Math.abs),
    binary("min", Math.min),
    binary("max", Math.max),
    native("from_int", ["i"], ([i]) => Number(intArg("from_int", "i", i!)))
  ])
