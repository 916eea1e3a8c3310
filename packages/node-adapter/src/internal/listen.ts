import { Address, type Conn, type Listener, type Net, NetError, Transport } from "@vvnet/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import Cluster from "node:cluster"
import * as Fs from "node:fs"
import * as NodeNetModule from "node:net"
import type * as Tls from "node:tls"
import type { Resolver } from "../NodeNet.js"
import { owned } from "./owned.js"
import { resolveTarget } from "./resolve.js"
import { errnoFailure, formatEnd, fromSocket, toOsError, unmapHost } from "./socket.js"
import type { Target } from "./target.js"
import { closeUnixServer, prepareUnixPath, type SocketFile } from "./unixSocketFile.js"

/**
 * @internal
 * What a kind of listener brings to `ListenAttempt`; the rest (bind, bound address, unix socket
 * file, the listener engine, accept errors, close) is the same for every kind.
 *
 * - `createServer`: makes the server: half-open allowed for `connection`; for
 *   `secureConnection` not (a half-open TLSSocket that reads its client's FIN mid-handshake
 *   waits for the handshake timeout), each socket being made half-open once it is secure.
 * - `ready`: the server's event that hands over a socket that is a connection: `connection`
 *   (at once), or `secureConnection` (a `tls.Server`, once the socket's handshake is done; a
 *   handshake that fails or passes the server's handshake timeout is `tlsClientError`).
 * - `onHandshakeError`: called for each connection whose handshake failed, with its error (a
 *   `TlsError`, or the errno's `NetError`: a reset mid-handshake).
 * - `onReady`: called with the socket and its Conn before the Conn reaches `accept`.
 */
export interface ServerKind {
  readonly createServer: () => NodeNetModule.Server
  readonly ready: "connection" | "secureConnection"
  readonly onHandshakeError: (error: NetError.NetError) => void
  readonly onReady: ((socket: Tls.TLSSocket, conn: Conn.Conn) => void) | undefined
}

/** @internal node:net's listener: a TCP or unix server whose accepted sockets are connections at once. */
export const plainServer: ServerKind = {
  createServer: () => NodeNetModule.createServer({ allowHalfOpen: true }),
  ready: "connection",
  onHandshakeError: () => {},
  onReady: undefined
}

/** Ignores a socket's errors while it has no other 'error' listener. */
const guardErrors = () => {}

/** The raw socket under a server-side TLSSocket (node:tls keeps it as `_parent`). */
const rawOf = (socket: Tls.TLSSocket): NodeNetModule.Socket | undefined =>
  (socket as unknown as { _parent?: NodeNetModule.Socket })._parent

/**
 * @internal
 * One listen: binds, then feeds accepted connections to core's listener engine. With a
 * `secureConnection` kind, a connection reaches the engine only once its handshake is done, so
 * `accept` never waits on one slow client; a handshake that fails or passes the handshake
 * timeout is reported to `kind.onHandshakeError` and its socket destroyed. Closing the listener
 * destroys the connections still in their handshake.
 */
export class ListenAttempt {
  private server: NodeNetModule.Server | undefined = undefined
  private closeListener: (() => void) | undefined = undefined
  private file: SocketFile | undefined = undefined
  /** accepted sockets whose handshake is not done */
  private readonly handshaking = new Set<NodeNetModule.Socket>()
  /** the ends of accepted sockets in their handshake, asked at accept (node:tls may destroy a socket before it reports it) */
  private readonly ends = new WeakMap<NodeNetModule.Socket, { readonly local: string; readonly remote: string }>()

