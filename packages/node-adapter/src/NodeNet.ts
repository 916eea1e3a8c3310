/**
 * NodeNet: vvnet's `Net` over `node:net`, for networks `tcp`, `tcp4`, `tcp6` and `unix`.
 *
 * Only the mapping lives here: sockets become `Conn`s through `@vvnet/core`'s `Transport`, so
 * reads, deadlines, backpressure, half-close and close behave as the contract says and as
 * MemoryNet does. Errors map through core's one errno table to `NetError` tags with Go's
 * messages (`dial tcp 127.0.0.1:1: connect: connection refused`).
 *
 * @since 0.1.0
 */
import { Address, type Conn, type Listener, Net, NetError, Transport } from "@vvnet/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Dns from "node:dns"
import * as Fs from "node:fs"
import * as NodeNetModule from "node:net"
import { formatEnd, fromSocket, toOsError, unmapHost } from "./internal/socket.js"

/**
 * Resolves a host name to IP literals (Go's resolver step of Dial). `family` is 4 for `tcp4`,
 * 6 for `tcp6`, undefined for `tcp`. Fails with `DnsError`.
 *
 * @since 0.1.0
 * @category models
 */
export type Resolver = (
  host: string,
  family: 4 | 6 | undefined
) => Effect.Effect<ReadonlyArray<string>, NetError.DnsError>

/**
 * Options of `NodeNet.layerWith`.
 *
 * - `resolver`: replaces the system resolver (`dns.lookup`), e.g. to test DNS behaviour without
 *   a network. Names under the reserved `.invalid` top-level domain (RFC 6761) never reach any
 *   resolver: they fail with `DnsError` at once.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly resolver?: Resolver | undefined
}

const dnsError = (host: string, network: string, address: string, code = "ENOTFOUND", op: NetError.Op = "dial") =>
  NetError.fromErrno({ code, hostname: host }, { op, network, address }) as NetError.DnsError

/**
 * The system resolver: `dns.lookup` with `all: true` (getaddrinfo: /etc/hosts, then DNS).
 * Interrupting it abandons the lookup (getaddrinfo cannot be cancelled; it holds no fd).
 *
 * @since 0.1.0
 * @category resolvers
 */
export const systemResolver: Resolver = (host, family) =>
  Effect.async<ReadonlyArray<string>, NetError.DnsError>((resume) => {
    Dns.lookup(host, { all: true, family: family ?? 0 }, (error, addresses) => {
      if (error) {
        resume(Effect.fail(dnsError(host, "", host, error.code ?? "ENOTFOUND")))
      } else {
        resume(Effect.succeed(addresses.map((a) => a.address)))
      }
    })
  })

interface Target {
  readonly kind: "inet" | "unix"
  readonly hosts: ReadonlyArray<string>
  readonly port: number
  readonly path: string
}

const maxTimer = 2 ** 31 - 1

const invalid = (op: NetError.Op, network: string, address: string, reason: string) =>
  NetError.make("InvalidArgument", { op, network, address, reason })

const checkPositive = (op: NetError.Op, network: string, address: string, name: string, value: unknown) =>
  value === undefined || (typeof value === "number" && Number.isSafeInteger(value) && value > 0)
    ? undefined
    : invalid(op, network, address, `invalid argument: ${name} must be a positive integer, got ${String(value)}`)

const checkMillis = (op: NetError.Op, network: string, address: string, name: string, value: unknown) =>
  value === undefined || (typeof value === "number" && Number.isFinite(value) && value >= 0)
    ? undefined
    : invalid(
      op,
      network,
      address,
      `invalid argument: ${name} must be a finite, non-negative number of milliseconds, got ${String(value)}`
    )

const checkBoolean = (op: NetError.Op, network: string, address: string, name: string, value: unknown) =>
  value === undefined || typeof value === "boolean"
    ? undefined
    : invalid(op, network, address, `invalid argument: ${name} must be a boolean, got ${String(value)}`)

