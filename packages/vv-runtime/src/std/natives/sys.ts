/**
 * The natives of `std/sys.vv`:
 *
 * - `type(v)`: the kind of `v` as a string;
 * - `str(v)`: `v` as `console.print` prints it, as a string;
 * - `phys_eq(a, b)`: physical equality: lists, records, functions and userdata are the same
 *   object; bools, ints, floats and chars are equal values;
 * - `get_max_recursion_depth()`, `set_max_recursion_depth(n)`: the nested-call limit of this
 *   program run (default 1000, as on the reference); past it a call fails with
 *   `call stack size overflow (max depth N)`;
 * - `help()`, `help(v)`: for a module (a record), its public names, one `- name` line each;
 *   for another value, `type: <kind>`; without an argument, how to call it.
 *
 * @since 0.2.0
 */
import { show } from "../../Printer.js"
import { chars, kindOf, none, VvRecord } from "../../Values.js"
import { fail, intArg, native, type NativeModule, nativeModule } from "./args.js"

/**
 * The reference runtime's default limit of nested calls.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultMaxRecursionDepth = 1000

/**
 * The nested-call limit of one program run, which `sys.set_max_recursion_depth` changes and the
 * evaluator reads before each call.
 *
 * @since 0.2.0
 * @category models
 */
export interface RecursionLimit {
  max: number
}

/**
 * A limit at the reference's default.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeRecursionLimit = (): RecursionLimit => ({ max: defaultMaxRecursionDepth })

/**
 * The natives of `std/sys.vv`, printing `help` through `out` and reading and setting `limit`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const sysNatives = (out: (text: string) => void, limit: RecursionLimit): NativeModule =>
  nativeModule([
    native("type", ["value"], ([v]) => chars(kindOf(v!))),
    native("str", ["v"], ([v]) => chars(show(v!))),
    native("phys_eq", ["a", "b"], ([a, b]) => a === b),
    native("get_max_recursion_depth", [], () => BigInt(limit.max)),
    native("set_max_recursion_depth", ["depth"], ([d]) => {
      const depth = intArg("set_max_recursion_depth", "depth", d!)
      if (depth < 1n || depth > 1_000_000n) {
        return fail("set_max_recursion_depth", `expects depth between 1 and 1000000, got ${depth}`)
      }
      limit.max = Number(depth)
      return none()
    }),
    native("help", undefined, (args) => {
      if (args.length > 1) return fail("help", `expects 0 or 1 argument, got ${args.length}`)
      const v = args[0]
      if (v === undefined) out("help(value): the names of a module, or the type of a value\n")
      else if (v instanceof VvRecord) {
        for (const name of Array.from(v.fields.keys()).sort()) out(`- ${name}\n`)
      } else out(`type: ${kindOf(v)}\n`)
      return none()
    })
  ])
