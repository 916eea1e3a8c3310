/**
 * A network connection: Go's `net.Conn` as Effects. Reads return what arrived (at most `n`
 * bytes), EOF is an empty array, every failure is a typed `NetError`, deadlines are Go's
 * absolute deadlines set in milliseconds from now, and closing is idempotent.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type { Network } from "./Address.js"
import { AbortTypeId, CloseNowTypeId, ReadNowTypeId, WhenReadableTypeId, WriteNowTypeId } from "./internal/conn.js"
import * as NetError from "./NetError.js"

/**
 * A connection. Obtained from `Net.dial` or `Listener.accept`, which close it when their Scope
 * closes. All members are safe to use from several fibers at once; each read and each write is
 * atomic with respect to the others (Go's fd mutex).
 *
 * @since 0.1.0
 * @category models
 */
export interface Conn {
  /** The network it was made on: `"tcp"`, `"tcp4"`, `"tcp6"` or `"unix"`. */
  readonly network: Network
  /** The local address in Go form: `"127.0.0.1:40312"`, `"[::1]:80"`, a unix path (or `""`). */
  readonly localAddress: string
  /** The peer's address in Go form. */
  readonly remoteAddress: string
  /**
   * Reads at most `n` bytes (Go's `Conn.Read`): waits until at least one byte arrived, then
   * returns 1..n bytes and keeps the rest for the next read. Returns an empty array at EOF
   * (the peer's FIN) and for `n = 0`. Memory is bounded by the bytes received, never by `n`.
   * The returned array belongs to the caller: vvnet never writes to it or reuses it.
   *
   * Fails with `InvalidArgument` (n negative, fractional, NaN), `Timeout` (the read deadline
   * passed; no byte is lost), `Closed` (this side closed, also ends a pending read),
   * `ConnectionReset` (after every byte received before the reset), or another `NetError`.
   *
   * A reset is never EOF (design.md §2 rules 2 and 11): a stream cut short by the peer's reset
   * ends in `ConnectionReset`, after the bytes that arrived before it. After a `write` failed,
   * reads still return the bytes already received, then `ConnectionReset`; after EOF was read,
   * reads keep returning EOF whatever later writes meet (Go). On NodeNet (Node 20), libuv may
   * report a reset that arrives while reading is paused as EOF (fixed upstream by libuv pull
   * request 4997, not in Node 20's libuv); vvnet then asks the kernel whether the connection
   * was torn down and reports the reset. Two cases stay out of reach on Node 20: after this
   * side's `closeWrite` (a reset and a FIN then look alike to Node), and on unix sockets (a
   * unix peer that closes with our bytes unread may read as EOF). After a failed write,
   * NodeNet keeps the bytes Node had already read, but bytes still in the kernel are lost,
   * because Node destroys a socket whose write failed and reads no more. So reads then end in
   * `ConnectionReset` even when the peer had sent its FIN before resetting (where Go, still
   * able to read, reaches EOF): vvnet cannot tell a complete stream from a truncated one there,
   * and reports the error rather than an EOF that might hide lost bytes.
   */
  read(n: number): Effect.Effect<Uint8Array, NetError.NetError>
  /**
   * Writes every byte (a string is sent as UTF-8) and returns the count, once the OS took
   * them (Go's `Conn.Write`). Suspends while the OS send buffer is full (backpressure).
   *
   * Fails with `Timeout` (the write deadline passed; the bytes already handed to the OS queue
   * are still sent, possibly all of them: do not resend them blindly),
   * `BrokenPipe` / `ConnectionReset` (the peer is gone; every later write fails the same way),
   * `Closed`, or another `NetError`. Interrupting a write does not recall bytes already handed
   * to the OS.
   */
  write(data: Uint8Array | string): Effect.Effect<number, NetError.NetError>
  /**
   * Half-close (Go's `TCPConn.CloseWrite`): sends FIN after the bytes already written; reading
   * goes on. Later writes fail with `BrokenPipe`. Idempotent. Fails with `Closed` after `close`.
   */
  readonly closeWrite: Effect.Effect<void, NetError.NetError>
  /**
   * Closes the connection: idempotent, never fails, returns at once. Pending and later reads
   * and writes fail with `Closed`; deadline timers are cleared; only the first close reaches the
   * OS. The close is graceful (design.md §2 rule 6, the "lingering close" of nginx): in the
   * background, every byte written before it is delivered, FIN is sent, and the peer's input is
   * read and discarded until its EOF or the `linger` bound of `dial`/`listen` (default 5000 ms),
   * so a peer that is still sending does not get a reset that throws away what it was sent;
   * then the OS resources are released. A connection that never wrote a byte is released at
   * once. `Conn.abort` is the immediate reset. A write still pending at the close fails with
   * `Closed`, but the bytes it already handed to the OS are not recalled and may still arrive
   * (as after a write `Timeout`): a failed write may have been delivered, a write reported as
   * done always was.
   */
  readonly close: Effect.Effect<void>
  /**
   * Sets the read deadline to now + `ms` milliseconds (Go's `SetReadDeadline`): absolute, so it
   * applies to the pending read and every later one until changed. `0` clears it. A passed
   * deadline fails reads with `Timeout` until it is moved. Fails with `InvalidArgument`
   * (negative, NaN, infinite) or `Closed`.
   */
  setReadTimeout(ms: number): Effect.Effect<void, NetError.NetError>
  /** The write deadline, as `setReadTimeout` for writes (Go's `SetWriteDeadline`). */
  setWriteTimeout(ms: number): Effect.Effect<void, NetError.NetError>
  /**
   * The reader as a Stream: chunks of at most 65536 bytes as they arrive, ending at EOF,
   * failing with the read's `NetError`. Does not close the connection.
   */
  readonly stream: Stream.Stream<Uint8Array, NetError.NetError>
  /** The writer as a Sink: writes each chunk in order; does not close or half-close. */
  readonly sink: Sink.Sink<void, Uint8Array, never, NetError.NetError>
}

