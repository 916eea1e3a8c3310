/**
 * `Net.serveCallback` on NodeNet's real listeners (tcp on 127.0.0.1, unix in a temp dir): the
 * callback owns each connection (what it writes and then closes with `Conn.closeNow` reaches the
 * client before EOF), one that throws has its connection closed gracefully and the loop goes
 * on, closing the loop's Scope stops accepting and leaves handed-over connections open, and
 * when everything is closed the process's fds and handles are back to their baseline.
 */
import { describe, expect, it } from "@effect/vitest"
import { Conn, Net } from "@vvnet/core"
import { NodeNet } from "@vvnet/node-adapter"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { baseline, expectBackTo, text } from "./helpers.js"

const timeout = 30_000
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-scb-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0

const variants = [
  { name: "tcp", network: "tcp", address: () => "127.0.0.1:0" },
  { name: "unix", network: "unix", address: () => Path.join(dir, `s${++sockets}.sock`) }
] as const

/** Reads until EOF (bounded by `max` reads and 5 s). */
const readToEnd = (conn: Conn.Conn, max = 100) =>
  Effect.gen(function*() {
    let out = ""
    for (let i = 0; i < max; i++) {
      const chunk = yield* conn.read(64 * 1024)
      if (chunk.length === 0) return out
      out += text(chunk)
    }
    return yield* Effect.dieMessage("no EOF")
  }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("no EOF within 5 s") }))

/** Polls (every 5 ms, at most 5 s) until `predicate` holds. */
const until = (predicate: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000 && !predicate(); i++) yield* Effect.sleep(5)
    expect(predicate()).toBe(true)
  })

/** Whether `fiber` is still running after a few real event-loop turns. */
const stillPending = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.zipRight(Effect.sleep(30), Effect.map(Fiber.poll(fiber), Option.isNone))

describe.each(variants)("serveCallback over NodeNet $name", ({ address, network }) => {
  it.scopedLive(
    "50 clients: what the callback writes, then closes with Conn.closeNow, arrives before EOF; fds back to baseline",
    () =>
      Effect.gen(function*() {
        const base = yield* baseline
        yield* Effect.scoped(Effect.gen(function*() {
          const listener = yield* Net.listen(network, address())
          let calls = 0
          yield* Net.serveCallback(listener, (conn) => {
            // plain calls, as a host outside Effect makes them: the write handed to the OS at once
            // (or its wait run once), then the graceful close
            const written = Conn.writeNow(conn, `hello ${++calls}`)
            if (Exit.isExit(written)) Conn.closeNow(conn)
            else Effect.runFork(Effect.zipRight(written, Effect.suspend(() => Conn.closeNow(conn))))
          })
          const replies = yield* Effect.forEach(
            Array.from({ length: 50 }),
            () => Effect.flatMap(Net.dial(network, listener.address), (client) => readToEnd(client)),
            { concurrency: 10 }
          )
          expect(calls).toBe(50)
          expect(new Set(replies).size).toBe(50)
          for (const reply of replies) expect(reply).toMatch(/^hello \d+$/)
        }))
        yield* expectBackTo(base)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "a callback that throws has its connection closed gracefully and logged at Error; the next client is served",
    () => {
      const logged: Array<{ message: string; cause: Cause.Cause<unknown>; annotations: Record<string, unknown> }> = []
      const logger = Logger.make<unknown, void>((entry) => {
        const message = (Array.isArray(entry.message) ? entry.message : [entry.message]).map(String).join(" ")
        if (message.startsWith("vvnet serveCallback:")) {
          logged.push({ message, cause: entry.cause, annotations: Object.fromEntries(entry.annotations) })
        }
      })
      return Effect.gen(function*() {
        const listener = yield* Net.listen(network, address())
        const handed: Array<Conn.Conn> = []
        let calls = 0
        yield* Net.serveCallback(listener, (conn) => {
          if (++calls === 1) {
            // writes first, then throws: the close is graceful, so the bytes still arrive
            expect(Exit.isExit(Conn.writeNow(conn, "before the throw"))).toBe(true)
            throw new Error("on purpose")
          }
          handed.push(conn)
        })
        const bad = yield* Net.dial(network, listener.address)
        expect(yield* readToEnd(bad)).toBe("before the throw")
        const good = yield* Net.dial(network, listener.address)
        const reading = yield* Effect.fork(good.read(10))
        expect(yield* stillPending(reading)).toBe(true) // open: the callback owns it
        expect(handed).toHaveLength(1)
        yield* handed[0]!.write("ok")
        expect(text(yield* Fiber.join(reading))).toBe("ok")
        expect(logged).toHaveLength(1)
        expect(logged[0]!.message).toBe("vvnet serveCallback: onConnection threw; its connection is closed")
        expect(Cause.squash(logged[0]!.cause)).toEqual(new Error("on purpose"))
        if (network === "tcp") {
          expect(logged[0]!.annotations).toEqual({ remoteAddress: bad.localAddress, localAddress: listener.address })
        }
        yield* Conn.closeNow(handed[0]!)
      }).pipe(Effect.provide(NodeNet.layer), Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    },
    timeout
  )

  it.scopedLive(
    "closing the loop's Scope stops accepting: handed-over connections stay open, a later client waits in the listener",
    () =>
      Effect.gen(function*() {
        const base = yield* baseline
        yield* Effect.scoped(Effect.gen(function*() {
          const listener = yield* Net.listen(network, address())
          const handed: Array<Conn.Conn> = []
          const loop = yield* Scope.make()
          yield* Scope.extend(
            Net.serveCallback(listener, (conn) => {
              handed.push(conn)
            }),
            loop
          )
          const clients = yield* Effect.forEach(Array.from({ length: 5 }), () => Net.dial(network, listener.address))
          yield* until(() => handed.length === 5)
          yield* Scope.close(loop, Exit.void)
          // still open both ways
          for (const conn of handed) yield* conn.write("x")
          for (const client of clients) expect(text(yield* client.read(1))).toBe("x")
          for (const client of clients) yield* client.write("y")
          for (const conn of handed) expect(text(yield* conn.read(1))).toBe("y")
          // a client dialled now is not handed over: it waits in the listener until accepted
          const later = yield* Net.dial(network, listener.address)
          yield* Effect.sleep(30)
          expect(handed).toHaveLength(5)
          const taken = yield* listener.accept
          yield* taken.write("z")
          expect(text(yield* later.read(1))).toBe("z")
          // the owner closes what it was handed
          for (const conn of handed) yield* Conn.closeNow(conn)
          for (const client of clients) expect((yield* client.read(1)).length).toBe(0)
        }))
        yield* expectBackTo(base)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )
})