/**
 * Makes the `Net` service over node:net.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Net.Net["Type"] => {
  const resolver = options?.resolver ?? systemResolver

  /** Parses and resolves; no socket exists yet, so interruption here leaks nothing. */
  const resolveTarget = (
    op: "dial" | "listen",
    network: string,
    address: string
  ): Effect.Effect<readonly [Address.Address, Target], NetError.NetError> =>
    Effect.suspend((): Effect.Effect<readonly [Address.Address, Target], NetError.NetError> => {
      const parsed = Address.parse(network, address, op)
      if (Either.isLeft(parsed)) return Effect.fail(parsed.left)
      const addr = parsed.right
      if (addr._tag === "UnixAddress") {
        return Effect.succeed([addr, { kind: "unix", hosts: [], port: 0, path: addr.path }])
      }
      const family = addr.network === "tcp4" ? 4 : addr.network === "tcp6" ? 6 : undefined
      const target = (hosts: ReadonlyArray<string>): readonly [Address.Address, Target] => [
        addr,
        { kind: "inet", hosts, port: addr.port, path: "" }
      ]
      if (addr.host === "") {
        // Go: an empty host dials the local system and listens on all interfaces.
        if (op === "listen") return Effect.succeed(target([family === 4 ? "0.0.0.0" : family === 6 ? "::" : ""]))
        return Effect.succeed(target([family === 6 ? "::1" : "127.0.0.1"]))
      }
      if (Address.ipVersion(addr.host) !== undefined) return Effect.succeed(target([addr.host]))
      const host = addr.host.endsWith(".") ? addr.host.slice(0, -1) : addr.host
      if (host.toLowerCase() === "invalid" || host.toLowerCase().endsWith(".invalid")) {
        return Effect.fail(dnsError(addr.host, network, address, "ENOTFOUND", op))
      }
      return resolver(host, family).pipe(
        Effect.mapError((e) => dnsError(addr.host, network, address, e.code ?? "ENOTFOUND", op)),
        Effect.flatMap((hosts) => {
          // IP literals only: node:net would send a host name to the system resolver
          const usable = hosts.filter((h) => {
            const version = Address.ipVersion(h)
            return version !== undefined && (family === undefined || version === family)
          })
          return usable.length === 0
            ? Effect.fail(dnsError(addr.host, network, address, "ENOTFOUND", op))
            : Effect.succeed(target(usable))
        })
      )
    })

  const dial = (
    network: string,
    address: string,
    dialOptions?: Net.DialOptions
  ): Effect.Effect<Conn.Conn, NetError.NetError, Scope.Scope> =>
    Effect.gen(function*() {
      const keepAlive = dialOptions?.keepAlive
      const bad = checkMillis("dial", network, address, "timeout", dialOptions?.timeout) ??
        checkPositive("dial", network, address, "readBufferSize", dialOptions?.readBufferSize) ??
        checkMillis("dial", network, address, "linger", dialOptions?.linger) ??
        (typeof keepAlive === "number"
          ? checkMillis("dial", network, address, "keepAlive", keepAlive)
          : checkBoolean("dial", network, address, "keepAlive", keepAlive)) ??
        checkBoolean("dial", network, address, "noDelay", dialOptions?.noDelay)
      if (bad !== undefined) return yield* bad
      const [addr, target] = yield* resolveTarget("dial", network, address)
      let local: { host: string; port: number } | undefined
      if (dialOptions?.localAddress !== undefined && target.kind === "inet") {
        const parsedLocal = Address.parse(addr.network, dialOptions.localAddress, "dial")
        // node:net binds IP literals only (a host name there throws): no lookup for a local address
        if (
          Either.isLeft(parsedLocal) || parsedLocal.right._tag !== "InetAddress" ||
          (parsedLocal.right.host !== "" && Address.ipVersion(parsedLocal.right.host) === undefined)
        ) {
          return yield* invalid("dial", network, address, `invalid argument: local address ${dialOptions.localAddress}`)
        }
        local = { host: parsedLocal.right.host, port: parsedLocal.right.port }
      }
      return yield* owned(new DialAttempt(addr.network, network, address, target, local, dialOptions))
    })

  const listen = (
    network: string,
    address: string,
    listenOptions?: Net.ListenOptions
  ): Effect.Effect<Listener.Listener, NetError.NetError, Scope.Scope> =>
    Effect.gen(function*() {
      const bad = checkPositive("listen", network, address, "backlog", listenOptions?.backlog) ??
        checkPositive("listen", network, address, "readBufferSize", listenOptions?.readBufferSize) ??
        checkMillis("listen", network, address, "linger", listenOptions?.linger)
      if (bad !== undefined) return yield* bad
      const [addr, target] = yield* resolveTarget("listen", network, address)
      if (target.kind === "unix") {
        yield* prepareUnixPath(network, address, target.path, listenOptions?.reclaimStaleSocket === true)
      }
      return yield* owned(new ListenAttempt(addr.network, network, address, target, listenOptions))
    })

  return Net.Net.of({ dial, listen })
}

/**
 * Runs an attempt (interruptibly) and hands what it made to the caller's Scope. The attempt
 * object holds its socket from the start, so whatever ends the run (success, failure, or an
 * interruption arriving even after the socket connected) disposes of it or leaves it owned by
 * the Scope: no window leaks a socket, and a failed attempt leaves nothing in the Scope.
 */
const owned = <A>(attempt: { readonly run: Effect.Effect<A, NetError.NetError>; dispose(): void }) =>
  Effect.flatMap(
    Effect.scope,
    (scope) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.onExit(restore(attempt.run), (exit) => {
          const dispose = Effect.sync(() => attempt.dispose())
          return Exit.isSuccess(exit) ? Scope.addFinalizer(scope, dispose) : dispose
        })
      )
  )

/** One dial: tries each resolved address in turn until one connects. */
class DialAttempt {
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

