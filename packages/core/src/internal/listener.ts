import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Network } from "../Address.js"
import type { Conn } from "../Conn.js"
import type { Listener } from "../Listener.js"
import * as NetError from "../NetError.js"
import type { Acceptor, ListenerTransport, OsError } from "./seam.js"
import { WaitList } from "./waitList.js"

/**
 * @internal The capability of a `Listener` built by the engine to hand over a connection
 * atomically (`take`), for `Net.serve`'s fast path; checked with `in`, not `instanceof`.
 */
export const TakeTypeId: unique symbol = Symbol.for("@vvnet/core/Listener/take")

/** @internal A listener with the engine's atomic take. */
export interface Takeable {
  readonly [TakeTypeId]: <A, E, R>(
    restore: <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>,
    register: (conn: Conn) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | NetError.NetError, R>
}

/** @internal Default bound on connections accepted by the OS but not yet by the program. */
export const defaultBacklog = 511

type Entry = { readonly conn: Conn } | { readonly error: OsError }

/**
 * @internal
 * The listener engine every `Net` shares: a bounded queue of connections the transport
 * accepted, pending accepts, and close. Accept waits interruptibly and takes atomically, so an
 * interrupted accept never drops a connection.
 */
export class ListenerImpl implements Listener, Acceptor, Takeable {
  readonly network: Network
  readonly address: string
  private queue: Array<Entry> = []
  private queuedConns = 0
  private waiters: WaitList | undefined = undefined
  private closed = false

  constructor(readonly transport: ListenerTransport, private readonly backlog: number) {
    this.network = transport.network
    this.address = transport.address
  }

  push(conn: Conn): boolean {
    if (this.closed || this.queuedConns >= this.backlog) {
      Effect.runSync(conn.close)
      return false
    }
    this.queue.push({ conn })
    this.queuedConns++
    this.wake()
    return true
  }

  fail(error: OsError): void {
    if (this.closed) return
    const last = this.queue[this.queue.length - 1]
    if (last !== undefined && "error" in last) return // one transient error stands for a burst
    this.queue.push({ error })
    this.wake()
  }

  private wake(): void {
    this.waiters?.wakeAll()
  }

  /** No canceler: see `WaitList` for why, and how waiters of interrupted accepts are swept. */
  private readonly waitAcceptable: Effect.Effect<void> = Effect.async<void>((resume) => {
    ;(this.waiters ??= new WaitList()).add(resume)
  })

  private error(error: OsError | "closed"): NetError.NetError {
    const context = { op: "accept" as const, network: this.network, address: this.address }
    return error === "closed"
      ? NetError.make("Closed", { ...context, reason: NetError.closedReason })
      : NetError.fromErrno(error, context)
  }

  /**
   * Waits (interruptibly) for a connection, then takes it and hands it to `register` without
   * an interruption point in between. The effect returned can be run again and again (serve's
   * loop runs one for every connection).
   */
  take<A, E, R>(
    restore: <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>,
    register: (conn: Conn) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | NetError.NetError, R> {
    // made on the first wait of this `take` and reused (serve runs one take for its whole loop)
    let waitThenStep: Effect.Effect<A, E | NetError.NetError, R> | undefined
    // the check itself, called at once after a wait (rather than returning `loop`, a step more)
    const step = (): Effect.Effect<A, E | NetError.NetError, R> => {
      if (this.closed) return Effect.fail(this.error("closed"))
      const entry = this.queue.shift()
      if (entry === undefined) {
        return waitThenStep ??= Effect.flatMap(restore(this.waitAcceptable), () => {
          this.waiters!.rechecked++
          return step()
        })
      }
      if ("error" in entry) return Effect.fail(this.error(entry.error))
      this.queuedConns--
      return register(entry.conn)
    }
    return Effect.suspend(step)
  }

  readonly [TakeTypeId] = <A, E, R>(
    restore: <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>,
    register: (conn: Conn) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | NetError.NetError, R> => this.take(restore, register)

  readonly accept: Effect.Effect<Conn, NetError.NetError, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(
      Effect.scope,
      (scope) => this.take(restore, (conn) => Effect.as(Scope.addFinalizer(scope, conn.close), conn))
    )
  )

  get connections(): Stream.Stream<Conn, NetError.NetError> {
    const next = Effect.uninterruptibleMask((restore) => this.take(restore, Effect.succeed))
    return Stream.repeatEffectOption(
      Effect.mapError(next, (error) => error._tag === "Closed" ? Option.none() : Option.some(error))
    )
  }

  closeNow(): void {
    if (this.closed) return
    this.closed = true
    const queued = this.queue
    this.queue = []
    this.queuedConns = 0
    for (const entry of queued) if ("conn" in entry) Effect.runSync(entry.conn.close)
    this.wake()
    this.transport.close()
  }

  readonly close: Effect.Effect<void> = Effect.sync(() => this.closeNow())

  get isClosed(): boolean {
    return this.closed
  }
}
