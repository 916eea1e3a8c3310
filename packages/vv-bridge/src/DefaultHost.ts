/**
 * The default representation of vv values, used by the project's own vv runtime and by tests:
 *
 * | vv kind    | JavaScript                                                     |
 * | ---------- | -------------------------------------------------------------- |
 * | `bool`     | `boolean`                                                      |
 * | `int`      | `bigint`, kept in the signed 64-bit range by the runtime      |
 * | `float`    | `number`                                                       |
 * | `char`     | `VvChar` (one code point; interned, so `===` works)            |
 * | `list`     | `VvList` (mutable, shared by reference; may be stored as bytes) |
 * | `record`   | `VvRecord` (a `Map` of field names to values)                   |
 * | `fun`      | `VvFunction` (a name, an arity and a JS implementation)         |
 * | `userdata` | `VvUserdata` (wraps a host handle; compared by identity)        |
 *
 * Why these: `typeof` and `instanceof` tell every kind apart with no tag field; ints are exact
 * 64-bit values as in the reference runtime (a `number` would lose precision above 2^53 and
 * could not be told from a float); and a list of bytes can live in a `Uint8Array`, so
 * `read`/`write` move a 64 KiB buffer without making 65 536 element values.
 *
 * @since 0.1.0
 */
import type { CallOptions, Host, Kind, LogLevel, ResultView } from "./Host.js"
import { VvRuntimeError } from "./Host.js"

// ---- values ---------------------------------------------------------------------------------

/**
 * A vv value in the default representation.
 *
 * @since 0.1.0
 * @category models
 */
export type VvValue = boolean | bigint | number | VvChar | VvList | VvRecord | VvFunction | VvUserdata

const charCache = new Map<number, VvChar>()

/**
 * A char: one Unicode code point (0..0x10FFFF). Made with `VvChar.of`, which interns, so two
 * equal chars are the same object.
 *
 * @since 0.1.0
 * @category models
 */
export class VvChar {
  private constructor(readonly codePoint: number) {}

  /**
   * The char of a code point. Throws `RangeError` outside 0..0x10FFFF or for a non-integer.
   *
   * @since 0.1.0
   */
  static of(codePoint: number): VvChar {
    let c = charCache.get(codePoint)
    if (c === undefined) {
      if (!Number.isInteger(codePoint) || codePoint < 0 || codePoint > 0x10ffff) {
        throw new RangeError(`not a code point: ${codePoint}`)
      }
      c = new VvChar(codePoint)
      charCache.set(codePoint, c)
    }
    return c
  }

  /**
   * The char as a one-code-point string.
   *
   * @since 0.1.0
   */
  toString(): string {
    return String.fromCodePoint(this.codePoint)
  }
}

/** The ints 0..255, so byte-backed lists hand out bigints without allocating. */
const byteInts: ReadonlyArray<bigint> = Array.from({ length: 256 }, (_, i) => BigInt(i))

const isByteInt = (v: VvValue): v is bigint => typeof v === "bigint" && v >= 0n && v <= 255n

/**
 * A list: mutable, shared by reference, indexed from 0.
 *
 * A list is stored either as an array of values or, when every element is an int 0..255, as
 * bytes (a `Uint8Array`): `net.read` makes byte lists, `net.write` sends them with one copy.
 * The storage is invisible to vv code: `get` of a byte element is a `bigint`, and storing a
 * value that is not a byte converts the list to an array in place (the list object stays the
 * same, so sharing is kept).
 *
 * @since 0.1.0
 * @category models
 */
export class VvList implements Iterable<VvValue> {
  /** Array storage, or undefined in byte mode. */
  private items: Array<VvValue> | undefined
  /** Byte storage (may be longer than the list: capacity), or undefined in array mode. */
  private data: Uint8Array | undefined
  private size: number
  /** `data` was lent out (`lendBytes`): it must not change; a change copies it first. */
  private lent = false

