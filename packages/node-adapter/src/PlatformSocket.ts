/**
 * Interop with `@effect/platform`: vvnet connections as `Socket.Socket`s, so code built on
 * `@effect/platform` sockets (`Socket.toChannel`, @effect/rpc's socket protocol, …) runs over
 * vvnet, MemoryNet's connections included.
 *
 * - `fromConn(conn)` views one connection that somebody else owns.
 * - `makeNet(network, address)` / `layerNet(…)` (and `fromDial`, for any way of dialing) give a
 *   socket that dials a fresh connection through the `Net` service each time it runs and closes
 *   it when the run ends, as @effect/platform-node's `NodeSocket.makeNet` / `layerNet` do: a
 *   client that re-runs its socket after a failure (@effect/rpc's `RpcClient.layerProtocolSocket`
 *   does) reconnects to a restarted server.
 * - `PlatformSocketServer` is the other side: @effect/platform's `SocketServer` over a `Listener`.
 *
 * ## Closing, compared with NodeSocket
 *
 * vvnet's sockets close the way vvnet connections do (design.md §2 rules 6 and 7), which is not
 * how @effect/platform-node's NodeSocket (`fromDuplex`, `makeNet`) closes a node:net socket:
 *
 * | event | NodeSocket | vvnet |
 * |---|---|---|
 * | writing a `CloseEvent` | `destroy()`: both directions at once; bytes not yet handed to the kernel and unread input are dropped (unread input makes the kernel send a reset); `run` then fails with `SocketCloseError` (code 1000), or with a `"Read"` error for a code above 1000 | a half-close (`Conn.closeWrite`): FIN after every byte written before it; reading goes on, `run` ends at the peer's EOF; code and reason are not sent |
 * | the writer's Scope closes | `end()`: FIN after the written bytes | the same: a half-close, queued without waiting for it to be flushed |
 * | `run` of a dialing socket ends | `destroySoon()`: FIN once the written bytes are flushed, then the fd is released; input arriving later is answered with a reset | `Conn.close`, graceful: FIN after the written bytes, then the peer's input is read and discarded until its EOF or the `linger` bound (default 5000 ms), so a peer that is still sending gets no reset that would throw away what it was sent (a connection that never wrote is released at once) |
 * | the peer resets | `run` fails with a `"Read"` error whose `cause` is Node's `ECONNRESET` error (or succeeds, as at EOF, where Node 20's libuv reads the reset as EOF: see `Conn.read`) | `run` fails with a `"Read"` `SocketGenericError` whose `cause` is the `ConnectionReset` `NetError`, after every byte received before the reset (never read as EOF) |
 * | the connection is closed under a pending `run` | `SocketCloseError` (code 1000) | a `"Read"` `SocketGenericError` with cause `Closed` |
 *
 * A socket from `fromConn` does not own its connection: its `run` ending closes nothing, and
 * closing (`conn.close`, or `Conn.abort` for the immediate reset NodeSocket's `destroy` comes
 * close to) stays with the Scope that owns `conn`.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import { type Conn, Net, type NetError } from "@vvnet/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"

const encoder = new TextEncoder()

const readError = (cause: unknown) => new Socket.SocketGenericError({ reason: "Read", cause })
const writeError = (cause: unknown) => new Socket.SocketGenericError({ reason: "Write", cause })
const openError = (cause: NetError.NetError) =>
  new Socket.SocketGenericError({ reason: cause._tag === "Timeout" ? "OpenTimeout" : "Open", cause })

/** The chunk size of `run`: as `conn.stream`'s. */
const chunkSize = 65536

/**
 * Reads `conn` until EOF, calling `handler` with each chunk and waiting for the Effect it
 * returns before the next read: what carries a slow handler's backpressure to the peer.
 */
const readLoop = <_, E, R>(
  conn: Conn.Conn,
  handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void
): Effect.Effect<void, Socket.SocketError | E, R> =>
  Effect.gen(function*() {
    while (true) {
      const chunk = yield* Effect.mapError(conn.read(chunkSize), readError)
      if (chunk.length === 0) return
      const result = handler(chunk)
      if (Effect.isEffect(result)) yield* result
    }
  })

