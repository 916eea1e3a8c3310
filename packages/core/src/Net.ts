/**
 * The `Net` service: dial and listen on a network, as vv's `std/net` and Go's `net` package do,
 * and `serve`, which runs a handler for every accepted connection on its own fiber. Provide an
 * implementation with a Layer: `NodeNet.layer` (real sockets, `@vvnet/node-adapter`) or
 * `MemoryNet.layer` (in-process, for tests).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import type { Conn } from "./Conn.js"
import { ListenerImpl } from "./internal/listener.js"
import { invalidPositive } from "./internal/validate.js"
import type { Listener } from "./Listener.js"
import * as NetError from "./NetError.js"

/**
 * Options of `dial`. Implementations ignore what does not apply to them (MemoryNet has no
 * keep-alive).
 *
 * - `timeout`: connect timeout in milliseconds (`0` or absent: none; the OS may still time
 *   out). Past it the dial fails with `Timeout` and nothing is left open.
 * - `keepAlive`: TCP keep-alive; `true` or the initial delay in milliseconds (Go's default is
 *   on, 15 000 ms). Default: `true`.
 * - `noDelay`: disable Nagle's algorithm (TCP_NODELAY). Default: `true`, as in Go.
 * - `localAddress`: the local address to bind before connecting (`"127.0.0.2:0"`).
 * - `readBufferSize`: receive buffer high-water mark in bytes (default 131072).
 * - `linger`: the longest, in milliseconds, that a closed connection lingers in the background
 *   (delivering what was written before `close`, sending FIN, then discarding the peer's input
 *   until its EOF) before its OS resources are released; default 5000 (`Transport.defaultLinger`).
 *   `0` releases right after handing the FIN to the OS (input still unread then makes the OS
 *   reset the connection). `close` itself never waits for it. Go's `TCPConn.SetLinger` in spirit,
 *   in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface DialOptions {
  readonly timeout?: number | undefined
  readonly keepAlive?: boolean | number | undefined
  readonly noDelay?: boolean | undefined
  readonly localAddress?: string | undefined
  readonly readBufferSize?: number | undefined
  readonly linger?: number | undefined
}

/**
 * Options of `listen`.
 *
 * - `backlog`: the OS accept queue length, and the bound on connections accepted but not yet
 *   taken by `accept` (default 511).
 * - `reclaimStaleSocket`: unix only. When the path holds a socket file nobody listens on
 *   (a probe dial is refused), remove it and listen; without it such a file fails the listen
 *   with `AddressInUse`. A file that is not a socket is never removed. Default: `false`.
 * - `readBufferSize`: receive buffer high-water mark of accepted connections, in bytes.
 * - `linger`: the graceful-close linger bound of accepted connections, in milliseconds (see
 *   `DialOptions`); default 5000.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenOptions {
  readonly backlog?: number | undefined
  readonly reclaimStaleSocket?: boolean | undefined
  readonly readBufferSize?: number | undefined
  readonly linger?: number | undefined
}

/**
 * The network service (Go's `net.Dial` and `net.Listen`). Networks: `"tcp"`, `"tcp4"`,
 * `"tcp6"`, `"unix"`. Addresses in Go form: `"host:port"`, `"[v6]:port"`, `":port"`, port `0`
 * for an ephemeral port, or a unix path.
 *
 * - `dial` connects and puts the connection's `close` in the caller's Scope (Scope is vv's
 *   `defer close`). Fails with `AddressError` (before any lookup), `DnsError`,
 *   `ConnectionRefused`, `Timeout`, `Unreachable`, `TooManyOpenFiles`, …
 * - `listen` binds and listens and puts the listener's `close` in the caller's Scope. Fails
 *   with `AddressError`, `AddressInUse`, `AddressNotAvailable`, `PermissionDenied`, …
 *
 * Both are interruptible and leak nothing when interrupted.
 *
 * @since 0.1.0
 * @category tags
 */
export class Net extends Context.Tag("@vvnet/core/Net")<Net, {
  readonly dial: (
    network: string,
    address: string,
    options?: DialOptions
  ) => Effect.Effect<Conn, NetError.NetError, Scope.Scope>
  readonly listen: (
    network: string,
    address: string,
    options?: ListenOptions
  ) => Effect.Effect<Listener, NetError.NetError, Scope.Scope>
}>() {}

/**
 * Dials `address` on `network` with the `Net` in context. See `Net`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const dial = (
  network: string,
  address: string,
  options?: DialOptions
): Effect.Effect<Conn, NetError.NetError, Net | Scope.Scope> =>
  Effect.flatMap(Net, (net) => net.dial(network, address, options))

/**
 * Listens on `address` on `network` with the `Net` in context. See `Net`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const listen = (
  network: string,
  address: string,
  options?: ListenOptions
): Effect.Effect<Listener, NetError.NetError, Net | Scope.Scope> =>
  Effect.flatMap(Net, (net) => net.listen(network, address, options))

/**
 * Options of `serve`. `concurrency`: the most handlers running at once (a positive integer;
 * default unbounded). At the bound, accepting waits (the OS backlog holds new clients).
 *
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions {
  readonly concurrency?: number | undefined
}

/** Go's net/http accept back-off: 5 ms, doubling, at most 1 s. */
const backoffStart = 5
const backoffMax = 1000