  private constructor(items: Array<VvValue> | undefined, data: Uint8Array | undefined, size: number) {
    this.items = items
    this.data = data
    this.size = size
  }

  /**
   * A list of the given elements.
   *
   * @since 0.1.0
   */
  static of(...items: Array<VvValue>): VvList {
    return new VvList(items, undefined, items.length)
  }

  /**
   * A list of the elements of an iterable (copied).
   *
   * @since 0.1.0
   */
  static from(items: Iterable<VvValue>): VvList {
    const array = Array.from(items)
    return new VvList(array, undefined, array.length)
  }

  /**
   * A list that takes `items` as its storage, without copying: the caller must drop it.
   *
   * @since 0.1.0
   */
  static unsafeFromArray(items: Array<VvValue>): VvList {
    // a non-empty list of ints 0..255 is stored as bytes, so `net.write` sends it without a copy
    if (items.length > 0 && items.length <= 1 << 20 && items.every(isByteInt)) {
      return new VvList(undefined, Uint8Array.from(items, Number), items.length)
    }
    return new VvList(items, undefined, items.length)
  }

  /**
   * A list of ints 0..255 that takes `data` as its storage, without copying: the caller must
   * drop it (the list may write to it).
   *
   * @since 0.1.0
   */
  static fromBytes(data: Uint8Array): VvList {
    return new VvList(undefined, data, data.length)
  }

  /**
   * A list of the chars of `text` (a vv string), one per code point.
   *
   * @since 0.1.0
   */
  static fromText(text: string): VvList {
    const items: Array<VvValue> = []
    for (const ch of text) items.push(VvChar.of(ch.codePointAt(0)!))
    return new VvList(items, undefined, items.length)
  }

  /** The number of elements. */
  get length(): number {
    return this.size
  }

  /** Whether the list is stored as bytes. */
  get isBytes(): boolean {
    return this.data !== undefined
  }

