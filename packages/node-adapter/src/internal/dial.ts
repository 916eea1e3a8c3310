import { Address, type Conn, type Net, NetError, Transport } from "@vvnet/core"
import * as Effect from "effect/Effect"
import * as NodeNetModule from "node:net"
import { formatEnd, fromSocket, toOsError } from "./socket.js"
import type { Target } from "./target.js"

/** @internal One dial: tries each resolved address in turn until one connects. */
export class DialAttempt {
  private socket: NodeNetModule.Socket | undefined = undefined
  private closeConn: ((abort: boolean) => void) | undefined = undefined
  private disposed = false

  constructor(
    readonly network: Address.Network,
    readonly requestedNetwork: string,
    readonly address: string,
    readonly target: Target,
    readonly local: { host: string; port: number } | undefined,
    readonly options: Net.DialOptions | undefined
  ) {}

  /** Stops the connect in progress (listeners, timer, socket), if any. */
  private abortConnect: (() => void) | undefined = undefined

  dispose(): void {
    this.disposed = true
    if (this.closeConn !== undefined) this.closeConn(false)
    else if (this.abortConnect !== undefined) this.abortConnect()
    else this.socket?.destroy()
  }

  private connectOnce(host: string): Effect.Effect<Conn.Conn, NetError.NetError> {
    return Effect.async<Conn.Conn, NetError.NetError>((resume) => {
      const socket = new NodeNetModule.Socket({ allowHalfOpen: true })
      this.socket = socket
      const context = { op: "dial" as const, network: this.requestedNetwork, address: this.address }
      let cancelTimer: (() => void) | undefined
      const cleanup = () => {
        this.abortConnect = undefined
        if (cancelTimer !== undefined) cancelTimer()
        socket.removeListener("connect", onConnect)
        socket.removeListener("error", onError)
      }
      const onError = (error: Error) => {
        cleanup()
        socket.on("error", () => {})
        socket.destroy()
        resume(Effect.fail(NetError.fromErrno(toOsError(error), context)))
      }
      const onConnect = () => {
        cleanup()
        if (this.target.kind === "inet") {
          socket.setNoDelay(this.options?.noDelay ?? true)
          const keepAlive = this.options?.keepAlive ?? true
          if (keepAlive !== false) socket.setKeepAlive(true, typeof keepAlive === "number" ? keepAlive : 15_000)
        }
        // the remote end is the address dialled; the local one is asked of the OS now (Node
        // forgets it once it destroys the socket on an error or a reset)
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
        resume(Effect.succeed(made.conn))
      }
      socket.once("connect", onConnect)
      socket.once("error", onError)
      // the timeout covers the whole dial, every resolved address included (Go's Dialer.Timeout)
      const timeout = this.deadline === undefined ? 0 : Math.max(1, this.deadline - Date.now())
      if (timeout > 0) {
        cancelTimer = Transport.schedule(timeout, () => {
          cleanup()
          socket.on("error", () => {})
          socket.destroy()
          resume(Effect.fail(NetError.make("Timeout", { ...context, reason: NetError.timeoutReason })))
        })
      }
      if (this.target.kind === "unix") {
        socket.connect({ path: this.target.path })
      } else {
        const connectOptions: NodeNetModule.TcpSocketConnectOpts = { host, port: this.target.port }
        if (this.local !== undefined) {
          if (this.local.host !== "") connectOptions.localAddress = this.local.host
          if (this.local.port !== 0) connectOptions.localPort = this.local.port
        }
        socket.connect(connectOptions)
      }
      // No canceler (it would wrap every dial in an onInterrupt region): an interrupted dial
      // ends through `owned`, whose exit handler calls `dispose`, which runs this.
      this.abortConnect = () => {
        cleanup()
        socket.on("error", () => {})
        socket.destroy()
      }
    })
  }

  private deadline: number | undefined = undefined

  get run(): Effect.Effect<Conn.Conn, NetError.NetError> {
    const hosts = this.target.kind === "unix" ? [""] : this.target.hosts
    const timeout = this.options?.timeout ?? 0
    const loop = (i: number): Effect.Effect<Conn.Conn, NetError.NetError> =>
      Effect.catchAll(
        this.connectOnce(hosts[i]!),
        (error) => i + 1 < hosts.length && !this.disposed && error._tag !== "Timeout" ? loop(i + 1) : Effect.fail(error)
      )
    return Effect.suspend(() => {
      this.deadline = timeout > 0 ? Date.now() + timeout : undefined
      return loop(0)
    })
  }
}
