/**
 * `@effect/platform`'s `SocketServer` over a vvnet `Listener`: servers built on it (@effect/rpc's
 * `RpcServer.layerProtocolSocketServer`, a handler of your own) accept through vvnet, on NodeNet
 * (tcp, unix) or MemoryNet, with `Net.serve`'s accept loop underneath (one fiber per
 * connection, concurrency bound, back-off on `EMFILE`, bounded shutdown). The counterpart of
 * `@effect/platform-node`'s `NodeSocketServer.make` / `layer`.
 *
 * Each accepted connection reaches the handler as `PlatformSocket.fromConn(conn)`, so it reads
 * with backpressure and closes the vvnet way: a `CloseEvent` written to it half-closes, and the
 * connection is closed gracefully (`Conn.close`) when the handler ends (see `PlatformSocket` for
 * how this differs from NodeSocket's `destroy`).
 *
 * @since 0.2.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { Address, type Conn, type Listener, Net, type NetError } from "@vvnet/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { fromConn } from "./PlatformSocket.js"

/**
 * Options of the server's `run`, passed to `Net.serve` (see `Net.ServeOptions`):
 *
 * - `concurrency`: the most handlers running at once, a positive integer (default unbounded);
 *   at the bound, accepting waits and the OS backlog holds new clients.
 * - `shutdownTimeout`: milliseconds (finite, `>= 0`; default 2000) that interrupting `run`
 *   gives interrupted handlers to finish their finalizers before their connections are closed
 *   under them.
 * - `onAcceptError`: what to do with a transient accept error (`TooManyOpenFiles`, …) before the
 *   loop retries after `retryMillis` ms; must not fail. Default: a warning on Effect's logger.
 *
 * An invalid option fails `run` with a `SocketServerError` whose reason is `"Unknown"` and whose
 * `cause` is the `InvalidArgument` `NetError`, before anything is accepted.
 *
 * @since 0.2.0
 * @category models
 */
export interface RunOptions {
  readonly concurrency?: number | undefined
  readonly shutdownTimeout?: number | undefined
  readonly onAcceptError?: ((error: NetError.NetError, retryMillis: number) => Effect.Effect<void>) | undefined
}

/**
 * Options of `make` and `layer`: `Net.ListenOptions` (`backlog`, `reclaimStaleSocket`,
 * `readBufferSize`, `linger`) for the listener and `RunOptions` (`concurrency`,
 * `shutdownTimeout`, `onAcceptError`) for `run`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options extends Net.ListenOptions, RunOptions {}

/**
 * A listener's address as @effect/platform's `SocketServer.Address`, the shape
 * `NodeSocketServer` reports from `server.address()`:
 *
 * - `unix`: `{ _tag: "UnixAddress", path }`, the listener's path.
 * - `tcp`, `tcp4`, `tcp6`: `{ _tag: "TcpAddress", hostname, port }`, from the Go-form address
 *   (`Address.parse`): `"127.0.0.1:41234"` gives hostname `"127.0.0.1"` and port `41234`,
 *   `"[::1]:80"` gives `"::1"` (no brackets, as Node writes it). A wildcard without a host
 *   (MemoryNet's `":41234"`) gives the host Node reports for one: `"0.0.0.0"` for `tcp4`, `"::"`
 *   otherwise. An address that is not in Go form (a `Net` implementation breaking the
 *   `Listener` contract) gives the whole address as hostname and port `0`.
 *
 * @example
 * ```ts
 * import { PlatformSocketServer } from "@vvnet/node-adapter"
 *
 * assert.deepStrictEqual(
 *   PlatformSocketServer.toAddress({ network: "tcp", address: "[::1]:8080" }),
 *   { _tag: "TcpAddress", hostname: "::1", port: 8080 }
 * )
 * assert.deepStrictEqual(
 *   PlatformSocketServer.toAddress({ network: "unix", address: "/run/app.sock" }),
 *   { _tag: "UnixAddress", path: "/run/app.sock" }
 * )
 * ```
 *
 * @since 0.2.0
 * @category conversions
 */
export const toAddress = (listener: Pick<Listener.Listener, "network" | "address">): SocketServer.Address => {
  if (listener.network === "unix") return { _tag: "UnixAddress", path: listener.address }
  const parsed = Address.parse(listener.network, listener.address, "listen")
  if (Either.isLeft(parsed) || parsed.right._tag !== "InetAddress") {
    return { _tag: "TcpAddress", hostname: listener.address, port: 0 }
  }
  const { host, port } = parsed.right
  return { _tag: "TcpAddress", hostname: host !== "" ? host : listener.network === "tcp4" ? "0.0.0.0" : "::", port }
}

/**
 * What NodeSocketServer does with a handler's failure: log it at the fiber's
 * `unhandledErrorLogLevel` (Debug unless changed, e.g. with `Effect.withUnhandledErrorLogLevel`),
 * so a client that goes away is not the server's error. Interruption is not logged.
 */
const reportUnhandled = (conn: Conn.Conn) => <E>(cause: Cause.Cause<E>): Effect.Effect<void> =>
  Cause.isInterruptedOnly(cause)
    ? Effect.void
    : Effect.flatMap(FiberRef.get(FiberRef.unhandledErrorLogLevel), (level) =>
      level._tag === "None"
        ? Effect.void
        : Effect.annotateLogs(
          Effect.logWithLevel(level.value, cause, "Unhandled error in SocketServer"),
          { remoteAddress: conn.remoteAddress, localAddress: conn.localAddress }
        ))

