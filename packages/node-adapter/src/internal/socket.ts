import type { Address, Conn } from "@vvnet/core"
import { Address as Addr, NetError, Transport } from "@vvnet/core"
import type * as Net from "node:net"
import { classify } from "./tlsErrors.js"

/**
 * @internal
 * Node's system errors as vvnet's OsError. A node:tls failure (a verification code, an alert,
 * a handshake failure) carries its TLS `kind` and Go's text, so core makes it a `TlsError`.
 */
export const toOsError = (error: unknown): Transport.OsError => {
  const tls = classify(error)
  if (tls !== undefined) return { code: tls.code, message: tls.reason, kind: tls.kind }
  const e = error as { code?: unknown; syscall?: unknown; message?: unknown }
  return {
    code: typeof e?.code === "string" ? e.code : undefined,
    syscall: typeof e?.syscall === "string" ? e.syscall : undefined,
    message: typeof e?.message === "string" ? e.message : String(error)
  }
}

/** @internal An OS error of a socket as its `NetError`, through core's errno table. */
export const errnoFailure = (error: unknown, context: NetError.ErrnoContext): NetError.NetError =>
  NetError.fromErrno(toOsError(error), context)

/** @internal `::ffff:127.0.0.1` (a v4 peer on a dual-stack socket) → `127.0.0.1`, as Go prints it. */
export const unmapHost = (host: string): string =>
  host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host

/** @internal Go form of a socket end, or "" when unknown. */
export const formatEnd = (host: string | undefined, port: number | undefined): string =>
  host === undefined || port === undefined ? "" : Addr.joinHostPort(unmapHost(host), port)

const ignore = () => {}
const nothing = new Uint8Array(0)

/** @internal Options of `fromSocket`. */
export interface SocketOptions {
  /** core's receive buffer high-water mark, in bytes */
  readonly readBufferSize?: number | undefined
  /** the graceful close's background linger bound, in milliseconds */
  readonly linger?: number | undefined
}

/**
 * True when the kernel has already torn a TCP connection down (state CLOSED): `getpeername`
 * then fails with ENOTCONN, where a connection whose peer only sent FIN (CLOSE_WAIT) still
 * answers. Read through the handle, as Node's own `remoteAddress` getter does; an unknown
 * handle shape answers false (trust the EOF).
 */
const tornDown = (socket: Net.Socket): boolean => {
  const handle = (socket as unknown as { _handle?: { getpeername?: (out: object) => number } | null })._handle
  if (handle == null || typeof handle.getpeername !== "function") return false
  try {
    return handle.getpeername({}) !== 0
  } catch {
    return false
  }
}

/**
 * @internal
 * Wraps a connected node:net Socket as a vvnet Conn. Reads flow into core's bounded buffer
 * (`pause()` above its high-water mark, so the kernel pushes back on the peer); a write resolves
 * once libuv handed every byte to the kernel: at once when `writableLength` is 0 after the call
 * and the write did not fail (the write then carries no callback, so Node batches its
 * bookkeeping), else when a zero-length write queued behind it calls back (Node calls back in
 * order; a failure is read from `socket.errored`). An `'error'` listener stays attached
 * for the socket's whole life, so no error ever reaches the process unhandled.
 *
 * Edges of the connection's life:
 * - EOF vs reset: libuv (Node 20, before libuv pull request 4997) reports a clean EOF when
 *   POLLHUP arrives after a partial read, which is exactly what a peer's RST looks like while
 *   our reading was paused; the ECONNRESET the next read would have returned is never read.
 *   On TCP, while our write side is open, an EOF is therefore checked: a connection that only
 *   received FIN still has a peer (`getpeername` works); one the kernel tore down has none, and
 *   then a zero-length write asks the kernel for the pending error (ECONNRESET: a reset, the
 *   stream is truncated; EPIPE: the peer's FIN came first, the EOF is real).
 * - A write the kernel refused fails: Node marks the stream errored at once but destroys it a
 *   tick later, so `socket.errored` is checked before a write is reported as done.
 * - `close(false)` on a connection that wrote bytes lingers in the background: `end()` flushes what libuv holds and sends FIN,
 *   input is read and discarded until the peer's EOF, an error, or `linger` ms, then the
 *   socket is destroyed. The lingering socket keeps the process alive (for at most `linger`
 *   ms): a process that exits while its peer is still sending would make the kernel reset the
 *   connection and the peer lose the reply; the timer alone never holds the process.
 */
export const fromSocket = (
  socket: Net.Socket,
  network: Address.Network,
  localAddress: string | (() => string),
  remoteAddress: string | (() => string),
  options?: SocketOptions
): { readonly conn: Conn.Conn; readonly close: (abort: boolean) => void } => {
  const transport = new SocketTransport(socket, network, localAddress, remoteAddress, options?.linger)
  const { close, conn, inbound } = Transport.makeConn(transport, { readBufferSize: options?.readBufferSize })
  transport.attach(inbound)
  return { conn, close }
}

/**
 * The transport of one socket. A class, so that its methods live on the prototype: an idle
 * connection holds this object and three bound event listeners, not a closure per method.
 */
class SocketTransport implements Transport.ConnTransport {
  private inbound: Transport.Inbound | undefined = undefined

  constructor(
    private readonly socket: Net.Socket,
    readonly network: Address.Network,
    // An address not known up front costs a getsockname/getpeername call: made on first use,
    // or at close (before the handle goes) so later error messages still name it.
    private local: string | (() => string),
    private remote: string | (() => string),
    private readonly linger = Transport.defaultLinger
  ) {}

