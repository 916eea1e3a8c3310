/**
 * The natives of `std/string.vv`: `length(s)`, the number of chars of a string.
 *
 * @since 0.2.0
 */
import { VvChar } from "../../Values.js"
import { fail, listArg, native, type NativeModule, nativeModule } from "./args.js"

/**
 * The natives of `std/string.vv`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const stringNatives = (): NativeModule =>
  nativeModule([
    native("length", ["s"], ([s]) => {
      const list = listArg("length", "s", s!)
      for (const c of list) {
        if (!(c instanceof VvChar)) fail("length", "expects s to be a string (a list of chars)")
      }
      return BigInt(list.length)
    })
  ])
