/**
 * Resource accounting (design.md §2 rule 8, issue 3): interrupting dial, read, write and
 * accept, timing a dial out, and closing scopes with live connections and a running serve all
 * bring the process's open fds (/proc/self/fd) and active handles (sockets, servers, pipes,
 * timers) back to their baseline. Closes in node:net finish asynchronously, so the checks poll
 * for a few seconds rather than asserting at once; there is no upper bound on any duration.
 */
import { describe, expect, it } from "@effect/vitest"
import { Conn, Net } from "@vvnet/core"
import { NodeNet } from "@vvnet/node-adapter"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import {
  awaitResources,
  baseline,
  blackHole,
  bundleChild,
  expectBackTo,
  failureOf,
  MiB,
  resources,
  spawnChild,
  tagOf,
  text
} from "./helpers.js"

const timeout = 60_000
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-res-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0

const variants = [
  { name: "tcp", network: "tcp", address: () => "127.0.0.1:0" },
  { name: "unix", network: "unix", address: () => Path.join(dir, `r${++sockets}.sock`) }
] as const

/** Listens and dials; both ends and the listener live in the current Scope. */
const pair = (network: string, address: string) =>
  Effect.gen(function*() {
    const listener = yield* Net.listen(network, address)
    const client = yield* Net.dial(network, listener.address)
    const server = yield* listener.accept
    return { listener, client, server }
  })

