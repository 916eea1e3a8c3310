/**
 * Network addresses, written and checked as Go's `net` package writes them:
 *
 * ```text
 * tcp   "127.0.0.1:80"  "[::1]:8080"  "[fe80::1%eth0]:80"  "localhost:80"  ":80" (all interfaces)
 * unix  "/run/app.sock"
 * ```
 *
 * `parse` checks an address completely before any lookup or system call, so a malformed one
 * fails with `AddressError` and never reaches DNS or the OS. `format` writes the Go form back;
 * `format(parse(x))` is `x` for every address already in canonical form.
 *
 * The module imports no `node:` module: literal IPv4 and IPv6 validation is done here.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as NetError from "./NetError.js"

/**
 * The networks vvnet speaks, as Go names them: `tcp` (IPv4 or IPv6), `tcp4`, `tcp6`, and
 * `unix` (stream sockets on a file system path).
 *
 * @since 0.1.0
 * @category models
 */
export type Network = "tcp" | "tcp4" | "tcp6" | "unix"

/**
 * Every `Network`, in a fixed order: `["tcp", "tcp4", "tcp6", "unix"]`.
 *
 * @since 0.1.0
 * @category models
 */
export const networks: ReadonlyArray<Network> = Object.freeze(["tcp", "tcp4", "tcp6", "unix"] as const)

/**
 * An internet (TCP) address.
 *
 * - `network`: the network it was parsed for (`"tcp"`, `"tcp4"` or `"tcp6"`).
 * - `host`: `""` for all interfaces (listen) or the unspecified host (dial); an IPv4 literal
 *   (`"127.0.0.1"`); an IPv6 literal **without** brackets, zone kept (`"::1"`,
 *   `"fe80::1%eth0"`); or a host name, exactly as written (`"localhost"`, `"Example.COM."`).
 * - `port`: an integer in `0..65535`; `0` asks the OS for an ephemeral port.
 *
 * @since 0.1.0
 * @category models
 */
export interface InetAddress {
  readonly _tag: "InetAddress"
  readonly network: "tcp" | "tcp4" | "tcp6"
  readonly host: string
  readonly port: number
}

/**
 * A unix domain socket address: a non-empty file system path of at most `maxUnixPathBytes`
 * UTF-8 bytes, with no NUL byte.
 *
 * @since 0.1.0
 * @category models
 */
export interface UnixAddress {
  readonly _tag: "UnixAddress"
  readonly network: "unix"
  readonly path: string
}

/**
 * A parsed address, discriminated by `_tag`.
 *
 * @since 0.1.0
 * @category models
 */
export type Address = InetAddress | UnixAddress

/**
 * The longest unix socket path, in UTF-8 bytes. Linux's `sun_path` is 108 bytes including the
 * terminating NUL, so 107 bytes are left for the path.
 *
 * @since 0.1.0
 * @category models
 */
export const maxUnixPathBytes = 107

const isNetwork = (network: string): network is Network => (networks as ReadonlyArray<string>).includes(network)

/**
 * Go's `AddrError.Error()`: `address <addr>: <why>`, or just `<why>` when the address is empty.
 */
const addrReason = (address: string, why: string): string => address === "" ? why : `address ${address}: ${why}`

const addressError = (op: NetError.Op, network: string, address: string, reason: string): NetError.AddressError =>
  NetError.make("AddressError", { op, network, address, reason })

