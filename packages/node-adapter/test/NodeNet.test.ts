/**
 * NodeNet-specific behaviour on real sockets (loopback and unix sockets in a temp dir only):
 * Go-format error messages, the injectable resolver, dial and listen options, address forms
 * that only a real network has (`:0` on all interfaces), and a 64 MiB write under backpressure.
 */
import { describe, expect, it } from "@effect/vitest"
import { Conn, Net, NetError } from "@vvnet/core"
import { NodeNet } from "@vvnet/node-adapter"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { failureOf, MiB, tagOf, text } from "./helpers.js"

const timeout = 60_000
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-node-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0

const portOf = (address: string) => Number(address.slice(address.lastIndexOf(":") + 1))

/** Listens on 127.0.0.1:0 and dials it; both ends and the listener live in the current Scope. */
const pair = (network = "tcp", address = "127.0.0.1:0") =>
  Effect.gen(function*() {
    const listener = yield* Net.listen(network, address)
    const client = yield* Net.dial(network, listener.address)
    const server = yield* listener.accept
    return { listener, client, server }
  })

/** A resolver that answers from a table and records every lookup. */
const recordingResolver = (table: Record<string, ReadonlyArray<string> | NetError.DnsError>) => {
  const lookups: Array<readonly [string, 4 | 6 | undefined]> = []
  const resolver: NodeNet.Resolver = (host, family) =>
    Effect.suspend(() => {
      lookups.push([host, family])
      const answer = table[host]
      if (answer === undefined) {
        return Effect.fail(
          NetError.make("DnsError", {
            op: "dial",
            network: "",
            address: host,
            code: "ENOTFOUND",
            reason: `lookup ${host}: no such host`
          })
        )
      }
      return Array.isArray(answer) ? Effect.succeed(answer) : Effect.fail(answer as NetError.DnsError)
    })
  return { lookups, layer: NodeNet.layerWith({ resolver }) }
}