  /**
   * The element at `index`, or `undefined` when out of range (the runtime raises).
   *
   * @since 0.1.0
   */
  get(index: number): VvValue | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) return undefined
    return this.data !== undefined ? byteInts[this.data[index]!] : this.items![index]
  }

  /**
   * Stores `value` at `index` (0 ≤ index < length); returns false when out of range.
   *
   * @since 0.1.0
   */
  set(index: number, value: VvValue): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) return false
    if (this.data !== undefined) {
      if (isByteInt(value)) {
        if (this.lent) this.unlend()
        this.data![index] = Number(value)
        return true
      }
      this.toArrayMode()
    }
    this.items![index] = value
    return true
  }

  /**
   * Appends `value`.
   *
   * @since 0.1.0
   */
  push(value: VvValue): void {
    if (this.data === undefined && this.size === 0 && isByteInt(value)) {
      // an empty list whose first element is a byte starts out as bytes
      this.items = undefined
      this.data = new Uint8Array(16)
      this.lent = false
    }
    if (this.data !== undefined) {
      if (isByteInt(value)) {
        if (this.size === this.data.length) {
          const grown = new Uint8Array(Math.max(16, this.size * 2))
          grown.set(this.data.subarray(0, this.size))
          this.data = grown
          this.lent = false
        } else if (this.lent) {
          this.unlend()
        }
        this.data![this.size++] = Number(value)
        return
      }
      this.toArrayMode()
    }
    this.items!.push(value)
    this.size++
  }

  /**
   * Removes and returns the last element (`undefined` when empty).
   *
   * @since 0.1.0
   */
  pop(): VvValue | undefined {
    if (this.size === 0) return undefined
    this.size--
    return this.data !== undefined ? byteInts[this.data[this.size]!] : this.items!.pop()
  }

  /**
   * Removes and returns the first element (`undefined` when empty).
   *
   * @since 0.1.0
   */
  shift(): VvValue | undefined {
    if (this.size === 0) return undefined
    this.size--
    if (this.data !== undefined) {
      const first = byteInts[this.data[0]!]
      this.data = this.data.subarray(1)
      return first
    }
    return this.items!.shift()
  }

  /**
   * A new list of the elements from `start` (inclusive) to `end` (exclusive), clamped.
   *
   * @since 0.1.0
   */
  slice(start: number = 0, end: number = this.size): VvList {
    const from = Math.max(0, Math.min(start, this.size))
    const to = Math.max(from, Math.min(end, this.size))
    return this.data !== undefined
      ? new VvList(undefined, this.data.slice(from, to), to - from)
      : VvList.unsafeFromArray(this.items!.slice(from, to))
  }

  /**
   * A new list: the elements of this list, then those of `other` (vv's `+`).
   *
   * @since 0.1.0
   */
  concat(other: VvList): VvList {
    if (this.size === 0 && other.data !== undefined) return other.slice()
    if (other.size === 0 && this.data !== undefined) return this.slice()
    if (this.data !== undefined && other.data !== undefined) {
      const out = new Uint8Array(this.size + other.size)
      out.set(this.data.subarray(0, this.size))
      out.set(other.data.subarray(0, other.size), this.size)
      return new VvList(undefined, out, out.length)
    }
    return VvList.unsafeFromArray([...this, ...other])
  }

  /**
   * The elements, copied into a new array.
   *
   * @since 0.1.0
   */
  toArray(): Array<VvValue> {
    return this.data !== undefined
      ? Array.from(this.data.subarray(0, this.size), (b) => byteInts[b]!)
      : this.items!.slice()
  }

  /**
   * The elements without copying when stored as an array (do not mutate), else a new array.
   *
   * @since 0.1.0
   */
  elements(): ReadonlyArray<VvValue> {
    return this.items ?? this.toArray()
  }

  /**
   * In byte mode, a view of the bytes (do not keep it across vv code); else `undefined`.
   *
   * @since 0.1.0
   */
  byteView(): Uint8Array | undefined {
    return this.data?.subarray(0, this.size)
  }

  /**
   * In byte mode, the bytes themselves, lent without a copy: they never change afterwards (a
   * later `set` or `push` of the list copies its storage first, once); else `undefined`. What
   * `net.write` sends, so writing the same list again and again copies nothing.
   *
   * @since 0.2.0
   */
  lendBytes(): Uint8Array | undefined {
    if (this.data === undefined) return undefined
    this.lent = true
    return this.data.subarray(0, this.size)
  }

  /**
   * Copy-on-write: gives the list storage of its own, the lent bytes staying as they were.
   *
   * @since 0.2.0
   */
  private unlend(): void {
    this.data = this.data!.slice()
    this.lent = false
  }

  /**
   * The list as a string when every element is a char (`""` when empty), else `undefined`.
   *
   * @since 0.1.0
   */
  text(): string | undefined {
    if (this.data !== undefined) return this.size === 0 ? "" : undefined
    let s = ""
    for (const item of this.items!) {
      if (!(item instanceof VvChar)) return undefined
      s += String.fromCodePoint(item.codePoint)
    }
    return s
  }

  /**
   * The elements in order (a byte-backed list yields its ints as bigints).
   *
   * @since 0.1.0
   */
  *[Symbol.iterator](): Iterator<VvValue> {
    if (this.data !== undefined) {
      for (let i = 0; i < this.size; i++) yield byteInts[this.data[i]!]!
    } else {
      yield* this.items!
    }
  }

  /** @internal */
  private toArrayMode(): void {
    this.items = this.toArray()
    this.data = undefined
  }
}

/**
 * A record: named fields, mutable, shared by reference. Field order carries no meaning
 * (printing sorts the names).
 *
 * @since 0.1.0
 * @category models
 */
export class VvRecord {
  /**
   * The fields by name.
   *
   * @since 0.1.0
   */
  readonly fields: Map<string, VvValue>