/**
 * Checks a network name. Anything other than one of `networks` fails with an `AddressError`
 * whose reason is Go's `unknown network <name>` (message: `dial tcpx: unknown network tcpx`);
 * its `address` is `""`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseNetwork = (network: string, op: NetError.Op): Either.Either<Network, NetError.AddressError> =>
  typeof network === "string" && isNetwork(network)
    ? Either.right(network)
    : Either.left(addressError(op, String(network), "", `unknown network ${String(network)}`))

/**
 * Splits `host:port`, `[host]:port` or `[host%zone]:port` into host and port, following Go's
 * `net.SplitHostPort` rule for rule: the port follows the last colon; a host with a colon must be
 * in brackets; brackets lose their brackets. It checks the shape only, not the parts (the port
 * may be empty or a name, the bracketed host anything).
 *
 * Fails with Go's reason text (without the `address X: ` prefix): `missing port in address`,
 * `too many colons in address`, `missing ']' in address`, `unexpected '[' in address`,
 * `unexpected ']' in address`.
 *
 * @example
 * ```ts
 * import { Address } from "@vvnet/core"
 * import * as Either from "effect/Either"
 *
 * assert.deepStrictEqual(Address.splitHostPort("[::1]:80"), Either.right(["::1", "80"]))
 * assert.deepStrictEqual(Address.splitHostPort("::1:80"), Either.left("too many colons in address"))
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const splitHostPort = (hostport: string): Either.Either<readonly [host: string, port: string], string> => {
  const missingPort = "missing port in address"
  const tooManyColons = "too many colons in address"
  const i = hostport.lastIndexOf(":")
  if (i < 0) return Either.left(missingPort)
  let host: string
  let j = 0
  let k = 0
  if (hostport[0] === "[") {
    const end = hostport.indexOf("]")
    if (end < 0) return Either.left("missing ']' in address")
    if (end + 1 === hostport.length) return Either.left(missingPort)
    if (end + 1 !== i) return Either.left(hostport[end + 1] === ":" ? tooManyColons : missingPort)
    host = hostport.slice(1, end)
    j = 1
    k = end + 1
  } else {
    host = hostport.slice(0, i)
    if (host.includes(":")) return Either.left(tooManyColons)
  }
  if (hostport.indexOf("[", j) >= 0) return Either.left("unexpected '[' in address")
  if (hostport.indexOf("]", k) >= 0) return Either.left("unexpected ']' in address")
  return Either.right([host, hostport.slice(i + 1)] as const)
}

/**
 * Joins host and port as Go's `net.JoinHostPort`: a host containing a colon (an IPv6 literal,
 * possibly with a zone) is put in brackets. No validation.
 *
 * @example
 * ```ts
 * import { Address } from "@vvnet/core"
 *
 * assert.strictEqual(Address.joinHostPort("127.0.0.1", 80), "127.0.0.1:80")
 * assert.strictEqual(Address.joinHostPort("fe80::1%eth0", 80), "[fe80::1%eth0]:80")
 * assert.strictEqual(Address.joinHostPort("", 80), ":80")
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const joinHostPort = (host: string, port: number | string): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

const isDigit = (c: number): boolean => c >= 48 && c <= 57

const isHexDigit = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)

/**
 * Exactly four decimal octets 0..255, no sign, no leading zero (as Go's `ParseIP`). One scan
 * over the characters, allocating nothing: every dial to an IP literal asks this twice.
 */
const isIPv4 = (s: string): boolean => {
  const n = s.length
  if (n < 7 || n > 15) return false
  let dots = 0
  let digits = 0 // in the current octet
  let value = 0 // of the current octet
  let zeroFirst = false // the current octet starts with 0
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c === 46) { // "."
      if (digits === 0 || dots === 3) return false
      dots++
      digits = 0
      value = 0
    } else if (isDigit(c)) {
      if (digits === 0) zeroFirst = c === 48
      else if (zeroFirst) return false
      value = value * 10 + (c - 48)
      digits++
      if (digits > 3 || value > 255) return false
    } else {
      return false
    }
  }
  return dots === 3 && digits > 0
}

/** The number of 16-bit groups in a `:`-separated run, or -1 when malformed. */
const countGroups = (run: string, allowIPv4Tail: boolean): number => {
  if (run === "") return 0
  const groups = run.split(":")
  let n = 0
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i] as string
    if (allowIPv4Tail && i === groups.length - 1 && group.includes(".")) {
      if (!isIPv4(group)) return -1
      n += 2
    } else {
      if (group.length === 0 || group.length > 4) return -1
      for (let c = 0; c < group.length; c++) {
        if (!isHexDigit(group.charCodeAt(c))) return -1
      }
      n += 1
    }
  }
  return n
}

