/**
 * MemoryNet: an in-process `Net` with the same contract and error tags as a real network, for
 * tests. Connections are pairs of bounded pipes, so backpressure is real; deadlines, injected
 * delays and the linger of a graceful close run on Effect's Clock, so `TestClock` drives them;
 * and seeded faults (a reset after k bytes, short reads, delivery delays) let property tests
 * search the space of network behaviours deterministically.
 *
 * It behaves like Linux where tests rely on it:
 *
 * - Ports belong to an address family, as on Linux with `net.ipv6.bindv6only = 0`. A `tcp4`
 *   listener binds IPv4 only and a `tcp6` one IPv6 only, so `tcp4` on `0.0.0.0:P` and `tcp6`
 *   on `[::]:P` coexist. `tcp` on a wildcard host (`:P`, `0.0.0.0:P` or `[::]:P`) is Go's dual
 *   stack listener: it binds the port in both families (conflicting with any listener on that
 *   port) and accepts IPv4 and IPv6 dials. `tcp` on a specific address binds that address's
 *   family only. Within a family, a wildcard conflicts with every address on its port, and two
 *   listeners on one address conflict (`AddressInUse`, `bind: address already in use`).
 * - Each direction of a connection holds about as much as loopback does before a writer
 *   suspends (see `Options.readBufferSize`), so a program that writes a large request before it
 *   reads the reply behaves as it does over TCP.
 * - `close` is graceful: what was written is delivered, then FIN, while the peer's input is
 *   read and discarded until its FIN or the linger bound (see `make`); `Conn.abort` resets.
 *
 * Addresses live in MemoryNet's own namespace: nothing touches the OS. `localhost` resolves to
 * `127.0.0.1` (`::1` on `tcp6`); other names resolve through the `hosts` option or fail with
 * `DnsError`. A dial to a wildcard host (`:P`, `0.0.0.0:P`, `[::]:P`) reaches the loopback
 * address of its family.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { PCGRandom } from "effect/Utils"
import * as Address from "./Address.js"
import type { Conn } from "./Conn.js"
import { defaultBacklog } from "./internal/listener.js"
import { clockTimer, type Timer } from "./internal/timer.js"
import { invalidNonNegative, invalidPositive } from "./internal/validate.js"
import type { Listener } from "./Listener.js"
import * as Net from "./Net.js"
import * as NetError from "./NetError.js"
import {
  type Acceptor,
  type ConnTransport,
  defaultLinger,
  type Inbound,
  makeConn,
  makeListener,
  type OsError,
  validateDialOptions,
  validateListenOptions
} from "./Transport.js"

/**
 * Faults to inject, drawn from a PRNG seeded with `seed` (same seed, same faults).
 *
 * - `resetAfterBytes`: once this many bytes crossed a connection in one direction (a
 *   non-negative integer), the connection is reset: the receiver reads exactly those bytes,
 *   then `ConnectionReset` (never EOF), even when the writer wrote exactly that many and
 *   nothing more; the sender's next operation fails with `ConnectionReset`. A write whose
 *   last byte is the k-th succeeds: every byte of it was delivered. With `0`, the first write
 *   or FIN resets.
 * - `shortReads`: reads return at most a random 1..`shortReads` bytes (`true`: 1..7), as a
 *   real socket may.
 * - `delay`: each write, and each dial, waits a random whole number of milliseconds drawn
 *   uniformly from `[min, max]` (both ends included) on the Clock before it is delivered
 *   (order kept: a write never overtakes an earlier one).
 *
 * @since 0.1.0
 * @category models
 */
export interface Faults {
  readonly seed: number
  readonly resetAfterBytes?: number | undefined
  readonly shortReads?: boolean | number | undefined
  readonly delay?: { readonly min: number; readonly max: number } | undefined
}

