/**
 * NodeNet's graceful close (design.md §2 rule 6, issue 10): `close` returns at once, the
 * connection lingers in the background (flush, FIN, discard the peer's input until its EOF or
 * the `linger` bound), and its fd and handle are released when that ends. The peers here are
 * raw node:net sockets, so the test controls exactly when they read and close.
 */
import { describe, expect, it } from "@effect/vitest"
import { Net } from "@vvnet/core"
import { NodeNet } from "@vvnet/node-adapter"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Fs from "node:fs"
import * as NodeNetModule from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import {
  awaitResources,
  baseline,
  bundleChild,
  expectBackTo,
  failureOf,
  MiB,
  resources,
  spawnChild,
  tagOf
} from "./helpers.js"

const timeout = 60_000
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-linger-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

/** A raw client connected to `address` (host:port); destroyed with the Scope. */
const rawClient = (address: string) =>
  Effect.acquireRelease(
    Effect.async<NodeNetModule.Socket>((resume) => {
      const i = address.lastIndexOf(":")
      const socket = NodeNetModule.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) })
      socket.on("error", () => {})
      socket.once("connect", () => resume(Effect.succeed(socket)))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

/** Writes `total` bytes to `socket` as fast as it takes them, ignoring errors (a peer still sending). */
const keepSending = (socket: NodeNetModule.Socket, total: number) => {
  const chunk = Buffer.alloc(16 * 1024, 1)
  let sent = 0
  const pump = () => {
    while (sent < total && !socket.destroyed) {
      sent += chunk.length
      if (!socket.write(chunk)) return void socket.once("drain", pump)
    }
  }
  pump()
}

describe("NodeNet lingering close", () => {
  it.scopedLive(
    "close returns at once; the reply reaches a peer still sending; the fd goes when the peer's EOF comes",
    () =>
      Effect.gen(function*() {
        const base = yield* baseline
        const listener = yield* Net.listen("tcp", "127.0.0.1:0")
        const client = yield* rawClient(listener.address)
        const server = yield* Effect.scoped(Effect.gen(function*() {
          const server = yield* listener.accept
          keepSending(client, 4 * MiB)
          yield* server.read(1) // the request's first byte; the rest stays unread
          expect(yield* server.write(Buffer.alloc(64 * 1024, 7))).toBe(64 * 1024)
          return server
        })) // the scope closes the connection here, with input unread and more coming
        expect(tagOf(yield* Effect.exit(server.read(1)))).toBe("Closed")
        // the connection lingers (it drains the client's bytes) until the client's EOF
        // listener, client and the lingering server socket
        expect(resources().fds).toBeGreaterThanOrEqual(base.fds + 3)
        const reply = yield* Effect.async<{ bytes: number; end: string }>((resume) => {
          let bytes = 0
          client.on("data", (d) => bytes += d.length)
          client.once("end", () => resume(Effect.succeed({ bytes, end: "EOF" })))
          client.once("error", (e: NodeJS.ErrnoException) => resume(Effect.succeed({ bytes, end: e.code ?? "error" })))
        })
        expect(reply).toEqual({ bytes: 64 * 1024, end: "EOF" })
        client.end()
        yield* listener.close
        yield* expectBackTo(base)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive("the linger bound releases a connection whose peer never closes", () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", "127.0.0.1:0", { linger: 200 })
      const client = yield* rawClient(listener.address)
      client.pause() // never reads, never closes
      const accepted = yield* Deferred.make<number>()
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* listener.accept
        yield* server.write("goodbye")
        yield* Deferred.succeed(accepted, resources().fds)
      }))
      const before = yield* Deferred.await(accepted)
      // still lingering right after the close (the client has not closed)
      yield* Effect.sleep(Duration.millis(50))
      expect(resources().fds).toBe(before)
      // the server's socket goes once the 200 ms bound passes; the client's stays
      yield* awaitResources((now) => now.fds === before - 1, 10)
      expect(client.destroyed).toBe(false)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("linger: 0 releases at once", () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", "127.0.0.1:0", { linger: 0 })
      const client = yield* rawClient(listener.address)
      client.pause()
      let before = 0
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* listener.accept
        yield* server.write("goodbye")
        before = resources().fds
      }))
      yield* awaitResources((now) => now.fds === before - 1, 2)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("linger must be a finite, non-negative number of milliseconds", () =>
    Effect.gen(function*() {
      for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(tagOf(yield* Effect.exit(Effect.scoped(Net.listen("tcp", "127.0.0.1:0", { linger: bad }))))).toBe(
          "InvalidArgument"
        )
        expect(tagOf(yield* Effect.exit(Effect.scoped(Net.dial("tcp", "127.0.0.1:1", { linger: bad }))))).toBe(
          "InvalidArgument"
        )
      }
    }).pipe(Effect.provide(NodeNet.layer)), timeout)
})

describe("NodeNet lingering close at process exit", () => {
  it.scopedLive(
    "a program that ends right after closing still delivers its reply to a peer still sending",
    () =>
      Effect.gen(function*() {
        const script = bundleChild(fileURLToPath(new URL("./fixtures/one-shot-server.ts", import.meta.url)), dir)
        const child = yield* spawnChild(process.execPath, [script])
        const address = yield* child.nextLine("listening ", 30)
        const client = yield* rawClient(address)
        keepSending(client, 8 * MiB)
        yield* child.nextLine("closed", 30)
        // the program has returned; read only now, while still sending
        client.pause()
        const reading = yield* Effect.fork(Effect.async<{ bytes: number; end: string }>((resume) => {
          let bytes = 0
          client.on("data", (d) => bytes += d.length)
          client.once("end", () => resume(Effect.succeed({ bytes, end: "EOF" })))
          client.once("error", (e: NodeJS.ErrnoException) => resume(Effect.succeed({ bytes, end: e.code ?? "error" })))
        }))
        yield* Effect.sleep(Duration.millis(300))
        client.resume()
        expect(yield* Fiber.join(reading)).toEqual({ bytes: MiB, end: "EOF" })
        client.end()
        const exited = yield* child.exited
        expect(exited.code, child.stderr()).toBe(0)
      }),
    timeout
  )
})

describe("NodeNet listen errors", () => {
  it.scopedLive("a taken port names the bind syscall as Go does", () =>
    Effect.gen(function*() {
      const first = yield* Net.listen("tcp", "127.0.0.1:0")
      const error = failureOf(yield* Effect.exit(Effect.scoped(Net.listen("tcp", first.address))))
      expect(error._tag).toBe("AddressInUse")
      expect(error.message).toBe(`listen tcp ${first.address}: bind: address already in use`)
      yield* Effect.sleep(Duration.millis(1))
    }).pipe(Effect.provide(NodeNet.layer)), timeout)
})
