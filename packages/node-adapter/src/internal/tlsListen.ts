import { Address, type Conn, type Listener, type Net, NetError, Transport } from "@vvnet/core"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import type * as NodeNetModule from "node:net"
import * as Tls from "node:tls"
import { formatEnd, fromSocket, toOsError, unmapHost } from "./socket.js"
import type { Target } from "./target.js"
import { closeUnixServer, type SocketFile } from "./unixSocketFile.js"

/** @internal Called for each connection whose handshake failed, with the error and the peer's address. */
export type OnHandshakeError = (error: unknown, remoteAddress: string, localAddress: string) => void

/**
 * @internal
 * One TLS listen: NodeNet's ListenAttempt over a `tls.Server` (a net.Server that wraps each
 * accepted socket in a server-side TLSSocket). A connection reaches core's listener engine only
 * once its handshake is done, so `accept` never waits on one slow client; a handshake that
 * fails or passes the handshake timeout is reported to `onHandshakeError` and its socket
 * destroyed. Closing the listener destroys the connections still in their handshake.
 */
export class TlsListenAttempt {
  private server: Tls.Server | undefined = undefined
  private closeListener: (() => void) | undefined = undefined
  private file: SocketFile | undefined = undefined
  /** accepted sockets whose handshake is not done */
  private readonly handshaking = new Set<NodeNetModule.Socket>()
  /** the ends of accepted sockets, asked at accept (node:tls may destroy a socket before it reports it) */
  private readonly ends = new WeakMap<NodeNetModule.Socket, { readonly local: string; readonly remote: string }>()

  constructor(
    readonly network: Address.Network,
    readonly requestedNetwork: string,
    readonly address: string,
    readonly target: Target,
    readonly options: Net.ListenOptions | undefined,
    readonly serverOptions: Tls.TlsOptions,
    readonly onHandshakeError: OnHandshakeError,
    readonly onSecure: (socket: Tls.TLSSocket, conn: Conn.Conn) => void
  ) {}

  dispose(): void {
    if (this.closeListener !== undefined) this.closeListener()
    else if (this.server !== undefined) this.closeServer()
  }

  private closeServer(): void {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    if (this.target.kind === "unix") closeUnixServer(server, this.file)
    else server.close()
    for (const socket of this.handshaking) socket.destroy()
    this.handshaking.clear()
  }

  get run(): Effect.Effect<Listener.Listener, NetError.NetError> {
    return Effect.async((resume) => {
      const server = Tls.createServer({ ...this.serverOptions, allowHalfOpen: true })
      this.server = server
      const context = { op: "listen" as const, network: this.requestedNetwork, address: this.address }
      const backlog = this.options?.backlog ?? 511
      const onError = (error: NodeJS.ErrnoException) => {
        server.removeListener("listening", onListening)
        server.on("error", () => {})
        this.closeServer()
        const os = toOsError(error)
        const bindFailure = os.code === "EADDRINUSE" || os.code === "EADDRNOTAVAIL" || os.code === "EACCES"
        resume(Effect.fail(NetError.fromErrno(bindFailure ? { ...os, syscall: "bind" } : os, context)))
      }
      const onListening = () => {
        server.removeListener("error", onError)
        let boundAddress: string
        let wildcard = false
        if (this.target.kind === "unix") {
          boundAddress = this.target.path
          try {
            const st = Fs.lstatSync(this.target.path)
            this.file = { path: this.target.path, dev: st.dev, ino: st.ino }
          } catch {
            this.file = undefined
          }
        } else {
          const info = server.address() as NodeNetModule.AddressInfo
          boundAddress = Address.joinHostPort(unmapHost(info.address), info.port)
          wildcard = info.address === "::" || info.address === "0.0.0.0"
        }
        const { acceptor, close, listener } = Transport.makeListener({
          network: this.network,
          address: boundAddress,
          close: () => this.closeServer()
        }, { backlog })
        this.closeListener = close
        const socketOptions = { readBufferSize: this.options?.readBufferSize, linger: this.options?.linger }
        const ends = (socket: NodeNetModule.Socket) => {
          const local = this.target.kind === "unix" || !wildcard
            ? boundAddress
            : formatEnd(socket.localAddress, socket.localPort)
          const remote = this.target.kind === "unix" ? "" : formatEnd(socket.remoteAddress, socket.remotePort)
          return { local, remote }
        }
        // the raw socket, before node:tls wraps it: tracked until its handshake ends
        server.on("connection", (raw: NodeNetModule.Socket) => {
          raw.on("error", () => {}) // node:tls forwards it to the TLSSocket; guards the gap
          if (this.target.kind === "inet") raw.setNoDelay(true)
          this.handshaking.add(raw)
          this.ends.set(raw, ends(raw))
          raw.once("close", () => this.handshaking.delete(raw))
        })
        server.on("secureConnection", (socket: Tls.TLSSocket) => {
          const raw = (socket as unknown as { _parent?: NodeNetModule.Socket })._parent
          if (raw !== undefined) this.handshaking.delete(raw)
          if (this.server === undefined) {
            socket.on("error", () => {})
            socket.destroy()
            return
          }
          const { local, remote } = ends(socket)
          const made = fromSocket(socket, this.network, local, remote, socketOptions)
          this.onSecure(socket, made.conn)
          acceptor.push(made.conn)
        })
        server.on("tlsClientError", (error: Error, socket: Tls.TLSSocket) => {
          const raw = (socket as unknown as { _parent?: NodeNetModule.Socket })._parent
          if (raw !== undefined) this.handshaking.delete(raw)
          const { local, remote } = (raw !== undefined ? this.ends.get(raw) : undefined) ?? ends(socket)
          socket.on("error", () => {})
          socket.destroy()
          // node:tls drops a client whose certificate failed verification without an alert and
          // reports a hang-up: report the verification code it recorded instead
          const refused = (socket as { authorizationError?: unknown }).authorizationError
          const reported = typeof refused === "string" && refused !== "" ? { code: refused, message: refused } : error
          if (this.server !== undefined) this.onHandshakeError(reported, remote, local)
        })
        // After listening, errors are accept errors (EMFILE, ENFILE, …): transient, reported
        // to the next accept; libuv keeps listening.
        server.on("error", (error) => acceptor.fail(toOsError(error)))
        resume(Effect.succeed(listener))
      }
      server.once("error", onError)
      server.once("listening", onListening)
      if (this.target.kind === "unix") {
        server.listen({ path: this.target.path, backlog })
      } else {
        const host = this.target.hosts[0]!
        server.listen({
          port: this.target.port,
          backlog,
          ...(host === "" ? {} : { host }),
          ...(this.network === "tcp6" ? { ipv6Only: true } : {})
        })
      }
      return Effect.sync(() => {
        server.removeListener("listening", onListening)
        server.removeListener("error", onError)
        server.on("error", () => {})
        this.closeServer()
      })
    })
  }
}