  constructor(
    readonly network: Address.Network,
    readonly requestedNetwork: string,
    readonly address: string,
    readonly target: Target,
    readonly options: Net.ListenOptions | undefined,
    readonly kind: ServerKind
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
      const kind = this.kind
      const server = kind.createServer()
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
        // asked at accept: Node forgets them once it destroys the socket on an error or a reset
        const endsOf = (socket: NodeNetModule.Socket) => {
          // the local end is the bound address unless that is a wildcard
          const local = this.target.kind === "unix" || !wildcard
            ? boundAddress
            : formatEnd(socket.localAddress, socket.localPort)
          const remote = this.target.kind === "unix" ? "" : formatEnd(socket.remoteAddress, socket.remotePort)
          return { local, remote }
        }
        if (kind.ready === "connection") {
          server.on("connection", (socket: NodeNetModule.Socket) => {
            socket.on("error", guardErrors) // until fromSocket's handler is attached, below
            if (this.target.kind === "inet") socket.setNoDelay(true)
            const { local, remote } = endsOf(socket)
            const { conn } = fromSocket(socket, this.network, local, remote, socketOptions)
            socket.removeListener("error", guardErrors)
            acceptor.push(conn)
          })
        } else {
          // the raw socket, before node:tls wraps it: tracked until its handshake ends
          server.on("connection", (raw: NodeNetModule.Socket) => {
            raw.on("error", guardErrors) // node:tls forwards it to the TLSSocket; guards the gap
            if (this.target.kind === "inet") raw.setNoDelay(true)
            this.handshaking.add(raw)
            this.ends.set(raw, endsOf(raw))
            raw.once("close", () => this.handshaking.delete(raw))
          })
          server.on("secureConnection", (socket: Tls.TLSSocket) => {
            // half-open from here on, as every vvnet connection is (closeWrite; a peer's FIN is
            // an EOF, not a close): set before any read after the handshake can see an EOF
            socket.allowHalfOpen = true
            const raw = rawOf(socket)
            if (raw !== undefined) this.handshaking.delete(raw)
            if (this.server === undefined) {
              socket.on("error", guardErrors)
              socket.destroy()
              return
            }
            const { local, remote } = endsOf(socket)
            const made = fromSocket(socket, this.network, local, remote, socketOptions)
            if (kind.onReady !== undefined) kind.onReady(socket, made.conn)
            acceptor.push(made.conn)
          })
          server.on("tlsClientError", (error: Error, socket: Tls.TLSSocket) => {
            const raw = rawOf(socket)
            if (raw !== undefined) this.handshaking.delete(raw)
            const { local, remote } = (raw !== undefined ? this.ends.get(raw) : undefined) ?? endsOf(socket)
            socket.on("error", guardErrors)
            socket.destroy()
            // node:tls drops a client whose certificate failed verification without an alert and
            // reports a hang-up: report the verification code it recorded instead
            const refused = (socket as { authorizationError?: unknown }).authorizationError
            const reported = typeof refused === "string" && refused !== "" ? { code: refused, message: refused } : error
            if (this.server !== undefined) {
              kind.onHandshakeError(
                errnoFailure(reported, { op: "accept", network: this.requestedNetwork, address: remote, source: local })
              )
            }
          })
        }
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

/**
 * @internal
 * A listen as NodeNet and NodeTls make it: checks the options, makes the server kind (`kind`,
 * which may fail with its own `InvalidArgument`, e.g. a TLS certificate that does not parse),
 * resolves the address, prepares a unix path (in a node:cluster worker the primary binds it and
 * shares it between the workers), and runs a `ListenAttempt` owned by the caller's Scope.
 */
export const listen = (
  resolver: Resolver,
  network: string,
  address: string,
  options: Net.ListenOptions | undefined,
  kind: Effect.Effect<ServerKind, NetError.InvalidArgument>
): Effect.Effect<Listener.Listener, NetError.NetError, Scope.Scope> =>
  Effect.gen(function*() {
    const bad = Transport.validateListenOptions(network, address, options)
    if (bad !== undefined) return yield* bad
    const server = yield* kind
    const [addr, target] = yield* resolveTarget(resolver, "listen", network, address)
    if (target.kind === "unix") {
      yield* prepareUnixPath(
        network,
        address,
        target.path,
        options?.reclaimStaleSocket === true,
        Cluster.isWorker && options?.exclusive !== true
      )
    }
    return yield* owned(new ListenAttempt(addr.network, network, address, target, options, server))
  })
