/**
 * Unix socket specifics (design.md §2 rule 10, issue 3): a listener removes its socket file on
 * close only if the file at the path is still the one it created; a stale socket file gives
 * `AddressInUse` unless `reclaimStaleSocket` is set (and reclaim only removes a socket nobody
 * listens on); a file that is not a socket is never removed; an over-long path is an
 * `AddressError` that creates no file. Every path is in a fresh temp dir.
 */
import { describe, expect, it } from "@effect/vitest"
import { Address, Conn, Net } from "@vvnet/core"
import { NodeNet } from "@vvnet/node-adapter"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { failureOf, spawnChild, tagOf, text } from "./helpers.js"

const timeout = 30_000
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-unix-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0
const fresh = () => Path.join(dir, `u${++sockets}.sock`)

const isSocket = (path: string) => Fs.lstatSync(path, { throwIfNoEntry: false })?.isSocket() === true

/** Dials `path`, accepts on `listener`, and checks one round trip. */
const roundTrip = (listener: { readonly accept: Effect.Effect<Conn.Conn, unknown, Scope.Scope> }, path: string) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* Net.dial("unix", path)
    const server = yield* listener.accept
    yield* client.write("ping")
    expect(text(yield* Conn.readFull(server, 4))).toBe("ping")
  }))

/**
 * Makes a stale socket file at `path`: a `node -e` child listens on it and is SIGKILLed, so
 * nothing unlinks the file and nobody listens on it.
 */
const staleSocket = (path: string) =>
  Effect.scoped(Effect.gen(function*() {
    const child = yield* spawnChild(process.execPath, [
      "-e",
      "require('node:net').createServer().listen(process.argv[1], () => console.log('ready'))",
      path
    ])
    yield* child.nextLine("ready")
    child.process.kill("SIGKILL")
    const exit = yield* child.exited
    expect(exit.signal).toBe("SIGKILL")
    expect(isSocket(path)).toBe(true)
  }))

