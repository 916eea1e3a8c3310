import { Address, type Conn, type Net, NetError, Transport } from "@vvnet/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import type * as FiberStatus from "effect/FiberStatus"
import type * as Scope from "effect/Scope"
import * as NodeNetModule from "node:net"
import type { Resolver } from "../NodeNet.js"
import { ownedIn } from "./owned.js"
import { isResolved, type Resolved, resolveNow, resolveWith } from "./resolve.js"
import { errnoFailure, formatEnd, fromSocket } from "./socket.js"
import type { Target } from "./target.js"

/** @internal node:net's connect options for one resolved address: a unix path, or a host and port with an optional local end. */
export type ConnectOptions = NodeNetModule.TcpSocketConnectOpts | NodeNetModule.IpcSocketConnectOpts

/**
 * @internal
 * What a kind of dial brings to `DialAttempt`; the rest (addresses in turn, the timeout, the
 * socket options, interruption, the Conn) is the same for every kind.
 *
 * - `connect`: makes a socket (half-open allowed) and starts connecting it with `options`.
 * - `ready`: the socket's event after which it is a connection: `connect`, or `secureConnect`
 *   once a TLS handshake is done too (the socket options are set at `connect` either way).
 * - `onReady`: called with the socket and its Conn at `ready` (TLS records what was negotiated).
 */
export interface Dialer<S extends NodeNetModule.Socket> {
  readonly connect: (options: ConnectOptions) => S
  readonly ready: "connect" | "secureConnect"
  readonly onReady: ((socket: S, conn: Conn.Conn) => void) | undefined
}

/** @internal node:net's dial: a TCP or unix connection. */
export const plainDialer: Dialer<NodeNetModule.Socket> = {
  connect: (options) => new NodeNetModule.Socket({ allowHalfOpen: true }).connect(options),
  ready: "connect",
  onReady: undefined
}

const ignore = () => {}

/**
 * @internal
 * One dial: tries each resolved address in turn until one is ready. The attempt holds the
 * socket from the start; an interrupted dial ends through `owned`, whose exit handler calls
 * `dispose`, which aborts the connect in progress (listeners, timer, socket) or closes the
 * connection made.
 */
export class DialAttempt<S extends NodeNetModule.Socket> {
  private socket: S | undefined = undefined
  private closeConn: ((abort: boolean) => void) | undefined = undefined
  private disposed = false
  private deadline: number | undefined = undefined
  /** Stops the connect in progress (listeners, timer, socket), if any. */
  private abortConnect: (() => void) | undefined = undefined

  constructor(
    readonly network: Address.Network,
    readonly requestedNetwork: string,
    readonly address: string,
    readonly target: Target,
    readonly local: { host: string; port: number } | undefined,
    readonly options: Net.DialOptions | undefined,
    readonly dialer: Dialer<S>
  ) {}

  dispose(): void {
    this.disposed = true
    if (this.closeConn !== undefined) this.closeConn(false)
    else if (this.abortConnect !== undefined) this.abortConnect()
    else this.socket?.destroy()
  }

  private connectOptions(host: string): ConnectOptions {
    if (this.target.kind === "unix") return { path: this.target.path }
    const options: NodeNetModule.TcpSocketConnectOpts = { host, port: this.target.port }
    if (this.local !== undefined) {
      if (this.local.host !== "") options.localAddress = this.local.host
      if (this.local.port !== 0) options.localPort = this.local.port
    }
    return options
  }

  /** The socket options, once connected (before a TLS handshake). */
  private tune(socket: S): void {
    if (this.target.kind !== "inet") return
    socket.setNoDelay(this.options?.noDelay ?? true)
    const keepAlive = this.options?.keepAlive ?? true
    if (keepAlive !== false) socket.setKeepAlive(true, typeof keepAlive === "number" ? keepAlive : 15_000)
  }