  get localAddress(): string {
    return typeof this.local === "function" ? (this.local = this.local()) : this.local
  }

  get remoteAddress(): string {
    return typeof this.remote === "function" ? (this.remote = this.remote()) : this.remote
  }

  attach(inbound: Transport.Inbound): void {
    this.inbound = inbound
    const socket = this.socket
    socket.on("data", this.onData)
    socket.on("end", this.onEnd)
    socket.on("error", this.onError)
    socket.on("close", ignore)
  }

  /** Set while `onError` reads out Node's stream buffer: those chunks are pushed there. */
  private draining = false

  private readonly onData = (chunk: Buffer): void => {
    if (!this.draining) this.inbound!.push(chunk)
  }

  /**
   * A failure (a reset on read, most often): what Node had received and holds in its stream
   * buffer (our reading paused for backpressure) goes to core first, so reads return every byte
   * received before the error, as Go's do (the kernel hands over queued bytes before
   * ECONNRESET). Node would drop it: once 'error' is emitted it emits no more 'data', and the
   * stream is already destroyed, but `read()` still returns the buffer.
   */
  private readonly onError = (error: Error): void => {
    const socket = this.socket
    const inbound = this.inbound!
    if (socket.readableLength > 0) {
      this.draining = true
      try {
        for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
          inbound.push(chunk)
        }
      } catch {
        // an unusual stream state: nothing more to hand over
      } finally {
        this.draining = false
      }
    }
    inbound.fail(toOsError(error))
  }

  private readonly onEnd = (): void => {
    const socket = this.socket
    const inbound = this.inbound!
    if (this.network === "unix" || socket.writableEnded || !tornDown(socket)) return inbound.end()
    // torn down: a reset read as EOF, or a FIN followed by a reset; the kernel's pending error tells
    socket.write(nothing, (error) => {
      const code = error === undefined || error === null ? undefined : toOsError(error).code
      if (code === undefined || code === "EPIPE") inbound.end()
      else inbound.fail({ code, syscall: "read" })
    })
  }

  write(data: Uint8Array, done: (error?: Transport.OsError) => void): boolean {
    const socket = this.socket
    if (socket.destroyed || socket.errored != null) {
      // destroyed or errored by a failure whose 'error' event has not been emitted yet
      this.salvage()
      done(socket.errored ? toOsError(socket.errored) : { code: "EPIPE", syscall: "write" })
      return false
    }
    socket.write(data)
    if (socket.writableLength === 0 && !socket.destroyed && socket.errored == null) return true
    if (socket.errored != null || socket.destroyed) {
      this.salvage()
      done(socket.errored != null ? toOsError(socket.errored) : { code: "EPIPE", syscall: "write" })
      return false
    }
    socket.write(nothing, (error) => {
      const failure = socket.errored ?? error
      if (failure != null) this.salvage()
      done(failure != null ? toOsError(failure) : undefined)
    })
    return false
  }

  closeWrite(done: (error?: Transport.OsError) => void): void {
    this.socket.end(() => done())
  }

  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  close(abort: boolean): void {
    const socket = this.socket
    // resolved now, before the handle goes, so later error messages still name them
    void this.localAddress
    void this.remoteAddress
    socket.removeListener("data", this.onData)
    if (abort) {
      if (this.network !== "unix" && typeof socket.resetAndDestroy === "function") {
        try {
          socket.resetAndDestroy()
          return
        } catch {
          // not a TCP handle (or already closed): plain destroy below
        }
      }
      socket.destroy()
      return
    }
    lingeringClose(socket, this.linger)
  }

  /**
   * Node destroys a socket whose write failed right after the write's callback, discarding
   * what its stream buffer holds (our reading may be paused): hand those bytes over first, so
   * reads still return everything received before the error (bytes still in the kernel are
   * beyond reach: Node reads no more from an errored stream).
   */
  private salvage(): void {
    const socket = this.socket
    if (socket.destroyed) return
    try {
      while (socket.readableLength > 0 && socket.read() !== null) {
        // each chunk read is emitted as 'data' and lands in core's buffer through onData
      }
    } catch {
      // an unusual stream state: nothing more to save
    }
  }
}

/**
 * Flush, FIN, discard input until the peer's EOF (or an error, or `linger` ms), then destroy.
 * `linger` 0, or a connection that never wrote a byte, destroys at once: the kernel still sends what it took, then FIN (or RST when
 * input is left unread).
 */
const lingeringClose = (socket: Net.Socket, linger: number): void => {
  if (socket.destroyed) return
  // nothing written, nothing to deliver: a peer still sending learns of the close at once
  if (linger === 0 || socket.bytesWritten === 0) {
    socket.destroy()
    return
  }
  let cancel: (() => void) | undefined = Transport.schedule(linger, () => release(), { unref: true })
  const release = () => {
    cancel?.()
    cancel = undefined
    socket.destroy()
  }
  socket.once("close", () => {
    cancel?.()
    cancel = undefined
  })
  // released once both the FIN is out (after every queued byte) and the peer's EOF is in
  let flushed = false
  let drained = socket.readableEnded
  if (!drained) {
    socket.once("end", () => {
      drained = true
      if (flushed) release()
    })
    socket.resume() // discards: no 'data' listener of ours is left
  }
  socket.end(() => {
    flushed = true
    if (drained) release()
  })
}