/**
 * Options of a MemoryNet.
 *
 * - `readBufferSize`: how many bytes, per direction of a connection, wait unread at the
 *   receiver before its peer's writes suspend (the send and receive buffers of both kernels
 *   together, plus the connection's own receive buffer). Bytes arrive in pieces of at most
 *   64 KiB (loopback's MTU). Default: `defaultReadBufferSize` for `tcp`, `tcp4` and `tcp6`
 *   (4 MiB), `defaultUnixReadBufferSize` for `unix` (256 KiB), about what Linux holds for a
 *   peer that does not read. The `readBufferSize` of `dial` and `listen` overrides it for the
 *   receiving side of one connection.
 * - `hosts`: extra names and the IP literals they resolve to.
 * - `faults`: faults to inject (none by default).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly readBufferSize?: number | undefined
  readonly hosts?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  readonly faults?: Faults | undefined
}

/**
 * The default `readBufferSize` of `tcp`, `tcp4` and `tcp6` connections, in bytes: 4 MiB.
 * Measured on Linux 6.18 (Node 20, default `tcp_rmem`/`tcp_wmem`): a loopback connection
 * whose reader never reads takes about 3.74 MiB (3,919,467 bytes) into the kernel before the
 * writer waits, and NodeNet's own receive buffer adds up to 128 KiB.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultReadBufferSize = 4 * 1024 * 1024

/**
 * The default `readBufferSize` of `unix` connections, in bytes: 256 KiB. Measured as for
 * `defaultReadBufferSize`: a unix stream socket takes about 214 KiB (219,264 bytes) into the
 * kernel (`net.core.wmem_default` is 208 KiB) before the writer waits.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultUnixReadBufferSize = 256 * 1024

/** The largest piece a pipe delivers at once: loopback's MTU. */
const maxPiece = 64 * 1024

const econnreset: OsError = { code: "ECONNRESET", syscall: "read" }
const epipe: OsError = { code: "EPIPE", syscall: "write" }
const econnrefused: OsError = { code: "ECONNREFUSED", syscall: "connect" }

type Done = (e?: OsError) => void

type Op =
  | {
    readonly _tag: "data"
    readonly data: Uint8Array
    offset: number
    done: Done
    due: boolean
    /** Cancels the delay fault's timer while the write waits for it. */
    cancelDelay: (() => void) | undefined
  }
  | { readonly _tag: "fin"; readonly done: Done }

/**
 * One direction of a memory connection: writes from one end, queued in order and delivered in
 * pieces of at most `pieceSize` bytes into the other end's inbound buffer, waiting for room
 * (backpressure), copying bytes as a kernel does.
 */
class Pipe {
  receiver: Inbound | undefined = undefined
  /** Tells the sending end that this direction was reset by a fault. */
  onReset: (() => void) | undefined = undefined
  /** The receiver has been told everything it will be told: FIN, or a reset. */
  ended = false
  private queue: Array<Op> = []
  private waitingForRoom = false
  private broken: OsError | undefined = undefined
  private delivered = 0
  private finQueued = false
  private finDelivered = false
  /** The sender's graceful close, waiting for its FIN to be delivered (or for the pipe to break). */
  private onFinished: Done | undefined = undefined

  constructor(
    private readonly pieceSize: number,
    private readonly timer: Timer,
    private readonly faults: FaultSource | undefined
  ) {}

  write(data: Uint8Array, done: Done): boolean {
    if (this.broken !== undefined) {
      done(this.broken)
      return false
    }
    const delay = this.faults?.delay()
    const op: Op = { _tag: "data", data, offset: 0, done, due: delay === undefined, cancelDelay: undefined }
    if (delay !== undefined) {
      op.cancelDelay = this.timer.schedule(delay, () => {
        op.due = true
        op.cancelDelay = undefined
        this.pump()
      })
    }
    this.queue.push(op)
    return this.queue.length === 1 && this.pumpSync(op)
  }

  /** Delivers `op` at once when nothing else is queued; true when it completed synchronously. */
  private pumpSync(op: Op & { readonly _tag: "data" }): boolean {
    const original = op.done
    let completed = false
    op.done = (e) => {
      if (e !== undefined) original(e)
      else completed = true
    }
    this.pump()
    if (!completed) op.done = original
    return completed
  }

  fin(done: Done): void {
    if (this.finQueued) return done(this.broken)
    this.finQueued = true
    this.queue.push({ _tag: "fin", done })
    if (this.queue.length === 1) this.pump()
  }

