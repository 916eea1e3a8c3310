/**
 * MemoryNet: an in-process `Net` with the same contract and error tags as a real network, for
 * tests. Connections are pairs of bounded pipes, so backpressure is real; deadlines and
 * injected delays run on Effect's Clock, so `TestClock` drives them; and seeded faults
 * (a reset after k bytes, short reads, delivery delays) let property tests search the space of
 * network behaviours deterministically.
 *
 * Addresses live in MemoryNet's own namespace: nothing touches the OS. `tcp`, `tcp4` and
 * `tcp6` share one port space keyed by IP; `localhost` resolves to `127.0.0.1` (`::1` on
 * `tcp6`); other names resolve through the `hosts` option or fail with `DnsError`.
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
import { ConnImpl } from "./internal/conn.js"
import { defaultBacklog, ListenerImpl } from "./internal/listener.js"
import { clockTimer, type Timer } from "./internal/timer.js"
import { invalidNonNegative, invalidPositive } from "./internal/validate.js"
import type { Listener } from "./Listener.js"
import * as Net from "./Net.js"
import * as NetError from "./NetError.js"
import type { ConnTransport, Inbound, OsError } from "./Transport.js"

/**
 * Faults to inject, drawn from a PRNG seeded with `seed` (same seed, same faults).
 *
 * - `resetAfterBytes`: once this many bytes crossed a connection in one direction, the
 *   connection is reset: the receiver reads exactly those bytes, then `ConnectionReset`; the
 *   sender's next operation fails with `ConnectionReset`.
 * - `shortReads`: reads return at most a random 1..`shortReads` bytes (`true`: 1..7), as a
 *   real socket may.
 * - `delay`: each write is delivered after a random delay in `[min, max]` milliseconds on the
 *   Clock (order kept).
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
 * - `readBufferSize`: each connection's receive buffer in bytes (default 65536). A writer
 *   suspends while its peer's buffer is full.
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

const econnreset: OsError = { code: "ECONNRESET", syscall: "read" }
const epipe: OsError = { code: "EPIPE", syscall: "write" }
const econnrefused: OsError = { code: "ECONNREFUSED", syscall: "connect" }

type Op =
  | {
    readonly _tag: "data"
    readonly data: Uint8Array
    offset: number
    readonly done: (e?: OsError) => void
    due: boolean
  }
  | { readonly _tag: "fin"; readonly done: (e?: OsError) => void }

/**
 * One direction of a memory connection: writes from one end, queued in order and delivered in
 * pieces of at most the receive buffer size into the other end's inbound buffer, waiting for
 * room (backpressure), copying bytes as a kernel does.
 */
class Pipe {
  receiver: Inbound | undefined = undefined
  onReset: (() => void) | undefined = undefined
  private queue: Array<Op> = []
  private waitingForRoom = false
  private broken: OsError | undefined = undefined
  private delivered = 0

  constructor(
    private readonly pieceSize: number,
    private readonly timer: Timer,
    private readonly faults: FaultSource | undefined
  ) {}

  write(data: Uint8Array, done: (e?: OsError) => void): boolean {
    if (this.broken !== undefined) {
      done(this.broken)
      return false
    }
    const delay = this.faults?.delay()
    const op: Op = { _tag: "data", data, offset: 0, done, due: delay === undefined }
    if (delay !== undefined) {
      this.timer.schedule(delay, () => {
        op.due = true
        this.pump()
      })
    }
    this.queue.push(op)
    let syncDone = false
    if (this.queue.length === 1) {
      op.done === done && (syncDone = this.pumpSync(op))
    }
    return syncDone
  }

  /** Delivers `op` at once when nothing else is queued; true when it completed synchronously. */
  private pumpSync(op: Op): boolean {
    const original = op.done
    let completed = false
    ;(op as { done: (e?: OsError) => void }).done = (e) => {
      if (e !== undefined) original(e)
      else completed = true
    }
    this.pump()
    if (!completed) (op as { done: (e?: OsError) => void }).done = original
    return completed
  }