/**
 * `conn.read(n)`, performed at once when its outcome is already known, for hosts that run code
 * outside Effect fibers (the vv bridge): a read that does not wait then needs no fiber. Returns
 * an `Exit` (an Effect whose outcome is known; tell with `Exit.isExit`) when bytes are buffered
 * (at most `n` of them, as `read` takes them), at EOF (an empty array), on an error, a passed
 * read deadline or a closed connection, or for a bad `n` (`InvalidArgument`); otherwise the
 * Effect that waits, exactly as `conn.read(n)`. The read's bytes are taken from the buffer by
 * this call, not by running the Exit. Errors and semantics as `Conn.read` (Go's `Read`, which
 * has no such split: a goroutine simply blocks). A Conn not built by vvnet's engine returns
 * `conn.read(n)`.
 *
 * @since 0.2.0
 * @category low level
 */
export const readNow = (conn: Conn, n: number): Effect.Effect<Uint8Array, NetError.NetError> =>
  ReadNowTypeId in conn ? (conn as unknown as Now)[ReadNowTypeId](n) : conn.read(n)

/**
 * `conn.write(data)`, started at once, for hosts that run code outside Effect fibers (the vv
 * bridge): unlike `conn.write`, this call itself hands `data` (bytes, or a string as UTF-8) to
 * the OS when no other write is in flight. Returns an `Exit` (tell with `Exit.isExit`) when
 * the write ended at once: the byte count when the OS took every byte, or the failure
 * (`BrokenPipe`, `ConnectionReset`, `Timeout`, `Closed`, `InvalidArgument`, …). Otherwise
 * returns an Effect to run exactly once: it waits for this write to end (bytes already handed
 * over), or, when another write was in flight, waits for that one and then writes. Interrupting
 * the wait leaves the bytes with the OS, as for `conn.write`. A Conn not built by vvnet's engine
 * returns `conn.write(data)` (which writes when run).
 *
 * @since 0.2.0
 * @category low level
 */
export const writeNow = (conn: Conn, data: Uint8Array | string): Effect.Effect<number, NetError.NetError> =>
  WriteNowTypeId in conn ? (conn as unknown as Now)[WriteNowTypeId](data) : conn.write(data)

/**
 * Asks to be called back, outside any fiber, when a read on `conn` may make progress: bytes
 * arrived, EOF, an error, the read deadline passed, or the connection was closed. For hosts that
 * run code outside Effect fibers (the vv bridge): after `readNow` returned an Effect that waits,
 * a host can call `whenReadable` instead of running that Effect, then call `readNow` again from
 * `callback`, and so wait for data with no fiber at all (as an event loop waits on epoll).
 *
 * `callback` runs at most once, synchronously within whatever made the change (a transport's
 * event, a timer, `close`); it must not throw, and should do little more than retry the read
 * (and call `whenReadable` again when it still has to wait). Wake-ups may be spurious: a
 * concurrent reader may have taken the bytes first. A callback of a reader that gave up stays
 * registered until the next change, when it runs and should do nothing; closing the connection
 * is such a change, so nothing outlives it. Returns `false`, registering nothing, for a Conn
 * not built by vvnet's engine: run the Effect `readNow` returned instead.
 *
 * @since 0.2.0
 * @category low level
 */
export const whenReadable = (conn: Conn, callback: () => void): boolean => {
  if (!(WhenReadableTypeId in conn)) return false
  ;(conn as unknown as Now)[WhenReadableTypeId](callback)
  return true
}

/**
 * `conn.close`, performed at once, for hosts that run code outside Effect fibers (the vv
 * bridge): a connection built by vvnet's engine is closed by this call itself (the graceful
 * close of `Conn.close`: what was written is still delivered, within the linger bound), and
 * `Exit.void` is returned (tell with `Exit.isExit`); any other Conn returns `conn.close`, to be
 * run. Never fails; closing twice does nothing.
 *
 * @since 0.2.0
 * @category low level
 */
