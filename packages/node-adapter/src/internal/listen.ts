import { Address, type Listener, type Net, NetError, Transport } from "@vvnet/core"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as NodeNetModule from "node:net"
import { formatEnd, fromSocket, toOsError, unmapHost } from "./socket.js"
import type { Target } from "./target.js"
import { closeUnixServer, type SocketFile } from "./unixSocketFile.js"

/** Ignores a socket's errors while it has no other 'error' listener. */
const guardErrors = () => {}

/** @internal One listen: binds, then feeds accepted sockets to core's listener engine. */
export class ListenAttempt {
  private server: NodeNetModule.Server | undefined = undefined
  private closeListener: (() => void) | undefined = undefined
  private file: SocketFile | undefined = undefined

  constructor(
    readonly network: Address.Network,
    readonly requestedNetwork: string,
    readonly address: string,
    readonly target: Target,
    readonly options: Net.ListenOptions | undefined
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
  }

  get run(): Effect.Effect<Listener.Listener, NetError.NetError> {
    return Effect.async((resume) => {
      const server = NodeNetModule.createServer({ allowHalfOpen: true })
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
        server.on("connection", (socket: NodeNetModule.Socket) => {
          socket.on("error", guardErrors) // until fromSocket's handler is attached, below
          if (this.target.kind === "inet") socket.setNoDelay(true)
          // the local end is the bound address unless that is a wildcard
          const local = this.target.kind === "unix" || !wildcard
            ? boundAddress
            : formatEnd(socket.localAddress, socket.localPort)
          // asked now: Node forgets it once it destroys the socket on an error or a reset
          const remote = this.target.kind === "unix" ? "" : formatEnd(socket.remoteAddress, socket.remotePort)
          const { conn } = fromSocket(socket, this.network, local, remote, socketOptions)
          socket.removeListener("error", guardErrors)
          acceptor.push(conn)
        })
        // After listening, errors are accept errors (EMFILE, ENFILE, …): transient, reported
        // to the next accept; libuv keeps listening.
        server.on("error", (error) => acceptor.fail(toOsError(error)))
        resume(Effect.succeed(listener))
      }
      server.once("error", onError)
      server.once("listening", onListening)
      // in a node:cluster worker: a socket of its own instead of the primary's shared one
      const exclusive = this.options?.exclusive === true ? { exclusive: true } : {}
      if (this.target.kind === "unix") {
        server.listen({ path: this.target.path, backlog, ...exclusive })
      } else {
        const host = this.target.hosts[0]!
        server.listen({
          port: this.target.port,
          backlog,
          ...exclusive,
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