/** RFC 4291 §2.2 text forms: eight groups, one `::` for one or more zero groups, IPv4 tail. */
const isIPv6NoZone = (s: string): boolean => {
  if (s.length < 2 || s.length > 45) return false
  const ellipsis = s.indexOf("::")
  if (ellipsis < 0) return countGroups(s, true) === 8
  if (s.indexOf("::", ellipsis + 1) >= 0) return false
  const head = countGroups(s.slice(0, ellipsis), false)
  const tail = countGroups(s.slice(ellipsis + 2), true)
  return head >= 0 && tail >= 0 && head + tail <= 7
}

/** A zone (interface name or index): printable ASCII without space, `%`, `/`, `:`, `[`, `]`. */
const isZone = (zone: string): boolean => {
  if (zone.length === 0) return false
  for (let i = 0; i < zone.length; i++) {
    const c = zone.charCodeAt(i)
    if (c <= 0x20 || c >= 0x7f) return false
    if (c === 0x25 || c === 0x2f || c === 0x3a || c === 0x5b || c === 0x5d) return false
  }
  return true
}

const isIPv6 = (s: string): boolean => {
  const percent = s.indexOf("%")
  return percent < 0 ? isIPv6NoZone(s) : isZone(s.slice(percent + 1)) && isIPv6NoZone(s.slice(0, percent))
}

const labelPattern = /^[A-Za-z0-9_-]{1,63}$/
const digitsPattern = /^[0-9]+$/

/**
 * A host name: 1..253 characters (one trailing dot allowed on top), dot-separated labels of
 * 1..63 characters from `[A-Za-z0-9_-]`. The last label must not be all digits (RFC 3696 §2), so
 * near-IPv4 text such as `256.1.1.1`, `127.1` or `010.0.0.1` is not taken for a name (a resolver
 * would read some of them as numbers).
 */
const isHostName = (s: string): boolean => {
  const name = s.endsWith(".") ? s.slice(0, -1) : s
  if (name.length < 1 || name.length > 253) return false
  const labels = name.split(".")
  for (const label of labels) {
    if (!labelPattern.test(label)) return false
  }
  return !digitsPattern.test(labels[labels.length - 1] as string)
}

/**
 * The IP version of a literal host: `4` for a dotted-quad IPv4 literal (four decimal octets
 * 0..255, no leading zeros), `6` for an IPv6 literal in any RFC 4291 text form (`::`, embedded
 * IPv4 tail, optional `%zone`; no brackets), `undefined` for anything else (host names, `""`,
 * bracketed text, malformed literals).
 *
 * @example
 * ```ts
 * import { Address } from "@vvnet/core"
 *
 * assert.strictEqual(Address.ipVersion("127.0.0.1"), 4)
 * assert.strictEqual(Address.ipVersion("fe80::1%eth0"), 6)
 * assert.strictEqual(Address.ipVersion("localhost"), undefined)
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const ipVersion = (host: string): 4 | 6 | undefined => isIPv4(host) ? 4 : isIPv6(host) ? 6 : undefined

/** Decimal digits only, 0..65535 (leading zeros allowed, as Go's `parsePort`). */
const parsePort = (s: string): number | undefined => {
  if (s.length === 0) return undefined
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (!isDigit(c)) return undefined
    n = n * 10 + (c - 48)
    if (n > 65535) return undefined
  }
  return n
}

const utf8 = new TextEncoder()

const hasLoneSurrogate = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0
      if (d >= 0xdc00 && d <= 0xdfff) i++
      else return true
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return true
    }
  }
  return false
}

