/**
 * Interop with `@effect/platform`: a vvnet `Conn` viewed as a `Socket.Socket`, so code built on
 * @effect/platform sockets (`Socket.toChannel`, @effect/rpc's socket protocol, …) runs over
 * vvnet connections, MemoryNet's included.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import type { Conn } from "@vvnet/core"
import * as Effect from "effect/Effect"

const encoder = new TextEncoder()

const readError = (cause: unknown) => new Socket.SocketGenericError({ reason: "Read", cause })
const writeError = (cause: unknown) => new Socket.SocketGenericError({ reason: "Write", cause })

/**
 * Views `conn` as an @effect/platform `Socket.Socket`.
 *
 * - `run(handler)` (and `runRaw`, the same) reads until EOF, calling `handler` with each chunk
 *   (at most 65536 bytes), and succeeds at EOF. When `handler` returns an Effect, the next chunk
 *   is read only after that Effect completed: a slow handler leaves the bytes in the kernel,
 *   whose flow control holds the peer back, so memory stays bounded by one chunk plus the
 *   connection's read buffer. A failing handler Effect ends `run` with its error. A `NetError`
 *   becomes `SocketGenericError` with reason `"Read"` and the `NetError` as `cause`, `Closed`
 *   included (closing NodeSocket's stream fails its `run` with a `SocketCloseError` instead).
 * - `writer` gives a function writing a chunk (strings as UTF-8); a `CloseEvent` half-closes
 *   (FIN after the bytes written; reading goes on; its code and reason are not sent). Closing
 *   the writer's Scope half-closes too, as @effect/platform-node's NodeSocket ends its stream
 *   then: `Socket.toChannel` relies on it to end the output of a finite input. Write failures
 *   become `SocketGenericError` with reason `"Write"`.
 *
 * Closing differs from NodeSocket (`fromDuplex` / `makeNet` in @effect/platform-node-shared):
 * there a `CloseEvent` destroys the node:net socket at once (both directions; bytes not yet
 * handed to the kernel and unread input are dropped), and closing `makeNet`'s Scope ends and
 * destroys it (`destroySoon`). Here a `CloseEvent` is only a half-close, and the socket does not
 * own the connection: closing it (`conn.close`, or `Conn.abort` for a reset) stays with the
 * Scope that owns `conn`.
 *
 * Memory: `Socket.toChannel`, `toChannelString` and `toChannelWith` of @effect/platform 0.97
 * are not bounded on the read side. Their `toChannelMap` offers every chunk from `runRaw` into
 * a `Mailbox` made without a capacity (unbounded) with a handler that returns nothing, so they
 * read as fast as the peer sends, whatever the channel's consumer does; a fast peer and a slow
 * consumer fill memory. To keep the kernel's backpressure, read with `conn.stream` (vvnet's
 * pull-based Stream) or with `run` / `runRaw` and an effectful handler. (NodeSocket's own `run`
 * forks each handler Effect without waiting for it, so it is not bounded either.)
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConn = (conn: Conn.Conn): Socket.Socket => {
  const runRaw = <_, E, R>(
    handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
    options?: { readonly onOpen?: Effect.Effect<void> | undefined }
  ): Effect.Effect<void, Socket.SocketError | E, R> =>
    Effect.gen(function*() {
      if (options?.onOpen !== undefined) yield* options.onOpen
      while (true) {
        const chunk = yield* Effect.mapError(conn.read(65536), readError)
        if (chunk.length === 0) return
        const result = handler(chunk)
        // waiting before the next read is what carries a slow handler's backpressure to the peer
        if (Effect.isEffect(result)) yield* result
      }
    })
  return {
    [Socket.TypeId]: Socket.TypeId,
    run: runRaw,
    runRaw,
    writer: Effect.acquireRelease(
      Effect.succeed((chunk: Uint8Array | string | Socket.CloseEvent) =>
        Socket.isCloseEvent(chunk)
          ? Effect.mapError(conn.closeWrite, writeError)
          : Effect.asVoid(
            Effect.mapError(conn.write(typeof chunk === "string" ? encoder.encode(chunk) : chunk), writeError)
          )
      ),
      // The FIN is queued at once; waiting for it to be flushed could block the Scope's close
      // behind a peer that does not read (it settles when the connection closes).
      () => Effect.asVoid(Effect.forkDaemon(Effect.ignore(conn.closeWrite)))
    )
  }
}