  dispose(): void {
    this.disposed = true
    if (this.closeConn !== undefined) this.closeConn(false)
    else this.socket?.destroy()
  }

  private connectOnce(host: string): Effect.Effect<Conn.Conn, NetError.NetError> {
    return Effect.async<Conn.Conn, NetError.NetError>((resume) => {
      const socket = new NodeNetModule.Socket({ allowHalfOpen: true })
      this.socket = socket
      const context = { op: "dial" as const, network: this.requestedNetwork, address: this.address }
      let timer: ReturnType<typeof setTimeout> | undefined
      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer)
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
        // setTimeout holds at most 2^31 - 1 ms; a longer timeout is re-armed until it is due
        const arm = (remaining: number) => {
          timer = setTimeout(() => {
            if (remaining > maxTimer) return arm(remaining - maxTimer)
            cleanup()
            socket.on("error", () => {})
            socket.destroy()
            resume(Effect.fail(NetError.make("Timeout", { ...context, reason: NetError.timeoutReason })))
          }, Math.min(remaining, maxTimer))
        }
        arm(timeout)
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
      return Effect.sync(() => {
        cleanup()
        socket.on("error", () => {})
        socket.destroy()
      })
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

/** The unix socket file a listener created, identified by device and inode. */
interface SocketFile {
  readonly path: string
  readonly dev: number
  readonly ino: number
}

const sameFile = (file: SocketFile): boolean => {
  try {
    const st = Fs.lstatSync(file.path)
    return st.dev === file.dev && st.ino === file.ino
  } catch {
    return false
  }
}

/**
 * Closes a unix server without letting libuv unlink a file that is no longer ours: libuv
 * unlinks the bound path on close, so a foreign file at the path is moved aside for the close
 * and put back (three synchronous syscalls).
 */
const closeUnixServer = (server: NodeNetModule.Server, file: SocketFile | undefined): void => {
  if (file === undefined || sameFile(file) || !Fs.existsSync(file.path)) {
    server.close()
    return
  }
  const aside = `${file.path}.vvnet-${process.pid}-${Date.now()}`
  let moved = false
  try {
    Fs.renameSync(file.path, aside)
    moved = true
  } catch {
    // could not move it: closing would unlink it, so keep the handle's path intact by closing anyway
  }
  server.close()
  if (moved) {
    try {
      Fs.renameSync(aside, file.path)
    } catch {
      // best effort
    }
  }
}

/**
 * A unix path held by a file: a live listener → AddressInUse; a stale socket (a probe dial is
 * refused) → removed when `reclaim` is set, AddressInUse otherwise; any other file → AddressInUse.
 */
const prepareUnixPath = (network: string, address: string, path: string, reclaim: boolean) =>
  Effect.gen(function*() {
    let st: Fs.Stats
    try {
      st = Fs.lstatSync(path)
    } catch {
      return
    }
    const inUse = (reason: string) =>
      NetError.make("AddressInUse", { op: "listen", network, address, syscall: "bind", code: "EADDRINUSE", reason })
    if (!st.isSocket()) return yield* inUse("address already in use (not a socket file)")
    const alive = yield* Effect.async<boolean>((resume) => {
      const probe = NodeNetModule.connect({ path })
      probe.once("connect", () => {
        probe.destroy()
        resume(Effect.succeed(true))
      })
      probe.once("error", (error: NodeJS.ErrnoException) => {
        probe.destroy()
        resume(Effect.succeed(error.code !== "ECONNREFUSED"))
      })
      return Effect.sync(() => probe.destroy())
    })
    if (alive) return yield* inUse("address already in use")
    if (!reclaim) return yield* inUse("address already in use (stale socket file; set reclaimStaleSocket to remove it)")
    try {
      Fs.unlinkSync(path)
    } catch (error) {
      return yield* NetError.fromErrno(toOsError(error), { op: "listen", network, address })
    }
  })

/** One listen: binds, then feeds accepted sockets to core's listener engine. */
class ListenAttempt {
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
          socket.on("error", () => {}) // replaced by fromSocket's handler; guards the gap
          if (this.target.kind === "inet") socket.setNoDelay(true)
          // the local end is the bound address unless that is a wildcard
          const local = this.target.kind === "unix" || !wildcard
            ? boundAddress
            : formatEnd(socket.localAddress, socket.localPort)
          // asked now: Node forgets it once it destroys the socket on an error or a reset
          const remote = this.target.kind === "unix" ? "" : formatEnd(socket.remoteAddress, socket.remotePort)
          acceptor.push(fromSocket(socket, this.network, local, remote, socketOptions).conn)
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

/**
 * The `Net` service over node:net, as a Layer, with the system resolver.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Net.Net> = Layer.succeed(Net.Net, make())

/**
 * The `Net` service over node:net, as a Layer, with options (e.g. an injected resolver).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: Options): Layer.Layer<Net.Net> => Layer.succeed(Net.Net, make(options))