  constructor(fields?: Iterable<readonly [string, VvValue]> | Readonly<Record<string, VvValue>>) {
    this.fields = new Map(
      fields === undefined
        ? []
        : Symbol.iterator in fields
        ? fields as Iterable<readonly [string, VvValue]>
        : Object.entries(fields)
    )
  }

  /**
   * The field's value, or `undefined` when the record has no such field.
   *
   * @since 0.1.0
   */
  get(name: string): VvValue | undefined {
    return this.fields.get(name)
  }

  /**
   * Sets (or adds) a field.
   *
   * @since 0.1.0
   */
  set(name: string, value: VvValue): void {
    this.fields.set(name, value)
  }
}

/**
 * A function value (`fun`): a closure of the runtime or a native.
 *
 * - `name`: for messages (`"handler"`, `"<anonymous>"`).
 * - `arity`: the exact number of arguments, or `undefined` for a variadic native
 *   (`console.print`).
 * - `invoke(args, options)`: runs it; returns the result or a promise of it; throws or rejects
 *   with the runtime's error. Called through `host.call`, which checks the arity first.
 *
 * @since 0.1.0
 * @category models
 */
export class VvFunction {
  constructor(
    readonly name: string,
    readonly arity: number | undefined,
    readonly invoke: (args: ReadonlyArray<VvValue>, options: CallOptions) => VvValue | Promise<VvValue>
  ) {}
}

/**
 * Userdata: an opaque host handle (a connection, a listener, a channel, a mutex). Compared by
 * identity; prints as `<userdata>`.
 *
 * @since 0.1.0
 * @category models
 */
export class VvUserdata {
  constructor(readonly handle: object) {}
}

// ---- constructors -----------------------------------------------------------------------------

/**
 * An int. A `number` must be an integer; values outside the signed 64-bit range wrap, as
 * int64 arithmetic does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const int = (n: number | bigint): bigint => BigInt.asIntN(64, typeof n === "bigint" ? n : BigInt(n))

/**
 * A char list (a vv string) of `text`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const chars = (text: string): VvList => VvList.fromText(text)

/**
 * A list of ints from numbers or bigints (array storage, as a vv list literal makes).
 *
 * @since 0.1.0
 * @category constructors
 */
export const ints = (values: Iterable<number | bigint>): VvList => VvList.unsafeFromArray(Array.from(values, int))

/**
 * A record of the given fields.
 *
 * @since 0.1.0
 * @category constructors
 */
export const record = (fields: Readonly<Record<string, VvValue>>): VvRecord => new VvRecord(fields)

/**
 * none: `{ type = "none" }`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const none = (): VvRecord => new VvRecord([["type", chars("none")]])

/**
 * An ok result: `{ type = "ok", value = value }`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ok = (value: VvValue): VvRecord => new VvRecord([["type", chars("ok")], ["value", value]])

/**
 * An error result whose value is a char list: `{ type = "error", value = message }`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const error = (message: string): VvRecord => new VvRecord([["type", chars("error")], ["value", chars(message)]])

/**
 * A function value with a fixed arity (or `undefined`: variadic).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fun = (
  name: string,
  arity: number | undefined,
  invoke: (args: ReadonlyArray<VvValue>, options: CallOptions) => VvValue | Promise<VvValue>
): VvFunction => new VvFunction(name, arity, invoke)

// ---- reading ----------------------------------------------------------------------------------

/**
 * The kind of a value, as `sys.type` names it.
 *
 * @since 0.1.0
 * @category getters
 */
export const kindOf = (value: VvValue): Kind => {
  switch (typeof value) {
    case "boolean":
      return "bool"
    case "bigint":
      return "int"
    case "number":
      return "float"
  }
  if (value instanceof VvChar) return "char"
  if (value instanceof VvList) return "list"
  if (value instanceof VvRecord) return "record"
  if (value instanceof VvFunction) return "fun"
  return "userdata"
}

/**
 * The string of a char list, or `undefined` for anything else (`""` for an empty list).
 *
 * @since 0.1.0
 * @category getters
 */
