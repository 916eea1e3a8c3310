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
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import Cluster from "node:cluster"
import * as Dns from "node:dns"
import { DialAttempt } from "./internal/dial.js"
import { ListenAttempt } from "./internal/listen.js"
import { owned } from "./internal/owned.js"
import * as internalResolve from "./internal/resolve.js"
import { prepareUnixPath } from "./internal/unixSocketFile.js"

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

const invalid = (op: NetError.Op, network: string, address: string, reason: string) =>
  NetError.make("InvalidArgument", { op, network, address, reason })

/**
 * Makes the `Net` service over node:net.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Net.Net["Type"] => {
  const resolver = options?.resolver ?? systemResolver

  /** Parses and resolves; no socket exists yet, so interruption here leaks nothing. */
  const resolveTarget = (op: "dial" | "listen", network: string, address: string) =>
    internalResolve.resolveTarget(resolver, op, network, address)

  const dial = (
    network: string,
    address: string,
    dialOptions?: Net.DialOptions
  ): Effect.Effect<Conn.Conn, NetError.NetError, Scope.Scope> =>
    // flatMap rather than a generator: dial is on every connection's path
    Effect.flatMap(
      Effect.suspend(() => {
        const bad = Transport.validateDialOptions(network, address, dialOptions)
        return bad !== undefined ? Effect.fail(bad) : resolveTarget("dial", network, address)
      }),
      ([addr, target]) => {
        let local: { host: string; port: number } | undefined
        if (dialOptions?.localAddress !== undefined && target.kind === "inet") {
          const parsedLocal = Address.parse(addr.network, dialOptions.localAddress, "dial")
          // node:net binds IP literals only (a host name there throws): no lookup for a local address
          if (
            Either.isLeft(parsedLocal) || parsedLocal.right._tag !== "InetAddress" ||
            (parsedLocal.right.host !== "" && Address.ipVersion(parsedLocal.right.host) === undefined)
          ) {
            return Effect.fail(
              invalid("dial", network, address, `invalid argument: local address ${dialOptions.localAddress}`)
            )
          }
          local = { host: parsedLocal.right.host, port: parsedLocal.right.port }
        }
        return owned(new DialAttempt(addr.network, network, address, target, local, dialOptions))
      }
    )

  const listen = (
    network: string,
    address: string,
    listenOptions?: Net.ListenOptions
  ): Effect.Effect<Listener.Listener, NetError.NetError, Scope.Scope> =>
    Effect.gen(function*() {
      const bad = Transport.validateListenOptions(network, address, listenOptions)
      if (bad !== undefined) return yield* bad
      const [addr, target] = yield* resolveTarget("listen", network, address)
      if (target.kind === "unix") {
        // in a node:cluster worker the primary binds the path and shares it between the workers
        yield* prepareUnixPath(
          network,
          address,
          target.path,
          listenOptions?.reclaimStaleSocket === true,
          Cluster.isWorker && listenOptions?.exclusive !== true
        )
      }
      return yield* owned(new ListenAttempt(addr.network, network, address, target, listenOptions))
    })

  return Net.Net.of({ dial, listen })
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
