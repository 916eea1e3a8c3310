/**
 * NodeCluster: NodeNet listeners in node:cluster workers share one port (tcp on 127.0.0.1, and a
 * unix path), both workers accept, and stopping the primary (SIGINT) stops every worker cleanly;
 * a crashed worker stops the others; a killed primary leaves no worker behind. The cluster runs
 * in a child process (fixtures/cluster-server.ts, bundled), killed with the test's Scope.
 */
import { describe, expect, it } from "@effect/vitest"
import { NodeCluster } from "@vvnet/node-adapter"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as NodeNetModule from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { bundleChild, type Child, expectGone, spawnChild } from "./helpers.js"

const fixture = fileURLToPath(new URL("./fixtures/cluster-server.ts", import.meta.url))

/** A scratch directory with the bundled fixture, removed with the Scope. */
const bundled = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-cluster-"))
    return { dir, script: bundleChild(fixture, dir) }
  }),
  ({ dir }) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** One connection: the server's whole reply (it writes one line and closes), or the error code. */
const ask = (address: string) =>
  Effect.async<string>((resume) => {
    const socket = address.startsWith("/")
      ? NodeNetModule.connect({ path: address })
      : NodeNetModule.connect({
        host: address.slice(0, address.lastIndexOf(":")),
        port: Number(address.slice(address.lastIndexOf(":") + 1))
      })
    let reply = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      reply += chunk
    })
    socket.on("end", () => {
      socket.end()
      resume(Effect.succeed(reply.trim()))
    })
    socket.on("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(`error ${error.code ?? error.message}`)))
    return Effect.sync(() => socket.destroy())
  }).pipe(
    Effect.timeoutFail({ duration: Duration.seconds(10), onTimeout: () => new Error(`no reply from ${address}`) })
  )

interface Started {
  readonly child: Child
  readonly primary: number
  readonly address: string
  /** worker id → pid */
  readonly workers: ReadonlyMap<number, number>
  readonly addresses: ReadonlyArray<string>
}

/**
 * Starts the fixture's cluster and waits until `n` workers listen; they must share one address
 * (unless `exclusive`, where each must have its own).
 */
const start = (script: string, address: string, mode = "", n = 2, scheduling = "") =>
  Effect.gen(function*() {
    const child = yield* spawnChild(process.execPath, [script, address, mode, String(n), scheduling])
    const primary = Number(yield* child.nextLine("primary "))
    const workers = new Map<number, number>()
    const addresses = new Set<string>()
    for (let i = 0; i < n; i++) {
      const [id, pid, bound] = (yield* child.nextLine("listening ")).split(" ")
      workers.set(Number(id), Number(pid))
      addresses.add(bound!)
    }
    expect(addresses.size).toBe(mode === "exclusive" ? n : 1)
    expect(new Set(workers.values()).size).toBe(n)
    expect(workers.has(primary)).toBe(false)
    return { child, primary, address: [...addresses][0]!, addresses: [...addresses], workers } satisfies Started
  })

/** Connects until every worker has answered at least once (round-robin: a few connections). */
const expectEveryWorkerAnswers = (started: Started) =>
  Effect.gen(function*() {
    const seen = new Map<number, number>()
    for (let i = 0; i < 40 && seen.size < started.workers.size; i++) {
      const reply = yield* ask(started.address)
      const [word, id, pid] = reply.split(" ")
      expect(word, reply).toBe("worker")
      expect(started.workers.get(Number(id))).toBe(Number(pid))
      seen.set(Number(id), (seen.get(Number(id)) ?? 0) + 1)
    }
    expect([...seen.keys()].sort()).toEqual([...started.workers.keys()].sort())
    return seen
  })

/** SIGINT to the primary alone: every worker's program is interrupted, every process exits 0. */
const stopWithSigint = (started: Started) =>
  Effect.gen(function*() {
    started.child.process.kill("SIGINT")
    const stopped = new Set<string>()
    for (let i = 0; i < started.workers.size; i++) stopped.add(yield* started.child.nextLine("worker-stopped ", 15))
    expect([...stopped].sort()).toEqual([...started.workers.keys()].map(String).sort())
    expect(yield* started.child.nextLine("primary-done ", 15)).toBe("interrupted")
    const exit = yield* started.child.exited
    expect(exit).toEqual({ code: 0, signal: null })
    yield* expectGone([...started.workers.values()])
  })