  /**
   * The sender closes gracefully: deliver what is queued, then FIN (unless one is already on
   * its way), then call `finished()`; or `finished(error)` once the pipe breaks first.
   */
  finish(finished: Done): void {
    if (this.finDelivered) return finished()
    if (this.broken !== undefined) return finished(this.broken)
    this.onFinished = finished
    if (!this.finQueued) this.fin(noop)
  }

  /** The receiver freed room. */
  resume(): void {
    if (!this.waitingForRoom) return
    this.waitingForRoom = false
    this.pump()
  }

  pause(): void {
    this.waitingForRoom = true
  }

  /**
   * The receiver closes gracefully: from now on bytes are delivered to `sink`, which discards
   * them without ever pushing back, so the sender's writes keep completing.
   */
  drain(sink: Inbound): void {
    if (this.ended) return sink.end()
    this.receiver = sink
    this.waitingForRoom = false
    this.pump()
  }

  /** The receiving end went away: queued and later writes fail with `error`. */
  break(error: OsError): void {
    this.receiver = undefined
    this.ended = true
    if (this.broken === undefined) this.broken = error
    this.flushBroken()
  }

  /** The sending end resets (abort, or a linger that ran out): undelivered bytes are dropped. */
  reset(): void {
    const receiver = this.receiver
    this.receiver = undefined
    this.broken ??= { code: "ERR_SOCKET_CLOSED" }
    this.onFinished = undefined
    this.flushBroken()
    this.ended = true
    // after a FIN too: the peer's reads stay at EOF, its writes now fail
    receiver?.fail(econnreset)
  }

  /** Fails every queued operation with the pipe's error; nothing stays queued. */
  private flushBroken(): void {
    const queued = this.queue
    this.queue = []
    for (const op of queued) {
      if (op._tag === "data") op.cancelDelay?.()
      op.done(this.broken)
    }
    const finished = this.onFinished
    this.onFinished = undefined
    finished?.(this.broken)
  }

  private get resetDue(): boolean {
    const limit = this.faults?.resetAfterBytes
    return limit !== undefined && this.delivered >= limit
  }

  /** The reset fault: the receiver reads what it got, then `ConnectionReset`; so does the sender. */
  private resetByFault(receiver: Inbound): void {
    this.broken = econnreset
    this.receiver = undefined
    this.ended = true
    receiver.fail(econnreset)
    this.onReset?.()
    this.onReset = undefined
    this.flushBroken()
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const op = this.queue[0]!
      // a FIN takes no room in the receiver's buffer
      if (this.waitingForRoom && op._tag === "data") return
      const receiver = this.receiver
      if (receiver === undefined) return this.flushBroken()
      if (this.resetDue) return this.resetByFault(receiver)
      if (op._tag === "fin") {
        this.queue.shift()
        this.finDelivered = true
        this.ended = true
        const finished = this.onFinished
        this.onFinished = undefined
        receiver.end()
        op.done()
        finished?.()
        continue
      }
      if (!op.due) return
      const limit = this.faults?.resetAfterBytes
      const size = Math.min(
        this.pieceSize,
        op.data.length - op.offset,
        limit === undefined ? Number.POSITIVE_INFINITY : limit - this.delivered
      )
      const piece = op.data.slice(op.offset, op.offset + size)
      op.offset += size
      this.delivered += size
      if (!receiver.push(piece)) this.waitingForRoom = true
      if (op.offset === op.data.length) {
        // every byte of it was delivered: it succeeded, even when a reset follows at once
        this.queue.shift()
        op.done()
      }
      if (this.resetDue && this.receiver !== undefined) return this.resetByFault(this.receiver)
    }
  }
}

const noop = () => {}

/** Seeded fault draws for one MemoryNet. */
class FaultSource {
  private readonly random: PCGRandom
  readonly resetAfterBytes: number | undefined
  private readonly shortMax: number | undefined
  private readonly delayRange: { readonly min: number; readonly max: number } | undefined

  constructor(faults: Faults) {
    this.random = new PCGRandom(faults.seed)
    this.resetAfterBytes = faults.resetAfterBytes
    this.shortMax = faults.shortReads === true
      ? 7
      : typeof faults.shortReads === "number"
      ? faults.shortReads
      : undefined
    this.delayRange = faults.delay
  }