describe("NodeNet resources: dial", () => {
  it.scopedLive("interrupting a pending dial closes its socket", () =>
    Effect.gen(function*() {
      const target = yield* blackHole
      const base = yield* baseline
      const dialing = yield* Effect.fork(Effect.scoped(Net.dial("tcp", target)))
      // the dial's socket exists (SYN sent, never answered) and the dial is pending
      yield* awaitResources((now) => now.handles.TCPSocketWrap > base.handles.TCPSocketWrap && now.fds > base.fds)
      yield* Effect.sleep(Duration.millis(200))
      expect(dialing.unsafePoll()).toBeNull()
      const exit = yield* Fiber.interrupt(dialing)
      expect(Exit.isInterrupted(exit)).toBe(true)
      yield* expectBackTo(base)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("interrupting a pending dial that has a timeout also cancels its timer", () =>
    Effect.gen(function*() {
      const target = yield* blackHole
      const base = yield* baseline
      const dialing = yield* Effect.fork(Effect.scoped(Net.dial("tcp", target, { timeout: 60_000 })))
      yield* awaitResources((now) => now.handles.TCPSocketWrap > base.handles.TCPSocketWrap && now.fds > base.fds)
      yield* Effect.sleep(Duration.millis(100))
      expect(dialing.unsafePoll()).toBeNull()
      expect(Exit.isInterrupted(yield* Fiber.interrupt(dialing))).toBe(true)
      // the 60 s timer counts among the handles: back to the baseline only if it was cancelled
      yield* expectBackTo(base)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("a dial timeout ends a pending dial with Timeout and leaks nothing", () =>
    Effect.gen(function*() {
      const target = yield* blackHole
      const base = yield* baseline
      for (let i = 0; i < 3; i++) {
        const started = Date.now()
        const exit = yield* Effect.exit(Effect.scoped(Net.dial("tcp", target, { timeout: 200 })))
        expect(Date.now() - started).toBeGreaterThanOrEqual(150)
        const error = failureOf(exit)
        expect(error._tag).toBe("Timeout")
        expect(error.message).toBe(`dial tcp ${target}: i/o timeout`)
      }
      yield* expectBackTo(base)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("a refused dial and a failed bind leak nothing", () =>
    Effect.gen(function*() {
      const base = yield* baseline
      for (let i = 0; i < 20; i++) {
        expect(tagOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp", "127.0.0.1:1"))))).toBe("ConnectionRefused")
      }
      const held = yield* Effect.scoped(Effect.gen(function*() {
        const listener = yield* Net.listen("tcp", "127.0.0.1:0")
        for (let i = 0; i < 20; i++) {
          expect(tagOf(yield* Effect.exit(Effect.scoped(Net.listen("tcp", listener.address))))).toBe("AddressInUse")
        }
        return listener.address
      }))
      expect(held).toMatch(/^127\.0\.0\.1:\d+$/)
      yield* expectBackTo(base)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive(
    "C09 (a) 100 dials of no-such-host.invalid:80 are DnsError each time, with a flat handle count",
    () =>
      Effect.gen(function*() {
        const base = yield* baseline
        for (let i = 0; i < 100; i++) {
          const error = failureOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp", "no-such-host.invalid:80"))))
          expect(error._tag).toBe("DnsError")
          expect(error.message).toBe("dial tcp: lookup no-such-host.invalid: no such host")
          // the name is refused before any socket exists
          if (i % 25 === 0) expect(resources().handles.TCPSocketWrap).toBe(base.handles.TCPSocketWrap)
        }
        yield* expectBackTo(base)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "C09 (a) a process that dialed, failed, listened and closed can exit by itself",
    () =>
      Effect.gen(function*() {
        const script = bundleChild(fileURLToPath(new URL("./fixtures/exits.ts", import.meta.url)), dir)
        const child = yield* spawnChild(process.execPath, [script])
        expect(yield* child.nextLine("done ")).toBe("DnsError=100 ConnectionRefused=1 echo=ok")
        // No process.exit in the script: it ends only if no socket, server or timer is left.
        const exit = yield* child.exited
        expect(exit, child.stderr()).toEqual({ code: 0, signal: null })
      }),
    timeout
  )
})

describe.each(variants)("NodeNet resources: $name", ({ address, network }) => {
  it.scopedLive("interrupting a pending read leaks nothing; the connection still works", () =>
    Effect.gen(function*() {
      const base = yield* baseline
      yield* Effect.scoped(Effect.gen(function*() {
        const { client, server } = yield* pair(network, address())
        yield* client.setReadTimeout(60_000) // a deadline timer owned by the connection
        const during = resources()
        const reader = yield* Effect.fork(client.read(1024))
        yield* Effect.sleep(Duration.millis(50))
        expect(reader.unsafePoll()).toBeNull()
        yield* Fiber.interrupt(reader)
        yield* server.write("after")
        expect(text(yield* Conn.readFull(client, 5))).toBe("after")
        yield* expectBackTo(during)
      }))
      yield* expectBackTo(base)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive(
    "interrupting a pending write to a peer that does not read leaks nothing",
    () =>
      Effect.gen(function*() {
        const base = yield* baseline
        yield* Effect.scoped(Effect.gen(function*() {
          const { client } = yield* pair(network, address())
          yield* client.setWriteTimeout(60_000)
          const big = new Uint8Array(64 * MiB) // more than the kernel's buffers on both sides hold
          const writer = yield* Effect.fork(client.write(big))
          yield* Effect.sleep(Duration.millis(200))
          expect(writer.unsafePoll()).toBeNull()
          const exit = yield* Fiber.interrupt(writer)
          expect(Exit.isInterrupted(exit)).toBe(true)
        }))
        yield* expectBackTo(base)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive("interrupting a pending accept leaks nothing; the next accept works", () =>
    Effect.gen(function*() {
      const base = yield* baseline
      yield* Effect.scoped(Effect.gen(function*() {
        const listener = yield* Net.listen(network, address())
        const accepting = yield* Effect.fork(Effect.scoped(listener.accept))
        yield* Effect.sleep(Duration.millis(50))
        expect(accepting.unsafePoll()).toBeNull()
        yield* Fiber.interrupt(accepting)
        const client = yield* Net.dial(network, listener.address)
        const server = yield* listener.accept
        yield* client.write("next")
        expect(text(yield* Conn.readFull(server, 4))).toBe("next")
      }))
      yield* expectBackTo(base)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive(
    "closing scopes with live connections, pending reads and a running serve releases everything",
    () =>
      Effect.gen(function*() {
        const base = yield* baseline
        const handlers = yield* Ref.make(0)
        const serverScope = yield* Scope.make()
        const clientScope = yield* Scope.make()
        const listener = yield* Scope.extend(
          Effect.gen(function*() {
            const listener = yield* Net.listen(network, address())
            yield* Net.serve(listener, (conn) =>
              Effect.gen(function*() {
                yield* Ref.update(handlers, (n) => n + 1)
                yield* conn.setReadTimeout(60_000)
                for (;;) {
                  const data = yield* conn.read(4096)
                  if (data.length === 0) return
                  yield* conn.write(data)
                }
              }))
            return listener
          }),
          serverScope
        )
        const clients = yield* Scope.extend(
          Effect.forEach(Array.from({ length: 8 }, (_, i) => i), () => Net.dial(network, listener.address)),
          clientScope
        )
        for (const client of clients) {
          yield* client.write("hi")
          expect(text(yield* Conn.readFull(client, 2))).toBe("hi")
        }
        expect(yield* Ref.get(handlers)).toBe(8)
        // half the clients have a pending read in a fiber of the client scope
        for (const client of clients.slice(0, 4)) {
          yield* Scope.extend(Effect.forkScoped(client.read(10)), clientScope)
        }
        const during = resources()
        expect(during.fds).toBeGreaterThanOrEqual(base.fds + 17) // a listener and 16 connection ends
        yield* Scope.close(serverScope, Exit.void)
        // the server side is gone: every client sees EOF (or a reset)
        for (const client of clients.slice(4)) {
          const exit = yield* Effect.exit(client.read(10))
          if (Exit.isSuccess(exit)) expect(exit.value.length).toBe(0)
          else expect(tagOf(exit)).toBe("ConnectionReset")
        }
        yield* Scope.close(clientScope, Exit.void)
        yield* expectBackTo(base)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "a scope closed while serve is accepting a burst of dials releases everything",
    () =>
      Effect.gen(function*() {
        const base = yield* baseline
        for (let round = 0; round < 5; round++) {
          const scope = yield* Scope.make()
          const listener = yield* Scope.extend(Net.listen(network, address()), scope)
          yield* Scope.extend(Net.serve(listener, (conn) => conn.read(1)), scope)
          const dialers = yield* Effect.forkAll(
            Array.from(
              { length: 10 },
              () => Effect.exit(Effect.scoped(Effect.flatMap(Net.dial(network, listener.address), (c) => c.read(1))))
            )
          )
          yield* Effect.sleep(Duration.millis(5 * round))
          yield* Scope.close(scope, Exit.void)
          const exits = yield* Fiber.join(dialers)
          for (const exit of exits) {
            // served then closed (EOF), reset, or refused after the close: never a defect
            expect(["success", "ConnectionReset", "ConnectionRefused", "SystemError"]).toContain(tagOf(exit))
          }
        }
        yield* expectBackTo(base)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )
})