/**
 * Serves `listener`: forks into the caller's Scope one fiber that accepts connections and
 * forks, for each, a child fiber running `handler(conn)` with the connection in its own Scope,
 * closed when the handler ends. Returns at once.
 *
 * - A handler's failure or defect is logged (`Effect.logError`, annotated with the remote
 *   address) and ends that connection only.
 * - `concurrency` bounds live handlers; at the bound, accepting waits.
 * - Transient accept errors (`TooManyOpenFiles` and the like) are logged and retried after a
 *   back-off (5 ms doubling to 1 s, as Go's net/http), so the loop never spins; it resumes
 *   when file descriptors free up. The loop ends when the listener closes.
 * - Closing the Scope stops accepting, interrupts every handler and closes every accepted
 *   connection before it returns. A handler interrupted that way is not logged.
 *
 * Fails with `InvalidArgument` only, for a `concurrency` that is not a positive integer.
 *
 * @since 0.1.0
 * @category combinators
 */
export const serve = <E, R>(
  listener: Listener,
  handler: (conn: Conn) => Effect.Effect<unknown, E, R>,
  options?: ServeOptions
): Effect.Effect<void, NetError.InvalidArgument, Scope.Scope | R> =>
  Effect.gen(function*() {
    const concurrency = options?.concurrency ?? Number.POSITIVE_INFINITY
    const invalid = invalidPositive("concurrency", concurrency, true)
    if (invalid !== undefined) {
      return yield* NetError.make("InvalidArgument", {
        op: "accept",
        network: listener.network,
        address: listener.address,
        reason: invalid
      })
    }
    const permits = Number.isFinite(concurrency) ? yield* Effect.makeSemaphore(concurrency) : undefined
    const release = permits === undefined ? Effect.void : permits.release(1)

    // Connections whose handler has not finished. The finalizer is added before the handler
    // set, so closing the caller's Scope interrupts the handlers first and then closes every
    // connection left, including those whose handler fiber was interrupted before it started.
    const live = new Set<Conn>()
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const conns = Array.from(live)
        live.clear()
        return Effect.forEach(conns, (conn) => conn.close, { discard: true })
      })
    )
    const handlers = yield* FiberSet.make<unknown, never>()

    // Forked from an uninterruptible region, so the handler itself is made interruptible.
    const runHandler = (conn: Conn) =>
      // a handler that throws instead of returning an Effect is a defect of that connection only
      Effect.interruptible(Effect.suspend(() => handler(conn))).pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.void
            : Effect.logError("vvnet serve: handler failed; its connection is closed", cause).pipe(
              Effect.annotateLogs({ remoteAddress: conn.remoteAddress, localAddress: conn.localAddress })
            )
        ),
        Effect.ensuring(Effect.suspend(() => {
          live.delete(conn)
          return Effect.zipRight(conn.close, release)
        }))
      )

    const register = (conn: Conn) =>
      Effect.suspend(() => {
        live.add(conn)
        return FiberSet.run(handlers, runHandler(conn))
      })

    // Waiting for a permit and for a connection is interruptible; taking the connection and
    // forking its handler is not, so an interrupted loop drops no connection.
    const engine = listener instanceof ListenerImpl ? listener : undefined
    const acceptOne = Effect.uninterruptibleMask((restore) => {
      const take = engine !== undefined
        ? engine.take(restore, register)
        : Effect.flatMap(Scope.make(), (scope) =>
          Effect.matchCauseEffect(restore(Scope.extend(listener.accept, scope)), {
            // the connection's close is in `scope` until it is registered
            onFailure: (cause) => Effect.zipRight(Scope.close(scope, Exit.void), Effect.failCause(cause)),
            onSuccess: register
          }))
      return permits === undefined
        ? take
        : Effect.zipRight(restore(permits.take(1)), Effect.tapErrorCause(take, () => release))
    })

    const loop = (delay: number): Effect.Effect<void, never, R> =>
      Effect.matchEffect(acceptOne, {
        onSuccess: () => loop(0),
        onFailure: (error) => {
          if (error._tag === "Closed") return Effect.void
          const next = delay === 0 ? backoffStart : Math.min(delay * 2, backoffMax)
          return Effect.logWarning(`vvnet serve: ${error.message}; retrying in ${next} ms`).pipe(
            Effect.zipRight(Effect.sleep(Duration.millis(next))),
            Effect.zipRight(Effect.suspend(() => loop(next)))
          )
        }
      })

    yield* Effect.forkScoped(loop(0))
  })
