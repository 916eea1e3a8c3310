/**
 * The natives `std/list.vv` adds to the runtime's own (`length`, `push`, `pop`, `shift`,
 * `unshift`): `replace(xs, from, to)`, a new list where each occurrence of the sub-list `from`,
 * found from left to right without overlapping, is replaced by the elements of `to` (an empty
 * `from` gives a copy of `xs`). Elements compare as `==` does; elements of different kinds do
 * not match.
 *
 * @since 0.2.0
 */
import { DefaultHost } from "@vvnet/vv-bridge"
import { VvList, type VvValue } from "../../Values.js"
import { listArg, native, type NativeModule, nativeModule } from "./args.js"

/** `==`, where values of different kinds (an error for `==`) do not match, as on the reference. */
const valuesEqual = (a: VvValue, b: VvValue): boolean => {
  try {
    return DefaultHost.equals(a, b)
  } catch {
    return false
  }
}

/**
 * The natives of `std/list.vv` beyond the runtime's first five.
 *
 * @since 0.2.0
 * @category constructors
 */
export const listNatives = (): NativeModule =>
  nativeModule([
    native("replace", ["xs", "from_pattern", "to_pattern"], ([xs, from, to]) => {
      const source = listArg("replace", "xs", xs!).toArray()
      const pattern = listArg("replace", "from_pattern", from!).toArray()
      const replacement = listArg("replace", "to_pattern", to!).toArray()
      if (pattern.length === 0) return VvList.from(source)
      const out: Array<VvValue> = []
      let i = 0
      while (i < source.length) {
        let match = i + pattern.length <= source.length
        for (let j = 0; match && j < pattern.length; j++) match = valuesEqual(source[i + j]!, pattern[j]!)
        if (match) {
          for (const x of replacement) out.push(x)
          i += pattern.length
        } else {
          out.push(source[i]!)
          i++
        }
      }
      return VvList.from(out)
    })
  ])
