/**
 * The natives of `std/char.vv`, with Go's `unicode` semantics: `to_upper(c)` and `to_lower(c)`
 * map one char to one char (a char whose case mapping takes several chars, such as `'ß'`, stays
 * as it is), `is_digit(c)` is any Unicode decimal digit (category Nd), `is_space(c)` is Unicode
 * White_Space.
 *
 * @since 0.2.0
 */
import { VvChar } from "../../Values.js"
import { charArg, native, type NativeModule, nativeModule } from "./args.js"

const digit = /^\p{Nd}$/u
const space = /^\p{White_Space}$/u

/** The simple (one code point) case mapping, or the char itself. */
const mapCase = (c: VvChar, f: (s: string) => string): VvChar => {
  const mapped = f(c.toString())
  const cps = Array.from(mapped)
  return cps.length === 1 ? VvChar.of(cps[0]!.codePointAt(0)!) : c
}

/**
 * The natives of `std/char.vv`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const charNatives = (): NativeModule =>
  nativeModule([
    native("to_upper", ["c"], ([c]) => mapCase(charArg("to_upper", "c", c!), (s) => s.toUpperCase())),
    native("to_lower", ["c"], ([c]) => mapCase(charArg("to_lower", "c", c!), (s) => s.toLowerCase())),
    native("is_digit", ["c"], ([c]) => digit.test(charArg("is_digit", "c", c!).toString())),
    native("is_space", ["c"], ([c]) => space.test(charArg("is_space", "c", c!).toString()))
  ])