  fin(done: (e?: OsError) => void): void {
    this.queue.push({ _tag: "fin", done })
    if (this.queue.length === 1) this.pump()
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

  /** The receiving end went away: queued and later writes fail with `error`. */
  break(error: OsError): void {
    this.receiver = undefined
    if (this.broken === undefined) this.broken = error
    this.flushBroken()
  }

  /** The sending end went away: undelivered writes are dropped, the receiver sees FIN or RST. */
  discard(abort: boolean): void {
    this.queue = []
    const receiver = this.receiver
    this.receiver = undefined
    this.broken ??= { code: "ERR_SOCKET_CLOSED" }
    if (receiver !== undefined) abort ? receiver.fail(econnreset) : receiver.end()
  }

  private flushBroken(): void {
    const queued = this.queue
    this.queue = []
    for (const op of queued) op.done(this.broken)
  }

  private pump(): void {
    while (this.queue.length > 0 && !this.waitingForRoom) {
      const op = this.queue[0]!
      const receiver = this.receiver
      if (receiver === undefined) return this.flushBroken()
      if (op._tag === "fin") {
        this.queue.shift()
        receiver.end()
        op.done()
        continue
      }
      if (!op.due) return
      let size = Math.min(this.pieceSize, op.data.length - op.offset)
      const limit = this.faults?.resetAfterBytes
      const reset = limit !== undefined && this.delivered + size >= limit
      if (reset) size = limit - this.delivered
      if (size > 0) {
        const piece = op.data.slice(op.offset, op.offset + size)
        op.offset += size
        this.delivered += size
        if (!receiver.push(piece)) this.waitingForRoom = true
      }
      if (reset && (op.offset < op.data.length || this.delivered >= limit)) {
        this.broken = econnreset
        this.receiver = undefined
        receiver.fail(econnreset)
        this.onReset?.()
        return this.flushBroken()
      }
      if (op.offset === op.data.length) {
        this.queue.shift()
        op.done()
      }
    }
  }
}

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

  delay(): number | undefined {
    if (this.delayRange === undefined) return undefined
    const { max, min } = this.delayRange
    return min + Math.floor(this.random.number() * (max - min + 1))
  }

  readonly shortRead = (n: number): number =>
    this.shortMax === undefined ? n : Math.min(n, 1 + this.random.integer(this.shortMax))

  get hasShortReads(): boolean {
    return this.shortMax !== undefined
  }
}

interface Bound {
  readonly key: string
  readonly network: Address.Network
  readonly host: string
  readonly port: number
  readonly listener: ListenerImpl
  readonly readBufferSize: number
}

