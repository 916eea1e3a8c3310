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
import { Net, NetError } from "@vvnet/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Dns from "node:dns"
import * as internalDial from "./internal/dial.js"
import * as internalListen from "./internal/listen.js"

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

const plainDialer = () => internalDial.plainDialer
const plainServerKind = Effect.succeed(internalListen.plainServer)

/**
 * Makes the `Net` service over node:net.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Net.Net["Type"] => {
  const resolver = options?.resolver ?? systemResolver
  const service: Net.Net["Type"] & { readonly [Net.DialCallbackTypeId]: Net.DialCallback } = {
    dial: (network, address, dialOptions) =>
      internalDial.dial(resolver, network, address, dialOptions, undefined, plainDialer),
    listen: (network, address, listenOptions) =>
      internalListen.listen(resolver, network, address, listenOptions, plainServerKind),
    // `Net.dialCallback`: the same dial, reported through a callback (hosts outside Effect)
    [Net.DialCallbackTypeId]: (network, address, dialOptions, callback) =>
      internalDial.dialCallback(network, address, dialOptions, undefined, plainDialer, callback)
  }
  return Net.Net.of(service)
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
