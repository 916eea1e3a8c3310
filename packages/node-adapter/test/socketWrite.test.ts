/**
 * How NodeNet's transport reports a write to core (issue "Engine v2"): core keeps one write in
 * the transport and one callback per connection, so the transport must report each write once.
 * Node still calls the callback of a write whose bytes the kernel took at once (on the next
 * tick); that late call must not complete a later write still waiting for the kernel. Node
 * cannot be made to interleave those deterministically on a real socket, so the socket here is
 * a stand-in with just the surface `fromSocket` uses.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { EventEmitter } from "node:events"
import type * as NodeNetModule from "node:net"
import { fromSocket } from "../src/internal/socket.js"

const timeout = 30_000

/** A node:net Socket stand-in: the test decides how much each write leaves queued. */
class FakeSocket extends EventEmitter {
  destroyed = false
  errored: Error | null = null
  writableLength = 0
  writableEnded = false
  readonly callbacks: Array<(error?: Error | null) => void> = []
  write(_data: Uint8Array, callback: (error?: Error | null) => void): boolean {
    this.callbacks.push(callback)
    return true
  }
  pause() {}
  resume() {}
  end() {}
  destroy() {
    this.destroyed = true
  }
}

const turn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

describe("NodeNet transport writes", () => {
  it.effect(
    "the late callback of a write the kernel took at once does not complete the next write, still queued",
    () =>
      Effect.gen(function*() {
        const socket = new FakeSocket()
        const { close, conn } = fromSocket(
          socket as unknown as NodeNetModule.Socket,
          "tcp",
          "127.0.0.1:1",
          "127.0.0.1:2"
        )
        // taken at once: nothing left queued
        expect(yield* conn.write("first")).toBe(5)
        // still queued in libuv: waits for its callback
        socket.writableLength = 6
        const second = yield* Effect.fork(conn.write("second"))
        yield* turn
        expect(socket.callbacks).toHaveLength(2)
        socket.callbacks[0]!() // Node's deferred callback of the first write
        yield* turn
        expect(Option.isNone(yield* Fiber.poll(second))).toBe(true)
        socket.writableLength = 0
        socket.callbacks[1]!()
        expect(yield* Fiber.join(second)).toBe(6)
        close(true)
      }),
    timeout
  )

  it.effect(
    "a write that fails in its callback fails with the mapped error, and later writes fail too",
    () =>
      Effect.gen(function*() {
        const socket = new FakeSocket()
        const { close, conn } = fromSocket(
          socket as unknown as NodeNetModule.Socket,
          "tcp",
          "127.0.0.1:1",
          "127.0.0.1:2"
        )
        socket.writableLength = 3
        const writing = yield* Effect.fork(conn.write("abc"))
        yield* turn
        socket.callbacks[0]!(Object.assign(new Error("write EPIPE"), { code: "EPIPE", syscall: "write" }))
        const exit = yield* Fiber.await(writing)
        expect(exit._tag === "Failure" && JSON.stringify(exit.cause)).toContain("BrokenPipe")
        const again = yield* Effect.exit(conn.write("x"))
        expect(again._tag === "Failure" && JSON.stringify(again.cause)).toContain("BrokenPipe")
        close(true)
      }),
    timeout
  )
})
