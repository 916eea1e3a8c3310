/**
 * The RESP client example over real sockets (NodeNet: tcp on 127.0.0.1 and a unix socket in a
 * temp dir): against a tiny RESP server written here with raw node:net (so these tests always
 * run), and against a real `redis-server` when one is on PATH (those tests skip, saying so in
 * their titles, when it is not). Every server, socket and process is closed by its test.
 */
import { describe, expect, it } from "@effect/vitest"
import { FrameError, Net } from "@vvnet/core"
import { NodeNet } from "@vvnet/node-adapter"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as NodeNetModule from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import * as Resp from "../src/resp-client.js"

const timeout = 60_000
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-resp-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0

const MiB = 1024 * 1024
const text = (value: Resp.RespValue) => Resp.text(value)
/** A deterministic 1 MiB value with every byte value in it, CR and LF included. */
const bigValue = (() => {
  const out = new Uint8Array(MiB)
  let x = 12345
  for (let i = 0; i < out.length; i++) {
    x = (x * 1_103_515_245 + 12_345) >>> 0
    out[i] = x >>> 24
  }
  return out
})()

// -- a tiny RESP server on raw node:net ------------------------------------------------------

/** Parses one command (an array of bulk strings) at `offset`: its args and end, or undefined when incomplete. */
const parseCommand = (data: Buffer, offset: number): { args: Array<Buffer>; end: number } | undefined => {
  const lineEnd = (from: number) => {
    const at = data.indexOf("\r\n", from, "latin1")
    return at === -1 ? undefined : at
  }
  const header = lineEnd(offset)
  if (header === undefined) return undefined
  if (data[offset] !== 0x2a) throw new Error(`not a command: ${data.toString("latin1", offset, header)}`)
  const count = Number(data.toString("latin1", offset + 1, header))
  let at = header + 2
  const args: Array<Buffer> = []
  for (let i = 0; i < count; i++) {
    const end = lineEnd(at)
    if (end === undefined) return undefined
    const length = Number(data.toString("latin1", at + 1, end))
    if (end + 2 + length + 2 > data.length) return undefined
    args.push(data.subarray(end + 2, end + 2 + length))
    at = end + 2 + length + 2
  }
  return { args, end: at }
}

