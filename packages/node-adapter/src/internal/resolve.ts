import { Address, NetError } from "@vvnet/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Resolver } from "../NodeNet.js"
import type { Target } from "./target.js"

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
): Effect.Effect<readonly [Address.Address, Target], NetError.NetError> =>
  Effect.suspend((): Effect.Effect<readonly [Address.Address, Target], NetError.NetError> => {
    const dnsError = (host: string, code = "ENOTFOUND") =>
      NetError.fromErrno({ code, hostname: host }, { op, network, address }) as NetError.DnsError
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
      if (op === "listen") return Effect.succeed(target([family === 4 ? "0.0.0.0" : family === 6 ? "::" : ""]))
      return Effect.succeed(target([family === 6 ? "::1" : "127.0.0.1"]))
    }
    if (Address.ipVersion(addr.host) !== undefined) return Effect.succeed(target([addr.host]))
    const host = addr.host.endsWith(".") ? addr.host.slice(0, -1) : addr.host
    if (host.toLowerCase() === "invalid" || host.toLowerCase().endsWith(".invalid")) {
      return Effect.fail(dnsError(addr.host))
    }
    return resolver(host, family).pipe(
      Effect.mapError((e) => dnsError(addr.host, e.code ?? "ENOTFOUND")),
      Effect.flatMap((hosts) => {
        const usable = hosts.filter((h) => {
          const version = Address.ipVersion(h)
          return version !== undefined && (family === undefined || version === family)
        })
        return usable.length === 0 ? Effect.fail(dnsError(addr.host)) : Effect.succeed(target(usable))
      })
    )
  })