export const text = (value: VvValue): string | undefined => value instanceof VvList ? value.text() : undefined

/**
 * Reads a result record: `{ ok, value }` for `{ type = "ok" | "error", value }`, `undefined`
 * for anything else (none included).
 *
 * @since 0.1.0
 * @category getters
 */
export const toResult = (value: VvValue): ResultView<VvValue> | undefined => {
  if (!(value instanceof VvRecord)) return undefined
  const type = value.get("type")
  const tag = type === undefined ? undefined : text(type)
  if (tag !== "ok" && tag !== "error") return undefined
  return { ok: tag === "ok", value: value.get("value") ?? none() }
}

/**
 * Whether a value is none (`{ type = "none" }`).
 *
 * @since 0.1.0
 * @category getters
 */
export const isNone = (value: VvValue): boolean => {
  if (!(value instanceof VvRecord)) return false
  const type = value.get("type")
  return type !== undefined && text(type) === "none"
}

// ---- equality and printing --------------------------------------------------------------------

/**
 * vv's `==`: same kinds only (an int compared with a char or a float, or a bool with an int, is
 * a `VvRuntimeError`); lists element-wise (a list and a non-list, or different lengths: false);
 * records deeply (a record and a non-record: false); chars by code point; functions and
 * userdata by identity.
 *
 * @since 0.1.0
 * @category equality
 */
export const equals = (a: VvValue, b: VvValue): boolean => {
  if (a instanceof VvList || b instanceof VvList) {
    if (!(a instanceof VvList && b instanceof VvList) || a.length !== b.length) return false
    const x = a.byteView()
    const y = b.byteView()
    if (x !== undefined && y !== undefined) return x.every((byte, i) => byte === y[i])
    for (let i = 0; i < a.length; i++) if (!equals(a.get(i)!, b.get(i)!)) return false
    return true
  }
  if (a instanceof VvRecord || b instanceof VvRecord) {
    if (!(a instanceof VvRecord && b instanceof VvRecord) || a.fields.size !== b.fields.size) return false
    for (const [name, value] of a.fields) {
      const other = b.fields.get(name)
      if (other === undefined || !equals(value, other)) return false
    }
    return true
  }
  const ka = kindOf(a)
  const kb = kindOf(b)
  if (ka !== kb) throw new VvRuntimeError(`cannot compare ${article(ka)} with ${article(kb)}`)
  return a === b
}

const article = (kind: Kind): string => kind === "int" ? "an int" : kind === "userdata" ? "userdata" : `a ${kind}`

/**
 * A float as Go's `fmt.Sprintf("%g", f)`, which is how the reference vv runtime prints floats:
 * the shortest digits that read back as `f`, in exponent form (`1e+06`, `1.5e-05`) when the
 * exponent is below -4 or at least 6; `NaN`, `+Inf`, `-Inf`.
 *
 * @since 0.2.0
 * @category printing
 */
export const formatFloat = (f: number): string => {
  if (Number.isNaN(f)) return "NaN"
  if (f === Infinity) return "+Inf"
  if (f === -Infinity) return "-Inf"
  if (f === 0) return Object.is(f, -0) ? "-0" : "0"
  const [mantissa, exponent] = f.toExponential().split("e") as [string, string]
  const exp = Number(exponent)
  if (exp < -4 || exp >= 6) {
    const abs = Math.abs(exp)
    return `${mantissa}e${exp < 0 ? "-" : "+"}${abs < 10 ? "0" : ""}${abs}`
  }
  return String(f)
}

