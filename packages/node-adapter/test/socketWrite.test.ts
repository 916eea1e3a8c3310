/**
 * How NodeNet's transport reports a write to core (issue "Engine v2"): core keeps one write in
 * the transport and one callback per connection, so the transport reports each write once.
 * A write the kernel takes at once is handed to Node with no callback (Node then batches its
 * bookkeeping); one Node still holds gets a zero-length write queued behind it, whose callback
 * runs once everything before it was flushed (or failed). Node cannot be made to interleave
 * those deterministically on a real socket, so the socket here is a stand-in with just the
 * surface `fromSocket` uses (the conformance suite covers real sockets).
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
  /** Every write, with its length and whether a callback was passed. */
  readonly writes: Array<{ readonly length: number; readonly callback: ((error?: Error | null) => void) | undefined }> =
    []
  write(data: Uint8Array, callback?: (error?: Error | null) => void): boolean {
    this.writes.push({ length: data.length, callback })
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

const connOf = (socket: FakeSocket) =>
  fromSocket(socket as unknown as NodeNetModule.Socket, "tcp", "127.0.0.1:1", "127.0.0.1:2")

describe("NodeNet transport writes", () => {
  it.effect(
    "a write the kernel took at once passes no callback; one still queued completes when the zero-length write queued behind it calls back",
    () =>
      Effect.gen(function*() {
        const socket = new FakeSocket()
        const { close, conn } = connOf(socket)
        // taken at once: nothing left queued
        expect(yield* conn.write("first")).toBe(5)
        expect(socket.writes.map((w) => [w.length, w.callback !== undefined])).toEqual([[5, false]])
        // still queued in Node: waits for the marker write's callback
        socket.writableLength = 6
        const second = yield* Effect.fork(conn.write("second"))
        yield* turn
        expect(socket.writes.map((w) => [w.length, w.callback !== undefined])).toEqual([[5, false], [6, false], [
          0,
          true
        ]])
        expect(Option.isNone(yield* Fiber.poll(second))).toBe(true)
        socket.writableLength = 0
        socket.writes[2]!.callback!()
        expect(yield* Fiber.join(second)).toBe(6)
        close(true)
      }),
    timeout
  )

  it.effect(
    "a queued write that fails fails with the socket's error, and later writes fail too",
    () =>
      Effect.gen(function*() {
        const socket = new FakeSocket()
        const { close, conn } = connOf(socket)
        socket.writableLength = 3
        const writing = yield* Effect.fork(conn.write("abc"))
        yield* turn
        // Node reports the failure of a write to the callbacks queued behind it as a generic
        // destroyed-stream error; the socket's own error is the one that counts
        socket.errored = Object.assign(new Error("write EPIPE"), { code: "EPIPE", syscall: "write" })
        socket.writes[1]!.callback!(Object.assign(new Error("destroyed"), { code: "ERR_STREAM_DESTROYED" }))
        const exit = yield* Fiber.await(writing)
        expect(exit._tag === "Failure" && JSON.stringify(exit.cause)).toContain("BrokenPipe")
        const again = yield* Effect.exit(conn.write("x"))
        expect(again._tag === "Failure" && JSON.stringify(again.cause)).toContain("BrokenPipe")
        close(true)
      }),
    timeout
  )

  it.effect(
    "a write the kernel refused at once fails with the socket's error, with no callback to wait for",
    () =>
      Effect.gen(function*() {
        const socket = new FakeSocket()
        const { close, conn } = connOf(socket)
        socket.write = (data: Uint8Array, callback?: (error?: Error | null) => void) => {
          socket.writes.push({ length: data.length, callback })
          socket.errored = Object.assign(new Error("write ECONNRESET"), { code: "ECONNRESET", syscall: "write" })
          return false
        }
        const exit = yield* Effect.exit(conn.write("abc"))
        expect(exit._tag === "Failure" && JSON.stringify(exit.cause)).toContain("ConnectionReset")
        expect(socket.writes).toHaveLength(1)
        close(true)
      }),
    timeout
  )
})