describe("NodeNet: Go-format error messages", () => {
  it.scopedLive("a refused dial: dial tcp 127.0.0.1:1: connect: connection refused", () =>
    Effect.gen(function*() {
      const error = failureOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp", "127.0.0.1:1"))))
      expect(error._tag).toBe("ConnectionRefused")
      expect(error.message).toBe("dial tcp 127.0.0.1:1: connect: connection refused")
      expect(error).toMatchObject({
        op: "dial",
        network: "tcp",
        address: "127.0.0.1:1",
        code: "ECONNREFUSED",
        syscall: "connect"
      })
      const tcp4 = failureOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp4", "127.0.0.1:1"))))
      expect(tcp4.message).toBe("dial tcp4 127.0.0.1:1: connect: connection refused")
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive(
    "a read past its deadline: read tcp 127.0.0.1:A->127.0.0.1:B: i/o timeout",
    () =>
      Effect.gen(function*() {
        const { client, listener, server } = yield* pair()
        expect(client.remoteAddress).toBe(listener.address)
        expect(client.localAddress).toMatch(/^127\.0\.0\.1:\d+$/)
        expect(server.remoteAddress).toBe(client.localAddress)
        expect(server.localAddress).toBe(listener.address)
        yield* client.setReadTimeout(50)
        const error = failureOf(yield* Effect.exit(client.read(10)))
        expect(error._tag).toBe("Timeout")
        expect(error.message).toMatch(/^read tcp 127\.0\.0\.1:\d+->127\.0\.0\.1:\d+: i\/o timeout$/)
        expect(error.message).toBe(`read tcp ${client.localAddress}->${listener.address}: i/o timeout`)
        expect(NetError.isTimeout(error)).toBe(true)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive("a write past its deadline: write tcp A->B: i/o timeout", () =>
    Effect.gen(function*() {
      const { client } = yield* pair()
      yield* client.setWriteTimeout(200)
      const error = failureOf(yield* Effect.exit(client.write(new Uint8Array(64 * MiB))))
      expect(error.message).toBe(`write tcp ${client.localAddress}->${client.remoteAddress}: i/o timeout`)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("operations after close: use of closed network connection", () =>
    Effect.gen(function*() {
      const { client, listener, server } = yield* pair()
      const ends = `${client.localAddress}->${client.remoteAddress}`
      yield* client.close
      expect(failureOf(yield* Effect.exit(client.read(1))).message).toBe(
        `read tcp ${ends}: use of closed network connection`
      )
      expect(failureOf(yield* Effect.exit(client.write("x"))).message).toBe(
        `write tcp ${ends}: use of closed network connection`
      )
      expect(failureOf(yield* Effect.exit(client.setReadTimeout(1))).message)
        .toBe(`set_read_timeout tcp ${ends}: use of closed network connection`)
      yield* listener.close
      const accept = failureOf(yield* Effect.exit(Effect.scoped(listener.accept)))
      expect(accept._tag).toBe("Closed")
      expect(accept.message).toBe(`accept tcp ${listener.address}: use of closed network connection`)
      // the peer of the closed client sees EOF, not an error
      expect((yield* server.read(1)).length).toBe(0)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("unix: Go-format messages name the socket path", () =>
    Effect.gen(function*() {
      const path = Path.join(dir, `m${++sockets}.sock`)
      const missing = failureOf(yield* Effect.exit(Effect.scoped(Net.dial("unix", path))))
      expect(missing.message).toBe(`dial unix ${path}: connect: no such file or directory`)
      const { client } = yield* pair("unix", path)
      expect(client.remoteAddress).toBe(path)
      yield* client.close
      expect(failureOf(yield* Effect.exit(client.read(1))).message).toMatch(
        new RegExp(`^read unix .*${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: use of closed network connection$`)
      )
    }).pipe(Effect.provide(NodeNet.layer)), timeout)
})

describe("NodeNet: the injected resolver", () => {
  it.scopedLive("C10 malformed addresses and .invalid names make no lookup", () => {
    const { layer, lookups } = recordingResolver({})
    return Effect.gen(function*() {
      for (const address of ["::1:80", "[::1", "[example.com]:80", "127.0.0.1:70000", "localhost", "a b:80", ""]) {
        expect(tagOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp", address)))), address).toBe("AddressError")
        expect(tagOf(yield* Effect.exit(Effect.scoped(Net.listen("tcp", address)))), address).toBe("AddressError")
      }
      expect(tagOf(yield* Effect.exit(Effect.scoped(Net.dial("tcpx", "example.test:80"))))).toBe("AddressError")
      for (const address of ["no-such-host.invalid:80", "x.INVALID.:80", "invalid:80", "a.b.invalid:443"]) {
        const error = failureOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp", address))))
        expect(error._tag, address).toBe("DnsError")
      }
      expect(failureOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp", "no-such-host.invalid:80")))).message)
        .toBe("dial tcp: lookup no-such-host.invalid: no such host")
      expect(lookups).toEqual([])
    }).pipe(Effect.provide(layer))
  }, timeout)

  it.scopedLive("a name with two addresses, the first refusing, falls back to the second", () => {
    const { layer, lookups } = recordingResolver({ "two.test": ["127.0.0.2", "127.0.0.1"] })
    return Effect.gen(function*() {
      // bound to 127.0.0.1 only, so 127.0.0.2:<port> refuses
      const listener = yield* Net.listen("tcp", "127.0.0.1:0")
      const port = portOf(listener.address)
      const client = yield* Net.dial("tcp", `two.test:${port}`)
      expect(client.remoteAddress).toBe(`127.0.0.1:${port}`)
      const server = yield* listener.accept
      yield* client.write("fell back")
      expect(text(yield* Conn.readFull(server, 9))).toBe("fell back")
      expect(lookups).toEqual([["two.test", undefined]])
    }).pipe(Effect.provide(layer))
  }, timeout)

  it.scopedLive("when every address refuses, the dial fails with ConnectionRefused", () => {
    const { layer } = recordingResolver({ "none.test": ["127.0.0.2", "127.0.0.3"] })
    return Effect.gen(function*() {
      const error = failureOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp", "none.test:1"))))
      expect(error._tag).toBe("ConnectionRefused")
      expect(error.message).toMatch(/^dial tcp .*: connect: connection refused$/)
    }).pipe(Effect.provide(layer))
  }, timeout)

  it.scopedLive("tcp4 asks for IPv4 and filters out IPv6 answers; tcp6 the other way", () => {
    const { layer, lookups } = recordingResolver({
      "dual.test": ["::1", "127.0.0.1"],
      "v6only.test": ["::1"],
      "v4only.test": ["127.0.0.1"]
    })
    return Effect.gen(function*() {
      const listener = yield* Net.listen("tcp4", "127.0.0.1:0")
      const port = portOf(listener.address)
      const client = yield* Net.dial("tcp4", `dual.test:${port}`)
      expect(client.remoteAddress).toBe(`127.0.0.1:${port}`)
      expect(client.network).toBe("tcp4")
      const v6only = failureOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp4", `v6only.test:${port}`))))
      expect(v6only._tag).toBe("DnsError")
      expect(v6only.message).toBe("dial tcp4: lookup v6only.test: no such host")
      const v4only = failureOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp6", `v4only.test:${port}`))))
      expect(v4only._tag).toBe("DnsError")
      expect(lookups).toEqual([["dual.test", 4], ["v6only.test", 4], ["v4only.test", 6]])
    }).pipe(Effect.provide(layer))
  }, timeout)

  it.scopedLive(
    "resolver failures keep their code; a trailing dot is not sent; an answer that is not an IP is ignored",
    () => {
      const { layer, lookups } = recordingResolver({
        "flaky.test": NetError.make("DnsError", {
          op: "dial",
          network: "",
          address: "flaky.test",
          code: "EAI_AGAIN",
          reason: "lookup flaky.test: temporary failure in name resolution"
        }),
        "dot.test": ["127.0.0.1"],
        "name.test": ["localhost"],
        "empty.test": []
      })
      return Effect.gen(function*() {
        const listener = yield* Net.listen("tcp", "127.0.0.1:0")
        const port = portOf(listener.address)
        const flaky = failureOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp", `flaky.test:${port}`))))
        expect(flaky).toMatchObject({ _tag: "DnsError", code: "EAI_AGAIN" })
        expect(flaky.message).toBe("dial tcp: lookup flaky.test: temporary failure in name resolution")
        const dotted = yield* Net.dial("tcp", `dot.test.:${port}`)
        expect(dotted.remoteAddress).toBe(`127.0.0.1:${port}`)
        // a resolver answers with IP literals; a host name in its answer must not reach the
        // system resolver (node:net would look it up)
        expect(tagOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp", `name.test:${port}`))))).toBe("DnsError")
        expect(tagOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp", `empty.test:${port}`))))).toBe("DnsError")
        expect(tagOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp", `unknown.test:${port}`))))).toBe("DnsError")
        expect(lookups.map(([host]) => host)).toEqual([
          "flaky.test",
          "dot.test",
          "name.test",
          "empty.test",
          "unknown.test"
        ])
      }).pipe(Effect.provide(layer))
    },
    timeout
  )

  it.scopedLive("IP literals and the empty host make no lookup", () => {
    const { layer, lookups } = recordingResolver({})
    return Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", "127.0.0.1:0")
      const port = portOf(listener.address)
      const literal = yield* Net.dial("tcp", `127.0.0.1:${port}`)
      // Go: an empty host dials the local system
      const empty = yield* Net.dial("tcp", `:${port}`)
      expect(empty.remoteAddress).toBe(`127.0.0.1:${port}`)
      expect(literal.remoteAddress).toBe(`127.0.0.1:${port}`)
      expect(lookups).toEqual([])
    }).pipe(Effect.provide(layer))
  }, timeout)
})

describe("NodeNet: dial options", () => {
  it.scopedLive("localAddress 127.0.0.2:0 binds the connection's local end to 127.0.0.2", () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", "127.0.0.1:0")
      const client = yield* Net.dial("tcp", listener.address, { localAddress: "127.0.0.2:0" })
      expect(client.localAddress).toMatch(/^127\.0\.0\.2:[1-9]\d*$/)
      const server = yield* listener.accept
      expect(server.remoteAddress).toBe(client.localAddress)
      yield* client.write("from .2")
      expect(text(yield* Conn.readFull(server, 7))).toBe("from .2")
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive(
    "timeout: a dial that connects in time succeeds; a refused one is still ConnectionRefused",
    () =>
      Effect.gen(function*() {
        const listener = yield* Net.listen("tcp", "127.0.0.1:0")
        const client = yield* Net.dial("tcp", listener.address, { timeout: 10_000 })
        const server = yield* listener.accept
        yield* client.write("in time")
        expect(text(yield* Conn.readFull(server, 7))).toBe("in time")
        expect(tagOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp", "127.0.0.1:1", { timeout: 10_000 })))))
          .toBe("ConnectionRefused")
        // 0 means no timeout
        yield* Effect.scoped(Net.dial("tcp", listener.address, { timeout: 0 }))
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive("valid keepAlive and noDelay values connect", () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", "127.0.0.1:0")
      for (
        const options of [
          { keepAlive: false },
          { keepAlive: true },
          { keepAlive: 0 },
          { keepAlive: 30_000 },
          { noDelay: false },
          { noDelay: true },
          { readBufferSize: 1 }
        ]
      ) {
        yield* Effect.scoped(Effect.gen(function*() {
          const client = yield* Net.dial("tcp", listener.address, options)
          const server = yield* listener.accept
          yield* server.write("ok")
          expect(text(yield* Conn.readFull(client, 2)), JSON.stringify(options)).toBe("ok")
        }))
      }
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("bad option values are InvalidArgument, before any connection is made", () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", "127.0.0.1:0")
      const bad: ReadonlyArray<Net.DialOptions> = [
        { timeout: -1 },
        { timeout: Number.NaN },
        { timeout: Number.POSITIVE_INFINITY },
        { timeout: "100" as unknown as number },
        { readBufferSize: 0 },
        { readBufferSize: -1 },
        { readBufferSize: 1.5 },
        { readBufferSize: Number.NaN },
        { keepAlive: -1 },
        { keepAlive: Number.NaN },
        { keepAlive: Number.POSITIVE_INFINITY },
        { keepAlive: "yes" as unknown as boolean },
        { noDelay: "yes" as unknown as boolean },
        { localAddress: "nonsense" },
        { localAddress: "127.0.0.1" },
        { localAddress: "localhost:0" },
        { localAddress: "127.0.0.1:70000" }
      ]
      for (const options of bad) {
        const exit = yield* Effect.exit(Effect.scoped(Net.dial("tcp", listener.address, options)))
        expect(tagOf(exit), JSON.stringify(options)).toBe("InvalidArgument")
        expect(failureOf(exit).message, JSON.stringify(options)).toMatch(
          new RegExp(`^dial tcp ${listener.address}: invalid argument`)
        )
      }
      expect(tagOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp4", listener.address, { localAddress: "[::1]:0" })))))
        .toBe("InvalidArgument")
      // none of them reached the listener: the first connection it accepts is this one
      const client = yield* Net.dial("tcp", listener.address)
      yield* client.write("first")
      const server = yield* listener.accept
      expect(text(yield* Conn.readFull(server, 5))).toBe("first")
    }).pipe(Effect.provide(NodeNet.layer)), timeout)
})

describe("NodeNet: listen options and address forms", () => {
  it.scopedLive("bad listen options are InvalidArgument; backlog 1 works", () =>
    Effect.gen(function*() {
      for (
        const options of [{ backlog: 0 }, { backlog: -1 }, { backlog: 1.5 }, { backlog: Number.NaN }, {
          readBufferSize: 0
        }]
      ) {
        const exit = yield* Effect.exit(Effect.scoped(Net.listen("tcp", "127.0.0.1:0", options)))
        expect(tagOf(exit), JSON.stringify(options)).toBe("InvalidArgument")
        expect(failureOf(exit).message).toMatch(/^listen tcp 127\.0\.0\.1:0: invalid argument/)
      }
      const listener = yield* Net.listen("tcp", "127.0.0.1:0", { backlog: 1 })
      const client = yield* Net.dial("tcp", listener.address)
      const server = yield* listener.accept
      yield* client.write("b")
      expect(text(yield* Conn.readFull(server, 1))).toBe("b")
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("tcp4 with [::1]:0 and tcp6 with 127.0.0.1:0 are AddressError", () =>
    Effect.gen(function*() {
      const v6on4 = failureOf(yield* Effect.exit(Effect.scoped(Net.listen("tcp4", "[::1]:0"))))
      expect(v6on4._tag).toBe("AddressError")
      expect(v6on4.message).toBe("listen tcp4: address [::1]:0: non-IPv4 address")
      expect(tagOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp4", "[::1]:80"))))).toBe("AddressError")
      const v4on6 = failureOf(yield* Effect.exit(Effect.scoped(Net.listen("tcp6", "127.0.0.1:0"))))
      expect(v4on6._tag).toBe("AddressError")
      expect(v4on6.message).toBe("listen tcp6: address 127.0.0.1:0: non-IPv6 address")
      expect(tagOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp6", "127.0.0.1:80"))))).toBe("AddressError")
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive(":0 listens on all interfaces; a dial to 127.0.0.1:<port> reaches it", () =>
    Effect.gen(function*() {
      for (const network of ["tcp", "tcp4"]) {
        yield* Effect.scoped(Effect.gen(function*() {
          const listener = yield* Net.listen(network, ":0")
          expect(listener.address).toMatch(
            network === "tcp4" ? /^0\.0\.0\.0:[1-9]\d*$/ : /^(\[::\]|0\.0\.0\.0):[1-9]\d*$/
          )
          const port = portOf(listener.address)
          const client = yield* Net.dial("tcp", `127.0.0.1:${port}`)
          const server = yield* listener.accept
          expect(server.remoteAddress).toBe(client.localAddress)
          expect(server.localAddress).toBe(`127.0.0.1:${port}`)
          yield* client.write("any")
          expect(text(yield* Conn.readFull(server, 3))).toBe("any")
        }))
      }
    }).pipe(Effect.provide(NodeNet.layer)), timeout)
})

describe("NodeNet: backpressure", () => {
  for (const network of ["tcp", "unix"] as const) {
    it.scopedLive(
      `${network}: a 64 MiB single write to a slow reader completes and every byte arrives in order`,
      () =>
        Effect.gen(function*() {
          const address = network === "tcp" ? "127.0.0.1:0" : Path.join(dir, `b${++sockets}.sock`)
          const { client, server } = yield* pair(network, address)
          const total = 64 * MiB
          const payload = new Uint8Array(total)
          for (let i = 0; i < total; i++) payload[i] = (i * 31 + (i >>> 16)) & 0xff
          let received = 0
          let receivedWhenWritten = -1
          const writer = yield* Effect.fork(
            Effect.tap(server.write(payload), () => Effect.sync(() => (receivedWhenWritten = received)))
          )
          // nobody reads yet: the write is suspended, not buffered away
          yield* Effect.sleep(Duration.millis(200))
          expect(writer.unsafePoll()).toBeNull()
          let mismatch = -1
          for (let reads = 0; received < total; reads++) {
            const data = yield* client.read(48 * 1024)
            expect(data.length).toBeGreaterThan(0)
            for (let i = 0; i < data.length && mismatch < 0; i++) {
              const at = received + i
              if (data[i] !== ((at * 31 + (at >>> 16)) & 0xff)) mismatch = at
            }
            received += data.length
            if (reads % 128 === 127) yield* Effect.sleep(Duration.millis(1)) // a slow reader
          }
          expect(mismatch).toBe(-1)
          expect(received).toBe(total)
          expect(yield* Fiber.join(writer)).toBe(total)
          // the write resolved only once the OS took the bytes: at most the kernel's buffers
          // (a few MiB) were not yet read when it did
          expect(receivedWhenWritten).toBeGreaterThanOrEqual(total - 32 * MiB)
          yield* server.closeWrite
          expect((yield* client.read(1)).length).toBe(0)
        }).pipe(Effect.provide(NodeNet.layer)),
      timeout
    )
  }
})
