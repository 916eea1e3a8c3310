/**
 * `PlatformSocketServer`: @effect/platform's `SocketServer` over a vvnet `Listener`, without
 * rpc, over NodeNet tcp, NodeNet unix and MemoryNet: the address mapping, serving many clients,
 * connections queued before `run`, each handler's end closing its connection, handler failures
 * logged at the unhandled-error level and ending one connection only, `run`'s interruption
 * closing everything (fds back to the baseline on NodeNet), the concurrency bound, listen and
 * option failures, and the layer's lifetime.
 */
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { describe, expect, it } from "@effect/vitest"
import { Conn, MemoryNet, Net } from "@vvnet/core"
import { NodeNet, PlatformSocketServer } from "@vvnet/node-adapter"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { baseline, expectBackTo, text } from "./helpers.js"

const timeout = 60_000
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-socketserver-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0

describe("PlatformSocketServer.toAddress", () => {
  it("maps Go-form addresses to TcpAddress / UnixAddress", () => {
    const cases: ReadonlyArray<readonly [string, string, SocketServer.Address]> = [
      ["tcp", "127.0.0.1:41234", { _tag: "TcpAddress", hostname: "127.0.0.1", port: 41234 }],
      ["tcp", "[::1]:80", { _tag: "TcpAddress", hostname: "::1", port: 80 }],
      ["tcp6", "[fe80::1%eth0]:8080", { _tag: "TcpAddress", hostname: "fe80::1%eth0", port: 8080 }],
      ["tcp", "[::]:7000", { _tag: "TcpAddress", hostname: "::", port: 7000 }],
      ["tcp4", "0.0.0.0:7000", { _tag: "TcpAddress", hostname: "0.0.0.0", port: 7000 }],
      ["tcp", "localhost:5", { _tag: "TcpAddress", hostname: "localhost", port: 5 }],
      // MemoryNet's wildcard has no host: Node's form for one
      ["tcp", ":32768", { _tag: "TcpAddress", hostname: "::", port: 32768 }],
      ["tcp6", ":32768", { _tag: "TcpAddress", hostname: "::", port: 32768 }],
      ["tcp4", ":32768", { _tag: "TcpAddress", hostname: "0.0.0.0", port: 32768 }],
      ["unix", "/run/app.sock", { _tag: "UnixAddress", path: "/run/app.sock" }],
      // not Go form (a Net breaking the Listener contract): kept whole
      ["tcp", "nonsense", { _tag: "TcpAddress", hostname: "nonsense", port: 0 }]
    ]
    for (const [network, address, expected] of cases) {
      expect(PlatformSocketServer.toAddress({ network: network as "tcp", address })).toEqual(expected)
    }
  })

  it.scoped("is the address a real listener reports (NodeNet tcp4, tcp, unix; loopback only)", () =>
    Effect.gen(function*() {
      const tcp4 = yield* Net.listen("tcp4", "127.0.0.1:0")
      expect(PlatformSocketServer.fromListener(tcp4).address).toEqual({
        _tag: "TcpAddress",
        hostname: "127.0.0.1",
        port: Number(tcp4.address.split(":")[1])
      })
      const tcp = yield* PlatformSocketServer.make("tcp", "127.0.0.1:0")
      expect(tcp.address).toMatchObject({ _tag: "TcpAddress", hostname: "127.0.0.1" })
      expect(tcp.address._tag === "TcpAddress" && tcp.address.port > 0).toBe(true)
      const path = Path.join(dir, `a${++sockets}.sock`)
      expect((yield* PlatformSocketServer.make("unix", path)).address).toEqual({ _tag: "UnixAddress", path })
    }).pipe(Effect.provide(NodeNet.layer)))
})

interface Variant {
  readonly name: string
  readonly network: string
  readonly address: () => string
  readonly net: Layer.Layer<Net.Net>
  readonly real: boolean
}

const variants: ReadonlyArray<Variant> = [
  { name: "NodeNet tcp", network: "tcp", address: () => "127.0.0.1:0", net: NodeNet.layer, real: true },
  {
    name: "NodeNet unix",
    network: "unix",
    address: () => Path.join(dir, `s${++sockets}.sock`),
    net: NodeNet.layer,
    real: true
  },
  { name: "MemoryNet tcp", network: "tcp", address: () => "127.0.0.1:0", net: MemoryNet.layer, real: false }
]

/** The Go-form address to dial. */
const dialAddress = (address: SocketServer.Address): string =>
  address._tag === "UnixAddress" ? address.path : `${address.hostname}:${address.port}`

/** An echo handler: every chunk written back as it arrives; ends at the client's EOF. */
const echo = (socket: Socket.Socket) => Effect.scoped(Effect.flatMap(socket.writer, (write) => socket.run(write)))

/** Sends `data`, half-closes, reads the whole reply. */
const exchange = (conn: Conn.Conn, data: string) =>
  Effect.gen(function*() {
    yield* conn.write(data)
    yield* conn.closeWrite
    return text(yield* Conn.readAll(conn))
  })

