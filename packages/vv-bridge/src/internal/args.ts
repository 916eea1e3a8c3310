import type { Host, Kind, Native } from "../Host.js"
import { VvRuntimeError } from "../Host.js"

/**
 * @internal
 * A handle the bridge wraps in userdata. `vvType` names it in messages ("a connection").
 */
export interface Handle {
  readonly vvType: string
}

const isHandle = (u: unknown): u is Handle =>
  typeof u === "object" && u !== null && "vvType" in u && typeof u.vvType === "string"

const article = (kind: Kind): string => kind === "int" ? "an int" : kind === "userdata" ? "userdata" : `a ${kind}`

/** @internal A value's kind for messages: "an int", "a list", "a connection", "userdata". */
export const describe = <V>(host: Host<V>, value: V): string => {
  const kind = host.kindOf(value)
  if (kind === "userdata") {
    const handle = host.toUserdata(value)
    return isHandle(handle) ? `a ${handle.vvType}` : "userdata"
  }
  return article(kind)
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/**
 * @internal
 * The arguments of one native call, checked as the reference runtime checks them: a wrong
 * count or kind throws `VvRuntimeError` naming the native and the parameter.
 */
export class Args<V> {
  constructor(
    readonly host: Host<V>,
    readonly native: string,
    readonly params: ReadonlyArray<string>,
    readonly values: ReadonlyArray<V>
  ) {
    if (values.length !== params.length) {
      const expected = params.length === 0
        ? "no arguments"
        : `${plural(params.length, "argument")} (${params.join(", ")})`
      throw new VvRuntimeError(`${native} expects ${expected}, got ${values.length}`, { native })
    }
  }

  /** Throws: `<native> expects <param> to be <expected>, got <what>`. */
  fail(index: number, expected: string, got?: string): never {
    const what = got ?? describe(this.host, this.values[index]!)
    throw new VvRuntimeError(`${this.native} expects ${this.params[index]} to be ${expected}, got ${what}`, {
      native: this.native
    })
  }

  /** A string (a list of chars). */
  text(index: number): string {
    const s = this.host.toText(this.values[index]!)
    return s !== undefined ? s : this.fail(index, "a string (a list of chars)")
  }

  /** An int, as a number clamped to the safe integer range. */
  int(index: number): number {
    const n = this.host.toInt(this.values[index]!)
    if (n === undefined) return this.fail(index, "an int")
    if (typeof n === "number") return n
    return n > BigInt(Number.MAX_SAFE_INTEGER)
      ? Number.MAX_SAFE_INTEGER
      : n < BigInt(Number.MIN_SAFE_INTEGER)
      ? Number.MIN_SAFE_INTEGER
      : Number(n)
  }

  /** A non-negative int (a byte count). */
  count(index: number): number {
    const n = this.int(index)
    return n >= 0 ? n : this.fail(index, "a non-negative int", String(n))
  }

  /** A function value. */
  fun(index: number): V {
    const value = this.values[index]!
    return this.host.kindOf(value) === "fun" ? value : this.fail(index, "a function")
  }

  /** A list's elements. */
  list(index: number, expected: string): ReadonlyArray<V> {
    const items = this.host.toList(this.values[index]!)
    return items !== undefined ? items : this.fail(index, expected)
  }

  /** The handle of a userdata value, when it is an instance of `type`. */
  handle<H extends Handle>(index: number, type: abstract new(...args: never) => H, expected: string): H {
    const handle = this.host.toUserdata(this.values[index]!)
    return handle instanceof type ? handle : this.fail(index, expected)
  }

  /**
   * Bytes to send: a list whose elements are ints or chars, each taken as its low 8 bits
   * (256 → 0, -1 → 255, 'é' U+00E9 → 0xE9, '€' U+20AC → 0xAC). Any other element throws before
   * anything is sent. Returns bytes that never change: the host's lent bytes (`lendBytes`), or
   * a copy the caller owns.
   */
  bytes(index: number): Uint8Array {
    const value = this.values[index]!
    const lent = this.host.lendBytes?.(value)
    if (lent !== undefined) return lent
    const view = this.host.toByteView?.(value)
    if (view !== undefined) return view.slice()
    const expected = "a list of ints or chars"
    const items = this.list(index, expected)
    const out = new Uint8Array(items.length)
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!
      const n = this.host.toInt(item)
      if (n !== undefined) {
        // `& 255` of an integer number is its low 8 bits (two's complement), exactly up to 2^53.
        out[i] = typeof n === "bigint" ? Number(BigInt.asUintN(8, n)) : n & 255
        continue
      }
      const c = this.host.toChar(item)
      if (c !== undefined) {
        out[i] = c & 255
        continue
      }
      this.fail(index, expected, `a list with ${describe(this.host, item)} at index ${i}`)
    }
    return out
  }
}

/**
 * @internal
 * Defines a native: `call` checks that the bridge is open and the argument count, then runs
 * `impl` with the checked arguments.
 */
export const defineNative = <V>(
  host: Host<V>,
  ensureOpen: (native: string) => void,
  name: string,
  params: ReadonlyArray<string>,
  impl: (args: Args<V>) => V | Promise<V>
): Native<V> => ({
  name,
  params,
  call: (values) => {
    ensureOpen(name)
    return impl(new Args(host, name, params, values))
  }
})

/** @internal The message of anything thrown, for log lines. */
export const messageOf = (u: unknown): string => u instanceof Error ? u.message : typeof u === "string" ? u : String(u)
