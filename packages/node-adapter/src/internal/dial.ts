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

  /**
   * Connects to `host`, then calls `done` once, later, with the connection or the failure; the
   * `first` address's connect starts the dial's timeout.
   */
  private connectHost(host: string, first: boolean, done: (result: Conn.Conn | NetError.NetError) => void): void {
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
      done(errnoFailure(error, context()))
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
      done(made.conn)
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
        done(NetError.make("Timeout", { ...context(), reason: NetError.timeoutReason }))
      })
    }
    // an interrupted or cancelled dial ends through `dispose`, which runs this
    this.abortConnect = abandon
  }

  /**
   * Tries each address in turn until one connects, then calls `done` once, later (never before
   * `start` returned), with the connection or the last address's failure. Only connection
   * failures move on to the next address: a timeout covers them all, and a TLS failure is the
   * server's answer. `dispose` stops it: `done` is then not called.
   */
  start(done: (result: Conn.Conn | NetError.NetError) => void): void {
    const hosts = this.target.kind === "unix" ? [""] : this.target.hosts
    const next = (i: number): void =>
      this.connectHost(hosts[i]!, i === 0, (result) => {
        if (this.disposed) return
        if (
          NetError.isNetError(result) && i + 1 < hosts.length && result._tag !== "Timeout" &&
          result._tag !== "TlsError"
        ) {
          return next(i + 1)
        }
        done(result)
      })
    next(0)
  }

  /**
   * The dial as an Effect, for `owned`. No canceler (it would wrap every dial in an onInterrupt
   * region): an interrupted dial ends through `owned`, whose exit handler calls `dispose`.
   */
  get run(): Effect.Effect<Conn.Conn, NetError.NetError> {
    return Effect.async<Conn.Conn, NetError.NetError>((resume) => {
      this.start((result) => resume(NetError.isNetError(result) ? Effect.fail(result) : Effect.succeed(result)))
    })
  }
}

const invalid = (network: string, address: string, reason: string) =>
  NetError.make("InvalidArgument", { op: "dial", network, address, reason })

/**
 * The `DialAttempt` for a resolved address, with the dialer `dialerFor` gives for it and the
 * checked local address, or the `InvalidArgument` that stops the dial.
 */
const attemptFor = <S extends NodeNetModule.Socket>(
  [addr, target]: Resolved,
  network: string,
  address: string,
  options: Net.DialOptions | undefined,
  dialerFor: (addr: Address.Address, target: Target) => Dialer<S> | string
): DialAttempt<S> | NetError.NetError => {
  const dialer = dialerFor(addr, target)
  if (typeof dialer === "string") return invalid(network, address, dialer)
  let local: { host: string; port: number } | undefined
  if (options?.localAddress !== undefined && target.kind === "inet") {
    const parsedLocal = Address.parse(addr.network, options.localAddress, "dial")
    // node:net binds IP literals only (a host name there throws): no lookup for a local address
    if (
      Either.isLeft(parsedLocal) || parsedLocal.right._tag !== "InetAddress" ||
      (parsedLocal.right.host !== "" && Address.ipVersion(parsedLocal.right.host) === undefined)
    ) {
      return invalid(network, address, `invalid argument: local address ${options.localAddress}`)
    }
    local = { host: parsedLocal.right.host, port: parsedLocal.right.port }
  }
  return new DialAttempt(addr.network, network, address, target, local, options, dialer)
}

/** The options' and `check`'s `InvalidArgument`, or undefined. */
const precheck = (
  network: string,
  address: string,
  options: Net.DialOptions | undefined,
  check: (() => string | undefined) | undefined
): NetError.NetError | undefined => {
  const bad = Transport.validateDialOptions(network, address, options)
  if (bad !== undefined) return bad
  const reason = check === undefined ? undefined : check()
  return reason === undefined ? undefined : invalid(network, address, reason)
}

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
    resolved: Resolved,
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    status: FiberStatus.Running
  ): Effect.Effect<Conn.Conn, NetError.NetError, Scope.Scope> => {
    const made = attemptFor(resolved, network, address, options, dialerFor)
    return NetError.isNetError(made) ? Effect.fail(made) : ownedIn(fiber, status, made)
  }
  // the fiber's runtime rather than a plain suspend: `ownedIn` needs it, and gets it in this step
  return Effect.withFiberRuntime((fiber, status) => {
    const bad = precheck(network, address, options, check)
    if (bad !== undefined) return Effect.fail(bad)
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

/**
 * @internal
 * `dial` through a callback (`Net.dialCallback`'s contract): the same checks and attempt, for
 * an address that resolves without a lookup; `undefined`, having started nothing, for any other
 * address and for a dial that fails before connecting (`Net.dial` reports those).
 */
export const dialCallback = <S extends NodeNetModule.Socket>(
  network: string,
  address: string,
  options: Net.DialOptions | undefined,
  check: (() => string | undefined) | undefined,
  dialerFor: (addr: Address.Address, target: Target) => Dialer<S> | string,
  callback: (result: Either.Either<Conn.Conn, NetError.NetError>) => void
): (() => void) | undefined => {
  if (precheck(network, address, options, check) !== undefined) return undefined
  const now = resolveNow("dial", network, address)
  if (!isResolved(now)) return undefined
  const attempt = attemptFor(now, network, address, options, dialerFor)
  if (NetError.isNetError(attempt)) return undefined
  let settled = false
  attempt.start((result) => {
    settled = true
    callback(NetError.isNetError(result) ? Either.left(result) : Either.right(result))
  })
  return () => {
    if (settled) return
    settled = true
    attempt.dispose() // stops the connect; `start` then calls back no more
  }
}
