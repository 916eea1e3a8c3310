/**
 * `Net.serveCallback` over MemoryNet, end to end: every connection is handed to the callback
 * once and stays open with its owner; closing the listener ends the loop's fiber (no retry of
 * `Closed`); the default accept-error warning names `serveCallback`; and a listener not built by
 * the engine (no atomic take) goes through the loop's other path with the same promises.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import type * as Conn from "../src/Conn.js"
import type { Listener } from "../src/Listener.js"
import * as MemoryNet from "../src/MemoryNet.js"
import * as Net from "../src/Net.js"
import * as Transport from "../src/Transport.js"
import { flush, isPending } from "./support/effects.js"
import { captureLogs } from "./support/logs.js"

const timeout = 10_000

const flushes = (n: number) => Effect.forEach(Array.from({ length: n }), () => flush, { discard: true })

/** The same listener without the engine's atomic take: serveCallback's loop accepts through `accept`. */
const plain = (listener: Listener): Listener => ({
  network: listener.network,
  address: listener.address,
  accept: listener.accept,
  connections: listener.connections,
  close: listener.close
})

/** Each client's server end, by address (a MemoryNet server end's remote address is its client's local one). */
const serverEndOf = (handed: ReadonlyArray<Conn.Conn>, client: Conn.Conn): Conn.Conn => {
  const found = handed.find((conn) => conn.remoteAddress === client.localAddress)
  expect(found).toBeDefined()
  return found!
}

/** One byte each way between a client and its server end. */
const bothWays = (client: Conn.Conn, server: Conn.Conn, byte: number) =>
  Effect.gen(function*() {
    yield* client.write(new Uint8Array([byte]))
    expect(Array.from(yield* server.read(1))).toEqual([byte])
    yield* server.write(new Uint8Array([byte + 1]))
    expect(Array.from(yield* client.read(1))).toEqual([byte + 1])
  })

describe("serveCallback over MemoryNet", () => {
  it.scoped(
    "hands each of 20 connections over once, open; closing the listener ends the loop's fiber and leaves them open",
    () =>
      Effect.gen(function*() {
        const listener = yield* Net.listen("tcp", "127.0.0.1:0")
        const handed: Array<Conn.Conn> = []
        const supervisor = yield* Supervisor.track
        yield* Effect.supervised(
          Net.serveCallback(listener, (conn) => {
            handed.push(conn)
          }),
          supervisor
        )
        const clients = yield* Effect.forEach(Array.from({ length: 20 }), () => Net.dial("tcp", listener.address))
        yield* flushes(3)
        expect(handed).toHaveLength(20)
        expect(new Set(handed).size).toBe(20)
        expect(yield* supervisor.value).toHaveLength(1) // the loop: no fiber per connection
        for (const [i, client] of clients.entries()) yield* bothWays(client, serverEndOf(handed, client), 2 * i)

        yield* listener.close
        yield* flushes(3)
        expect(yield* supervisor.value).toHaveLength(0)
        // the connections handed over belong to their owner, not to the listener
        for (const [i, client] of clients.entries()) yield* bothWays(client, serverEndOf(handed, client), 100 + i)
        const late = yield* Effect.exit(Net.dial("tcp", listener.address))
        expect(Exit.isFailure(late)).toBe(true)
        expect(handed).toHaveLength(20)
      }).pipe(Effect.provide(MemoryNet.layer)),
    timeout
  )

  it.effect("the default warning of a transient accept error names serveCallback, as serve's names serve", () => {
    const { layer, logged } = captureLogs("vvnet serve")
    return Effect.gen(function*() {
      for (const serveWith of ["serve", "serveCallback"] as const) {
        const { acceptor, listener } = Transport.makeListener({
          network: "tcp",
          address: "127.0.0.1:9000",
          close: () => {}
        })
        const scope = yield* Scope.make()
        yield* Scope.extend(
          serveWith === "serve" ? Net.serve(listener, () => Effect.void) : Net.serveCallback(listener, () => {}),
          scope
        )
        acceptor.fail({ code: "EMFILE", syscall: "accept" })
        yield* flushes(2)
        yield* TestClock.adjust(5)
        acceptor.fail({ code: "EMFILE", syscall: "accept" })
        yield* flushes(2)
        yield* Scope.close(scope, Exit.void)
        yield* listener.close
      }
      expect(logged.map((l) => [l.level, l.message])).toEqual([
        ["Warning", "vvnet serve: accept tcp 127.0.0.1:9000: accept: too many open files; retrying in 5 ms"],
        ["Warning", "vvnet serve: accept tcp 127.0.0.1:9000: accept: too many open files; retrying in 10 ms"],
        ["Warning", "vvnet serveCallback: accept tcp 127.0.0.1:9000: accept: too many open files; retrying in 5 ms"],
        ["Warning", "vvnet serveCallback: accept tcp 127.0.0.1:9000: accept: too many open files; retrying in 10 ms"]
      ])
    }).pipe(Effect.provide(layer))
  }, timeout)

  it.scoped("InvalidArgument names the listener and the reason", () =>
    Effect.gen(function*() {
      const { listener } = Transport.makeListener({ network: "tcp", address: "127.0.0.1:9000", close: () => {} })
      const error = yield* Effect.flip(Net.serveCallback(listener, 5 as unknown as (conn: Conn.Conn) => void))
      expect(error._tag).toBe("InvalidArgument")
      expect(error.op).toBe("accept")
      expect(error.message).toBe("accept tcp 127.0.0.1:9000: invalid argument: onConnection must be a function")
    }), timeout)
})

