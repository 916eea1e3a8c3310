/**
 * The natives of the std modules the runtime itself provides (the bridge provides those of
 * `std/net.vv`, `std/channel.vv` and `std/sync.vv`), by logical module path:
 *
 * - `std/console.vv`: `print(…)` (any number of values, joined by one space, then a newline);
 * - `std/list.vv`: `length`, `push`, `pop`, `shift`, `unshift`;
 * - `std/encoding/utf8.vv`: `encode(char)`, `decode(bytes)`;
 * - `std/sys.vv`: `type(value)`;
 * - the other std modules' natives, each in its own file under `std/natives/`: `std/string.vv`,
 *   `std/bool.vv`, `std/int.vv`, `std/float.vv`, `std/char.vv`, `std/math.vv`, `std/record.vv`,
 *   `std/random.vv`, `std/fs/file.vv`, `std/fs/dir.vv`, `std/encoding/sjis.vv`, the rest of
 *   `std/list.vv` (`replace`) and of `std/sys.vv` (`str`, `phys_eq`, `help`, the recursion
 *   limit).
 *
 * A bad argument throws `VvRuntimeError`; the evaluator adds the call's location.
 *
 * @since 0.1.0
 */
import { VvRuntimeError } from "@vvnet/vv-bridge"
import { nativeFunction } from "../Evaluator.js"
import { show } from "../Printer.js"
import {
  chars,
  describeKind,
  error,
  kindOf,
  none,
  ok,
  VvChar,
  type VvFunction,
  VvList,
  VvRecord,
  type VvValue
} from "../Values.js"
import { type NativeModule } from "./natives/args.js"
import { boolNatives } from "./natives/bool.js"
import { charNatives } from "./natives/char.js"
import { floatNatives } from "./natives/float.js"
import { dirNatives, fileNatives } from "./natives/fs.js"
import { intNatives } from "./natives/int.js"
import { listNatives } from "./natives/list.js"
import { mathNatives } from "./natives/math.js"
import { randomNatives } from "./natives/random.js"
import { recordNatives } from "./natives/record.js"
import { sjisNatives } from "./natives/sjis.js"
import { stringNatives } from "./natives/string.js"
import { makeRecursionLimit, type RecursionLimit, sysNatives } from "./natives/sys.js"

const fail = (native: string, message: string): never => {
  throw new VvRuntimeError(`${native}: ${message}`, { native })
}

const list = (native: string, param: string, value: VvValue): VvList =>
  value instanceof VvList ? value : fail(native, `expects ${param} to be a list, got ${describeKind(value)}`)

/**
 * UTF-8 decoding of one code point at the start of `bytes`, as Go's `utf8.DecodeRune` checks
 * it: `"incomplete"` when the bytes are a valid start cut short (more may arrive), `"invalid"`
 * for anything that can never be UTF-8.
 *
 * @since 0.1.0
 * @category encoding
 */
export const decodeUtf8 = (
  bytes: ReadonlyArray<number>
): { readonly codePoint: number; readonly size: number } | "empty" | "incomplete" | "invalid" => {
  if (bytes.length === 0) return "empty"
  const b0 = bytes[0]!
  if (b0 < 0x80) return { codePoint: b0, size: 1 }
  let size: number
  let lo = 0x80
  let hi = 0xbf
  if (b0 >= 0xc2 && b0 <= 0xdf) size = 2
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    size = 3
    if (b0 === 0xe0) lo = 0xa0
    if (b0 === 0xed) hi = 0x9f
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    size = 4
    if (b0 === 0xf0) lo = 0x90
    if (b0 === 0xf4) hi = 0x8f
  } else return "invalid"
  let codePoint = b0 & (0xff >> (size + 1))
  for (let i = 1; i < size; i++) {
    if (i >= bytes.length) return "incomplete"
    const b = bytes[i]!
    if (b < (i === 1 ? lo : 0x80) || b > (i === 1 ? hi : 0xbf)) return "invalid"
    codePoint = (codePoint << 6) | (b & 0x3f)
  }
  return { codePoint, size }
}