describe.each(variants)("PlatformSocketServer over $name", (variant) => {
  const { network } = variant

  it.scopedLive("run serves every client on a fiber of its own; 20 clients at once", () =>
    Effect.gen(function*() {
      const server = yield* PlatformSocketServer.make(network, variant.address())
      yield* Effect.forkScoped(server.run(echo))
      const address = dialAddress(server.address)
      const replies = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) =>
          Effect.scoped(
            Effect.flatMap(Net.dial(network, address), (conn) => exchange(conn, `client ${i} `.repeat(1000)))
          ),
        { concurrency: "unbounded" }
      )
      expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => `client ${i} `.repeat(1000)))
    }).pipe(Effect.provide(variant.net)), timeout)

  it.scopedLive(
    "connections made before run are served once it starts; a second run serves the same listener",
    () =>
      Effect.gen(function*() {
        const server = yield* PlatformSocketServer.make(network, variant.address())
        const address = dialAddress(server.address)
        const early = yield* Net.dial(network, address)
        yield* early.write("early")
        yield* early.closeWrite
        const first = yield* Effect.fork(server.run(echo))
        expect(text(yield* Conn.readAll(early))).toBe("early")
        yield* Fiber.interrupt(first)
        // interrupted: a later run serves the listener again
        yield* Effect.forkScoped(server.run(echo))
        const late = yield* Net.dial(network, address)
        expect(yield* exchange(late, "late")).toBe("late")
      }).pipe(Effect.provide(variant.net)),
    timeout
  )

  it.scopedLive("a handler's end closes its connection, even when it never read", () =>
    Effect.gen(function*() {
      const server = yield* PlatformSocketServer.make(network, variant.address())
      yield* Effect.forkScoped(
        server.run((socket) => Effect.scoped(Effect.flatMap(socket.writer, (write) => write("bye"))))
      )
      const conn = yield* Net.dial(network, dialAddress(server.address))
      expect(text(yield* Conn.readAll(conn))).toBe("bye") // EOF: the server closed it
    }).pipe(Effect.provide(variant.net)), timeout)

  it.scopedLive(
    "a failing handler is logged at the unhandled-error level (Debug) and ends its connection only",
    () =>
      Effect.gen(function*() {
        const logs: Array<{ level: string; message: string }> = []
        const logger = Logger.make(({ logLevel, message }) => {
          logs.push({ level: logLevel.label, message: Array.isArray(message) ? message.join(" ") : String(message) })
        })
        const server = yield* PlatformSocketServer.make(network, variant.address())
        yield* Effect.forkScoped(
          server.run((socket) =>
            Effect.gen(function*() {
              let first = ""
              yield* socket.run((chunk) => {
                first ||= text(chunk)
                return first.startsWith("fail") ? Effect.fail("handler failed on purpose") : Effect.void
              })
            })
          ).pipe(
            Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
            Logger.withMinimumLogLevel(LogLevel.All)
          )
        )
        const address = dialAddress(server.address)
        const failing = yield* Net.dial(network, address)
        const fine = yield* Net.dial(network, address)
        yield* failing.write("fail")
        expect(text(yield* Conn.readAll(failing))).toBe("") // closed by the server
        yield* fine.write("ok")
        yield* fine.closeWrite
        expect(text(yield* Conn.readAll(fine))).toBe("") // a normal end
        yield* Effect.sleep(Duration.millis(20))
        const unhandled = logs.filter((l) => l.message.includes("Unhandled error in SocketServer"))
        expect(unhandled).toHaveLength(1)
        expect(unhandled[0]!.level).toBe("DEBUG")
        expect(logs.filter((l) => l.level === "ERROR")).toEqual([])
      }).pipe(Effect.provide(variant.net)),
    timeout
  )

  it.scopedLive(
    "withUnhandledErrorLogLevel(none) silences handler failures; Error raises them",
    () =>
      Effect.gen(function*() {
        const levels: Array<string> = []
        const logger = Logger.make(({ logLevel }) => {
          levels.push(logLevel.label)
        })
        const server = yield* PlatformSocketServer.make(network, variant.address())
        const address = dialAddress(server.address)
        const failOnce = (level: Option.Option<LogLevel.LogLevel>) =>
          Effect.gen(function*() {
            const running = yield* Effect.fork(
              server.run(() => Effect.fail("boom")).pipe(
                Effect.withUnhandledErrorLogLevel(level),
                Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
                Logger.withMinimumLogLevel(LogLevel.All)
              )
            )
            const conn = yield* Net.dial(network, address)
            yield* Conn.readAll(conn)
            yield* Effect.sleep(Duration.millis(20))
            yield* Fiber.interrupt(running)
          }).pipe(Effect.scoped)
        yield* failOnce(Option.none())
        expect(levels).toEqual([])
        yield* failOnce(Option.some(LogLevel.Error))
        expect(levels).toEqual(["ERROR"])
      }).pipe(Effect.provide(variant.net)),
    timeout
  )

  it.scopedLive("interrupting run interrupts the handlers and closes every connection", () =>
    Effect.gen(function*() {
      const before = variant.real ? yield* baseline : undefined
      yield* Effect.gen(function*() {
        const server = yield* PlatformSocketServer.make(network, variant.address())
        const finalized = { count: 0 }
        const started = yield* Deferred.make<void>()
        let running = 0
        const serving = yield* Effect.fork(server.run(() =>
          Effect.gen(function*() {
            if (++running === 5) yield* Deferred.succeed(started, undefined)
            return yield* Effect.never
          }).pipe(Effect.ensuring(Effect.sync(() => finalized.count++)))
        ))
        const address = dialAddress(server.address)
        const clients = yield* Effect.forEach(Array.from({ length: 5 }, () => Net.dial(network, address)), (d) => d)
        yield* Deferred.await(started)
        const t0 = Date.now()
        yield* Fiber.interrupt(serving)
        expect(Date.now() - t0).toBeLessThan(5_000)
        expect(finalized.count).toBe(5)
        for (const client of clients) expect((yield* Conn.readAll(client)).length).toBe(0)
      }).pipe(Effect.scoped)
      if (before !== undefined) yield* expectBackTo(before)
    }).pipe(Effect.provide(variant.net)), timeout)

  it.scopedLive(
    "concurrency 1: the second client's handler starts when the first one ended",
    () =>
      Effect.gen(function*() {
        const server = yield* PlatformSocketServer.make(network, variant.address(), { concurrency: 1 })
        const order: Array<string> = []
        yield* Effect.forkScoped(server.run((socket) =>
          Effect.scoped(Effect.gen(function*() {
            const write = yield* socket.writer
            yield* socket.run((chunk) => {
              order.push(text(chunk))
              return write(chunk)
            })
          }))
        ))
        const address = dialAddress(server.address)
        const a = yield* Net.dial(network, address)
        const b = yield* Net.dial(network, address)
        yield* a.write("a1")
        expect(text(yield* a.read(10))).toBe("a1")
        yield* b.write("b1")
        yield* Effect.sleep(Duration.millis(50))
        expect(order).toEqual(["a1"]) // b waits for a's handler
        yield* a.closeWrite
        expect(text(yield* b.read(10))).toBe("b1")
        expect(order).toEqual(["a1", "b1"])
      }).pipe(Effect.provide(variant.net)),
    timeout
  )

  it.scopedLive(
    "make fails with SocketServerError Open (cause AddressInUse) on a taken address",
    () =>
      Effect.gen(function*() {
        const taken = yield* Net.listen(network, variant.address())
        const error = yield* Effect.flip(PlatformSocketServer.make(network, taken.address))
        expect(error).toBeInstanceOf(SocketServer.SocketServerError)
        expect(error).toMatchObject({ reason: "Open", cause: { _tag: "AddressInUse" } })
      }).pipe(Effect.provide(variant.net)),
    timeout
  )

  it.scopedLive(
    "invalid run options fail run with SocketServerError Unknown (cause InvalidArgument)",
    () =>
      Effect.gen(function*() {
        const server = yield* PlatformSocketServer.make(network, variant.address(), { concurrency: 0 })
        const error = yield* Effect.flip(server.run(echo))
        expect(error).toMatchObject({
          _tag: "SocketServerError",
          reason: "Unknown",
          cause: { _tag: "InvalidArgument" }
        })
      }).pipe(Effect.provide(variant.net)),
    timeout
  )

  it.scopedLive(
    "run after the listener closed waits (accepting nothing) until interrupted",
    () =>
      Effect.gen(function*() {
        const listener = yield* Net.listen(network, variant.address())
        const server = PlatformSocketServer.fromListener(listener)
        yield* listener.close
        const running = yield* Effect.fork(server.run(echo))
        yield* Effect.sleep(Duration.millis(50))
        expect(running.unsafePoll()).toBeNull()
        yield* Fiber.interrupt(running)
      }).pipe(Effect.provide(variant.net)),
    timeout
  )

  it.scopedLive("layer: the listener lives as long as the layer", () =>
    Effect.gen(function*() {
      const served = yield* Effect.gen(function*() {
        const server = yield* SocketServer.SocketServer
        yield* Effect.forkScoped(server.run(echo))
        const address = dialAddress(server.address)
        const conn = yield* Net.dial(network, address)
        expect(yield* exchange(conn, "via layer")).toBe("via layer")
        return address
      }).pipe(Effect.scoped, Effect.provide(PlatformSocketServer.layer(network, variant.address())))
      // the layer's Scope closed: the listener is gone
      const exit = yield* Effect.exit(Effect.scoped(Net.dial(network, served)))
      expect(Exit.isFailure(exit)).toBe(true)
      if (network === "unix") expect(Fs.existsSync(served)).toBe(false)
    }).pipe(Effect.provide(variant.net)), timeout)
})

describe("PlatformSocketServer.layer over NodeNet", () => {
  it.effect("a failed listen fails the layer with SocketServerError Open", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Layer.build(PlatformSocketServer.layer("tcp", "127.0.0.1:70000")).pipe(Effect.scoped)
      )
      expect(error).toMatchObject({ _tag: "SocketServerError", reason: "Open", cause: { _tag: "AddressError" } })
    }).pipe(Effect.provide(NodeNet.layer)))
})
