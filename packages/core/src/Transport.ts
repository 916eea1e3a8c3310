/**
 * The seam between vvnet's semantics and a concrete network. An adapter (NodeNet, MemoryNet,
 * a future Bun or Deno adapter) implements `ConnTransport` and `ListenerTransport`, which only
 * move bytes and report OS errors; `makeConn` and `makeListener` build the `Conn` and
 * `Listener` around them, so every adapter gets the same read, deadline, backpressure, close
 * and accept semantics (the SQL-family split of Effect: core owns meaning, drivers map).
 *
 * @since 0.1.0
 */
import type * as Clock from "effect/Clock"
import type { Conn } from "./Conn.js"
import * as internalConn from "./internal/conn.js"
import * as internalListener from "./internal/listener.js"
import type * as seam from "./internal/seam.js"
import { clockTimer, liveTimer, scheduleLive } from "./internal/timer.js"
import { invalidPositive, invalidTimeout } from "./internal/validate.js"
import type { Listener } from "./Listener.js"
import type { DialOptions, ListenOptions } from "./Net.js"
import * as NetError from "./NetError.js"

/**
 * An OS-level error as a transport reports it: an errno name (`"ECONNRESET"`), the system call,
 * and a message. Core maps it to a `NetError` through `NetError.errnoTable`. A transport that
 * runs TLS reports a TLS failure (a peer's alert in a read) with its `kind`: it becomes a
 * `TlsError` with that kind, the `code`, and `message` as its reason (Go's text).
 *
 * @since 0.1.0
 * @category models
 */
export interface OsError extends seam.OsError {}

/**
 * What an adapter provides for one connection. Every callback is called at most once.
 *
 * - `network`, `localAddress`, `remoteAddress`: the connection's network and its two ends in
 *   Go form (`127.0.0.1:8080`, a unix path); read when first needed, so a getter may compute
 *   them lazily.
 * - `write(data, done)`: hand `data` to the OS. Return `true` when the OS took every byte
 *   synchronously, and then never call `done`; otherwise call `done()` exactly once when it
 *   has (or `done(error)`), possibly before `write` returns. Never buffer without bound: core
 *   hands over the next write only after `done`, so at most one write is in a transport at a
 *   time.
 * - `closeWrite(done)`: send FIN after the writes already handed over (half-close).
 * - `pause()` / `resume()`: stop and restart delivering inbound bytes (flow control; the OS
 *   then pushes back on the peer).
 * - `close(abort)`: called exactly once, and must return at once. With `abort`, reset the
 *   connection and release the OS resource now (RST, Go's `SetLinger(0)`). Without it, a
 *   connection that never wrote a byte has nothing to deliver and is released at once (FIN, as
 *   Go's `Close`), so a peer still sending learns of the close; otherwise close gracefully in
 *   the background (the "lingering close" of nginx and Apache): deliver every
 *   byte already handed to `write`, send FIN, then read and discard the peer's input until its
 *   EOF (or a reset) or until the adapter's linger bound passes (`linger` of `DialOptions` /
 *   `ListenOptions`, default `defaultLinger`), then release. Discarding input matters: an OS
 *   that closes a socket with unread input resets it, and the peer loses what was written
 *   before the close. Core ignores everything the adapter feeds to `Inbound` after `close`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnTransport extends seam.ConnTransport {}

/**
 * The default bound, in milliseconds, on a graceful close's background linger (flush, FIN,
 * drain the peer's input until its EOF): 5000, nginx's `lingering_timeout`.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultLinger = 5_000

/**
 * The inbound side of a connection, fed by the adapter: `push` bytes as they arrive (returns
 * `false` once the receive buffer is at its high-water mark; core has then called `pause`),
 * `end()` at EOF (FIN), `fail(error)` on a reset or other OS error. After `close`, all three
 * are ignored.
 *
 * @since 0.1.0
 * @category models
 */
export interface Inbound extends seam.Inbound {}

/**
 * Options of `makeConn`.
 *
 * - `readBufferSize`: receive buffer high-water mark in bytes (default 131072); above it the
 *   transport is paused, below half of it resumed.
 * - `clock`: the Clock that runs deadlines. Default: the host's timers. MemoryNet passes the
 *   caller's Clock so `TestClock` drives deadlines.
 * - `readLimit`: fault injection for test networks (MemoryNet's `shortReads`): called with a
 *   read's byte count (at least 1) when bytes are buffered, it returns the most this read may
 *   return (kept within 1 to that count), so reads come back shorter than what is buffered, as
 *   a real network's may.
 *   Default: none (a read returns everything buffered, up to its count).
 *
 * @since 0.1.0
 * @category models
 */
export interface MakeConnOptions {
  readonly readBufferSize?: number | undefined
  readonly clock?: Clock.Clock | undefined
  readonly readLimit?: ((count: number) => number) | undefined
}

