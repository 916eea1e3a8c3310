/**
 * A listener: Go's `net.Listener` as Effects, with accept as a Stream.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { Network } from "./Address.js"
import type { Conn } from "./Conn.js"
import type * as NetError from "./NetError.js"

/**
 * A listener. Obtained from `Net.listen`, which closes it when its Scope closes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listener {
  /** The network: `"tcp"`, `"tcp4"`, `"tcp6"` or `"unix"`. */
  readonly network: Network
  /** The bound address in Go form, with the real port for `:0` (`"127.0.0.1:41234"`), or the path. */
  readonly address: string
  /**
   * Waits for the next connection (Go's `Listener.Accept`) and puts its `close` in the
   * caller's Scope. Interruptible while waiting; an interrupted accept drops no connection.
   * Fails with `Closed` (pending accepts end with it when the listener closes),
   * `TooManyOpenFiles` (transient: retry after a pause) or another `NetError`.
   */
  readonly accept: Effect.Effect<Conn, NetError.NetError, Scope.Scope>
  /**
   * Accept as a Stream: emits each connection, ends when the listener closes, fails on any
   * other accept error. Each emitted connection is the consumer's to close (`Net.serve` is
   * the managed way to handle connections).
   */
  readonly connections: Stream.Stream<Conn, NetError.NetError>
  /**
   * Closes the listener: idempotent, never fails. Pending accepts fail with `Closed`, queued
   * connections not yet accepted are closed, a unix socket file is removed if it is still the
   * one this listener created. Accepted connections stay open.
   */
  readonly close: Effect.Effect<void>
}