const encoder = new TextEncoder()

/**
 * The natives by module path, printing through `out` (one call per printed line, with its
 * newline); `sys.set_max_recursion_depth` sets `limit`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const stdNatives = (
  out: (text: string) => void,
  limit: RecursionLimit = makeRecursionLimit()
): ReadonlyMap<string, ReadonlyMap<string, VvValue>> => {
  const module = (...fns: ReadonlyArray<VvFunction>) => new Map<string, VvValue>(fns.map((f) => [f.name, f]))
  const merge = (a: NativeModule, b: NativeModule) => new Map([...a, ...b])
  const natives = new Map<string, ReadonlyMap<string, VvValue>>([
    [
      "std/console.vv",
      module(nativeFunction("print", undefined, (args) => {
        out(args.map(show).join(" ") + "\n")
        return none()
      }))
    ],
    [
      "std/list.vv",
      module(
        nativeFunction("length", ["l"], ([l]) => BigInt(list("length", "l", l!).length)),
        nativeFunction("push", ["l", "v"], ([l, v]) => {
          list("push", "l", l!).push(v!)
          return l!
        }),
        nativeFunction("pop", ["l"], ([l]) => list("pop", "l", l!).pop() ?? fail("pop", "the list is empty")),
        nativeFunction("shift", ["l"], ([l]) => list("shift", "l", l!).shift() ?? fail("shift", "the list is empty")),
        nativeFunction("unshift", ["l", "v"], ([l, v]) => {
          const xs = list("unshift", "l", l!)
          const n = xs.length
          if (n === 0) {
            xs.push(v!)
            return xs
          }
          xs.push(xs.get(n - 1)!)
          for (let i = n - 1; i > 0; i--) xs.set(i, xs.get(i - 1)!)
          xs.set(0, v!)
          return xs
        })
      )
    ],
    [
      "std/encoding/utf8.vv",
      module(
        nativeFunction("encode", ["c"], ([c]) => {
          if (!(c instanceof VvChar)) return fail("encode", `expects c to be a char, got ${describeKind(c!)}`)
          return VvList.fromBytes(encoder.encode(c.toString()))
        }),
        nativeFunction("decode", ["bytes"], ([value]) => {
          const items = list("decode", "bytes", value!)
          const bytes: Array<number> = []
          for (const item of items) {
            if (typeof item !== "bigint") {
              return fail("decode", `expects bytes to be a list of ints, got ${describeKind(item)} in it`)
            }
            bytes.push(Number(BigInt.asUintN(8, item)))
            if (bytes.length === 4) break
          }
          const decoded = decodeUtf8(bytes)
          if (decoded === "empty" || decoded === "incomplete") return error("unexpected end of input")
          if (decoded === "invalid") return error("invalid UTF-8 sequence")
          return ok(new VvRecord([["char", VvChar.of(decoded.codePoint)], ["size", BigInt(decoded.size)]]))
        })
      )
    ],
    ["std/sys.vv", module(nativeFunction("type", ["value"], ([v]) => chars(kindOf(v!))))]
  ])
  const more: ReadonlyArray<readonly [string, NativeModule]> = [
    ["std/list.vv", listNatives()],
    ["std/sys.vv", sysNatives(out, limit)],
    ["std/string.vv", stringNatives()],
    ["std/bool.vv", boolNatives()],
    ["std/int.vv", intNatives()],
    ["std/float.vv", floatNatives()],
    ["std/char.vv", charNatives()],
    ["std/math.vv", mathNatives()],
    ["std/record.vv", recordNatives()],
    ["std/random.vv", randomNatives()],
    ["std/fs/file.vv", fileNatives()],
    ["std/fs/dir.vv", dirNatives()],
    ["std/encoding/sjis.vv", sjisNatives()]
  ]
  for (const [path, fns] of more) natives.set(path, merge(natives.get(path) ?? new Map(), fns))
  return natives
}
