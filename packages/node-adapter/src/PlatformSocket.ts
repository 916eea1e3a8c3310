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
 * - `run(handler)` reads until EOF, calling `handler` with each chunk (at most 65536 bytes), and
 *   succeeds at EOF; a `NetError` becomes `SocketGenericError` with reason `"Read"` and the
 *   `NetError` as `cause`.
 * - `writer` gives a function writing a chunk (strings as UTF-8); a `CloseEvent` half-closes
 *   (FIN). Closing the writer's Scope half-closes too, as @effect/platform-node's NodeSocket
 *   ends its stream then: `Socket.toChannel` relies on it to end the output of a finite input.
 *   Write failures become `SocketGenericError` with reason `"Write"`.
 *
 * The socket does not own the connection: closing it stays with the Scope that owns `conn`.
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