/**
 * Parses and fully checks an address for a network, before any lookup or system call.
 *
 * - `tcp`, `tcp4`, `tcp6`: `host:port`, `[ipv6]:port`, `[ipv6%zone]:port`, `:port`. The shape
 *   follows Go's `net.SplitHostPort`; the port is decimal digits only, `0..65535` (no service
 *   names); the host is `""`, an IPv4 literal, an IPv6 literal (only inside brackets, and
 *   brackets only around one) or a host name. `tcp4` takes no IPv6 literal, `tcp6` no IPv4 one.
 *   The result is an `InetAddress` with the host as written, without brackets.
 * - `unix`: a non-empty path with no NUL byte, no unpaired surrogate, and at most
 *   `maxUnixPathBytes` UTF-8 bytes. The result is a `UnixAddress`.
 *
 * Fails with `AddressError` (`op`, `network` and `address` as given), whose reason is Go's
 * `AddrError` text where Go has one:
 *
 * ```text
 * unknown network tcpx
 * address ::1:80: too many colons in address
 * address [::1: missing ']' in address
 * address localhost: missing port in address
 * address 127.0.0.1:70000: invalid port
 * address [example.com]:80: not an IPv6 literal in brackets
 * address a b:80: invalid host
 * address [::1]:80: non-IPv4 address          (tcp4)
 * address 127.0.0.1:80: non-IPv6 address      (tcp6)
 * address /tmp/…: path too long (120 bytes, at most 107)
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (
  network: string,
  address: string,
  op: NetError.Op
): Either.Either<Address, NetError.AddressError> => {
  const known = typeof address === "string" ? parsed.get(network)?.get(address) : undefined
  if (known !== undefined) return Either.right(known)
  const result = parseNew(network, address, op)
  if (Either.isRight(result)) remember(result.right, address)
  return result
}

/**
 * Addresses parsed before, by network and text, frozen: a program dials and listens on a few
 * addresses over and over (a client dials its server's address for every connection), so
 * parsing each text once keeps that off the dial's path. At most `rememberedMax` per network,
 * forgotten all at once past that (a program that dials many addresses just parses them).
 */
const parsed = new Map<string, Map<string, Address>>(networks.map((network) => [network, new Map()]))
const rememberedMax = 256

const remember = (address: Address, text: string): void => {
  const known = parsed.get(address.network)!
  if (known.size >= rememberedMax) known.clear()
  known.set(text, Object.freeze(address))
}

const parseNew = (
  network: string,
  address: string,
  op: NetError.Op
): Either.Either<Address, NetError.AddressError> => {
  // arguments from untyped callers (vv, JavaScript): anything but a string is an AddressError
  if (typeof network !== "string") {
    return Either.left(addressError(op, String(network), String(address), `unknown network ${String(network)}`))
  }
  if (typeof address !== "string") {
    return Either.left(addressError(op, network, String(address), `address must be a string, got ${typeof address}`))
  }
  if (!isNetwork(network)) return Either.left(addressError(op, network, address, `unknown network ${network}`))
  const fail = (why: string) => Either.left(addressError(op, network, address, addrReason(address, why)))
  if (network === "unix") {
    if (address.length === 0) return fail("empty unix socket path")
    if (address.includes("\u0000")) return fail("unix socket path contains a NUL byte")
    if (hasLoneSurrogate(address)) return fail("unix socket path is not valid Unicode (unpaired surrogate)")
    const bytes = utf8.encode(address).length
    if (bytes > maxUnixPathBytes) return fail(`path too long (${bytes} bytes, at most ${maxUnixPathBytes})`)
    return Either.right({ _tag: "UnixAddress", network, path: address })
  }
  const split = splitHostPort(address)
  if (Either.isLeft(split)) return fail(split.left)
  const [host, portText] = split.right
  const port = parsePort(portText)
  if (port === undefined) return fail("invalid port")
  let version: 4 | 6 | undefined
  if (address.startsWith("[")) {
    if (!isIPv6(host)) return fail("not an IPv6 literal in brackets")
    version = 6
  } else if (host === "") {
    version = undefined
  } else if (isIPv4(host)) {
    version = 4
  } else if (isHostName(host)) {
    version = undefined
  } else {
    return fail("invalid host")
  }
  if (network === "tcp4" && version === 6) return fail("non-IPv4 address")
  if (network === "tcp6" && version === 4) return fail("non-IPv6 address")
  return Either.right({ _tag: "InetAddress", network, host, port })
}

/**
 * Writes an address in Go's form: `"127.0.0.1:80"`, `"[::1]:80"`, `"[fe80::1%eth0]:80"`,
 * `"localhost:80"`, `":80"` for the empty host (as Go's `net.JoinHostPort`), and the path for
 * a unix address. `parse(a.network, format(a))` gives back `a` for every valid address `a`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (address: Address): string =>
  address._tag === "UnixAddress" ? address.path : joinHostPort(address.host, address.port)