/**
 * Builds a `Conn` around a transport. The returned `inbound` is for the adapter to feed; the
 * `conn` is unowned: put `conn.close` in a Scope (as `Net.dial` and `Listener.accept` do).
 * `close(abort)` closes it synchronously, for an adapter's own finalizers (the same as running
 * `conn.close`, or `Conn.abort` when `abort` is true).
 * Throws a `RangeError` (an adapter's programming error, not a network failure) when
 * `readBufferSize` is not a positive integer; adapters validate user options first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeConn = (
  transport: ConnTransport,
  options?: MakeConnOptions
): { readonly conn: Conn; readonly inbound: Inbound; readonly close: (abort: boolean) => void } => {
  const size = options?.readBufferSize
  if (size !== undefined && !(Number.isSafeInteger(size) && size > 0)) {
    throw new RangeError(`readBufferSize must be a positive integer, got ${size}`)
  }
  const impl = new internalConn.ConnImpl(
    transport,
    options?.clock !== undefined ? clockTimer(options.clock) : liveTimer,
    size ?? internalConn.defaultReadBufferSize,
    options?.readLimit
  )
  return { conn: impl, inbound: impl, close: (abort) => impl.closeNow(abort) }
}

/**
 * What an adapter provides for one listener: its network, the bound address in Go form (the
 * real port for `:0`), and `close()`, which releases the OS resource (called exactly once).
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenerTransport extends seam.ListenerTransport {}

/**
 * The accepting side of a listener, fed by the adapter: `push(conn)` queues a connection the
 * OS accepted (returns `false` and closes it when the listener is closed or its backlog is
 * full); `fail(error)` reports a transient accept error such as `EMFILE` to the next accept.
 *
 * @since 0.1.0
 * @category models
 */
export interface Acceptor extends seam.Acceptor {}

/**
 * Options of `makeListener`. `backlog`: connections accepted by the OS but not yet by the
 * program, at most (default 511); further ones are closed.
 *
 * @since 0.1.0
 * @category models
 */
export interface MakeListenerOptions {
  readonly backlog?: number | undefined
}

/**
 * Builds a `Listener` around a transport. The `listener` is unowned: put `listener.close` in a
 * Scope (as `Net.listen` does). Closing it closes every queued, not yet accepted connection.
 * `close()` closes it synchronously, for an adapter's own finalizers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeListener = (
  transport: ListenerTransport,
  options?: MakeListenerOptions
): { readonly listener: Listener; readonly acceptor: Acceptor; readonly close: () => void } => {
  const impl = new internalListener.ListenerImpl(transport, options?.backlog ?? internalListener.defaultBacklog)
  return { listener: impl, acceptor: impl, close: () => impl.closeNow() }
}

// ---- adapter kit ------------------------------------------------------------------------------

/**
 * Calls `f` once after `ms` milliseconds on the host's timers, for an adapter's own timeouts
 * (a dial timeout, a linger bound). Unlike a bare `setTimeout`, delays past its 2^31 - 1 ms
 * bound (about 24.8 days) are honoured by chaining. With `unref`, the timer does not keep the
 * process alive (where the host supports it). Returns a function that cancels the timer;
 * cancelling after it fired does nothing.
 *
 * @since 0.2.0
 * @category adapter kit
 */
export const schedule = (ms: number, f: () => void, options?: { readonly unref?: boolean | undefined }): () => void =>
  scheduleLive(ms, f, options?.unref === true)

const invalidOption = (op: NetError.Op, network: string, address: string, reason: string) =>
  NetError.make("InvalidArgument", { op, network, address, reason })

const checkMillis = (name: string, value: unknown): string | undefined =>
  value === undefined || invalidTimeout(value) === undefined
    ? undefined
    : `invalid argument: ${name} must be a finite, non-negative number of milliseconds, got ${String(value)}`

const checkBoolean = (name: string, value: unknown): string | undefined =>
  value === undefined || typeof value === "boolean"
    ? undefined
    : `invalid argument: ${name} must be a boolean, got ${String(value)}`

const checkPositive = (name: string, value: unknown): string | undefined =>
  value === undefined ? undefined : invalidPositive(name, value)

/**
 * Validates the options of `dial` the way every adapter must (before any lookup or syscall):
 * `timeout`, `linger` and a numeric `keepAlive` are finite, non-negative milliseconds;
 * `readBufferSize` is a positive integer; `keepAlive` (otherwise) and `noDelay` are booleans.
 * Returns the `InvalidArgument` to fail with (op `"dial"`), or undefined when they are valid.
 * `localAddress` is left to the adapter (its form depends on the network).
 *
 * @since 0.2.0
 * @category adapter kit
 */
export const validateDialOptions = (
  network: string,
  address: string,
  options: DialOptions | undefined
): NetError.InvalidArgument | undefined => {
  if (options === undefined) return undefined
  const keepAlive = options.keepAlive
  const reason = checkMillis("timeout", options.timeout) ??
    checkPositive("readBufferSize", options.readBufferSize) ??
    checkMillis("linger", options.linger) ??
    (typeof keepAlive === "number" ? checkMillis("keepAlive", keepAlive) : checkBoolean("keepAlive", keepAlive)) ??
    checkBoolean("noDelay", options.noDelay)
  return reason === undefined ? undefined : invalidOption("dial", network, address, reason)
}

/**
 * Validates the options of `listen`: `backlog` and `readBufferSize` are positive integers,
 * `linger` is finite, non-negative milliseconds, `reclaimStaleSocket` and `exclusive` are booleans. Returns the
 * `InvalidArgument` to fail with (op `"listen"`), or undefined when they are valid.
 *
 * @since 0.2.0
 * @category adapter kit
 */
export const validateListenOptions = (
  network: string,
  address: string,
  options: ListenOptions | undefined
): NetError.InvalidArgument | undefined => {
  if (options === undefined) return undefined
  const reason = checkPositive("backlog", options.backlog) ??
    checkPositive("readBufferSize", options.readBufferSize) ??
    checkMillis("linger", options.linger) ??
    checkBoolean("reclaimStaleSocket", options.reclaimStaleSocket) ??
    checkBoolean("exclusive", options.exclusive)
  return reason === undefined ? undefined : invalidOption("listen", network, address, reason)
}