  /** Connects to `host`; the `first` address's run starts the dial's timeout. */
  private connectOnce(host: string, first: boolean): Effect.Effect<Conn.Conn, NetError.NetError> {
    return Effect.async<Conn.Conn, NetError.NetError>((resume) => {
      if (first) {
        const timeout = this.options?.timeout ?? 0
        this.deadline = timeout > 0 ? Date.now() + timeout : undefined
      }
      const dialer = this.dialer
      // node:net and node:tls report a connect's outcome asynchronously: the listeners below
      // are in place before any event
      const socket = dialer.connect(this.connectOptions(host))
      this.socket = socket
      const context = () => ({ op: "dial" as const, network: this.requestedNetwork, address: this.address })
      let cancelTimer: (() => void) | undefined
      const cleanup = () => {
        this.abortConnect = undefined
        if (cancelTimer !== undefined) cancelTimer()
        socket.removeListener("connect", onConnect)
        socket.removeListener(dialer.ready, onReady)
        socket.removeListener("error", onError)
      }
      const abandon = () => {
        cleanup()
        socket.on("error", ignore)
        socket.destroy()
      }
      const onError = (error: Error) => {
        abandon()
        // errno → its tag; a TLS verification, alert or handshake failure → TlsError
        resume(Effect.fail(errnoFailure(error, context())))
      }
      const onConnect = () => this.tune(socket)
      const onReady = () => {
        cleanup()
        if (dialer.ready === "connect") this.tune(socket)
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
        if (dialer.onReady !== undefined) dialer.onReady(socket, made.conn)
        resume(Effect.succeed(made.conn))
      }
      // `on` rather than `once` (which wraps each listener): `onReady` and `onError` remove all three
      if (dialer.ready !== "connect") socket.on("connect", onConnect)
      socket.on(dialer.ready, onReady)
      socket.on("error", onError)
      // the timeout covers the whole dial (connect and handshake), every resolved address
      // included (Go's Dialer.Timeout)
      const timeout = this.deadline === undefined ? 0 : Math.max(1, this.deadline - Date.now())
      if (timeout > 0) {
        cancelTimer = Transport.schedule(timeout, () => {
          abandon()
          resume(Effect.fail(NetError.make("Timeout", { ...context(), reason: NetError.timeoutReason })))
        })
      }
      // No canceler (it would wrap every dial in an onInterrupt region): an interrupted dial
      // ends through `owned`, whose exit handler calls `dispose`, which runs this.
      this.abortConnect = abandon
    })
  }

  get run(): Effect.Effect<Conn.Conn, NetError.NetError> {
    const hosts = this.target.kind === "unix" ? [""] : this.target.hosts
    const loop = (i: number): Effect.Effect<Conn.Conn, NetError.NetError> => {
      const once = this.connectOnce(hosts[i]!, i === 0)
      // the last address's failure is the dial's (the usual single address needs no handler)
      return i + 1 === hosts.length ? once : Effect.catchAll(
        once,
        (error) =>
          // only connection failures move on to the next address; a TLS failure is the server's answer
          !this.disposed && error._tag !== "Timeout" && error._tag !== "TlsError" ? loop(i + 1) : Effect.fail(error)
      )
    }
    return loop(0)
  }
}

const invalid = (network: string, address: string, reason: string) =>
  NetError.make("InvalidArgument", { op: "dial", network, address, reason })

/**
 * @internal
 * A dial as NodeNet and NodeTls make it: checks the options (then `check`, the dialer's own,
 * e.g. a TLS config), resolves the address, checks the local address, and runs a `DialAttempt`
 * with the dialer `dialerFor` gives for the resolved address, its socket owned by the caller's
 * Scope. `check` and `dialerFor` return a reason for an `InvalidArgument` instead of failing.
 * One step rather than a generator or a chain: dial is on every connection's path.
 */
export const dial = <S extends NodeNetModule.Socket>(
  resolver: Resolver,
  network: string,
  address: string,
  options: Net.DialOptions | undefined,
  check: (() => string | undefined) | undefined,
  dialerFor: (addr: Address.Address, target: Target) => Dialer<S> | string
): Effect.Effect<Conn.Conn, NetError.NetError, Scope.Scope> => {
  const attempt = (
    [addr, target]: Resolved,
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    status: FiberStatus.Running
  ): Effect.Effect<Conn.Conn, NetError.NetError, Scope.Scope> => {
    const dialer = dialerFor(addr, target)
    if (typeof dialer === "string") return Effect.fail(invalid(network, address, dialer))
    let local: { host: string; port: number } | undefined
    if (options?.localAddress !== undefined && target.kind === "inet") {
      const parsedLocal = Address.parse(addr.network, options.localAddress, "dial")
      // node:net binds IP literals only (a host name there throws): no lookup for a local address
      if (
        Either.isLeft(parsedLocal) || parsedLocal.right._tag !== "InetAddress" ||
        (parsedLocal.right.host !== "" && Address.ipVersion(parsedLocal.right.host) === undefined)
      ) {
        return Effect.fail(invalid(network, address, `invalid argument: local address ${options.localAddress}`))
      }
      local = { host: parsedLocal.right.host, port: parsedLocal.right.port }
    }
    return ownedIn(fiber, status, new DialAttempt(addr.network, network, address, target, local, options, dialer))
  }
  // the fiber's runtime rather than a plain suspend: `ownedIn` needs it, and gets it in this step
  return Effect.withFiberRuntime((fiber, status) => {
    const bad = Transport.validateDialOptions(network, address, options)
    if (bad !== undefined) return Effect.fail(bad)
    const reason = check === undefined ? undefined : check()
    if (reason !== undefined) return Effect.fail(invalid(network, address, reason))
    const now = resolveNow("dial", network, address)
    // an IP literal or a unix path (every dial to a listener's address) goes on in this step
    return isResolved(now)
      ? attempt(now, fiber, status)
      : Effect.flatMap(
        resolveWith(resolver, "dial", network, address, now),
        (resolved) => Effect.withFiberRuntime((fiber, status) => attempt(resolved, fiber, status))
      )
  })
}