const bulk = (value: Buffer | string) => {
  const bytes = typeof value === "string" ? Buffer.from(value) : value
  return Buffer.concat([Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n")])
}

/**
 * Commands: PING, SET, GET, INCR, DEL, and for the tests: ERR (an error reply), ARRAY (a nested
 * array with an integer, a null, an empty string and an error), NULLARRAY, EMPTY (an empty
 * array), DIE (the server closes the connection at once, replies to earlier commands sent),
 * HALF (half a bulk string, then close), GARBAGE (a line that is not RESP), BIGLEN (a bulk
 * header declaring 1 GiB, then close).
 */
const respServer = (network: "tcp" | "unix"): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ server: NodeNetModule.Server; sockets: Set<NodeNetModule.Socket>; address: string }>(
        (resolve) => {
          const store = new Map<string, Buffer>()
          const open = new Set<NodeNetModule.Socket>()
          const server = NodeNetModule.createServer((socket) => {
            open.add(socket)
            socket.on("close", () => open.delete(socket))
            socket.on("error", () => {})
            let pending: Buffer = Buffer.alloc(0)
            socket.on("data", (chunk: Buffer) => {
              pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
              let offset = 0
              const out: Array<Buffer> = []
              while (offset < pending.length) {
                const command = parseCommand(pending, offset)
                if (command === undefined) break
                offset = command.end
                const [name, ...args] = command.args
                const key = args[0]?.toString("latin1") ?? ""
                switch (name!.toString().toUpperCase()) {
                  case "PING":
                    out.push(Buffer.from("+PONG\r\n"))
                    break
                  case "SET":
                    store.set(key, Buffer.from(args[1]!))
                    out.push(Buffer.from("+OK\r\n"))
                    break
                  case "GET": {
                    const value = store.get(key)
                    out.push(value === undefined ? Buffer.from("$-1\r\n") : bulk(value))
                    break
                  }
                  case "INCR": {
                    const n = Number((store.get(key) ?? Buffer.from("0")).toString())
                    if (!Number.isInteger(n)) {
                      out.push(Buffer.from("-ERR value is not an integer or out of range\r\n"))
                    } else {
                      store.set(key, Buffer.from(String(n + 1)))
                      out.push(Buffer.from(`:${n + 1}\r\n`))
                    }
                    break
                  }
                  case "DEL":
                    out.push(Buffer.from(`:${args.filter((a) => store.delete(a.toString("latin1"))).length}\r\n`))
                    break
                  case "ERR":
                    out.push(Buffer.from(`-WRONGTYPE ${key}\r\n`))
                    break
                  case "ARRAY":
                    out.push(Buffer.from("*4\r\n:-7\r\n*2\r\n$-1\r\n$0\r\n\r\n-ERR inner\r\n+fine\r\n"))
                    break
                  case "NULLARRAY":
                    out.push(Buffer.from("*-1\r\n"))
                    break
                  case "EMPTY":
                    out.push(Buffer.from("*0\r\n"))
                    break
                  case "HALF":
                    out.push(Buffer.from("$10\r\nabc"))
                    socket.end(Buffer.concat(out))
                    return
                  case "BIGLEN":
                    out.push(Buffer.from(`$${1024 * MiB}\r\nabc`))
                    socket.end(Buffer.concat(out))
                    return
                  case "GARBAGE":
                    out.push(Buffer.from("?what\r\n"))
                    break
                  case "DIE":
                    socket.end(Buffer.concat(out))
                    return
                  default:
                    out.push(Buffer.from(`-ERR unknown command '${name!.toString()}'\r\n`))
                }
              }
              pending = pending.subarray(offset)
              if (out.length > 0) socket.write(Buffer.concat(out))
            })
          })
          const address = network === "tcp" ? undefined : Path.join(dir, `r${++sockets}.sock`)
          const ready = () => {
            const bound = server.address()
            resolve({
              server,
              sockets: open,
              address: typeof bound === "string" ? bound : `127.0.0.1:${bound!.port}`
            })
          }
          if (address === undefined) server.listen(0, "127.0.0.1", ready)
          else server.listen(address, ready)
        }
      )
    ),
    ({ server, sockets }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => resolve())
        })
      )
  ).pipe(Effect.map(({ address }) => address))

const right = (value: Resp.RespValue) => Either.right(value)

