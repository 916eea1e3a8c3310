/**
 * The natives of `std/bool.vv`: `to_string(b)` (`"true"` or `"false"`).
 *
 * @since 0.2.0
 */
import { chars } from "../../Values.js"
import { boolArg, native, type NativeModule, nativeModule } from "./args.js"

/**
 * The natives of `std/bool.vv`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const boolNatives = (): NativeModule =>
  nativeModule([native("to_string", ["b"], ([b]) => chars(boolArg("to_string", "b", b!) ? "true" : "false"))])