describe("serveCallback on a listener not built by the engine", () => {
  it.scoped(
    "connections handed over stay open after the loop's Scope closes; a later one waits in the listener",
    () =>
      Effect.gen(function*() {
        const listener = yield* Net.listen("tcp", "127.0.0.1:0")
        const handed: Array<Conn.Conn> = []
        const scope = yield* Scope.make()
        yield* Scope.extend(
          Net.serveCallback(plain(listener), (conn) => {
            handed.push(conn)
          }),
          scope
        )
        const clients = yield* Effect.forEach(Array.from({ length: 5 }), () => Net.dial("tcp", listener.address))
        yield* flushes(3)
        expect(handed).toHaveLength(5)
        // closing serveCallback's Scope, the loop waiting in `accept`, returns and closes nothing handed over
        yield* Scope.close(scope, Exit.void)
        for (const [i, client] of clients.entries()) yield* bothWays(client, serverEndOf(handed, client), 2 * i)
        // nothing was taken by the interrupted accept: a later client waits in the listener's queue
        const later = yield* Net.dial("tcp", listener.address)
        yield* flushes(2)
        expect(handed).toHaveLength(5)
        const taken = yield* listener.accept
        expect(taken.remoteAddress).toBe(later.localAddress)
      }).pipe(Effect.provide(MemoryNet.layer)),
    timeout
  )

  it.effect("a callback that throws has its connection closed and is logged at Error; the loop goes on", () => {
    const { layer, logged } = captureLogs("vvnet serveCallback:")
    return Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", "127.0.0.1:0")
      const handed: Array<Conn.Conn> = []
      let calls = 0
      yield* Net.serveCallback(plain(listener), (conn) => {
        if (++calls === 1) throw new Error("on purpose")
        handed.push(conn)
      })
      const bad = yield* Net.dial("tcp", listener.address)
      const good = yield* Net.dial("tcp", listener.address)
      yield* flushes(3)
      expect(calls).toBe(2)
      expect((yield* bad.read(1)).length).toBe(0) // EOF: closed for the callback
      const reading = yield* Effect.fork(good.read(1))
      yield* flushes(2)
      expect(yield* isPending(reading)).toBe(true) // still open
      yield* handed[0]!.write(new Uint8Array([7]))
      expect(Array.from(yield* Fiber.join(reading))).toEqual([7])
      expect(logged).toHaveLength(1)
      expect(logged[0]!.level).toBe("Error")
      expect(Cause.squash(logged[0]!.cause)).toEqual(new Error("on purpose"))
      expect(logged[0]!.annotations).toEqual({ remoteAddress: bad.localAddress, localAddress: listener.address })
    }).pipe(Effect.scoped, Effect.provide(MemoryNet.layer), Effect.provide(layer))
  }, timeout)
})