  /** A whole number of milliseconds, uniform over `[min, max]` (`number()` is in `[0, 1)`). */
  delay(): number | undefined {
    if (this.delayRange === undefined) return undefined
    const { max, min } = this.delayRange
    return min + Math.floor(this.random.number() * (max - min + 1))
  }

  /** At most `n`, uniform over `1..shortMax` (`integer(m)` is in `[0, m)`). */
  readonly shortRead = (n: number): number =>
    this.shortMax === undefined ? n : Math.min(n, 1 + this.random.integer(this.shortMax))

  get hasShortReads(): boolean {
    return this.shortMax !== undefined
  }
}

/** An address family's share of a port: one address of it, or all of them (`ip` empty). */
interface Binding {
  readonly family: 4 | 6
  readonly ip: string
}

interface Bound {
  readonly listener: Listener
  readonly acceptor: Acceptor
  readonly readBufferSize: number
  readonly linger: number
}

interface InetBound extends Bound {
  readonly bindings: ReadonlyArray<Binding>
}

const isUnspecified = (host: string) => host === "" || host === "0.0.0.0" || host === "::"

/**
 * What a listener on `host` (a resolved IP literal, or `""`) holds of its port, as Linux with
 * `bindv6only = 0` and Go decide it: `tcp4` and `tcp6` one family each (Go sets `IPV6_V6ONLY`
 * for `tcp6`); `tcp` on an unspecified host both (a dual stack socket), on an address its
 * family.
 */
const bindingsOf = (network: "tcp" | "tcp4" | "tcp6", host: string): ReadonlyArray<Binding> => {
  if (isUnspecified(host)) {
    if (network === "tcp4") return [{ family: 4, ip: "" }]
    if (network === "tcp6") return [{ family: 6, ip: "" }]
    return [{ family: 4, ip: "" }, { family: 6, ip: "" }]
  }
  return [{ family: Address.ipVersion(host) === 6 ? 6 : 4, ip: host }]
}

const conflicts = (a: ReadonlyArray<Binding>, b: ReadonlyArray<Binding>): boolean =>
  a.some((x) => b.some((y) => x.family === y.family && (x.ip === "" || y.ip === "" || x.ip === y.ip)))

/** The reason the options are invalid, or undefined. */
const invalidOptions = (options: Options | undefined): string | undefined => {
  if (options === undefined) return undefined
  const faults = options.faults
  const checks: Array<string | undefined> = [
    options.readBufferSize !== undefined ? invalidPositive("readBufferSize", options.readBufferSize) : undefined,
    faults !== undefined && !Number.isFinite(faults.seed)
      ? `invalid argument: faults.seed must be a finite number, got ${faults.seed}`
      : undefined,
    faults?.resetAfterBytes !== undefined
      ? invalidNonNegative("faults.resetAfterBytes", faults.resetAfterBytes)
      : undefined,
    typeof faults?.shortReads === "number" ? invalidPositive("faults.shortReads", faults.shortReads) : undefined,
    faults?.delay !== undefined
      ? invalidNonNegative("faults.delay.min", faults.delay.min) ??
        invalidNonNegative("faults.delay.max", faults.delay.max) ??
        (faults.delay.max < faults.delay.min
          ? "invalid argument: faults.delay.max must not be below faults.delay.min"
          : undefined)
      : undefined
  ]
  return checks.find((reason) => reason !== undefined)
}

