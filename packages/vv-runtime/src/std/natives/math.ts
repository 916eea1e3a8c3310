/**
 * The natives of `std/math.vv`: the constants `pi` and `e`, and `sin`, `asin`, `cos`, `acos`,
 * `tan`, `atan`, `atan2(y, x)`, `pow(x, y)`, `sqrt` on floats (an int argument is an error, as
 * on the reference: convert with `float.from_int`).
 *
 * @since 0.2.0
 */
import { floatArg, native, type NativeModule, nativeModule } from "./args.js"

const unary = (name: string, f: (x: number) => number) => native(name, ["x"], ([x]) => f(floatArg(name, "x", x!)))

/**
 * The natives of `std/math.vv`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const mathNatives = (): NativeModule =>
  nativeModule([
    unary("sin", Math.sin),
    unary("asin", Math.asin),
    unary("cos", Math.cos),
    unary("acos", Math.acos),
    unary("tan", Math.tan),
    unary("atan", Math.atan),
    native("atan2", ["y", "x"], ([y, x]) => Math.atan2(floatArg("atan2", "y", y!), floatArg("atan2", "x", x!))),
    native("pow", ["x", "y"], ([x, y]) => Math.pow(floatArg("pow", "x", x!), floatArg("pow", "y", y!))),
    unary("sqrt", Math.sqrt)
  ], { pi: Math.PI, e: Math.E })