describe.each(["tcp", "unix"] as const)("RESP client against a raw node:net RESP server over %s", (network) => {
  it.scopedLive(
    "each reply type: simple string, error as a typed failure, integer, bulk (binary, empty, null), arrays (nested, null, empty)",
    () =>
      Effect.gen(function*() {
        const client = yield* Resp.connect(network, yield* respServer(network))
        expect(yield* client.command("PING")).toBe("PONG")
        expect(yield* client.command("SET", "k", "v\r\n\u00e9")).toBe("OK")
        expect(text(yield* client.command("GET", "k"))).toBe("v\r\n\u00e9")
        expect(yield* client.command("GET", "missing")).toBeNull()
        expect(yield* client.command("SET", "empty", "")).toBe("OK")
        expect(yield* client.command("GET", "empty")).toEqual(new Uint8Array(0))
        expect(yield* client.command("INCR", "n")).toBe(1)
        expect(yield* client.command("INCR", "n")).toBe(2)
        const error = yield* Effect.flip(client.command("ERR", "some-key"))
        expect(error).toBeInstanceOf(Resp.RespError)
        expect(error).toMatchObject({ _tag: "RespError", message: "WRONGTYPE some-key", prefix: "WRONGTYPE" })
        // the connection is fine after an error reply
        const array = yield* client.command("ARRAY")
        expect(array).toEqual([-7, [null, new Uint8Array(0)], new Resp.RespError({ message: "ERR inner" }), "fine"])
        expect(yield* client.command("NULLARRAY")).toBeNull()
        expect(yield* client.command("EMPTY")).toEqual([])
        expect(yield* client.command("PING")).toBe("PONG")
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "a pipeline of 10,000 commands: one result per command, in order, error replies as Left",
    () =>
      Effect.gen(function*() {
        const client = yield* Resp.connect(network, yield* respServer(network))
        const commands = Array.from({ length: 10_000 }, (_, i) => i === 5000 ? ["ERR", "x"] : ["INCR", "counter"])
        const replies = yield* client.pipeline(commands)
        expect(replies).toHaveLength(10_000)
        expect(replies[0]).toEqual(right(1))
        expect(replies[4999]).toEqual(right(5000))
        expect(Either.isLeft(replies[5000]!) && replies[5000].left.prefix).toBe("WRONGTYPE")
        expect(replies[9999]).toEqual(right(9999))
        expect(replies.filter(Either.isRight).every((r, i) => r.right === i + 1)).toBe(true)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "a 1 MiB value with every byte value, set and read back; pipelined with small commands",
    () =>
      Effect.gen(function*() {
        const client = yield* Resp.connect(network, yield* respServer(network))
        expect(yield* client.command("SET", "big", bigValue)).toBe("OK")
        const got = yield* client.command("GET", "big")
        expect(got).toBeInstanceOf(Uint8Array)
        expect(Buffer.compare(Buffer.from(got as Uint8Array), Buffer.from(bigValue))).toBe(0)
        const mixed = yield* client.pipeline([["GET", "big"], ["PING"], ["GET", "big"], ["PING"]])
        expect(mixed.map((r) =>
          Either.getOrThrow(r) instanceof Uint8Array
            ? (Either.getOrThrow(r) as Uint8Array).length
            : Either.getOrThrow(r)
        )).toEqual([MiB, "PONG", MiB, "PONG"])
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive("commands from 20 fibers at once each get their own reply", () =>
    Effect.gen(function*() {
      const client = yield* Resp.connect(network, yield* respServer(network))
      const results = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
        Effect.gen(function*() {
          yield* client.command("SET", `key${i}`, `value${i}`)
          const single = text(yield* client.command("GET", `key${i}`))
          const piped = yield* client.pipeline([["GET", `key${i}`], ["PING"]])
          return [single, text(Either.getOrThrow(piped[0]!))]
        }), { concurrency: "unbounded" })
      expect(results).toEqual(Array.from({ length: 20 }, (_, i) => [`value${i}`, `value${i}`]))
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive(
    "the server closing mid-pipeline: a typed RespConnectionClosed with the count pending, then every call fails with it",
    () =>
      Effect.gen(function*() {
        const client = yield* Resp.connect(network, yield* respServer(network))
        const commands = Array.from({ length: 10_000 }, (_, i) => i === 4000 ? ["DIE"] : ["INCR", "n"])
        const exit = yield* Effect.exit(client.pipeline(commands))
        // the replies before DIE arrived; the server's close (or, if it came while we still
        // wrote, a reset or broken pipe) is a typed failure, never a hang
        expect(Exit.isFailure(exit)).toBe(true)
        const error = yield* Effect.flip(exit)
        if (error._tag === "RespConnectionClosed") expect(error.pending).toBe(6000)
        else expect(["ConnectionReset", "BrokenPipe"]).toContain(error._tag)
        expect(yield* Effect.flip(client.command("PING"))).toBe(error)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "the server ending mid-reply is UnexpectedEof; a reply that is not RESP is RespProtocolError; an over-long bulk is FrameTooLarge",
    () =>
      Effect.gen(function*() {
        const address = yield* respServer(network)
        const half = yield* Resp.connect(network, address)
        const eof = yield* Effect.flip(half.command("HALF"))
        expect(eof).toBeInstanceOf(FrameError.UnexpectedEof)
        expect(eof).toMatchObject({ received: 3, expected: 12 })

        const garbage = yield* Resp.connect(network, address)
        const bad = yield* Effect.flip(garbage.command("GARBAGE"))
        expect(bad).toMatchObject({ _tag: "RespProtocolError" })
        expect(bad.message).toContain("unknown reply type \"?\"")
        expect(yield* Effect.flip(garbage.command("PING"))).toBe(bad)

        const limited = yield* Resp.connect(network, address, { maxBulkLength: MiB })
        const large = yield* Effect.flip(limited.command("BIGLEN"))
        expect(large).toBeInstanceOf(FrameError.FrameTooLarge)
        expect(large).toMatchObject({ maxLength: MiB, length: 1024 * MiB })
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )
})

// -- a real redis-server, when there is one -------------------------------------------------

const redisPath = (() => {
  try {
    return ChildProcess.execFileSync("which", ["redis-server"], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
})()
const skipped = redisPath === undefined ? " (skipped: no redis-server on PATH)" : ""

/** A free port on 127.0.0.1 (listen on 0, close). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = NodeNetModule.createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as NodeNetModule.AddressInfo).port
      probe.close(() => resolve(port))
    })
  })

interface Redis {
  readonly process: ChildProcess.ChildProcess
  readonly tcp: string
  readonly unix: string
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>
}

/**
 * Starts `redis-server` on a free loopback port and a unix socket in its own temp dir, without
 * persistence; SIGKILLs it when the Scope closes. Ready once a raw PING gets PONG.
 */
const startRedis: Effect.Effect<Redis, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const home = Fs.mkdtempSync(Path.join(dir, "redis-"))
    const port = await freePort()
    const unix = Path.join(home, "redis.sock")
    const child = ChildProcess.spawn(redisPath!, [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--unixsocket",
      unix,
      "--unixsocketperm",
      "700",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      home,
      "--daemonize",
      "no"
    ], { stdio: "ignore" })
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    const redis = { process: child, tcp: `127.0.0.1:${port}`, unix, exited }
    const deadline = Date.now() + 10_000
    while (true) {
      const ready = await new Promise<boolean>((resolve) => {
        const socket = NodeNetModule.connect(port, "127.0.0.1")
        socket.once("data", (data) => {
          socket.destroy()
          resolve(data.toString() === "+PONG\r\n")
        })
        socket.once("error", () => resolve(false))
        socket.once("connect", () => socket.write("PING\r\n"))
      })
      if (ready && Fs.existsSync(unix)) return redis
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill("SIGKILL")
        throw new Error(`redis-server did not start on ${port}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }),
  (redis) =>
    Effect.promise(() =>
      new Promise<void>((resolve) => {
        void redis.exited.then(resolve)
        redis.process.kill("SIGKILL")
      })
    )
)

describe.each(["tcp", "unix"] as const)(`RESP client against a real redis-server over %s${skipped}`, (network) => {
  const addressOf = (redis: Redis) => network === "tcp" ? redis.tcp : redis.unix

  it.scopedLive.skipIf(redisPath === undefined)(`reply types from redis${skipped}`, () =>
    Effect.gen(function*() {
      const client = yield* Resp.connect(network, addressOf(yield* startRedis))
      expect(yield* client.command("PING")).toBe("PONG")
      expect(yield* client.command("SET", "greeting", "hello")).toBe("OK")
      expect(text(yield* client.command("GET", "greeting"))).toBe("hello")
      expect(yield* client.command("GET", "missing")).toBeNull()
      expect(yield* client.command("INCR", "counter")).toBe(1)
      expect(yield* client.command("RPUSH", "list", "a", "b", "c")).toBe(3)
      const list = (yield* client.command("LRANGE", "list", 0, -1)) as ReadonlyArray<Resp.RespValue>
      expect(list.map(text)).toEqual(["a", "b", "c"])
      expect(yield* client.command("MGET", "greeting", "missing")).toEqual([new TextEncoder().encode("hello"), null])
      const wrongType = yield* Effect.flip(client.command("INCR", "list"))
      expect(wrongType).toMatchObject({ _tag: "RespError", prefix: "WRONGTYPE" })
      const unknown = yield* Effect.flip(client.command("NOSUCHCOMMAND"))
      expect(unknown).toMatchObject({ _tag: "RespError", prefix: "ERR" })
      // a transaction: EXEC's array holds an error reply as an element
      const exec = yield* client.pipeline([["MULTI"], ["SET", "s", "1"], ["INCR", "list"], ["EXEC"]])
      expect(exec.slice(0, 3).map(Either.getOrThrow)).toEqual(["OK", "QUEUED", "QUEUED"])
      const results = Either.getOrThrow(exec[3]!) as ReadonlyArray<Resp.RespValue>
      expect(results[0]).toBe("OK")
      expect(results[1]).toMatchObject({ _tag: "RespError", prefix: "WRONGTYPE" })
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive.skipIf(redisPath === undefined)(
    `a pipeline of 10,000 commands and a 1 MiB value${skipped}`,
    () =>
      Effect.gen(function*() {
        const client = yield* Resp.connect(network, addressOf(yield* startRedis))
        const sets = yield* client.pipeline(Array.from({ length: 5000 }, (_, i) => ["SET", `k${i}`, `v${i}`]))
        expect(sets.every((r) => Either.isRight(r) && r.right === "OK")).toBe(true)
        const gets = yield* client.pipeline(Array.from({ length: 10_000 }, (_, i) => ["GET", `k${i}`]))
        expect(gets).toHaveLength(10_000)
        expect(gets.slice(0, 5000).every((r, i) => text(Either.getOrThrow(r)) === `v${i}`)).toBe(true)
        expect(gets.slice(5000).every((r) => Either.getOrThrow(r) === null)).toBe(true)

        expect(yield* client.command("SET", "big", bigValue)).toBe("OK")
        expect(yield* client.command("STRLEN", "big")).toBe(MiB)
        const got = yield* client.command("GET", "big")
        expect(Buffer.compare(Buffer.from(got as Uint8Array), Buffer.from(bigValue))).toBe(0)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive.skipIf(redisPath === undefined)(
    `redis-server killed mid-pipeline: a typed error, not a hang${skipped}`,
    () =>
      Effect.gen(function*() {
        const redis = yield* startRedis
        const client = yield* Resp.connect(network, addressOf(redis))
        // BLPOP on an empty list holds the rest of the pipeline until the kill
        const commands = Array.from(
          { length: 10_000 },
          (_, i) => i === 100 ? ["BLPOP", "empty-list", 0] : ["SET", `k${i}`, "v"]
        )
        const fiber = yield* Effect.fork(client.pipeline(commands))
        yield* Effect.sleep(Duration.millis(300))
        redis.process.kill("SIGKILL")
        const exit = yield* Fiber.await(fiber).pipe(
          Effect.timeoutFail({ duration: Duration.seconds(15), onTimeout: () => new Error("the pipeline hung") })
        )
        expect(Exit.isFailure(exit)).toBe(true)
        const error = yield* Effect.flip(exit)
        expect(["RespConnectionClosed", "ConnectionReset", "UnexpectedEof", "BrokenPipe"]).toContain(error._tag)
        if (error._tag === "RespConnectionClosed") expect(error.pending).toBe(9900)
        expect((yield* Effect.flip(client.command("PING")))._tag).toBe(error._tag)
        // nothing left to connect to, once the process is gone: the kernel closes a dying
        // process's descriptors one by one, so the listening socket may outlive the connection
        yield* Effect.async<void>((resume) => {
          const child = redis.process
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          child.once("exit", () => resume(Effect.void))
        })
        const again = yield* Effect.exit(Net.dial(network, addressOf(redis)))
        expect(Exit.isFailure(again)).toBe(true)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )
})
