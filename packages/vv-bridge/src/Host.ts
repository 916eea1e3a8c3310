/**
 * The host interface: how a vv runtime tells the bridge to make and read its values, call a vv
 * function value and report to its log. The bridge is generic over the host's value type `V`;
 * `DefaultHost` is the representation the project's own runtime uses.
 *
 * vv values, as the natives see them (vv-language.md, design.md §4):
 *
 * - results are records `{ type = "ok", value = v }` / `{ type = "error", value = message }`,
 *   none is `{ type = "none" }`, a message is a char list;
 * - strings are lists of chars, byte lists are lists of ints 0..255;
 * - handles (connections, listeners, channels, mutexes) are opaque userdata.
 *
 * @since 0.1.0
 */

/**
 * The kinds of vv values, as `sys.type` names them.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "bool" | "int" | "float" | "char" | "list" | "record" | "fun" | "userdata"

/**
 * Options of a call into vv code. `signal` aborts when the bridge stops the call (its bridge is
 * disposed): a host should stop running the function at its next step and may leave the
 * returned promise pending or reject it; the bridge no longer listens. The bridge makes the
 * signal when it is first read, so a host that reads it only when it needs it (a call that
 * waits) saves an AbortController per call.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  readonly signal: AbortSignal
}

/**
 * A result read back from a vv value: `ok` is true for `{ type = "ok" }` and false for
 * `{ type = "error" }`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResultView<V> {
  readonly ok: boolean
  readonly value: V
}

/**
 * The level of a log line the bridge sends to the host: `"error"` for a failed accept handler,
 * `"warning"` for a transient accept failure the loop retries.
 *
 * @since 0.1.0
 * @category models
 */
export type LogLevel = "error" | "warning"

/**
 * How a host represents vv values. All members are plain functions (no `this`), called on the
 * host's event loop only.
 *
 * Making values:
 * - `none()`, `ok(v)`, `error(message)`: results; `message` becomes a char list. Each call
 *   returns a fresh value (lists and records are mutable in vv).
 * - `int(n)`: an int from a safe integer (byte counts, indices).
 * - `bytes(data)`: a list of ints 0..255 with the bytes of `data`. The bridge hands `data`
 *   over: the host may keep it as the list's storage without copying, and mutate it.
 * - `record(fields)`: a record with exactly these fields.
 * - `userdata(handle)`: an opaque value wrapping `handle`, compared by identity. The bridge
 *   calls it once per handle, so one handle has one userdata value.
 *
 * Reading values (each returns `undefined` when the value is not of that kind):
 * - `kindOf(v)`: the kind.
 * - `toInt(v)`: an int's value, as a number or a bigint (64-bit hosts).
 * - `toChar(v)`: a char's code point.
 * - `toText(v)`: a list of chars as a string (`""` for an empty list).
 * - `toList(v)`: a list's elements, in order. The bridge does not keep or mutate the array.
 * - `toByteView(v)` (optional fast path): when the list is stored as bytes (every element an int
 *   0..255), a view of them; `undefined` otherwise. The bridge copies what it keeps.
 * - `lendBytes(v)` (optional, faster): as `toByteView`, but the bytes are lent: the host
 *   promises they never change afterwards (a later change of the list copies its storage
 *   first, copy-on-write), so the bridge hands them to a write without copying them. A write
 *   that completes at once then costs no copy at all.
 * - `toUserdata(v)`: the handle wrapped by a userdata value.
 * - `toResult(v)`: a result record's `ok` flag and value; `undefined` for anything else,
 *   including none.
 * - `show(v)`: the value as `console.print` prints it (for log lines).
 *
 * Running vv code and reporting:
 * - `call(fn, args, options)`: calls a vv function value (a closure or a native) with `args`,
 *   checking arity as a vv call does; returns its result, or a promise of it when the function
 *   suspends (waits on a native). A vv runtime error is thrown or rejected. `fn` is only ever a
 *   value whose `kindOf` is `"fun"`.
 * - `log(level, message)`: the host's log (stderr in a CLI). Never throws.
 *
 * @since 0.1.0
 * @category models
 */
export interface Host<V> {
  readonly none: () => V
  readonly ok: (value: V) => V
  readonly error: (message: string) => V
  readonly int: (n: number) => V
  readonly bytes: (data: Uint8Array) => V
  readonly record: (fields: Readonly<Record<string, V>>) => V
  readonly userdata: (handle: object) => V

  readonly kindOf: (value: V) => Kind
  readonly toInt: (value: V) => number | bigint | undefined
  readonly toChar: (value: V) => number | undefined
  readonly toText: (value: V) => string | undefined
  readonly toList: (value: V) => ReadonlyArray<V> | undefined
  readonly toByteView?: ((value: V) => Uint8Array | undefined) | undefined
  readonly lendBytes?: ((value: V) => Uint8Array | undefined) | undefined
  readonly toUserdata: (value: V) => object | undefined
  readonly toResult: (value: V) => ResultView<V> | undefined
  readonly show: (value: V) => string

  readonly call: (fn: V, args: ReadonlyArray<V>, options: CallOptions) => V | Promise<V>
  readonly log: (level: LogLevel, message: string) => void
}

/**
 * A native function of a vv module, as a host binds it to `extern "native" fun NAME(params)`.
 *
 * - `name`: the NAME (`"read"`); `params`: the parameter names of the extern declaration.
 * - `call(args)`: runs the native. Returns its value itself when its work completed at once (a
 *   read with data buffered, a write the OS took, a send to a waiting receiver, a free lock),
 *   and a promise only when it waits (network, channel, mutex): a host goes on synchronously
 *   with a value that is not a promise. Throws (or rejects with) `VvRuntimeError` for a wrong argument count or
 *   kind, and for a call after its bridge was disposed. Never rejects with anything else
 *   unless the bridge has a bug (then the error says so).
 *
 * @since 0.1.0
 * @category models
 */
export interface Native<V> {
  readonly name: string
  readonly params: ReadonlyArray<string>
  readonly call: (args: ReadonlyArray<V>) => V | Promise<V>
}

/**
 * A vv runtime error raised by a native: a wrong argument count or kind
 * (`read expects conn to be a connection, got a listener`), unlocking an unlocked mutex, a
 * call after the bridge was disposed. vv code cannot catch it: the host unwinds through defers
 * and ends the run (or test) with `message` and the source location of the call.
 *
 * - `native`: the native's name (`"read"`), or `undefined` for an error raised by a host helper.
 * - `cause`: the underlying error, for a bridge defect.
 *
 * @since 0.1.0
 * @category errors
 */
export class VvRuntimeError extends Error {
  /**
   * The native's name (`"read"`), or `undefined` for an error raised by a host helper.
   *
   * @since 0.1.0
   */
  readonly native: string | undefined

  constructor(message: string, options?: { readonly native?: string | undefined; readonly cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined)
    this.native = options?.native
  }

  override get name(): string {
    return "VvRuntimeError"
  }
}

/**
 * Whether a value is a `VvRuntimeError`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isVvRuntimeError = (u: unknown): u is VvRuntimeError => u instanceof VvRuntimeError