describe("NodeCluster", () => {
  it.scopedLive(
    "two workers accept on one tcp port (127.0.0.1:0), and SIGINT stops them all",
    () =>
      Effect.gen(function*() {
        const { script } = yield* bundled
        const started = yield* start(script, "127.0.0.1:0")
        expect(started.address).toMatch(/^127\.0\.0\.1:\d+$/)
        expect(started.address).not.toBe("127.0.0.1:0")
        const seen = yield* expectEveryWorkerAnswers(started)
        expect(seen.size).toBe(2)
        // ten more connections in parallel: every one answered, by one of the two workers
        const replies = yield* Effect.all(Array.from({ length: 10 }, () => ask(started.address)), {
          concurrency: "unbounded"
        })
        for (const reply of replies) expect(reply).toMatch(/^worker [12] \d+$/)
        yield* stopWithSigint(started)
        // the port is closed once every worker stopped
        expect(yield* ask(started.address)).toBe("error ECONNREFUSED")
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "with exclusive: true each worker binds its own socket: port 0 gives each its own port, answered by that worker alone",
    () =>
      Effect.gen(function*() {
        const { script } = yield* bundled
        const started = yield* start(script, "127.0.0.1:0", "exclusive")
        expect(started.addresses).toHaveLength(2)
        for (const address of started.addresses) {
          const first = yield* ask(address)
          for (let i = 0; i < 3; i++) expect(yield* ask(address)).toBe(first)
        }
        yield* stopWithSigint(started)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "two workers accept on one unix socket path; the file is gone after they stop",
    () =>
      Effect.gen(function*() {
        const { dir, script } = yield* bundled
        const path = Path.join(dir, "shared.sock")
        const started = yield* start(script, path)
        expect(started.address).toBe(path)
        yield* expectEveryWorkerAnswers(started)
        yield* stopWithSigint(started)
        expect(Fs.existsSync(path)).toBe(false)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "a stale socket file at the path fails the workers' listen with AddressInUse",
    () =>
      Effect.gen(function*() {
        const { dir, script } = yield* bundled
        const path = Path.join(dir, "stale.sock")
        // a socket file nobody listens on: bound, never listened, left behind by its process
        const maker = yield* spawnChild("python3", [
          "-c",
          `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)}); print("made", flush=True)`
        ])
        yield* maker.nextLine("made")
        expect(Fs.lstatSync(path).isSocket()).toBe(true)
        const child = yield* spawnChild(process.execPath, [script, path])
        expect(yield* child.nextLine("primary-done ", 20)).toMatch(
          /^WorkerExited: worker [12] \(pid \d+\) exited with code 1$/
        )
        expect(yield* child.exited).toEqual({ code: 1, signal: null })
        expect(child.stderr()).toContain(`AddressInUse: listen unix ${path}: bind: address already in use`)
        expect(Fs.lstatSync(path).isSocket()).toBe(true) // not ours: left in place
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "scheduling \"os\": the workers accept on the shared socket themselves; SIGINT stops them all",
    () =>
      Effect.gen(function*() {
        const { script } = yield* bundled
        const started = yield* start(script, "127.0.0.1:0", "", 2, "os")
        // the kernel picks the worker (often the same one): every connection answered by one of them
        const replies = yield* Effect.all(Array.from({ length: 10 }, () => ask(started.address)), {
          concurrency: "unbounded"
        })
        for (const reply of replies) expect(reply).toMatch(/^worker [12] \d+$/)
        yield* stopWithSigint(started)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "a worker that exits on its own stops the others; run fails with WorkerExited",
    () =>
      Effect.gen(function*() {
        const { script } = yield* bundled
        const child = yield* spawnChild(process.execPath, [script, "127.0.0.1:0", "crash", "2"])
        const pids: Array<number> = []
        for (let i = 0; i < 2; i++) pids.push(Number((yield* child.nextLine("listening ")).split(" ")[1]))
        expect(yield* child.nextLine("worker-stopped ", 15)).toBe("1")
        expect(yield* child.nextLine("primary-done ", 15)).toMatch(
          /^WorkerExited: worker 2 \(pid \d+\) exited with code 3$/
        )
        expect(yield* child.exited).toEqual({ code: 1, signal: null })
        yield* expectGone(pids)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "Ctrl-C while the workers are still starting (SIGINT to the group) is a stop, not a failure",
    () =>
      Effect.gen(function*() {
        const { script } = yield* bundled
        const child = yield* spawnChild(process.execPath, [script, "127.0.0.1:0"], { detached: true })
        yield* child.nextLine("primary ")
        process.kill(-child.process.pid!, "SIGINT") // as a terminal does: every process of the group
        const outcome = yield* child.nextLine("primary-done ", 15)
        expect(["interrupted", "success"]).toContain(outcome)
        expect(yield* child.exited).toEqual({ code: 0, signal: null })
        // nothing of the group is left
        for (let i = 0; i < 200; i++) {
          try {
            process.kill(-child.process.pid!, 0)
          } catch {
            break
          }
          yield* Effect.sleep(Duration.millis(50))
        }
        expect(() => process.kill(-child.process.pid!, 0)).toThrow()
      }),
    { timeout: 60_000 }
  )

  it.scopedLive("a primary killed with SIGKILL leaves no worker behind", () =>
    Effect.gen(function*() {
      const { script } = yield* bundled
      const started = yield* start(script, "127.0.0.1:0")
      started.child.process.kill("SIGKILL")
      expect((yield* started.child.exited).signal).toBe("SIGKILL")
      yield* expectGone([...started.workers.values()])
    }), { timeout: 60_000 })

  it.live("invalid options fail with IllegalArgumentException before anything is forked", () =>
    Effect.gen(function*() {
      const never = Effect.never
      for (
        const options of [
          { workers: 0 },
          { workers: 1.5 },
          { workers: 2, shutdownTimeout: -1 },
          { workers: 2, shutdownTimeout: Number.POSITIVE_INFINITY },
          { workers: 2, scheduling: "random" as "os" }
        ]
      ) {
        const exit = yield* Effect.exit(NodeCluster.run(never, options))
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error._tag : "other").toBe(
          "IllegalArgumentException"
        )
      }
      expect(yield* NodeCluster.isWorker).toBe(false)
      expect(Option.isNone(yield* NodeCluster.workerId)).toBe(true)
    }), { timeout: 10_000 })

  it("WorkerExited says which worker ended and how", { timeout: 5_000 }, () => {
    expect(new NodeCluster.WorkerExited({ workerId: 2, pid: 10, code: 1, signal: null }).message).toBe(
      "worker 2 (pid 10) exited with code 1"
    )
    expect(new NodeCluster.WorkerExited({ workerId: 3, code: null, signal: "SIGKILL" }).message).toBe(
      "worker 3 was killed by SIGKILL"
    )
  })
})
