/**
 * The natives of `std/record.vv`: `get(r, k)` (the field's value, or none when `r` has no field
 * `k`), `set(r, k, v)` (sets or adds the field in place; returns `r`), `to_list(r)` (a new list
 * of `[key, value]` pairs, in key order).
 *
 * @since 0.2.0
 */
import { chars, none, VvList } from "../../Values.js"
import { native, type NativeModule, nativeModule, recordArg, textArg } from "./args.js"

/**
 * The natives of `std/record.vv`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const recordNatives = (): NativeModule =>
  nativeModule([
    native("get", ["r", "k"], ([r, k]) => recordArg("get", "r", r!).get(textArg("get", "k", k!)) ?? none()),
    native("set", ["r", "k", "v"], ([r, k, v]) => {
      const rec = recordArg("set", "r", r!)
      rec.set(textArg("set", "k", k!), v!)
      return rec
    }),
    native("to_list", ["r"], ([r]) => {
      const rec = recordArg("to_list", "r", r!)
      const names = Array.from(rec.fields.keys()).sort()
      return VvList.from(names.map((name) => VvList.of(chars(name), rec.fields.get(name)!)))
    })
  ])
