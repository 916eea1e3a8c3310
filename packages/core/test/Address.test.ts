import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { isIP } from "node:net"
import * as Address from "../src/Address.js"
import type * as NetError from "../src/NetError.js"

const expectLeft = (result: Either.Either<Address.Address, NetError.AddressError>): NetError.AddressError => {
  if (Either.isRight(result)) throw new Error(`expected an AddressError, got ${JSON.stringify(result.right)}`)
  return result.left
}

const expectRight = (result: Either.Either<Address.Address, NetError.AddressError>): Address.Address => {
  if (Either.isLeft(result)) throw new Error(`expected an address, got ${result.left.message}`)
  return result.right
}

const bytes = (s: string): number => new TextEncoder().encode(s).length

describe("Address", () => {
  describe("parse: malformed addresses", () => {
    it("C10 malformed address forms fail with AddressError before any lookup", () => {
      const cases: ReadonlyArray<readonly [op: NetError.Op, network: string, address: string, message: string]> = [
        ["dial", "tcp", "::1:80", "dial tcp: address ::1:80: too many colons in address"],
        ["dial", "tcp", "[::1", "dial tcp: address [::1: missing ']' in address"],
        ["dial", "tcp", "[example.com]:80", "dial tcp: address [example.com]:80: not an IPv6 literal in brackets"],
        ["dial", "tcp", "127.0.0.1:70000", "dial tcp: address 127.0.0.1:70000: invalid port"],
        ["dial", "tcp", "localhost", "dial tcp: address localhost: missing port in address"],
        ["dial", "tcpx", "localhost:80", "dial tcpx: unknown network tcpx"],
        ["listen", "tcp", "::1:80", "listen tcp: address ::1:80: too many colons in address"],
        ["listen", "tcpx", "[::1]:0", "listen tcpx: unknown network tcpx"]
      ]
      for (const [op, network, address, message] of cases) {
        const error = expectLeft(Address.parse(network, address, op))
        expect(error._tag).toBe("AddressError")
        expect(error.op).toBe(op)
        expect(error.network).toBe(network)
        expect(error.address).toBe(address)
        expect(error.message).toBe(message)
      }
    })

    for (
      const [network, address, reason] of [
        ["tcp", "", "missing port in address"],
        ["tcp", ":", "address :: invalid port"],
        ["tcp", "localhost:", "invalid port"],
        ["tcp", "localhost:http", "invalid port"],
        ["tcp", "localhost:+80", "invalid port"],
        ["tcp", "localhost:-1", "invalid port"],
        ["tcp", "localhost:65536", "invalid port"],
        ["tcp", "localhost: 80", "invalid port"],
        ["tcp", "localhost:8.0", "invalid port"],
        ["tcp", "[::1]", "missing port in address"],
        ["tcp", "[::1]80", "missing port in address"],
        ["tcp", "[::1]:80:81", "too many colons in address"],
        ["tcp", "a[b:80", "unexpected '[' in address"],
        ["tcp", "a]b:80", "unexpected ']' in address"],
        ["tcp", "[::1]]:80", "missing port in address"],
        ["tcp", "[]:80", "not an IPv6 literal in brackets"],
        ["tcp", "[1.2.3.4]:80", "not an IPv6 literal in brackets"],
        ["tcp", "[::1%]:80", "not an IPv6 literal in brackets"],
        ["tcp", "[::1%a/b]:80", "not an IPv6 literal in brackets"],
        ["tcp", "[1::2::3]:80", "not an IPv6 literal in brackets"],
        ["tcp", "[1:2:3:4:5:6:7:8:9]:80", "not an IPv6 literal in brackets"],
        ["tcp", "[1:2:3:4:5:6:7]:80", "not an IPv6 literal in brackets"],
        ["tcp", "[1:2:3:4:5:6:7::8]:80", "not an IPv6 literal in brackets"],
        ["tcp", "[12345::]:80", "not an IPv6 literal in brackets"],
        ["tcp", "[::g]:80", "not an IPv6 literal in brackets"],
        ["tcp", "[:::]:80", "not an IPv6 literal in brackets"],
        ["tcp", "[1.2.3.4::]:80", "not an IPv6 literal in brackets"],
        ["tcp", "[::1.2.3.256]:80", "not an IPv6 literal in brackets"],
        ["tcp", "[::01.2.3.4]:80", "not an IPv6 literal in brackets"],
        ["tcp", "a b:80", "invalid host"],
        ["tcp", "a/b:80", "invalid host"],
        ["tcp", "user@host:80", "invalid host"],
        ["tcp", "a..b:80", "invalid host"],
        ["tcp", ".:80", "invalid host"],
        ["tcp", "example.com..:80", "invalid host"],
        ["tcp", `${"a".repeat(64)}.com:80`, "invalid host"],
        ["tcp", `${"a.".repeat(127)}ab:80`, "invalid host"],
        ["tcp", "256.1.1.1:80", "invalid host"],
        ["tcp", "127.1:80", "invalid host"],
        ["tcp", "010.0.0.1:80", "invalid host"],
        ["tcp", "1.2.3.4.5:80", "invalid host"],
        ["tcp", "+1.2.3.4:80", "invalid host"],
        ["tcp", "1.2.3.4%eth0:80", "invalid host"],
        ["tcp", "héllo:80", "invalid host"],
        ["tcp4", "[::1]:80", "non-IPv4 address"],
        ["tcp4", "[::ffff:1.2.3.4]:80", "non-IPv4 address"],
        ["tcp6", "127.0.0.1:80", "non-IPv6 address"],
        ["unix", "", "empty unix socket path"],
        ["unix", "/tmp/a\u0000b", "NUL byte"],
        ["unix", "/tmp/\ud800", "unpaired surrogate"],
        ["unix", `/${"a".repeat(107)}`, "path too long (108 bytes, at most 107)"],
        ["udp", "127.0.0.1:53", "unknown network udp"],
        ["", "127.0.0.1:53", "unknown network "],
        ["TCP", "127.0.0.1:53", "unknown network TCP"]
      ] as const
    ) {
      it(`${network} ${JSON.stringify(address)} fails: ${reason}`, () => {
        const error = expectLeft(Address.parse(network, address, "dial"))
        expect(error._tag).toBe("AddressError")
        expect(error.address).toBe(address)
        expect(error.network).toBe(network)
        expect(error.reason).toContain(reason)
        expect(error.message.startsWith(`dial ${network}`.trimEnd() + ":")).toBe(true)
      })
    }
  })

  describe("parse: valid addresses", () => {
    for (
      const [network, address, host, port] of [
        ["tcp", "127.0.0.1:0", "127.0.0.1", 0],
        ["tcp", "0.0.0.0:65535", "0.0.0.0", 65535],
        ["tcp", "255.255.255.255:1", "255.255.255.255", 1],
        ["tcp", "[::1]:8080", "::1", 8080],
        ["tcp", ":80", "", 80],
        ["tcp", ":0", "", 0],
        ["tcp", "localhost:80", "localhost", 80],
        ["tcp", "localhost.:80", "localhost.", 80],
        ["tcp", "Example.COM:443", "Example.COM", 443],
        ["tcp", "_srv.my-host.example:1", "_srv.my-host.example", 1],
        ["tcp", "1password.com:1", "1password.com", 1],
        ["tcp", `${"a".repeat(63)}.com:1`, `${"a".repeat(63)}.com`, 1],
        ["tcp", "[fe80::1%eth0]:80", "fe80::1%eth0", 80],
        ["tcp", "[fe80::1%25]:80", "fe80::1%25", 80],
        ["tcp", "[::ffff:1.2.3.4]:1", "::ffff:1.2.3.4", 1],
        ["tcp", "[::]:80", "::", 80],
        ["tcp", "[::1.2.3.4]:80", "::1.2.3.4", 80],
        ["tcp", "[1:2:3:4:5:6:7:8]:80", "1:2:3:4:5:6:7:8", 80],
        ["tcp", "[1:2:3:4:5:6:1.2.3.4]:80", "1:2:3:4:5:6:1.2.3.4", 80],
        ["tcp", "[1::]:80", "1::", 80],
        ["tcp", "[1:2:3:4:5:6:7::]:80", "1:2:3:4:5:6:7::", 80],
        ["tcp", "[::2:3:4:5:6:7:8]:80", "::2:3:4:5:6:7:8", 80],
        ["tcp", "[2001:DB8:0000:0:0:0:0:1]:80", "2001:DB8:0000:0:0:0:0:1", 80],
        ["tcp4", "127.0.0.1:80", "127.0.0.1", 80],
        ["tcp4", "localhost:80", "localhost", 80],
        ["tcp4", ":80", "", 80],
        ["tcp6", "[::1]:80", "::1", 80],
        ["tcp6", "localhost:80", "localhost", 80],
        ["tcp6", ":80", "", 80]
      ] as const
    ) {
      it(`${network} ${address}`, () => {
        const parsed = expectRight(Address.parse(network, address, "listen"))
        expect(parsed).toStrictEqual({ _tag: "InetAddress", network, host, port })
        expect(Address.format(parsed)).toBe(address)
      })
    }

    it("normalises a port with leading zeros to Go's canonical form", () => {
      const parsed = expectRight(Address.parse("tcp", "localhost:0080", "dial"))
      expect(parsed).toStrictEqual({ _tag: "InetAddress", network: "tcp", host: "localhost", port: 80 })
      expect(Address.format(parsed)).toBe("localhost:80")
    })

    it("unix paths up to exactly 107 bytes", () => {
      for (const path of ["/tmp/vvnet.sock", "relative.sock", "@abstract-looking", `/${"a".repeat(106)}`]) {
        const parsed = expectRight(Address.parse("unix", path, "listen"))
        expect(parsed).toStrictEqual({ _tag: "UnixAddress", network: "unix", path })
        expect(Address.format(parsed)).toBe(path)
      }
      expect(bytes(`/${"a".repeat(106)}`)).toBe(Address.maxUnixPathBytes)
    })

    it("unix path limit counts UTF-8 bytes, not characters", () => {
      const fits = `/tmp/${"é".repeat(51)}` // 5 + 102 = 107 bytes, 56 chars
      expect(bytes(fits)).toBe(107)
      expect(Either.isRight(Address.parse("unix", fits, "dial"))).toBe(true)
      const over = `/tmp/${"é".repeat(52)}` // 109 bytes, 57 chars
      expect(over.length).toBeLessThan(107)
      const error = expectLeft(Address.parse("unix", over, "dial"))
      expect(error.reason).toBe(`address ${over}: path too long (109 bytes, at most 107)`)
      const emoji = `/${"😀".repeat(27)}` // 1 + 108 bytes, 55 UTF-16 units
      expect(error._tag).toBe("AddressError")
      expect(Either.isLeft(Address.parse("unix", emoji, "dial"))).toBe(true)
    })
  })

  describe("parseNetwork", () => {
    it("accepts every network and rejects others", () => {
      for (const network of Address.networks) {
        expect(Address.parseNetwork(network, "dial")).toStrictEqual(Either.right(network))
      }
      const error = Either.getLeft(Address.parseNetwork("unixgram", "listen"))
      expect(error._tag).toBe("Some")
      if (error._tag === "Some") {
        expect(error.value._tag).toBe("AddressError")
        expect(error.value.message).toBe("listen unixgram: unknown network unixgram")
      }
    })
  })

  describe("splitHostPort / joinHostPort", () => {
    for (
      const [hostport, host, port] of [
        ["host:80", "host", "80"],
        [":80", "", "80"],
        ["[::1]:80", "::1", "80"],
        ["[fe80::1%eth0]:http", "fe80::1%eth0", "http"],
        ["host:", "host", ""],
        ["[]:", "", ""]
      ] as const
    ) {
      it(`splits ${hostport}`, () => {
        expect(Address.splitHostPort(hostport)).toStrictEqual(Either.right([host, port]))
      })
    }

    for (
      const [hostport, reason] of [
        ["host", "missing port in address"],
        ["", "missing port in address"],
        ["::1:80", "too many colons in address"],
        ["[::1", "missing ']' in address"],
        ["[::1]", "missing port in address"],
        ["[::1]x:80", "missing port in address"],
        ["[::1]:80:80", "too many colons in address"],
        ["[a[b]:80", "unexpected '[' in address"],
        ["a]:80", "unexpected ']' in address"]
      ] as const
    ) {
      it(`rejects ${JSON.stringify(hostport)}: ${reason}`, () => {
        expect(Address.splitHostPort(hostport)).toStrictEqual(Either.left(reason))
      })
    }

    it("joinHostPort brackets hosts with a colon", () => {
      expect(Address.joinHostPort("127.0.0.1", 80)).toBe("127.0.0.1:80")
      expect(Address.joinHostPort("::1", "80")).toBe("[::1]:80")
      expect(Address.joinHostPort("fe80::1%eth0", 0)).toBe("[fe80::1%eth0]:0")
      expect(Address.joinHostPort("", 80)).toBe(":80")
    })
  })

  describe("ipVersion", () => {
    for (
      const [host, version] of [
        ["127.0.0.1", 4],
        ["0.0.0.0", 4],
        ["255.255.255.255", 4],
        ["256.0.0.1", undefined],
        ["1.2.3", undefined],
        ["1.2.3.4.5", undefined],
        ["01.2.3.4", undefined],
        ["1.2.3.4 ", undefined],
        ["+1.2.3.4", undefined],
        ["1.2.3.-4", undefined],
        ["::", 6],
        ["::1", 6],
        ["1::", 6],
        ["fe80::1%eth0", 6],
        ["fe80::1%1", 6],
        ["::ffff:1.2.3.4", 6],
        ["64:ff9b::192.0.2.33", 6],
        ["2001:db8::ff00:42:8329", 6],
        ["2001:0DB8:0000:0000:0000:FF00:0042:8329", 6],
        ["1:2:3:4:5:6:7:8", 6],
        ["1:2:3:4:5:6:7:8:9", undefined],
        ["1:2:3:4:5:6:7", undefined],
        ["1:2:3:4:5:6:7::8", undefined],
        ["1::2::3", undefined],
        [":::", undefined],
        [":1::", undefined],
        ["::1:", undefined],
        ["12345::", undefined],
        ["::1.2.3.4:5", undefined],
        ["1.2.3.4::", undefined],
        ["::1%", undefined],
        ["::1%a%b", undefined],
        ["[::1]", undefined],
        ["", undefined],
        ["localhost", undefined],
        ["example.com", undefined]
      ] as const
    ) {
      it(`${JSON.stringify(host)} → ${version}`, () => {
        expect(Address.ipVersion(host)).toBe(version)
      })
    }

    it("agrees with node:net isIP on zone-less input", () => {
      const chars = FastCheck.constantFrom(..."0123456789abcdefABCDEFg:.:::%")
      const text = FastCheck.oneof(
        FastCheck.string({ unit: chars, maxLength: 45 }),
        FastCheck.ipV4(),
        FastCheck.ipV6(),
        FastCheck.ipV4Extended(),
        FastCheck.string()
      )
      FastCheck.assert(
        FastCheck.property(text.filter((s) => !s.includes("%")), (s) => {
          const expected = isIP(s)
          expect(Address.ipVersion(s) ?? 0).toBe(expected)
        }),
        { numRuns: 5000 }
      )
    })
  })

  describe("properties", () => {
    const isHostName = (s: string) =>
      s.length <= 253 && s.split(".").every((l) => /^[A-Za-z0-9_-]{1,63}$/.test(l)) &&
      !/^[0-9]+$/.test(s.split(".").at(-1)!)

    const zone = FastCheck.stringMatching(/^[A-Za-z0-9._~-]{1,15}$/)
    const port = FastCheck.integer({ min: 0, max: 65535 })
    type InetNetwork = Address.InetAddress["network"]
    const inet: FastCheck.Arbitrary<Address.InetAddress> = FastCheck.oneof(
      FastCheck.record({ network: FastCheck.constantFrom<InetNetwork>("tcp", "tcp4"), host: FastCheck.ipV4() }),
      FastCheck.record({
        network: FastCheck.constantFrom<InetNetwork>("tcp", "tcp6"),
        host: FastCheck.oneof(
          FastCheck.ipV6(),
          FastCheck.tuple(FastCheck.ipV6(), zone).map(([ip, z]) => `${ip}%${z}`)
        )
      }),
      FastCheck.record({
        network: FastCheck.constantFrom<InetNetwork>("tcp", "tcp4", "tcp6"),
        host: FastCheck.oneof(
          FastCheck.constant(""),
          FastCheck.constant("localhost"),
          FastCheck.domain().filter(isHostName),
          FastCheck.domain().filter(isHostName).map((d) => `${d}.`)
        )
      })
    ).chain(({ host, network }) =>
      port.map((p): Address.InetAddress => ({ _tag: "InetAddress", network, host, port: p }))
    )
    const unix: FastCheck.Arbitrary<Address.UnixAddress> = FastCheck.string({
      unit: "binary",
      minLength: 1,
      maxLength: 107
    })
      .filter((s) => !s.includes("\u0000") && bytes(s) <= Address.maxUnixPathBytes)
      .map((path) => ({ _tag: "UnixAddress", network: "unix", path }))
    const address: FastCheck.Arbitrary<Address.Address> = FastCheck.oneof(inet, unix)

    it("generated hosts satisfy the host rule", () => {
      FastCheck.assert(
        FastCheck.property(inet, (a) => {
          const v = Address.ipVersion(a.host)
          expect(a.host === "" || v !== undefined || isHostName(a.host.replace(/\.$/, ""))).toBe(true)
        })
      )
    })

    it.prop("parse ∘ format is the identity on valid addresses", [address], ([a]) => {
      const text = Address.format(a)
      const parsed = expectRight(Address.parse(a.network, text, "dial"))
      expect(parsed).toStrictEqual(a)
      expect(Address.format(parsed)).toBe(text)
    }, { fastCheck: { numRuns: 2000 } })

    it.prop("splitHostPort ∘ joinHostPort roundtrips", [inet], ([a]) => {
      const joined = Address.joinHostPort(a.host, a.port)
      expect(Address.splitHostPort(joined)).toStrictEqual(Either.right([a.host, String(a.port)]))
    }, { fastCheck: { numRuns: 1000 } })

    const network = FastCheck.constantFrom(...Address.networks, "tcpx", "", "udp")
    const tricky = FastCheck.string({
      unit: FastCheck.constantFrom(..."[]:%.0123456789abcdefx -_/@", "\u0000", "é", "\ud800"),
      maxLength: 60
    })
    const anyText = FastCheck.oneof(
      tricky,
      FastCheck.string(),
      FastCheck.string({ unit: "binary" }),
      FastCheck.string({ unit: "grapheme", maxLength: 200 })
    )

    it.prop("bad input never throws, and anything accepted is stable under format", [network, anyText], ([n, s]) => {
      const result = Address.parse(n, s, "dial")
      expect(Either.isEither(result)).toBe(true)
      expect(Either.isEither(Address.splitHostPort(s))).toBe(true)
      expect([4, 6, undefined]).toContain(Address.ipVersion(s))
      if (Either.isLeft(result)) {
        expect(result.left._tag).toBe("AddressError")
        expect(result.left.address).toBe(s)
        expect(typeof result.left.message).toBe("string")
      } else {
        const text = Address.format(result.right)
        expect(Address.parse(n, text, "dial")).toStrictEqual(Either.right(result.right))
      }
    }, { fastCheck: { numRuns: 5000 } })
  })
})