const wildcard = (host: string) => host === "" || host === "0.0.0.0" || host === "::"

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
  {
    const readBufferSize = options?.readBufferSize ?? 64 * 1024
    const faults = options?.faults !== undefined ? new FaultSource(options.faults) : undefined
    const bound = new Map<string, Bound>()
    let nextListenPort = 32768
    let nextDialPort = 49152

    const invalid = (op: NetError.Op, network: string, address: string, reason: string) =>
      NetError.make("InvalidArgument", { op, network, address, reason })

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

    const portTaken = (port: number) => {
      for (const entry of bound.values()) if (entry.network !== "unix" && entry.port === port) return entry
      return undefined
    }

    const listen = (network: string, address: string, listenOptions?: Net.ListenOptions) =>
      Effect.suspend(() => {
        const parsed = Address.parse(network, address, "listen")
        if (Either.isLeft(parsed)) return Effect.fail(parsed.left)
        const addr = parsed.right
        const backlog = listenOptions?.backlog ?? defaultBacklog
        const invalidBacklog = invalidPositive("backlog", backlog)
        if (invalidBacklog !== undefined) return Effect.fail(invalid("listen", network, address, invalidBacklog))
        const size = listenOptions?.readBufferSize
        const invalidSize = size !== undefined ? invalidPositive("readBufferSize", size) : undefined
        if (invalidSize !== undefined) return Effect.fail(invalid("listen", network, address, invalidSize))
        const context = { op: "listen" as const, network, address }
        let key: string
        let host = ""
        let port = 0
        if (addr._tag === "UnixAddress") {
          key = "unix:" + addr.path
          if (bound.has(key)) {
            return Effect.fail(NetError.fromErrno({ code: "EADDRINUSE", syscall: "bind" }, context))
          }
        } else {
          const resolved = resolve("listen", addr.network, address, addr.host)
          if (Either.isLeft(resolved)) return Effect.fail(resolved.left)
          host = resolved.right
          port = addr.port
          if (port === 0) {
            do {
              port = nextListenPort++
              if (nextListenPort > 60999) nextListenPort = 32768
            } while (portTaken(port) !== undefined)
          } else {
            const other = portTaken(port)
            if (other !== undefined && (wildcard(other.host) || wildcard(host) || other.host === host)) {
              return Effect.fail(NetError.fromErrno({ code: "EADDRINUSE", syscall: "bind" }, context))
            }
          }
          key = `${host}|${port}`
        }
        const boundAddress = addr._tag === "UnixAddress"
          ? addr.path
          : Address.format({ _tag: "InetAddress", network: addr.network, host, port })
        const listener: ListenerImpl = new ListenerImpl({
          network: addr.network,
          address: boundAddress,
          close: () => {
            if (bound.get(key)?.listener === listener) bound.delete(key)
          }
        }, backlog)
        bound.set(key, {
          key,
          network: addr.network,
          host,
          port,
          listener,
          readBufferSize: listenOptions?.readBufferSize ?? readBufferSize
        })
        return Effect.succeed(listener)
      })

    const connect = (
      network: string,
      address: string,
      dialOptions: Net.DialOptions | undefined,
      clock: Clock.Clock
    ): Either.Either<ConnImpl, NetError.NetError> => {
      const parsed = Address.parse(network, address, "dial")
      if (Either.isLeft(parsed)) return Either.left(parsed.left)
      const addr = parsed.right
      const context = { op: "dial" as const, network, address }
      let target: Bound | undefined
      let remoteAddress: string
      let localAddress: string
      if (addr._tag === "UnixAddress") {
        target = bound.get("unix:" + addr.path)
        remoteAddress = addr.path
        localAddress = ""
        if (target === undefined) {
          return Either.left(NetError.fromErrno({ code: "ENOENT", syscall: "connect" }, context))
        }
      } else {
        const resolved = resolve("dial", addr.network, address, addr.host)
        if (Either.isLeft(resolved)) return Either.left(resolved.left)
        const host = wildcard(resolved.right) ? (addr.network === "tcp6" ? "::1" : "127.0.0.1") : resolved.right
        target = bound.get(`${host}|${addr.port}`) ?? bound.get(`|${addr.port}`) ??
          bound.get(`0.0.0.0|${addr.port}`) ?? bound.get(`::|${addr.port}`)
        remoteAddress = Address.format({ _tag: "InetAddress", network: addr.network, host, port: addr.port })
        const localPort = nextDialPort++
        if (nextDialPort > 65535) nextDialPort = 49152
        localAddress = Address.format({ _tag: "InetAddress", network: addr.network, host, port: localPort })
        if (target === undefined || target.listener.isClosed) {
          return Either.left(NetError.fromErrno(econnrefused, context))
        }
      }
      const size = dialOptions?.readBufferSize ?? readBufferSize
      const timer = clockTimer(clock)
      const toServer = new Pipe(target.readBufferSize, timer, faults)
      const toClient = new Pipe(size, timer, faults)
      const shortRead = faults?.hasShortReads === true ? faults.shortRead : undefined
      const client = new ConnImpl(
        endpoint(addr.network, localAddress, remoteAddress, toServer, toClient),
        timer,
        size,
        shortRead
      )
      const server = new ConnImpl(
        endpoint(addr.network, remoteAddress, localAddress, toClient, toServer),
        timer,
        target.readBufferSize,
        shortRead
      )
      toServer.receiver = server
      toClient.receiver = client
      toServer.onReset = () => client.fail(econnreset)
      toClient.onReset = () => server.fail(econnreset)
      if (!target.listener.push(server)) {
        return Either.left(NetError.fromErrno(econnrefused, context))
      }
      return Either.right(client)
    }

    const dial = (network: string, address: string, dialOptions?: Net.DialOptions) =>
      Effect.gen(function*() {
        const size = dialOptions?.readBufferSize
        if (size !== undefined) {
          const reason = invalidPositive("readBufferSize", size)
          if (reason !== undefined) return yield* invalid("dial", network, address, reason)
        }
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
}

/** One end of a memory connection: writes go out on `outgoing`, reads come from `incoming`. */
const endpoint = (
  network: Address.Network,
  localAddress: string,
  remoteAddress: string,
  outgoing: Pipe,
  incoming: Pipe
): ConnTransport => ({
  network,
  localAddress,
  remoteAddress,
  write: (data, done) => outgoing.write(data, done),
  closeWrite: (done) => outgoing.fin(done),
  pause: () => incoming.pause(),
  resume: () => incoming.resume(),
  close: (abort) => {
    outgoing.discard(abort)
    incoming.break(abort ? econnreset : epipe)
  }
})

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
