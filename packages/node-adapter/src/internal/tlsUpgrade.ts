import { type Conn, type NetError, Transport } from "@vvnet/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import { Duplex } from "node:stream"
import * as Tls from "node:tls"
import { fromSocket, type SocketOptions } from "./socket.js"

/** The errno a NetError tag stands for, for a tag whose error carries no code. */
const tagCodes: Partial<Record<NetError.Tag, string>> = {
  ConnectionReset: "ECONNRESET",
  BrokenPipe: "EPIPE",
  Closed: "ERR_STREAM_DESTROYED",
  Timeout: "ETIMEDOUT"
}

/** A NetError as the Error with an errno `code` a Node stream reports (so core maps it back). */
const toNodeError = (error: NetError.NetError): Error => {
  const e = new Error(error.reason) as Error & { code?: string; syscall?: string }
  e.code = error.code ?? tagCodes[error._tag] ?? error._tag
  if (error.syscall !== undefined) e.syscall = error.syscall
  return e
}

/**
 * @internal
 * A `Conn` seen as a Node Duplex stream, for node:tls to run over (Go's `tls.Client(conn)`
 * takes any `net.Conn`): `_read` is one `conn.read` at a time, `_write` resolves when
 * `conn.write` does (so backpressure holds), `_final` is `closeWrite`, and destroying the
 * stream closes the connection. Read and write failures destroy the stream with the error's
 * errno code.
 */
export class ConnDuplex extends Duplex {
  private reading: (() => void) | undefined = undefined
  private writing: (() => void) | undefined = undefined

  constructor(readonly conn: Conn.Conn, readonly runtime: Runtime.Runtime<never>) {
    super({ allowHalfOpen: true })
  }

  private readPending = false

  override _read(): void {
    if (this.readPending) return
    this.readPending = true
    // onExit may run before runCallback returns (a read that was ready): the flag, not the
    // canceller, says whether a read is pending
    const cancel = Runtime.runCallback(this.runtime)(this.conn.read(65536), {
      onExit: (exit) => {
        this.readPending = false
        this.reading = undefined
        if (this.destroyed) return
        if (Exit.isSuccess(exit)) {
          this.push(exit.value.length === 0 ? null : exit.value)
        } else if (exit.cause._tag === "Fail") {
          this.destroy(toNodeError(exit.cause.error))
        }
      }
    })
    if (this.readPending) this.reading = cancel
  }

  override _write(chunk: Uint8Array, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let done = false
    const cancel = Runtime.runCallback(this.runtime)(this.conn.write(chunk), {
      onExit: (exit) => {
        done = true
        this.writing = undefined
        if (Exit.isSuccess(exit)) callback()
        else callback(exit.cause._tag === "Fail" ? toNodeError(exit.cause.error) : new Error("write interrupted"))
      }
    })
    if (!done) this.writing = cancel
  }

  override _final(callback: (error?: Error | null) => void): void {
    Runtime.runCallback(this.runtime)(this.conn.closeWrite, {
      onExit: (exit) =>
        Exit.isSuccess(exit)
          ? callback()
          : callback(exit.cause._tag === "Fail" ? toNodeError(exit.cause.error) : new Error("closeWrite interrupted"))
    })
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.reading?.()
    this.writing?.()
    Runtime.runSync(this.runtime)(this.conn.close)
    callback(error)
  }
}

/** @internal What an upgrade needs: the TLS side's options, prepared by NodeTls. */
export interface UpgradeSettings {
  readonly isServer: boolean
  readonly secureContext: Tls.SecureContext
  /** client: the name to verify (and SNI when not an IP) */
  readonly verifyName: string
  readonly serverName: string | undefined
  /** client: verify the server; server: require and verify a client certificate */
  readonly verify: boolean
  /** server: ask for a client certificate */
  readonly requestCert: boolean
  readonly alpnProtocols: ReadonlyArray<string> | undefined
  /** ms, 0 for none */
  readonly handshakeTimeout: number
  readonly socketOptions: SocketOptions | undefined
}

/**
 * @internal
 * Runs a TLS handshake over `conn` (client or server) and returns the TLS connection, unowned
 * (the caller puts its `close` in a Scope). On failure, timeout or interruption the TLS socket
 * is destroyed, which closes `conn` (its stream is mid-handshake and of no further use).
 */
export const upgrade = <E>(
  conn: Conn.Conn,
  settings: UpgradeSettings,
  runtime: Runtime.Runtime<never>,
  mapFailure: (error: unknown) => E,
  timeoutFailure: () => E,
  onSecure: (socket: Tls.TLSSocket, conn: Conn.Conn) => void
): Effect.Effect<{ readonly conn: Conn.Conn; readonly close: (abort: boolean) => void }, E> =>
  Effect.async((resume) => {
    const duplex = new ConnDuplex(conn, runtime)
    const alpn = settings.alpnProtocols !== undefined ? { ALPNProtocols: [...settings.alpnProtocols] } : {}
    let socket: Tls.TLSSocket
    if (settings.isServer) {
      socket = new Tls.TLSSocket(duplex, {
        isServer: true,
        secureContext: settings.secureContext,
        requestCert: settings.requestCert,
        rejectUnauthorized: settings.verify,
        ...alpn
      })
    } else {
      socket = Tls.connect({
        socket: duplex,
        secureContext: settings.secureContext,
        rejectUnauthorized: settings.verify,
        checkServerIdentity: settings.verify
          ? (_host, cert) => Tls.checkServerIdentity(settings.verifyName, cert)
          : () => undefined,
        ...(settings.serverName !== undefined ? { servername: settings.serverName } : {}),
        ...alpn
      })
    }
    let cancelTimer: (() => void) | undefined
    const cleanup = () => {
      cancelTimer?.()
      socket.removeListener(settings.isServer ? "secure" : "secureConnect", onSecure_)
      socket.removeListener("error", onError)
      socket.removeListener("end", onEnd)
    }
    const abandon = () => {
      cleanup()
      socket.on("error", () => {})
      socket.destroy()
      duplex.destroy()
    }
    const onError = (error: Error) => {
      abandon()
      resume(Effect.fail(mapFailure(error)))
    }
    const onEnd = () => onError(Object.assign(new Error("connection reset by peer"), { code: "ECONNRESET" }))
    const onSecure_ = () => {
      if (settings.isServer && settings.verify && !socket.authorized) {
        const code = socket.authorizationError
        return onError(Object.assign(new Error(String(code)), { code: typeof code === "string" ? code : String(code) }))
      }
      cleanup()
      const made = fromSocket(socket, conn.network, conn.localAddress, conn.remoteAddress, settings.socketOptions)
      onSecure(socket, made.conn)
      resume(Effect.succeed(made))
    }
    socket.once(settings.isServer ? "secure" : "secureConnect", onSecure_)
    socket.once("error", onError)
    if (settings.isServer) socket.once("end", onEnd) // the client's tls.connect reports this itself
    if (settings.handshakeTimeout > 0) {
      cancelTimer = Transport.schedule(settings.handshakeTimeout, () => {
        abandon()
        resume(Effect.fail(timeoutFailure()))
      })
    }
    return Effect.sync(abandon)
  })