/**
 * A value as vv prints it: `console.print`, string interpolation, `unhandled error: …` and the
 * bridge's log lines all use this one printer. It follows the reference vv runtime:
 *
 * - a char list prints as its text, and an empty list as nothing (it is the empty string);
 * - other lists as `[1, 2]`, where an element that is a non-empty char list prints quoted as
 *   `"ab"` (no escapes), a char as `'c'` and an empty list as `[]`;
 * - records as `{ k = v }` with sorted keys, each value printed as at top level
 *   (`{ type = error, value = timeout }`); the empty record as `{  }`;
 * - ints in decimal, floats as Go's `%g` (`formatFloat`), bools as `true`/`false`, a char as
 *   itself, functions as `<function>`, userdata as `<userdata>`.
 *
 * A list or record that contains itself overflows the JavaScript stack (a `RangeError`).
 *
 * @since 0.1.0
 * @category printing
 */
export const show = (value: VvValue): string => {
  if (value instanceof VvList) {
    const s = value.text()
    return s !== undefined ? s : showList(value)
  }
  if (value instanceof VvChar) return value.toString()
  return showScalar(value)
}

const showList = (list: VvList): string => "[" + Array.from(list, showElement).join(", ") + "]"

/** An element of a list, as the reference's `String()` of a value. */
const showElement = (value: VvValue): string => {
  if (value instanceof VvList) {
    const s = value.length > 0 ? value.text() : undefined
    return s !== undefined ? `"${s}"` : showList(value)
  }
  if (value instanceof VvChar) return `'${value.toString()}'`
  return showScalar(value)
}

const showScalar = (value: VvValue): string => {
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false"
    case "bigint":
      return value.toString()
    case "number":
      return formatFloat(value)
  }
  if (value instanceof VvRecord) {
    const names = Array.from(value.fields.keys()).sort()
    return "{ " + names.map((name) => `${name} = ${show(value.fields.get(name)!)}`).join(", ") + " }"
  }
  if (value instanceof VvFunction) return "<function>"
  return "<userdata>"
}

// ---- the host ---------------------------------------------------------------------------------

/**
 * Options of `make`. `log`: where the bridge's log lines go (default: `console.error` for
 * errors, `console.warn` for warnings, prefixed with `vv:`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly log?: ((level: LogLevel, message: string) => void) | undefined
}

const defaultLog = (level: LogLevel, message: string): void => {
  if (level === "error") console.error(`vv: ${message}`)
  else console.warn(`vv: ${message}`)
}

/**
 * Calls a function value as a vv call does: checks that `fn` is a `VvFunction` and the argument
 * count (throwing `VvRuntimeError`), then runs it.
 *
 * @since 0.1.0
 * @category calling
 */
export const call = (
  fn: VvValue,
  args: ReadonlyArray<VvValue>,
  options: CallOptions
): VvValue | Promise<VvValue> => {
  if (!(fn instanceof VvFunction)) throw new VvRuntimeError(`cannot call ${article(kindOf(fn))}`)
  if (fn.arity !== undefined && fn.arity !== args.length) {
    throw new VvRuntimeError(
      `${fn.name} expects ${fn.arity} argument${fn.arity === 1 ? "" : "s"}, got ${args.length}`
    )
  }
  return fn.invoke(args, options)
}

/**
 * The default host over `VvValue`, with the given log.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Host<VvValue> => ({
  none,
  ok,
  error,
  int: (n) => BigInt(n),
  bytes: (data) => VvList.fromBytes(data),
  record,
  userdata: (handle) => new VvUserdata(handle),
  kindOf,
  toInt: (value) => typeof value === "bigint" ? value : undefined,
  toChar: (value) => value instanceof VvChar ? value.codePoint : undefined,
  toText: text,
  toList: (value) => value instanceof VvList ? value.elements() : undefined,
  toByteView: (value) => value instanceof VvList ? value.byteView() : undefined,
  lendBytes: (value) => value instanceof VvList ? value.lendBytes() : undefined,
  toUserdata: (value) => value instanceof VvUserdata ? value.handle : undefined,
  toResult,
  show,
  call,
  log: options?.log ?? defaultLog
})

/**
 * The default host, logging to the console.
 *
 * @since 0.1.0
 * @category constructors
 */
export const host: Host<VvValue> = make()