/**
 * Makes a fresh MemoryNet namespace (its own ports and paths) as a `Net` service. Fails with
 * `InvalidArgument` for a bad option (a non-positive `readBufferSize`, a negative fault size or
 * delay, a delay range whose `max` is below its `min`).
 *
 * Its `dial` and `listen` use the `readBufferSize` (bytes, a positive integer) and `linger`
 * (milliseconds, finite and `>= 0`, default `Transport.defaultLinger`, 5000) options, and
 * `listen` its `backlog`. Every option is checked as `Transport.validateDialOptions` and
 * `validateListenOptions` check them (a bad one fails with `InvalidArgument`); those that do not
 * apply to memory connections (`timeout`, `keepAlive`, `noDelay`, `localAddress`,
 * `reclaimStaleSocket`) are then ignored.
 *
 * `close` (Scope's finalizer, `Conn.close`) returns at once and closes in the background:
 *
 * - A connection that never wrote a byte sends FIN and is released at once.
 * - Otherwise every byte already handed to `write` is still delivered (waiting for room as
 *   usual), then FIN. Meanwhile the peer's bytes are read and thrown away, so its writes keep
 *   completing. Once the FIN is delivered and the peer's FIN (or a reset) has arrived, or once
 *   the `linger` bound passes on the Clock (so `TestClock` drives it), the connection is
 *   released: the peer's later writes fail with `BrokenPipe` (EPIPE), as they would against a
 *   closed socket. If the linger ran out before everything was delivered, the rest is dropped
 *   and the peer reads `ConnectionReset` after the bytes it got, never EOF. With `linger: 0`
 *   the release comes as soon as the Clock ends a zero-length sleep (at once under
 *   `TestClock`): right after the FIN when nothing waited for room, else as that reset. A
 *   released connection holds no bytes and no timer.
 * - `Conn.abort` resets at once: queued bytes are dropped, the peer reads `ConnectionReset`
 *   after what it already got, and its writes fail with `ConnectionReset`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<Net.Net["Type"], NetError.InvalidArgument> =>
  Effect.suspend(() => {
    const reason = invalidOptions(options)
    return reason === undefined
      ? Effect.succeed(makeUnsafe(options))
      : Effect.fail(NetError.make("InvalidArgument", { op: "listen", network: "", address: "", reason }))
  })

const makeUnsafe = (options: Options | undefined): Net.Net["Type"] => {
  const bufferSizeFor = (network: Address.Network) =>
    options?.readBufferSize ?? (network === "unix" ? defaultUnixReadBufferSize : defaultReadBufferSize)
  const faults = options?.faults !== undefined ? new FaultSource(options.faults) : undefined
  const unixBound = new Map<string, Bound>()
  const inetBound = new Map<number, Array<InetBound>>()
  let nextListenPort = 32768
  let nextDialPort = 49152

  const resolve = (
    op: NetError.Op,
    network: Address.Network,
    address: string,
    host: string
  ): Either.Either<string, NetError.NetError> => {
    if (host === "" || Address.ipVersion(host) !== undefined) return Either.right(host)
    const names = host.toLowerCase() === "localhost"
      ? [network === "tcp6" ? "::1" : "127.0.0.1"]
      : options?.hosts?.[host] ?? []
    const wanted = network === "tcp4" ? 4 : network === "tcp6" ? 6 : undefined
    const ip = names.find((candidate) => wanted === undefined || Address.ipVersion(candidate) === wanted)
    return ip !== undefined ? Either.right(ip) : Either.left(
      NetError.fromErrno({ code: "ENOTFOUND", hostname: host }, { op, network, address })
    )
  }

  const unbind = (port: number, entry: InetBound) => {
    const entries = inetBound.get(port)
    if (entries === undefined) return
    const i = entries.indexOf(entry)
    if (i >= 0) entries.splice(i, 1)
    if (entries.length === 0) inetBound.delete(port)
  }

  const listen = (network: string, address: string, listenOptions?: Net.ListenOptions) =>
    Effect.suspend(() => {
      const parsed = Address.parse(network, address, "listen")
      if (Either.isLeft(parsed)) return Effect.fail(parsed.left)
      const addr = parsed.right
      const invalidOption = validateListenOptions(network, address, listenOptions)
      if (invalidOption !== undefined) return Effect.fail(invalidOption)
      const backlog = listenOptions?.backlog ?? defaultBacklog
      const readBufferSize = listenOptions?.readBufferSize ?? bufferSizeFor(addr.network)
      const linger = listenOptions?.linger ?? defaultLinger
      const inUse = () =>
        Effect.fail(NetError.fromErrno({ code: "EADDRINUSE", syscall: "bind" }, { op: "listen", network, address }))

      if (addr._tag === "UnixAddress") {
        const path = addr.path
        if (unixBound.has(path)) return inUse()
        const { acceptor, listener } = makeListener({
          network: "unix",
          address: path,
          close: () => {
            if (unixBound.get(path)?.listener === listener) unixBound.delete(path)
          }
        }, { backlog })
        unixBound.set(path, { listener, acceptor, readBufferSize, linger })
        return Effect.succeed(listener)
      }

      const resolved = resolve("listen", addr.network, address, addr.host)
      if (Either.isLeft(resolved)) return Effect.fail(resolved.left)
      const host = resolved.right
      const bindings = bindingsOf(addr.network, host)
      let port = addr.port
      if (port === 0) {
        // an ephemeral port no listener of any family holds
        do {
          port = nextListenPort++
          if (nextListenPort > 60999) nextListenPort = 32768
        } while (inetBound.has(port))
      } else if (inetBound.get(port)?.some((other) => conflicts(other.bindings, bindings)) === true) {
        return inUse()
      }
      const boundPort = port
      const { acceptor, listener } = makeListener({
        network: addr.network,
        address: Address.format({ _tag: "InetAddress", network: addr.network, host, port }),
        close: () => unbind(boundPort, entry)
      }, { backlog })
      const entry: InetBound = {
        listener,
        acceptor,
        bindings,
        readBufferSize,
        linger
      }
      const entries = inetBound.get(port)
      if (entries === undefined) inetBound.set(port, [entry])
      else entries.push(entry)
      return Effect.succeed(entry.listener)
    })

  /** The listener a dial to `ip:port` reaches: one bound to that address, else its family's wildcard. */
  const lookup = (ip: string, port: number): Bound | undefined => {
    const entries = inetBound.get(port)
    if (entries === undefined) return undefined
    const family = Address.ipVersion(ip) === 6 ? 6 : 4
    const holds = (wanted: string) => (entry: InetBound) =>
      entry.bindings.some((b) => b.family === family && b.ip === wanted)
    return entries.find(holds(ip)) ?? entries.find(holds(""))
  }

  const connect = (
    network: string,
    address: string,
    dialOptions: Net.DialOptions | undefined,
    clock: Clock.Clock
  ): Either.Either<Conn, NetError.NetError> => {
    const parsed = Address.parse(network, address, "dial")
    if (Either.isLeft(parsed)) return Either.left(parsed.left)
    const addr = parsed.right
    const context = { op: "dial" as const, network, address }
    let target: Bound | undefined
    let remoteAddress: string
    let localAddress: string
    if (addr._tag === "UnixAddress") {
      target = unixBound.get(addr.path)
      remoteAddress = addr.path
      localAddress = ""
      if (target === undefined) {
        return Either.left(NetError.fromErrno({ code: "ENOENT", syscall: "connect" }, context))
      }
    } else {
      const resolved = resolve("dial", addr.network, address, addr.host)
      if (Either.isLeft(resolved)) return Either.left(resolved.left)
      // Go and Linux: the unspecified address means this host, by its loopback address
      const host = !isUnspecified(resolved.right)
        ? resolved.right
        : addr.network === "tcp6" || resolved.right === "::"
        ? "::1"
        : "127.0.0.1"
      target = lookup(host, addr.port)
      remoteAddress = Address.format({ _tag: "InetAddress", network: addr.network, host, port: addr.port })
      const localPort = nextDialPort++
      if (nextDialPort > 65535) nextDialPort = 49152
      localAddress = Address.format({ _tag: "InetAddress", network: addr.network, host, port: localPort })
      if (target === undefined) {
        return Either.left(NetError.fromErrno(econnrefused, context))
      }
    }
    const size = dialOptions?.readBufferSize ?? bufferSizeFor(addr.network)
    const timer = clockTimer(clock)
    const toServer = new Pipe(Math.min(target.readBufferSize, maxPiece), timer, faults)
    const toClient = new Pipe(Math.min(size, maxPiece), timer, faults)
    const readLimit = faults?.hasShortReads === true ? faults.shortRead : undefined
    const client = makeConn(
      new Endpoint(
        addr.network,
        localAddress,
        remoteAddress,
        toServer,
        toClient,
        timer,
        dialOptions?.linger ?? defaultLinger
      ),
      { readBufferSize: size, clock, readLimit }
    )
    const server = makeConn(
      new Endpoint(addr.network, remoteAddress, localAddress, toClient, toServer, timer, target.linger),
      { readBufferSize: target.readBufferSize, clock, readLimit }
    )
    toServer.receiver = server.inbound
    toClient.receiver = client.inbound
    // a reset ends both directions, as an RST does
    toServer.onReset = () => {
      client.inbound.fail(econnreset)
      toClient.reset()
    }
    toClient.onReset = () => {
      server.inbound.fail(econnreset)
      toServer.reset()
    }
    if (!target.acceptor.push(server.conn)) {
      // the listener closed (or its backlog is full): the client's end never existed for the caller
      client.close(true)
      return Either.left(NetError.fromErrno(econnrefused, context))
    }
    return Either.right(client.conn)
  }

  const dial = (network: string, address: string, dialOptions?: Net.DialOptions) =>
    Effect.gen(function*() {
      const invalidOption = validateDialOptions(network, address, dialOptions)
      if (invalidOption !== undefined) return yield* invalidOption
      const clock = yield* Effect.clock
      const delay = faults?.delay()
      if (delay !== undefined && delay > 0) yield* Clock.sleep(Duration.millis(delay))
      return yield* Effect.acquireRelease(
        Effect.suspend(() => connect(network, address, dialOptions, clock)),
        (conn) => conn.close
      )
    })

  return Net.Net.of({
    dial: (network, address, dialOptions) =>
      dial(network, address, dialOptions) as Effect.Effect<Conn, NetError.NetError, Scope.Scope>,
    listen: (network, address, listenOptions) =>
      Effect.acquireRelease(listen(network, address, listenOptions), (l) => l.close) as Effect.Effect<
        Listener,
        NetError.NetError,
        Scope.Scope
      >
  })
}

