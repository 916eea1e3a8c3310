import type { Address, Conn } from "@vvnet/core"
import { Address as Addr, Transport } from "@vvnet/core"
import type * as Net from "node:net"

/** @internal Node's system errors as vvnet's OsError. */
export const toOsError = (error: unknown): Transport.OsError => {
  const e = error as { code?: unknown; syscall?: unknown; message?: unknown }
  return {
    code: typeof e?.code === "string" ? e.code : undefined,
    syscall: typeof e?.syscall === "string" ? e.syscall : undefined,
    message: typeof e?.message === "string" ? e.message : String(error)
  }
}

/** @internal `::ffff:127.0.0.1` (a v4 peer on a dual-stack socket) → `127.0.0.1`, as Go prints it. */
export const unmapHost = (host: string): string =>
  host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host

/** @internal Go form of a socket end, or "" when unknown. */
export const formatEnd = (host: string | undefined, port: number | undefined): string =>
  host === undefined || port === undefined ? "" : Addr.joinHostPort(unmapHost(host), port)

const ignore = () => {}

/**
 * @internal
 * Wraps a connected node:net Socket as a vvnet Conn. Reads flow into core's bounded buffer
 * (`pause()` above its high-water mark, so the kernel pushes back on the peer); a write resolves
 * once libuv handed every byte to the kernel (at once when `writableLength` is 0 after the call,
 * else in the write callback). An `'error'` listener stays attached for the socket's whole life,
 * so no error ever reaches the process unhandled.
 */
export const fromSocket = (
  socket: Net.Socket,
  network: Address.Network,
  localAddress: string | (() => string),
  remoteAddress: string | (() => string),
  readBufferSize: number | undefined
): { readonly conn: Conn.Conn; readonly close: (abort: boolean) => void } => {
  // An address not known up front costs a getsockname/getpeername call: made on first use,
  // or at close (before the handle goes) so later error messages still name it.
  let local = localAddress
  let remote = remoteAddress
  const resolveAddresses = () => {
    if (typeof local === "function") local = local()
    if (typeof remote === "function") remote = remote()
  }
  const transport: Transport.ConnTransport = {
    network,
    get localAddress() {
      return typeof local === "function" ? (local = local()) : local
    },
    get remoteAddress() {
      return typeof remote === "function" ? (remote = remote()) : remote
    },
    write(data, done) {
      if (socket.destroyed) {
        // destroyed by an error whose 'error' event has not been emitted yet
        done(socket.errored ? toOsError(socket.errored) : { code: "EPIPE", syscall: "write" })
        return false
      }
      socket.write(data, (error) => done(error ? toOsError(error) : undefined))
      return socket.writableLength === 0 && !socket.destroyed
    },
    closeWrite(done) {
      socket.end(() => done())
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    close(abort) {
      resolveAddresses()
      socket.removeListener("data", onData)
      if (abort && network !== "unix" && typeof socket.resetAndDestroy === "function") {
        try {
          socket.resetAndDestroy()
          return
        } catch {
          // not a TCP handle (or already closed): plain destroy below
        }
      }
      socket.destroy()
    }
  }
  const { close, conn, inbound } = Transport.makeConn(transport, { readBufferSize })
  const onData = (chunk: Buffer) => {
    inbound.push(chunk)
  }
  socket.on("data", onData)
  socket.on("end", () => inbound.end())
  socket.on("error", (error) => inbound.fail(toOsError(error)))
  socket.on("close", ignore)
  return { conn, close }
}
