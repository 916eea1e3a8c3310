import { Address, NetError } from "@vvnet/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Resolver } from "../NodeNet.js"
import type { Target } from "./target.js"

/** @internal A parsed address and where it goes. */
export type Resolved = readonly [Address.Address, Target]

/** @internal A host name that only a resolver can turn into IP literals. */
export interface Lookup {
  readonly _tag: "Lookup"
  readonly addr: Address.InetAddress
  /** the name to ask for: `addr.host` without a trailing dot */
  readonly host: string
  readonly family: 4 | 6 | undefined
}

const dnsError = (op: "dial" | "listen", network: string, address: string, host: string, code = "ENOTFOUND") =>
  NetError.fromErrno({ code, hostname: host }, { op, network, address }) as NetError.DnsError

const inet = (addr: Address.InetAddress, hosts: ReadonlyArray<string>): Resolved => [
  addr,
  { kind: "inet", hosts, port: addr.port, path: "" }
]

/**
 * @internal
 * The synchronous part of Go's resolution step: parses the address and settles everything that
 * needs no resolver (a unix path, an empty host, an IP literal, a name under `.invalid`), so a
 * dial to a literal address spends no Effect step on it. Returns what the address resolves to,
 * the `NetError` to fail with, or the `Lookup` a resolver must answer (`lookup`).
 */
export const resolveNow = (
  op: "dial" | "listen",
  network: string,
  address: string
): Resolved | NetError.NetError | Lookup => {
  const parsed = Address.parse(network, address, op)
  if (Either.isLeft(parsed)) return parsed.left
  const addr = parsed.right
  if (addr._tag === "UnixAddress") return [addr, { kind: "unix", hosts: [], port: 0, path: addr.path }]
  const family = addr.network === "tcp4" ? 4 : addr.network === "tcp6" ? 6 : undefined
  if (addr.host === "") {
    if (op === "listen") return inet(addr, [family === 4 ? "0.0.0.0" : family === 6 ? "::" : ""])
    return inet(addr, [family === 6 ? "::1" : "127.0.0.1"])
  }
  if (Address.ipVersion(addr.host) !== undefined) return inet(addr, [addr.host])
  const host = addr.host.endsWith(".") ? addr.host.slice(0, -1) : addr.host
  if (host.toLowerCase() === "invalid" || host.toLowerCase().endsWith(".invalid")) {
    return dnsError(op, network, address, addr.host)
  }
  return { _tag: "Lookup", addr, host, family }
}

/**
 * @internal
 * Asks `resolver` for a `Lookup`'s host name, keeping the IP literals of the network's family.
 * No socket exists yet, so interruption here leaks nothing.
 */
export const lookup = (
  resolver: Resolver,
  op: "dial" | "listen",
  network: string,
  address: string,
  { addr, family, host }: Lookup
): Effect.Effect<Resolved, NetError.NetError> =>
  resolver(host, family).pipe(
    Effect.mapError((e) => dnsError(op, network, address, addr.host, e.code ?? "ENOTFOUND")),
    Effect.flatMap((hosts) => {
      const usable = hosts.filter((h) => {
        const version = Address.ipVersion(h)
        return version !== undefined && (family === undefined || version === family)
      })
      return usable.length === 0
        ? Effect.fail(dnsError(op, network, address, addr.host))
        : Effect.succeed(inet(addr, usable))
    })
  )

/** @internal `resolveNow`'s answer when the address resolved without a resolver. */
export const isResolved = (now: Resolved | NetError.NetError | Lookup): now is Resolved => Array.isArray(now)

/** @internal What `resolveNow` returned, as an Effect: a literal's outcome at once, a name through `lookup`. */
export const resolveWith = (
  resolver: Resolver,
  op: "dial" | "listen",
  network: string,
  address: string,
  now: Resolved | NetError.NetError | Lookup
): Effect.Effect<Resolved, NetError.NetError> =>
  isResolved(now)
    ? Effect.succeed(now)
    : now._tag === "Lookup"
    ? lookup(resolver, op, network, address, now)
    : Effect.fail(now)

/**
 * @internal
 * Go's resolution step of Dial and Listen, for NodeNet and NodeTls alike: parses the address,
 * resolves a host name with `resolver` to IP literals of the network's family. No socket exists
 * yet, so interruption here leaks nothing.
 */
export const resolveTarget = (
  resolver: Resolver,
  op: "dial" | "listen",
  network: string,
  address: string
): Effect.Effect<Resolved, NetError.NetError> =>
  Effect.suspend(() => resolveWith(resolver, op, network, address, resolveNow(op, network, address)))