/** Writes one chunk to `conn`: bytes (strings as UTF-8), or a half-close for a `CloseEvent`. */
const writeTo = (
  conn: Conn.Conn,
  chunk: Uint8Array | string | Socket.CloseEvent
): Effect.Effect<void, Socket.SocketError> =>
  Socket.isCloseEvent(chunk)
    ? Effect.mapError(conn.closeWrite, writeError)
    : Effect.asVoid(Effect.mapError(conn.write(typeof chunk === "string" ? encoder.encode(chunk) : chunk), writeError))

/**
 * The writer's release: a half-close that is queued, not awaited. Waiting for the FIN to be
 * flushed could block the Scope's close behind a peer that does not read (it settles when the
 * connection closes).
 */
const halfCloseSoon = (conn: Conn.Conn): Effect.Effect<void> =>
  Effect.asVoid(Effect.forkDaemon(Effect.ignore(conn.closeWrite)))

/**
 * Views `conn` as an @effect/platform `Socket.Socket`. The socket does not own `conn`: closing
 * it stays with the Scope that owns `conn` (see "Closing, compared with NodeSocket" above).
 *
 * - `run(handler)` (and `runRaw`, the same) reads until EOF, calling `handler` with each chunk
 *   (at most 65536 bytes), and succeeds at EOF. When `handler` returns an Effect, the next chunk
 *   is read only after that Effect completed: a slow handler leaves the bytes in the kernel,
 *   whose flow control holds the peer back, so memory stays bounded by one chunk plus the
 *   connection's read buffer. A failing handler Effect ends `run` with its error. A `NetError`
 *   becomes `SocketGenericError` with reason `"Read"` and the `NetError` as `cause`, `Closed`
 *   included (closing NodeSocket's stream fails its `run` with a `SocketCloseError` instead).
 *   `onOpen` runs before the first read.
 * - `writer` gives a function writing a chunk (strings as UTF-8) that succeeds once the OS took
 *   every byte; a `CloseEvent` half-closes (FIN after the bytes written; reading goes on; its
 *   code and reason are not sent). Closing the writer's Scope half-closes too, as
 *   `@effect/platform-node`'s NodeSocket ends its stream then: `Socket.toChannel` relies on it to
 *   end the output of a finite input. Write failures become `SocketGenericError` with reason
 *   `"Write"` and the `NetError` (`BrokenPipe`, `ConnectionReset`, `Closed`, `Timeout`, …) as
 *   `cause`.
 *
 * Memory: `Socket.toChannel`, `toChannelString` and `toChannelWith` of @effect/platform 0.97
 * are not bounded on the read side. Their `toChannelMap` offers every chunk from `runRaw` into
 * a `Mailbox` made without a capacity (unbounded) with a handler that returns nothing, so they
 * read as fast as the peer sends, whatever the channel's consumer does; a fast peer and a slow
 * consumer fill memory. To keep the kernel's backpressure, read with `conn.stream` (vvnet's
 * pull-based Stream) or with `run` / `runRaw` and an effectful handler. (NodeSocket's own `run`
 * forks each handler Effect without waiting for it, so it is not bounded either.)
 *
 * @example
 * ```ts
 * import * as Socket from "@effect/platform/Socket"
 * import { Conn, MemoryNet, Net } from "@vvnet/core"
 * import { PlatformSocket } from "@vvnet/node-adapter"
 * import * as Effect from "effect/Effect"
 * import * as Stream from "effect/Stream"
 *
 * const program = Effect.gen(function*() {
 *   const listener = yield* Net.listen("tcp", "127.0.0.1:0")
 *   yield* Net.serve(listener, (conn) => Effect.flatMap(Conn.readAll(conn), (data) => conn.write(data)))
 *   const conn = yield* Net.dial("tcp", listener.address)
 *   // the input's end half-closes, so the echo server's readAll ends and the channel too
 *   const replies = yield* Stream.make(new TextEncoder().encode("ping")).pipe(
 *     Stream.pipeThroughChannel(Socket.toChannel(PlatformSocket.fromConn(conn))),
 *     Stream.decodeText(),
 *     Stream.mkString
 *   )
 *   assert.strictEqual(replies, "ping")
 * })
 *
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(MemoryNet.layer)))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConn = (conn: Conn.Conn): Socket.Socket => {
  const runRaw = <_, E, R>(
    handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
    options?: { readonly onOpen?: Effect.Effect<void> | undefined }
  ): Effect.Effect<void, Socket.SocketError | E, R> =>
    options?.onOpen === undefined ? readLoop(conn, handler) : Effect.zipRight(options.onOpen, readLoop(conn, handler))
  return {
    [Socket.TypeId]: Socket.TypeId,
    run: runRaw,
    runRaw,
    writer: Effect.acquireRelease(Effect.succeed((chunk) => writeTo(conn, chunk)), () => halfCloseSoon(conn))
  }
}

/**
 * A socket that opens a fresh connection with `dial` each time it runs, and closes it when the
 * run ends: @effect/platform-node's `NodeSocket.fromDuplex(open)` for vvnet connections. `dial`
 * runs in the run's own Scope (put the connection's close there, as `Net.dial` does); its
 * requirements other than `Scope` are taken from the context where `fromDial` runs.
 *
 * - `run(handler, { onOpen })` (and `runRaw`, the same): runs `dial`, then `onOpen`, then reads
 *   the connection until EOF as `fromConn`'s `run` does (chunks of at most 65536 bytes, the
 *   handler's Effect awaited before the next read), and succeeds at EOF. When it ends (EOF,
 *   failure or interruption), the run's Scope closes and with it the connection: gracefully, as
 *   `Conn.close` does. A failed `dial` fails `run` with a `SocketGenericError` whose `cause` is
 *   the `NetError` and whose reason is `"OpenTimeout"` for `Timeout` (the dial's `timeout`
 *   option) and `"Open"` for any other (`ConnectionRefused`, `DnsError`, `AddressError`,
 *   `Unreachable`, …): the reasons `RpcClient.layerProtocolSocket({ retryTransientErrors: true })`
 *   treats as transient. Read failures are as `fromConn`'s. Run it again to reconnect; one run
 *   at a time (a second concurrent run dials its own connection and takes over the writer).
 * - `writer`: writes go to the connection of the current run. A write made while no run has a
 *   connection (before the first, between two, while dialing) waits until one has; a write in
 *   flight when its connection fails fails with a `"Write"` `SocketGenericError` (cause: the
 *   `NetError`) and is not retried. A `CloseEvent` half-closes the current connection, as with
 *   `fromConn`; closing the writer's Scope half-closes the current connection, if any.
 *
 * @example
 * ```ts
 * import { MemoryNet, Net } from "@vvnet/core"
 * import { PlatformSocket } from "@vvnet/node-adapter"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function*() {
 *   const listener = yield* Net.listen("tcp", "127.0.0.1:0")
 *   yield* Net.serve(listener, (conn) => conn.write("hello"))
 *   // dialing with a connect timeout of 2 s, each time the socket runs
 *   const socket = yield* PlatformSocket.fromDial(Net.dial("tcp", listener.address, { timeout: 2_000 }))
 *   const decoder = new TextDecoder()
 *   let got = ""
 *   yield* socket.run((chunk) => { got += decoder.decode(chunk) }) // to EOF: the handler's end
 *   yield* socket.run((chunk) => { got += decoder.decode(chunk) }) // a second connection
 *   assert.strictEqual(got, "hellohello")
 * })
 *
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(MemoryNet.layer)))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromDial = <R>(
  dial: Effect.Effect<Conn.Conn, NetError.NetError, R>
): Effect.Effect<Socket.Socket, never, Exclude<R, Scope.Scope>> =>
  Effect.contextWith((dialContext: Context.Context<Exclude<R, Scope.Scope>>): Socket.Socket => {
    let current: Conn.Conn | undefined
    const connected = Effect.unsafeMakeLatch(false)

    const runRaw = <_, E, R2>(
      handler: (_: Uint8Array) => Effect.Effect<_, E, R2> | void,
      options?: { readonly onOpen?: Effect.Effect<void> | undefined }
    ): Effect.Effect<void, Socket.SocketError | E, R2> =>
      Effect.scopedWith((scope) =>
        Effect.gen(function*() {
          const conn = yield* dial.pipe(
            Effect.mapError(openError),
            Scope.extend(scope),
            Effect.provide(dialContext as Context.Context<Exclude<R, Scope.Scope>>)
          ) as Effect.Effect<Conn.Conn, Socket.SocketError>
          // runs before the connection's close (finalizers run in reverse order)
          yield* Scope.addFinalizer(
            scope,
            Effect.sync(() => {
              if (current === conn) {
                current = undefined
                connected.unsafeClose()
              }
            })
          )
          current = conn
          yield* connected.open
          if (options?.onOpen !== undefined) yield* options.onOpen
          return yield* readLoop(conn, handler)
        })
      )

    // After `connected` opened, the writing fiber may resume after the run already ended:
    // then it waits for the next connection again.
    const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
      Effect.suspend(() =>
        current === undefined ? Effect.zipRight(connected.await, write(chunk)) : writeTo(current, chunk)
      )

    return {
      [Socket.TypeId]: Socket.TypeId,
      run: runRaw,
      runRaw,
      writer: Effect.acquireRelease(
        Effect.succeed(write),
        () => Effect.suspend(() => current === undefined ? Effect.void : halfCloseSoon(current))
      )
    }
  })

/**
 * A socket that dials `address` on `network` through the `Net` service (`NodeNet.layer`,
 * `MemoryNet.layer`, …) each time it runs: `fromDial(Net.dial(network, address, options))`, the
 * vvnet counterpart of @effect/platform-node's `NodeSocket.makeNet`. Networks and addresses are
 * `Net.dial`'s (`"tcp"`, `"127.0.0.1:7000"`; `"unix"`, a path); `options` are `Net.DialOptions`
 * (`timeout` in milliseconds: past it a run fails with reason `"OpenTimeout"`). Nothing is
 * dialed, checked or resolved until the socket runs: a malformed address fails each run with
 * reason `"Open"` and an `AddressError` cause. See `fromDial` for `run` and `writer`.
 *
 * @example
 * ```ts
 * import { MemoryNet, Net } from "@vvnet/core"
 * import { PlatformSocket } from "@vvnet/node-adapter"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function*() {
 *   const socket = yield* PlatformSocket.makeNet("tcp", "127.0.0.1:7000")
 *   // nobody listens yet: the run fails to open
 *   const refused = yield* Effect.flip(socket.run(() => {}))
 *   assert.strictEqual(refused.reason, "Open")
 *   const listener = yield* Net.listen("tcp", "127.0.0.1:7000")
 *   yield* Net.serve(listener, (conn) => conn.write("up"))
 *   const received: Array<Uint8Array> = []
 *   yield* socket.run((chunk) => { received.push(chunk) }) // the same socket, run again: connected
 *   assert.strictEqual(new TextDecoder().decode(received[0]), "up")
 * })
 *
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(MemoryNet.layer)))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeNet = (
  network: string,
  address: string,
  options?: Net.DialOptions
): Effect.Effect<Socket.Socket, never, Net.Net> =>
  Effect.flatMap(Net.Net, (net) => fromDial(net.dial(network, address, options)))

/**
 * `makeNet` as a Layer of @effect/platform's `Socket.Socket` tag: what
 * `RpcClient.layerProtocolSocket` needs, with the `Net` service still to provide. Building the
 * layer dials nothing; each run of the socket dials a fresh connection, so an rpc client
 * reconnects to a restarted server by retrying its run (its `retrySchedule`).
 *
 * @example
 * ```ts
 * import * as Socket from "@effect/platform/Socket"
 * import { NodeNet, PlatformSocket } from "@vvnet/node-adapter"
 * import * as Context from "effect/Context"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 *
 * // for RpcClient.layerProtocolSocket(): a socket to 127.0.0.1:7000, over node:net
 * const SocketLive: Layer.Layer<Socket.Socket> = PlatformSocket.layerNet("tcp", "127.0.0.1:7000", { timeout: 5_000 })
 *   .pipe(Layer.provide(NodeNet.layer))
 *
 * // building it connects nothing
 * Effect.runPromise(Effect.scoped(Layer.build(SocketLive))).then((context) =>
 *   assert.ok(Socket.isSocket(Context.get(context, Socket.Socket)))
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerNet = (
  network: string,
  address: string,
  options?: Net.DialOptions
): Layer.Layer<Socket.Socket, never, Net.Net> => Layer.effect(Socket.Socket, makeNet(network, address, options))