describe("NodeNet unix: the socket file", () => {
  it.scopedLive("closing a listener removes the socket file it created", () =>
    Effect.gen(function*() {
      const path = fresh()
      const scope = yield* Scope.make()
      const listener = yield* Scope.extend(Net.listen("unix", path), scope)
      expect(listener.address).toBe(path)
      expect(isSocket(path)).toBe(true)
      yield* roundTrip(listener, path)
      yield* Scope.close(scope, Exit.void)
      expect(Fs.existsSync(path)).toBe(false)
      // and the path can be listened on again at once
      yield* Effect.scoped(Net.listen("unix", path))
      expect(Fs.existsSync(path)).toBe(false)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive("a regular file put in the listener's place survives its close", () =>
    Effect.gen(function*() {
      const path = fresh()
      const scope = yield* Scope.make()
      yield* Scope.extend(Net.listen("unix", path), scope)
      Fs.unlinkSync(path)
      Fs.writeFileSync(path, "not yours")
      yield* Scope.close(scope, Exit.void)
      expect(Fs.readFileSync(path, "utf8")).toBe("not yours")
      Fs.unlinkSync(path)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive(
    "another live listener's socket put in the listener's place survives its close and keeps serving",
    () =>
      Effect.gen(function*() {
        const path = fresh()
        const firstScope = yield* Scope.make()
        yield* Scope.extend(Net.listen("unix", path), firstScope)
        Fs.unlinkSync(path)
        const secondScope = yield* Scope.make()
        const second = yield* Scope.extend(Net.listen("unix", path), secondScope)
        const inode = Fs.lstatSync(path).ino
        yield* Scope.close(firstScope, Exit.void)
        expect(isSocket(path)).toBe(true)
        expect(Fs.lstatSync(path).ino).toBe(inode)
        yield* roundTrip(second, path)
        // the second listener's own file is removed by its own close
        yield* Scope.close(secondScope, Exit.void)
        expect(Fs.existsSync(path)).toBe(false)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive("a listener whose file was removed closes cleanly and creates nothing", () =>
    Effect.gen(function*() {
      const path = fresh()
      const scope = yield* Scope.make()
      yield* Scope.extend(Net.listen("unix", path), scope)
      Fs.unlinkSync(path)
      yield* Scope.close(scope, Exit.void)
      expect(Fs.existsSync(path)).toBe(false)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)
})

describe("NodeNet unix: stale and foreign files", () => {
  it.scopedLive(
    "a stale socket file gives AddressInUse without reclaim; with reclaimStaleSocket listen succeeds",
    () =>
      Effect.gen(function*() {
        const path = fresh()
        yield* staleSocket(path)
        const inode = Fs.lstatSync(path).ino
        const error = failureOf(yield* Effect.exit(Effect.scoped(Net.listen("unix", path))))
        expect(error._tag).toBe("AddressInUse")
        expect(error.message).toMatch(new RegExp(`^listen unix ${path}: bind: address already in use`))
        expect(Fs.lstatSync(path).ino).toBe(inode) // left alone
        expect(tagOf(yield* Effect.exit(Effect.scoped(Net.listen("unix", path, { reclaimStaleSocket: false })))))
          .toBe("AddressInUse")

        const scope = yield* Scope.make()
        const listener = yield* Scope.extend(Net.listen("unix", path, { reclaimStaleSocket: true }), scope)
        expect(listener.address).toBe(path)
        expect(isSocket(path)).toBe(true)
        yield* roundTrip(listener, path)
        yield* Scope.close(scope, Exit.void)
        expect(Fs.existsSync(path)).toBe(false)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "a live listener's path is AddressInUse even with reclaim; it keeps its file and keeps serving",
    () =>
      Effect.gen(function*() {
        const path = fresh()
        const live = yield* Net.listen("unix", path)
        const inode = Fs.lstatSync(path).ino
        for (const reclaimStaleSocket of [false, true]) {
          const error = failureOf(yield* Effect.exit(Effect.scoped(Net.listen("unix", path, { reclaimStaleSocket }))))
          expect(error._tag).toBe("AddressInUse")
          expect(Fs.lstatSync(path).ino).toBe(inode)
        }
        // The probe dial of the reclaim check may have reached the live listener as a connection
        // that closed at once; whatever was queued, a fresh client is still served.
        const client = yield* Net.dial("unix", path)
        yield* client.write("still here")
        for (let i = 0; i < 5; i++) {
          const server = yield* live.accept
          const data = yield* server.read(64)
          if (data.length > 0) {
            expect(text(data)).toBe("still here")
            break
          }
          expect(i).toBeLessThan(4)
        }
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "a regular file at the path is never removed, even with reclaim: AddressInUse",
    () =>
      Effect.gen(function*() {
        const path = fresh()
        Fs.writeFileSync(path, "precious")
        for (const reclaimStaleSocket of [false, true]) {
          const error = failureOf(yield* Effect.exit(Effect.scoped(Net.listen("unix", path, { reclaimStaleSocket }))))
          expect(error._tag).toBe("AddressInUse")
          expect(Fs.readFileSync(path, "utf8")).toBe("precious")
        }
        const other = fresh()
        Fs.mkdirSync(other)
        expect(tagOf(yield* Effect.exit(Effect.scoped(Net.listen("unix", other, { reclaimStaleSocket: true })))))
          .toBe("AddressInUse")
        expect(Fs.statSync(other).isDirectory()).toBe(true)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )
})

describe("NodeNet unix: path length", () => {
  it.scopedLive(
    "an over-long path (> 107 bytes) is AddressError for listen and dial and creates no file",
    () =>
      Effect.gen(function*() {
        const before = Fs.readdirSync(dir).sort()
        const prefix = dir + "/"
        const long = prefix + "x".repeat(Address.maxUnixPathBytes + 1 - Buffer.byteLength(prefix))
        expect(Buffer.byteLength(long)).toBe(108)
        // 54 two-byte characters: short in UTF-16 code units, too long in bytes
        const wide = prefix + "é".repeat(54)
        expect(wide.length).toBeLessThanOrEqual(107)
        expect(Buffer.byteLength(wide)).toBeGreaterThan(107)
        for (const path of [long, wide, prefix + "y".repeat(300)]) {
          for (const reclaimStaleSocket of [false, true]) {
            const error = failureOf(yield* Effect.exit(Effect.scoped(Net.listen("unix", path, { reclaimStaleSocket }))))
            expect(error._tag).toBe("AddressError")
            expect(error.message).toMatch(/path too long/)
          }
          expect(tagOf(yield* Effect.exit(Effect.scoped(Net.dial("unix", path))))).toBe("AddressError")
          expect(Fs.existsSync(path)).toBe(false)
        }
        expect(Fs.readdirSync(dir).sort()).toEqual(before)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive("a path of exactly 107 bytes works", () =>
    Effect.gen(function*() {
      const prefix = dir + "/"
      const path = prefix + "z".repeat(Address.maxUnixPathBytes - Buffer.byteLength(prefix))
      expect(Buffer.byteLength(path)).toBe(107)
      const scope = yield* Scope.make()
      const listener = yield* Scope.extend(Net.listen("unix", path), scope)
      expect(listener.address).toBe(path)
      yield* roundTrip(listener, path)
      yield* Scope.close(scope, Exit.void)
      expect(Fs.existsSync(path)).toBe(false)
    }).pipe(Effect.provide(NodeNet.layer)), timeout)
})
