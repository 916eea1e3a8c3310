/**
 * `pnpm demo serve ADDRESS --workers 2`: the echo server in two node:cluster workers sharing one
 * port; connections reach both; Ctrl-C (SIGINT to the whole process group, as a terminal sends
 * it) or SIGINT to the primary alone stops every process with exit status 0. The demo runs as
 * `node --import tsx src/demo.ts …` in a process group of its own, killed (SIGKILL to the group)
 * with the test's Scope, so no process outlives a test.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Child, expectGone, spawnChild } from "@vvnet/testkit/Child"
import * as Effect from "effect/Effect"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { rawClient } from "./support.js"

const examples = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")

/** Starts the demo in a process group of its own; the Scope's close kills the group. */
const startDemo = (args: ReadonlyArray<string>) =>
  spawnChild(process.execPath, ["--import", "tsx", "src/demo.ts", ...args], { cwd: examples, detached: true })

/** Starts `serve 127.0.0.1:0 --workers 2` and waits for both workers; returns their pids and the port. */
const startTwoWorkers = Effect.gen(function*() {
  const demo = yield* startDemo(["serve", "127.0.0.1:0", "--workers", "2"])
  yield* demo.line(/^echo server: 2 worker processes on 127\.0\.0\.1:0 \(primary pid (\d+)\)$/)
  const workers = new Map<string, number>()
  const addresses = new Set<string>()
  for (let i = 0; i < 2; i++) {
    const [, id, pid, address] = yield* demo.line(
      /^worker (\d+) \(pid (\d+)\): echo server on tcp (127\.0\.0\.1:\d+); Ctrl-C to stop$/
    )
    workers.set(id!, Number(pid))
    addresses.add(address!)
  }
  expect(addresses.size).toBe(1) // one shared port
  return { demo, workers, address: [...addresses][0]! }
})

/** Echo round trips until both workers have logged a connection (round-robin: two or three). */
const expectBothServe = (demo: Child, address: string) =>
  Effect.gen(function*() {
    const served = new Set<string>()
    for (let i = 0; i < 20 && served.size < 2; i++) {
      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* rawClient("tcp", address)
        client.socket.end(`hello ${i}`)
        const reply = yield* client.waitFor((data) => data.toString() === `hello ${i}`)
        expect(reply.toString()).toBe(`hello ${i}`)
      }))
      const [, id] = yield* demo.line(/^worker (\d+) \(pid \d+\): connection from 127\.0\.0\.1:\d+$/, 10)
      served.add(id!)
    }
    expect([...served].sort()).toEqual(["1", "2"])
  })

/** After the SIGINT: both workers and the primary say they stopped, exit 0, and are gone. */
const expectAllStopped = (demo: Child, workers: ReadonlyMap<string, number>) =>
  Effect.gen(function*() {
    const stopped = new Set<string>()
    for (let i = 0; i < 2; i++) stopped.add((yield* demo.line(/^worker (\d+): echo server stopped$/, 20))[1]!)
    expect([...stopped].sort()).toEqual(["1", "2"])
    yield* demo.line(/^all workers stopped$/, 20)
    expect(yield* demo.exited).toEqual({ code: 0, signal: null })
    yield* expectGone([...workers.values()])
  })

describe("demo serve --workers", () => {
  it.scopedLive(
    "two processes serve one port; Ctrl-C (SIGINT to the group) stops them all",
    () =>
      Effect.gen(function*() {
        const { address, demo, workers } = yield* startTwoWorkers
        yield* expectBothServe(demo, address)
        process.kill(-demo.process.pid!, "SIGINT")
        yield* expectAllStopped(demo, workers)
      }),
    { timeout: 90_000 }
  )

  it.scopedLive("SIGINT to the primary alone stops every worker too", () =>
    Effect.gen(function*() {
      const { address, demo, workers } = yield* startTwoWorkers
      yield* expectBothServe(demo, address)
      demo.process.kill("SIGINT")
      yield* expectAllStopped(demo, workers)
    }), { timeout: 90_000 })

  it.scopedLive("--workers needs a positive integer", () =>
    Effect.gen(function*() {
      const demo = yield* startDemo(["serve", "127.0.0.1:0", "--workers", "zero"])
      expect(yield* demo.exited).toEqual({ code: 1, signal: null })
      expect(demo.output()).toContain("demo: --workers needs a positive integer, got zero")
    }), { timeout: 60_000 })
})
