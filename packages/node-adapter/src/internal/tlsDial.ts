import { Address, type Conn, type Net, NetError, Transport } from "@vvnet/core"
import * as Effect from "effect/Effect"
import * as Tls from "node:tls"
import { formatEnd, fromSocket, toOsError } from "./socket.js"
import type { Target } from "./target.js"

/** @internal What a TLS dial needs besides the address: the client side of a Config, prepared. */
export interface ClientSettings {
  readonly secureContext: Tls.SecureContext
  /** the name the server's certificate must be valid for (and SNI when it is not an IP) */
  readonly verifyName: string
  readonly verify: boolean
  readonly alpnProtocols: ReadonlyArray<string> | undefined
}

/** @internal Maps a dial failure (a node:tls or OS error) to the error the dial fails with. */
export type FailureMapper<E> = (error: unknown, context: NetError.ErrnoContext) => E

/** @internal Called with the TLS socket and its Conn once the handshake is done. */
export type OnSecure = (socket: Tls.TLSSocket, conn: Conn.Conn, serverName: string | undefined) => void

const noIdentityCheck = () => undefined

/**
 * @internal
 * One TLS dial: tries each resolved address in turn until one connects and completes its
 * handshake (the connection half is NodeNet's DialAttempt over `tls.connect`, which makes a TCP
 * or unix socket with node:tls's TLSWrap on its handle). The dial `timeout` covers connect and
 * handshake together, every address included.
 */
export class TlsDialAttempt<E> {
  private socket: Tls.TLSSocket | undefined = undefined
  private closeConn: ((abort: boolean) => void) | undefined = undefined
  private disposed = false
  private deadline: number | undefined = undefined

  constructor(
    readonly network: Address.Network,
    readonly requestedNetwork: string,
    readonly address: string,
    readonly target: Target,
    readonly local: { host: string; port: number } | undefined,
    readonly options: Net.DialOptions | undefined,
    readonly settings: ClientSettings,
    readonly mapFailure: FailureMapper<E>,
    readonly onSecure: OnSecure
  ) {}

  dispose(): void {
    this.disposed = true
    if (this.closeConn !== undefined) this.closeConn(false)
    else this.socket?.destroy()
  }

  private connectOnce(host: string): Effect.Effect<Conn.Conn, E | NetError.NetError> {
    return Effect.async<Conn.Conn, E | NetError.NetError>((resume) => {
      const settings = this.settings
      const serverName = Address.ipVersion(settings.verifyName) === undefined ? settings.verifyName : undefined
      // allowHalfOpen, localAddress and localPort reach net.Socket (node:tls passes them; its types omit them)
      const common: Tls.ConnectionOptions & { allowHalfOpen: boolean } = {
        allowHalfOpen: true,
        secureContext: settings.secureContext,
        rejectUnauthorized: settings.verify,
        checkServerIdentity: settings.verify
          ? (_host, cert) => Tls.checkServerIdentity(settings.verifyName, cert)
          : noIdentityCheck,
        ...(serverName !== undefined ? { servername: serverName } : {}),
        ...(settings.alpnProtocols !== undefined ? { ALPNProtocols: [...settings.alpnProtocols] } : {})
      }
      let socket: Tls.TLSSocket
      if (this.target.kind === "unix") {
        socket = Tls.connect({ ...common, path: this.target.path })
      } else {
        const connectOptions: Tls.ConnectionOptions & { localAddress?: string; localPort?: number } = {
          ...common,
          host,
          port: this.target.port
        }
        if (this.local !== undefined) {
          if (this.local.host !== "") connectOptions.localAddress = this.local.host
          if (this.local.port !== 0) connectOptions.localPort = this.local.port
        }
        socket = Tls.connect(connectOptions)
      }
      this.socket = socket
      const context = { op: "dial" as const, network: this.requestedNetwork, address: this.address }
      let cancelTimer: (() => void) | undefined
      const cleanup = () => {
        if (cancelTimer !== undefined) cancelTimer()
        socket.removeListener("connect", onConnect)
        socket.removeListener("secureConnect", onSecureConnect)
        socket.removeListener("error", onError)
      }
      const abandon = () => {
        cleanup()
        socket.on("error", () => {})
        socket.destroy()
      }
      const onError = (error: Error) => {
        abandon()
        resume(Effect.fail(this.mapFailure(error, context)))
      }
      const onConnect = () => {
        if (this.target.kind !== "inet") return
        socket.setNoDelay(this.options?.noDelay ?? true)
        const keepAlive = this.options?.keepAlive ?? true
        if (keepAlive !== false) socket.setKeepAlive(true, typeof keepAlive === "number" ? keepAlive : 15_000)
      }
      const onSecureConnect = () => {
        cleanup()
        const made = this.target.kind === "unix"
          ? fromSocket(socket, this.network, "", this.target.path, this.options)
          : fromSocket(
            socket,
            this.network,
            formatEnd(socket.localAddress, socket.localPort),
            Address.joinHostPort(host, this.target.port),
            this.options
          )
        this.closeConn = made.close
        this.onSecure(socket, made.conn, serverName)
        resume(Effect.succeed(made.conn))
      }
      socket.once("connect", onConnect)
      socket.once("secureConnect", onSecureConnect)
      socket.once("error", onError)
      const timeout = this.deadline === undefined ? 0 : Math.max(1, this.deadline - Date.now())
      if (timeout > 0) {
        cancelTimer = Transport.schedule(timeout, () => {
          abandon()
          resume(Effect.fail(NetError.make("Timeout", { ...context, reason: NetError.timeoutReason })))
        })
      }
      return Effect.sync(abandon)
    })
  }

  get run(): Effect.Effect<Conn.Conn, E | NetError.NetError> {
    const hosts = this.target.kind === "unix" ? [""] : this.target.hosts
    const timeout = this.options?.timeout ?? 0
    const loop = (i: number): Effect.Effect<Conn.Conn, E | NetError.NetError> =>
      Effect.catchAll(
        this.connectOnce(hosts[i]!),
        (error) =>
          // only connection failures move on to the next address; a TLS failure is the server's answer
          i + 1 < hosts.length && !this.disposed && NetError.isNetError(error) && error._tag !== "Timeout"
            ? loop(i + 1)
            : Effect.fail(error)
      )
    return Effect.suspend(() => {
      this.deadline = timeout > 0 ? Date.now() + timeout : undefined
      return loop(0)
    })
  }
}

/** @internal Re-exported for the failure mapper: Node's error as an OsError. */
export { toOsError }