/**
 * One end of a memory connection: writes go out on `outgoing`, reads come from `incoming`.
 * `close` without `abort` lingers as `make` describes.
 */
class Endpoint implements ConnTransport {
  /** Whether any byte was handed to `write`: a connection that wrote none is released at once. */
  private wrote = false

  constructor(
    readonly network: Address.Network,
    readonly localAddress: string,
    readonly remoteAddress: string,
    private readonly outgoing: Pipe,
    private readonly incoming: Pipe,
    private readonly timer: Timer,
    private readonly linger: number
  ) {}

  write(data: Uint8Array, done: Done): boolean {
    this.wrote = true
    return this.outgoing.write(data, done)
  }

  closeWrite(done: Done): void {
    this.outgoing.fin(done)
  }

  pause(): void {
    this.incoming.pause()
  }

  resume(): void {
    this.incoming.resume()
  }

  close(abort: boolean): void {
    if (abort) {
      this.outgoing.reset()
      this.incoming.break(econnreset)
      return
    }
    const incoming = this.incoming
    const outgoing = this.outgoing
    if (!this.wrote) {
      // nothing to deliver: FIN and release at once (Go's Close), so a peer still sending learns
      // of the close from its next write
      outgoing.finish(noop)
      incoming.break(epipe)
      return
    }
    let flushed = false
    let peerDone = false
    let released = false
    let cancelLinger: (() => void) | undefined = undefined
    const release = () => {
      if (released) return
      released = true
      cancelLinger?.()
      cancelLinger = undefined
      // what the linger left undelivered is lost: the peer must see a reset, never a short EOF
      if (!flushed) outgoing.reset()
      incoming.break(epipe)
    }
    incoming.drain({
      push: () => true,
      end: () => {
        peerDone = true
        if (flushed) release()
      },
      fail: release
    })
    outgoing.finish((error) => {
      flushed = true
      if (error !== undefined || peerDone) release()
    })
    if (released) return
    // with linger 0 the timer fires as soon as the Clock lets it
    cancelLinger = this.timer.schedule(this.linger, release)
  }
}

/**
 * A Layer providing a fresh MemoryNet as `Net`, with default options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Net.Net> = Layer.effect(Net.Net, Effect.orDie(make()))

/**
 * A Layer providing a fresh MemoryNet as `Net`, with options (buffer size, hosts, faults).
 * Fails with `InvalidArgument` for a bad option.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: Options): Layer.Layer<Net.Net, NetError.InvalidArgument> =>
  Layer.effect(Net.Net, make(options))