/**
 * `@effect/platform`'s `SocketServer` service over `listener`, with `address` from `toAddress`.
 * The listener stays its owner's: the server never closes it.
 *
 * `run(handler)` serves the listener with `Net.serve` until interrupted (it never succeeds):
 * each connection, queued ones accepted before `run` started included, runs `handler` with the
 * connection as a `Socket` (`PlatformSocket.fromConn`) on a fiber of its own, and is closed
 * (gracefully, `Conn.close`) when the handler ends. A handler's failure or defect ends that
 * connection only and is logged at the fiber's `unhandledErrorLogLevel` ("Unhandled error in
 * SocketServer", Debug by default), as NodeSocketServer does. Interrupting `run` stops
 * accepting, interrupts the handlers and closes their connections within `shutdownTimeout`
 * (default 2000 ms) plus what their finalizers take beyond their connection. Transient accept
 * errors are retried with a back-off (5 ms doubling to 1 s). Once the listener is closed, `run`
 * accepts nothing and waits to be interrupted, as NodeSocketServer's `run` does after its
 * server closed. Fails only with a `SocketServerError` with reason `"Unknown"` for invalid
 * `RunOptions`. Several runs may serve one listener at once; each connection goes to one.
 *
 * @example
 * ```ts
 * import * as Socket from "@effect/platform/Socket"
 * import { Conn, MemoryNet, Net } from "@vvnet/core"
 * import { PlatformSocketServer } from "@vvnet/node-adapter"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function*() {
 *   const listener = yield* Net.listen("tcp", "127.0.0.1:0")
 *   const server = PlatformSocketServer.fromListener(listener, { concurrency: 100 })
 *   // an echo server: every chunk is written back; the client's EOF ends the handler
 *   yield* Effect.forkScoped(server.run((socket) =>
 *     Effect.scoped(Effect.flatMap(socket.writer, (write) => socket.run(write)))
 *   ))
 *   const conn = yield* Net.dial("tcp", listener.address)
 *   yield* conn.write("ping")
 *   yield* conn.closeWrite
 *   assert.strictEqual(new TextDecoder().decode(yield* Conn.readAll(conn)), "ping")
 *   assert.strictEqual(server.address._tag, "TcpAddress")
 * })
 *
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(MemoryNet.layer)))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromListener = (listener: Listener.Listener, options?: RunOptions): SocketServer.SocketServer["Type"] => {
  const serveOptions: Net.ServeOptions = {
    concurrency: options?.concurrency,
    shutdownTimeout: options?.shutdownTimeout,
    onAcceptError: options?.onAcceptError
  }
  const run = <R, E, _>(
    handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>
  ): Effect.Effect<never, SocketServer.SocketServerError, R> =>
    Effect.scoped(
      Effect.zipRight(
        Effect.mapError(
          Net.serve(
            listener,
            (conn) => Effect.catchAllCause(Effect.suspend(() => handler(fromConn(conn))), reportUnhandled(conn)),
            serveOptions
          ),
          (cause) => new SocketServer.SocketServerError({ reason: "Unknown", cause })
        ),
        Effect.never
      )
    )
  return SocketServer.SocketServer.of({ address: toAddress(listener), run })
}

/**
 * Listens on `address` on `network` through the `Net` service (`Net.listen`: the listener is
 * closed with the Scope) and serves it as `fromListener` does. Networks and addresses are
 * `Net.listen`'s: `"tcp"` with `"127.0.0.1:0"` (port 0: the OS picks one, `address.port`
 * tells which), `"unix"` with a path. A failed listen fails with a `SocketServerError` whose
 * reason is `"Open"` and whose `cause` is the `NetError` (`AddressInUse`, `AddressError`,
 * `PermissionDenied`, …).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  network: string,
  address: string,
  options?: Options
): Effect.Effect<SocketServer.SocketServer["Type"], SocketServer.SocketServerError, Net.Net | Scope.Scope> =>
  Effect.map(
    Effect.mapError(
      Net.listen(network, address, {
        backlog: options?.backlog,
        reclaimStaleSocket: options?.reclaimStaleSocket,
        readBufferSize: options?.readBufferSize,
        linger: options?.linger
      }),
      (cause) => new SocketServer.SocketServerError({ reason: "Open", cause })
    ),
    (listener) => fromListener(listener, options)
  )

/**
 * `make` as a Layer of @effect/platform's `SocketServer` tag, with the `Net` service still to
 * provide: what `RpcServer.layerProtocolSocketServer` needs. The listener lives as long as the
 * layer; building the layer listens (and fails with reason `"Open"`), and runs nothing.
 *
 * @example
 * ```ts
 * import * as SocketServer from "@effect/platform/SocketServer"
 * import { NodeNet, PlatformSocketServer } from "@vvnet/node-adapter"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 *
 * // for RpcServer.layerProtocolSocketServer: a server on an ephemeral port of 127.0.0.1
 * const ServerLive = PlatformSocketServer.layer("tcp", "127.0.0.1:0", { concurrency: 1_000 }).pipe(
 *   Layer.provide(NodeNet.layer)
 * )
 *
 * const port = Effect.gen(function*() {
 *   const server = yield* SocketServer.SocketServer
 *   return server.address._tag === "TcpAddress" ? server.address.port : 0
 * })
 *
 * Effect.runPromise(Effect.provide(port, ServerLive)).then((port) => assert.ok(port > 0))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  network: string,
  address: string,
  options?: Options
): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError, Net.Net> =>
  Layer.scoped(SocketServer.SocketServer, make(network, address, options))