export const closeNow = (conn: Conn): Effect.Effect<void> => {
  if (!(CloseNowTypeId in conn)) return conn.close
  ;(conn as unknown as Now)[CloseNowTypeId]()
  return Exit.void
}

/** What the engine's connections add for `readNow`, `writeNow`, `whenReadable` and `closeNow`. */
interface Now {
  readonly [CloseNowTypeId]: () => void
  readonly [ReadNowTypeId]: (n: number) => Effect.Effect<Uint8Array, NetError.NetError>
  readonly [WriteNowTypeId]: (data: Uint8Array | string) => Effect.Effect<number, NetError.NetError>
  readonly [WhenReadableTypeId]: (callback: () => void) => void
}

/**
 * Closes the connection with a reset (RST) instead of a graceful FIN, discarding unsent bytes:
 * Go's `TCPConn.SetLinger(0)` followed by `Close`. The peer's next read fails with
 * `ConnectionReset` (after the bytes that reached it). On NodeNet's unix sockets there is no
 * reset to send: the connection is closed at once and the peer reads EOF (or a reset when our
 * side closed with input unread). For a connection not built by vvnet's engine, this is
 * `close`. Never fails.
 *
 * @since 0.1.0
 * @category combinators
 */
export const abort = (conn: Conn): Effect.Effect<void> =>
  AbortTypeId in conn
    ? Effect.sync(() => (conn as unknown as { [AbortTypeId]: () => void })[AbortTypeId]())
    : conn.close

/** A read error on `conn`, with its addresses (the combinators' own failures). */
const readError = (
  conn: Conn,
  tag: "InvalidArgument" | "SystemError",
  reason: string,
  code?: string
): NetError.NetError =>
  NetError.make(tag, {
    op: "read",
    network: conn.network,
    address: conn.remoteAddress,
    source: conn.localAddress,
    code,
    reason
  })

/** The largest `n` readFull allocates (2 GiB − 1, V8's typed-array bound on 64-bit hosts). */
const maxReadFull = 2 ** 31 - 1

/**
 * Reads exactly `n` bytes (Go's `io.ReadFull`), calling `read` as often as needed; allocates
 * `n` bytes. Fails with the read's `NetError`; an EOF before `n` bytes fails with `SystemError`
 * whose `code` is `"UNEXPECTED_EOF"` (Go's `io.ErrUnexpectedEOF`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const readFull = (conn: Conn, n: number): Effect.Effect<Uint8Array, NetError.NetError> =>
  Effect.suspend(() => {
    if (!Number.isSafeInteger(n) || n < 0) return conn.read(n)
    if (n > maxReadFull) {
      return Effect.fail(
        readError(
          conn,
          "InvalidArgument",
          `invalid argument: readFull allocates n bytes; n must be at most ${maxReadFull}, got ${n}`
        )
      )
    }
    const out = new Uint8Array(n)
    const loop = (offset: number): Effect.Effect<Uint8Array, NetError.NetError> =>
      offset === n ? Effect.succeed(out) : Effect.flatMap(conn.read(n - offset), (chunk) => {
        if (chunk.length === 0) {
          return Effect.fail(readError(conn, "SystemError", "unexpected EOF", "UNEXPECTED_EOF"))
        }
        out.set(chunk, offset)
        return loop(offset + chunk.length)
      })
    return loop(0)
  })

/**
 * Reads until EOF and returns every byte (Go's `io.ReadAll`), failing with `InvalidArgument`
 * once more than `maxBytes` arrived (default 64 MiB), so a peer cannot exhaust memory.
 *
 * @since 0.1.0
 * @category combinators
 */
export const readAll = (
  conn: Conn,
  maxBytes: number = 64 * 1024 * 1024
): Effect.Effect<Uint8Array, NetError.NetError> =>
  Effect.suspend(() => {
    if (!(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) {
      return Effect.fail(
        readError(conn, "InvalidArgument", `invalid argument: maxBytes must be a non-negative integer, got ${maxBytes}`)
      )
    }
    const chunks: Array<Uint8Array> = []
    let total = 0
    const loop: Effect.Effect<Uint8Array, NetError.NetError> = Effect.flatMap(conn.read(65536), (chunk) => {
      if (chunk.length === 0) {
        const out = new Uint8Array(total)
        let offset = 0
        for (const c of chunks) {
          out.set(c, offset)
          offset += c.length
        }
        return Effect.succeed(out)
      }
      total += chunk.length
      if (total > maxBytes) {
        return Effect.fail(
          readError(conn, "InvalidArgument", `invalid argument: more than ${maxBytes} bytes before EOF`)
        )
      }
      chunks.push(chunk)
      return loop
    })
    return loop
  })
