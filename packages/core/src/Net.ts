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
import type * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { closeNow, type Conn } from "./Conn.js"
import { acceptLoop } from "./internal/acceptLoop.js"
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
 * - `exclusive`: in a node:cluster worker (NodeNet), bind a socket of this process's own
 *   instead of sharing the one the primary binds for every worker (node:net's `exclusive`):
 *   port `0` then gives each worker a port of its own, and a fixed port another worker holds
 *   fails with `AddressInUse`. Default `false`; no effect outside a cluster worker or in
 *   MemoryNet. Since 0.2.0.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenOptions {
  readonly backlog?: number | undefined
  readonly reclaimStaleSocket?: boolean | undefined
  readonly readBufferSize?: number | undefined
  readonly linger?: number | undefined
  readonly exclusive?: boolean | undefined
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
 * The key under which a `Net` implementation offers `dialCallback` (see there). vvnet's
 * adapters (NodeNet, NodeTls) set it; an implementation that does not is dialled through
 * `dial` alone.
 *
 * @since 0.2.0
 * @category symbols
 */
export const DialCallbackTypeId: unique symbol = Symbol.for("@vvnet/core/Net/dialCallback")

/**
 * What a `Net` implementation offers under `DialCallbackTypeId`: a dial that reports through a
 * callback (see `dialCallback` for the contract). Returns the cancel function, or `undefined`
 * when it cannot dial this way.
 *
 * @since 0.2.0
 * @category models
 */
export type DialCallback = (
  network: string,
  address: string,
  options: DialOptions | undefined,
  callback: (result: Either.Either<Conn, NetError.NetError>) => void
) => (() => void) | undefined

/**
 * Dials without a fiber, for hosts outside Effect (a language runtime, a callback API), with
 * the `Net` service `net` (the value a `Net` layer provides). Low level: `dial` is the API for
 * Effect code.
 *
 * Returns `undefined` at once, having started nothing, when `net` cannot dial `address` this
 * way: an implementation without `DialCallbackTypeId` (MemoryNet), an address that needs a name
 * lookup (only IP literals, `:port` and unix paths dial this way), or a dial that fails before
 * any connect (an invalid option, an `AddressError`). Run `dial` then: it reports the same
 * outcome as its typed failure.
 *
 * Otherwise the dial has started and a cancel function is returned. `callback` is called once,
 * later (never before `dialCallback` returned), with `Either.right(conn)` or `Either.left` of
 * the `NetError` `dial` fails with (`ConnectionRefused`, `Timeout`, `TlsError`, …); the
 * addresses, `options` and errors are those of `dial`. The connection is unowned: the caller
 * closes it (`conn.close`, `Conn.closeNow`). The cancel function, called before the callback,
 * stops the dial and releases everything it opened (the callback is then never called); called
 * after it, it does nothing.
 *
 * @example
 * ```ts
 * import { Conn, MemoryNet, Net } from "@vvnet/core"
 * import * as Effect from "effect/Effect"
 * import * as Either from "effect/Either"
 * import * as Exit from "effect/Exit"
 * import * as Scope from "effect/Scope"
 *
 * // a host's dial: the callback where the Net offers it (NodeNet, NodeTls), else `Net.dial`
 * // in a Scope of the host's; either way the host gets the connection and how to close it
 * const hostDial = async (net: Net.Net["Type"], address: string) => {
 *   let cancel: (() => void) | undefined
 *   const dialled = new Promise<Conn.Conn>((resolve, reject) => {
 *     cancel = Net.dialCallback(net, "tcp", address, undefined, (result) =>
 *       Either.isRight(result) ? resolve(result.right) : reject(result.left))
 *   })
 *   if (cancel !== undefined) {
 *     const conn = await dialled
 *     return { conn, close: () => Effect.runPromise(Conn.closeNow(conn)) }
 *   }
 *   const scope = Effect.runSync(Scope.make())
 *   const conn = await Effect.runPromise(Scope.extend(net.dial("tcp", address), scope))
 *   return { conn, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
 * }
 *
 * const program = Effect.gen(function*() {
 *   const net = yield* Net.Net
 *   const listener = yield* Net.listen("tcp", "127.0.0.1:0")
 *   const { close, conn } = yield* Effect.promise(() => hostDial(net, listener.address))
 *   const same = conn.remoteAddress === listener.address
 *   yield* Effect.promise(close)
 *   return same
 * })
 *
 * // MemoryNet declines the callback: the example takes the `Net.dial` branch
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(MemoryNet.layer))).then((same) =>
 *   assert.strictEqual(same, true)
 * )
 * ```
 *
 * @since 0.2.0
 * @category low level
 */
export const dialCallback = (
  net: Net["Type"],
  network: string,
  address: string,
  options: DialOptions | undefined,
  callback: (result: Either.Either<Conn, NetError.NetError>) => void
): (() => void) | undefined => {
  const impl = (net as { readonly [DialCallbackTypeId]?: unknown })[DialCallbackTypeId]
  return typeof impl === "function" ? (impl as DialCallback)(network, address, options, callback) : undefined
}

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
  // the service read from the fiber's context in one step (`Effect.flatMap(Net, …)` takes three):
  // a client dials for every connection
  Effect.withFiberRuntime((fiber) => Context.unsafeGet(fiber.currentContext, Net).dial(network, address, options))

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
 * Options of `serve`.
 *
 * - `concurrency`: the most handlers running at once (a positive integer; default unbounded).
 *   At the bound, accepting waits (the OS backlog holds new clients).
 * - `shutdownTimeout`: the grace period, in milliseconds (finite, `>= 0`), that closing
 *   `serve`'s Scope gives interrupted handlers to finish their finalizers before it closes
 *   their connections under them. Default 2000 (`defaultShutdownTimeout`). Since 0.2.0.
 * - `peerErrorLogLevel`: the level at which a handler ended by its peer is logged: one that
 *   fails with `ConnectionReset`, `BrokenPipe` or `Closed` (and nothing else). Default
 *   `LogLevel.Debug`; `LogLevel.None` logs nothing. Other failures and defects are logged at
 *   `Error` with their cause, whatever this says. Since 0.2.0.
 * - `handlerOwnsConnection`: the handler owns each connection (vv's `net.accept` and Go's
 *   `Listener.Accept` loop): `serve` does not close it when the handler returns or fails, so
 *   the handler must close it, or hand it to a Scope of its own. A connection whose handler is
 *   interrupted (closing `serve`'s Scope) or never started is still closed by `serve`. Default
 *   `false`. Since 0.2.0.
 * - `onAcceptError`: what to do with a transient accept error before the loop retries after
 *   `retryMillis` ms; it must not fail. Default: a warning on Effect's logger
 *   (`vvnet serve: <message>; retrying in <n> ms`). Since 0.2.0.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions {
  readonly concurrency?: number | undefined
  readonly shutdownTimeout?: number | undefined
  readonly peerErrorLogLevel?: LogLevel.LogLevel | undefined
  readonly handlerOwnsConnection?: boolean | undefined
  readonly onAcceptError?: ((error: NetError.NetError, retryMillis: number) => Effect.Effect<void>) | undefined
}

/**
 * The default `shutdownTimeout` of `serve`, in milliseconds: 2000. Long enough for a handler's
 * finalizer to flush a final reply to a client that reads (a few round trips and a buffer's
 * worth of bytes on any working network); short enough that a client that stopped reading holds
 * a restart for two seconds at most, well inside the time a supervisor waits before it kills
 * the process (systemd 90 s, Kubernetes 30 s).
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultShutdownTimeout = 2_000

/** The tags of a handler's end that its peer caused (or that closing its connection caused). */
const peerTags: ReadonlySet<NetError.Tag> = new Set<NetError.Tag>(["ConnectionReset", "BrokenPipe", "Closed"])

/**
 * The peer's error when `cause` is nothing but failures with a peer tag (interruptions aside),
 * else undefined: a defect or any other failure makes it the server's error.
 */
const endedByPeer = (cause: Cause.Cause<unknown>): NetError.NetError | undefined => {
  if (Cause.isDie(cause)) return undefined
  let first: NetError.NetError | undefined
  for (const error of Cause.failures(cause)) {
    if (!NetError.isNetError(error) || !peerTags.has(error._tag)) return undefined
    first ??= error
  }
  return first
}

/** The reason the options are invalid, or undefined. */
const invalidServeOptions = (options: ServeOptions | undefined): string | undefined => {
  const concurrency = options?.concurrency ?? Number.POSITIVE_INFINITY
  const shutdownTimeout: unknown = options?.shutdownTimeout ?? defaultShutdownTimeout
  const level: unknown = options?.peerErrorLogLevel ?? LogLevel.Debug
  return invalidPositive("concurrency", concurrency, true) ??
    (typeof shutdownTimeout === "number" && Number.isFinite(shutdownTimeout) && shutdownTimeout >= 0
      ? undefined
      : `invalid argument: shutdownTimeout must be a finite, non-negative number of milliseconds, got ${
        typeof shutdownTimeout === "number" ? shutdownTimeout : typeof shutdownTimeout
      }`) ??
    (levelOf(level) !== undefined
      ? undefined
      : "invalid argument: peerErrorLogLevel must be a LogLevel (LogLevel.Debug, LogLevel.Info, …)") ??
    (options?.handlerOwnsConnection === undefined || typeof options.handlerOwnsConnection === "boolean"
      ? undefined
      : "invalid argument: handlerOwnsConnection must be a boolean") ??
    (options?.onAcceptError === undefined || typeof options.onAcceptError === "function"
      ? undefined
      : "invalid argument: onAcceptError must be a function")
}

/** The LogLevel `u` names (by its tag, so a LogLevel from another copy of effect works too). */
const levelOf = (u: unknown): LogLevel.LogLevel | undefined =>
  typeof u === "object" && u !== null && "_tag" in u
    ? LogLevel.allLevels.find((level) => level._tag === u._tag)
    : undefined

/**
 * Serves `listener`: forks one fiber that accepts connections and forks, for each, a child
 * fiber running `handler(conn)` with the connection in its own Scope, closed when the handler
 * ends (unless `handlerOwnsConnection`). Its accept loop is vvnet's one accept loop, shared with
 * `serveCallback`. Returns at once; everything it started belongs to the caller's Scope.
 *
 * - A handler ended by its peer (it fails with `ConnectionReset`, `BrokenPipe` or `Closed`
 *   and nothing else) is logged at `peerErrorLogLevel` (default Debug) in one line without
 *   its cause, e.g. `vvnet serve: handler ended by its peer: read tcp A->B: connection reset
 *   by peer`: a client that resets its connections is not the server's error. Any other
 *   failure or defect (a handler that throws included) is logged at Error with its cause. Both
 *   are annotated with `remoteAddress` and `localAddress`; either way only that connection ends.
 * - `concurrency` bounds live handlers; at the bound, accepting waits.
 * - Transient accept errors (`TooManyOpenFiles` and the like) are logged as warnings and
 *   retried after a back-off (5 ms doubling to 1 s, as Go's net/http), so the loop never
 *   spins; it resumes when file descriptors free up. The loop ends when the listener closes.
 * - Closing the Scope stops accepting (no handler starts after it began), interrupts every
 *   handler and waits up to `shutdownTimeout` ms (default 2000) for them to finish their
 *   finalizers. Handlers still running then (a finalizer writing to a client that stopped
 *   reading, say) have their connections closed under them: their pending reads and writes
 *   fail with `Closed`, and the Scope's close returns once they have ended. So a finalizer
 *   that flushes to a client that reads gets its bytes through, and one slow client cannot
 *   hold shutdown open; a finalizer that waits on something other than its connection is
 *   still waited for. Every accepted connection is closed before the close returns (with
 *   `Conn.close`: graceful, the OS delivers what was written). A handler that ends by that
 *   interruption alone is not logged. The listener is not closed: it belongs to whoever
 *   listened.
 *
 * Fails with `InvalidArgument` only, before anything starts: a `concurrency` that is not a
 * positive integer, a `shutdownTimeout` that is negative or not finite, a `peerErrorLogLevel`
 * that is not a `LogLevel`, a `handlerOwnsConnection` that is not a boolean, an
 * `onAcceptError` that is not a function.
 *
 * @example
 * ```ts
 * import { Conn, MemoryNet, Net } from "@vvnet/core"
 * import * as Effect from "effect/Effect"
 * import * as LogLevel from "effect/LogLevel"
 *
 * const echo = Effect.gen(function*() {
 *   const listener = yield* Net.listen("tcp", "127.0.0.1:0")
 *   yield* Net.serve(listener, (conn) => Effect.flatMap(Conn.readAll(conn), (data) => conn.write(data)), {
 *     concurrency: 1000,
 *     shutdownTimeout: 5_000,
 *     peerErrorLogLevel: LogLevel.Info
 *   })
 *   const client = yield* Net.dial("tcp", listener.address)
 *   yield* client.write("ping")
 *   yield* client.closeWrite
 *   return new TextDecoder().decode(yield* Conn.readAll(client))
 * })
 *
 * Effect.runPromise(echo.pipe(Effect.scoped, Effect.provide(MemoryNet.layer))).then((reply) =>
 *   assert.strictEqual(reply, "ping")
 * )
 * ```
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
    const invalid = invalidServeOptions(options)
    if (invalid !== undefined) {
      return yield* NetError.make("InvalidArgument", {
        op: "accept",
        network: listener.network,
        address: listener.address,
        reason: invalid
      })
    }
    const concurrency = options?.concurrency ?? Number.POSITIVE_INFINITY
    const gracePeriod = Duration.millis(options?.shutdownTimeout ?? defaultShutdownTimeout)
    const peerLevel = levelOf(options?.peerErrorLogLevel) ?? LogLevel.Debug
    const permits = Number.isFinite(concurrency) ? yield* Effect.makeSemaphore(concurrency) : undefined
    const release = permits === undefined ? Effect.void : permits.release(1)

    // Connections whose handler has not finished, including those whose handler fiber was
    // interrupted before it started (and so never ran its `ensuring`).
    const live = new Set<Conn>()
    const closeLive = Effect.suspend(() => {
      const conns = Array.from(live)
      live.clear()
      return Effect.forEach(conns, (conn) => conn.close, { discard: true })
    })
    // The handler fibers still running (each removes itself when it ends).
    const handlers = new Set<Fiber.RuntimeFiber<unknown, never>>()
    const track = (fiber: Fiber.RuntimeFiber<unknown, never>): Effect.Effect<void> => {
      handlers.add(fiber)
      fiber.addObserver(() => handlers.delete(fiber))
      return Effect.void // flatMap to this rather than `map`, which costs a step more
    }

    const owned = options?.handlerOwnsConnection === true
    const logEnd = (conn: Conn, cause: Cause.Cause<unknown>): Effect.Effect<void> => {
      if (Cause.isInterruptedOnly(cause)) return Effect.void
      const peer = endedByPeer(cause)
      const log = peer === undefined
        ? Effect.logError(
          owned ? "vvnet serve: handler failed" : "vvnet serve: handler failed; its connection is closed",
          cause
        )
        : peerLevel._tag === "None" // a message at None would pass every minimum level
        ? Effect.void
        : Effect.logWithLevel(peerLevel, `vvnet serve: handler ended by its peer: ${peer.message}`)
      return Effect.annotateLogs(log, { remoteAddress: conn.remoteAddress, localAddress: conn.localAddress })
    }

    // Set when closing serve's Scope begins: from then on serve closes every connection, owned
    // or not (its handler is being interrupted by serve).
    let shuttingDown = false
    /**
     * Called (not run) when the handler has ended: the connection leaves `live` and, unless the
     * handler owns it, is closed then (`Conn.closeNow`: in this call for the engine's
     * connections, one Effect step fewer than running `conn.close`).
     */
    const finish = (conn: Conn): Effect.Effect<void> => {
      live.delete(conn)
      if (owned && !shuttingDown) return release
      const close = closeNow(conn)
      return permits === undefined ? close : Effect.zipRight(close, release)
    }
    // The handler fiber is forked uninterruptible and only the handler is made interruptible,
    // so what follows it (logging, `finish`) always runs: one match frame does what
    // `catchAllCause` plus `ensuring` would, without their per-connection regions.
    const runHandler = (conn: Conn) =>
      // a handler that throws instead of returning an Effect is a defect of that connection only
      Effect.matchCauseEffect(Effect.interruptible(Effect.suspend(() => handler(conn))), {
        onFailure: (cause) => Effect.flatMap(Effect.exit(logEnd(conn, cause)), () => finish(conn)),
        onSuccess: () => finish(conn)
      })

    /** Called (not run) when the connection is taken, with no interruption point in between. */
    const register = (conn: Conn) => {
      live.add(conn)
      return Effect.flatMap(Effect.forkDaemon(runHandler(conn)), track)
    }

    const loop = acceptLoop(listener, register, {
      permits: permits === undefined ? undefined : { take: permits.take(1), release },
      onAcceptError: options?.onAcceptError,
      logPrefix: "vvnet serve"
    })

    // Runs as the Scope's finalizer (uninterruptible): the only one that ends handlers. The grace
    // period is a sleep on Effect's Clock, so TestClock drives it.
    const shutdown = (accepting: Fiber.RuntimeFiber<void>) =>
      Effect.gen(function*() {
        shuttingDown = true
        yield* Fiber.interrupt(accepting) // from here on, no handler is forked
        const running = Array.from(handlers)
        const self = yield* Effect.fiberId
        for (const fiber of running) yield* Fiber.interruptAsFork(fiber, self)
        const finished = Fiber.awaitAll(running)
        // awaiting is made interruptible so the timeout can abandon it
        const inTime = yield* Effect.timeoutOption(Effect.interruptible(finished), gracePeriod)
        if (Option.isNone(inTime)) {
          // pending reads and writes on these connections now fail with Closed
          yield* closeLive
          yield* finished
        }
        yield* closeLive
      })

    // acquireRelease forks from an uninterruptible region: the loop is made interruptible
    yield* Effect.acquireRelease(Effect.forkDaemon(Effect.interruptible(loop)), shutdown)
  })

/**
 * Options of `serveCallback`.
 *
 * - `onAcceptError`: what to do with a transient accept error before the loop retries after
 *   `retryMillis` ms; it must not fail. Default: a warning on Effect's logger
 *   (`vvnet serveCallback: <message>; retrying in <n> ms`).
 *
 * @since 0.2.0
 * @category models
 */
export interface ServeCallbackOptions {
  readonly onAcceptError?: ((error: NetError.NetError, retryMillis: number) => Effect.Effect<void>) | undefined
}

/**
 * Serves `listener` for code outside Effect (a language runtime, a callback API): forks one
 * fiber running the same accept loop as `serve`, and calls `onConnection(conn)` for each
 * connection, synchronously on that fiber, with no fiber, Scope or promise per connection.
 * This is what vv's `net.accept` (`@vvnet/vv-bridge`) runs on. Returns at once; the loop
 * belongs to the caller's Scope.
 *
 * - `onConnection` owns the connection from the call on: it must close it (`conn.close`,
 *   `Conn.closeNow`) or hand it to something that will. It should return quickly: the next
 *   connection is accepted when it has returned. Work that waits belongs to the caller's own
 *   tasks (promises, fibers it forks on a runtime of its own).
 * - An `onConnection` that throws has that connection closed (`Conn.closeNow`: graceful) and
 *   is logged at Error with the thrown value as a defect, annotated with `remoteAddress` and
 *   `localAddress`; the loop goes on.
 * - Transient accept errors (`TooManyOpenFiles` and the like) are reported (`onAcceptError`,
 *   default a warning) and retried after a back-off (5 ms doubling to 1 s, as Go's net/http);
 *   the loop ends when the listener closes.
 * - Closing the Scope stops accepting: `onConnection` is not called once the close returned.
 *   Connections already handed over stay open: they belong to whoever `onConnection` gave them
 *   to. The listener is not closed: it belongs to whoever listened.
 *
 * There is no `concurrency` bound: the loop cannot tell when a callback's work ends.
 *
 * Fails with `InvalidArgument` only, before anything starts: an `onConnection` or an
 * `onAcceptError` that is not a function.
 *
 * @example
 * ```ts
 * import { Conn, MemoryNet, Net } from "@vvnet/core"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function*() {
 *   const listener = yield* Net.listen("tcp", "127.0.0.1:0")
 *   const accepted: Array<string> = []
 *   yield* Net.serveCallback(listener, (conn) => {
 *     accepted.push(conn.remoteAddress)
 *     Conn.closeNow(conn) // a plain call: done at once for the engine's connections
 *   })
 *   const client = yield* Net.dial("tcp", listener.address)
 *   const eof = yield* client.read(1) // the server closed it
 *   return [accepted.length, eof.length]
 * })
 *
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(MemoryNet.layer))).then((result) =>
 *   assert.deepStrictEqual(result, [1, 0])
 * )
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const serveCallback = (
  listener: Listener,
  onConnection: (conn: Conn) => void,
  options?: ServeCallbackOptions
): Effect.Effect<void, NetError.InvalidArgument, Scope.Scope> =>
  Effect.suspend(() => {
    const invalid = typeof onConnection !== "function"
      ? "invalid argument: onConnection must be a function"
      : options?.onAcceptError === undefined || typeof options.onAcceptError === "function"
      ? undefined
      : "invalid argument: onAcceptError must be a function"
    if (invalid !== undefined) {
      return NetError.make("InvalidArgument", {
        op: "accept",
        network: listener.network,
        address: listener.address,
        reason: invalid
      })
    }
    const register = (conn: Conn): Effect.Effect<void> => {
      try {
        onConnection(conn)
        return Effect.void
      } catch (error) {
        return Effect.zipRight(
          closeNow(conn),
          Effect.annotateLogs(
            Effect.logError("vvnet serveCallback: onConnection threw; its connection is closed", Cause.die(error)),
            { remoteAddress: conn.remoteAddress, localAddress: conn.localAddress }
          )
        )
      }
    }
    const loop = acceptLoop(listener, register, {
      onAcceptError: options?.onAcceptError,
      logPrefix: "vvnet serveCallback"
    })
    // acquireRelease forks from an uninterruptible region: the loop is made interruptible
    return Effect.asVoid(Effect.acquireRelease(Effect.forkDaemon(Effect.interruptible(loop)), Fiber.interrupt))
  })
