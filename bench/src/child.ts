/**
 * One child process: loads effect (every variant, so raw node:net is measured in a process that
 * has loaded effect, as design.md §5 asks), loads one variant, and runs the scenarios of its job,
 * each as a warm-up run followed by the timed run, in this process. Reports one `Sample` per
 * scenario over IPC.
 *
 * Runs as the esbuild bundle results/.build/child.mjs (see build.ts), forked by main.ts.
 *
 * Server and client share this process (both ends use the variant), except in the idle and
 * server-load scenarios, whose clients are plain node:net sockets in a helper process.
 */
import { serverCerts } from "@vvnet/testkit/TlsCerts"
import type { ChildProcess } from "node:child_process"
import cluster from "node:cluster"
import { performance } from "node:perf_hooks"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { forkJs } from "./fork.js"
import type { ChildJob, ChildMessage, LoadServer, ScenarioId, Variant } from "./types.js"
import { registry } from "./variants/index.js"

/** Load all of effect, as an application built on it would have. */
const Effect = await import("effect").then((m) => m.Effect)
Effect.runSync(Effect.succeed(1))

const job: ChildJob = JSON.parse(process.argv[2]!)
/** The helpers' builds sit next to this file's build (results/.build/). */
const idleClients = fileURLToPath(new URL("./idle-clients.mjs", import.meta.url))
const loadClients = fileURLToPath(new URL("./load-clients.mjs", import.meta.url))
const { variant } = await registry[job.variant]!()

const send = (message: ChildMessage): Promise<void> => new Promise((resolve) => process.send!(message, () => resolve()))

/** Microseconds on the clock V8's CPU profiles use (CLOCK_MONOTONIC), to cut profiles. */
const nowUs = () => Number(process.hrtime.bigint() / 1000n)

interface Measured {
  readonly value: number
  readonly extra: Record<string, number>
  readonly verified: boolean
  readonly detail: string
}

const unsupported = (id: ScenarioId): never => {
  throw new Error(`variant ${variant.id} does not implement ${id}`)
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/**
 * Runs `op` `warmupRuns` times untimed (JIT and heap reach their steady state; Effect-heavy code
 * needs several full-size runs), then `runs` timed times (each a complete operation: listen,
 * dial, transfer, close). The value is the median of the timed runs' rates (`units` per second);
 * `cpuMsPerUnit` is the median process CPU time (user + system, both ends and the kernel's
 * loopback work done in this process's syscalls) per unit, which a busy machine disturbs much less
 * than wall time. `check` verifies every outcome, warm-up included.
 */
const measure = async <A>(
  warmupRuns: number,
  runs: number,
  op: () => Promise<A>,
  units: (outcome: A) => number,
  check: (outcome: A) => string | undefined
): Promise<Measured> => {
  const problems: Array<string> = []
  for (let i = 0; i < warmupRuns; i++) {
    const problem = check(await op())
    if (problem !== undefined) problems.push(`warm-up ${i + 1}: ${problem}`)
  }
  const rates: Array<number> = []
  const cpu: Array<number> = []
  const extra: Record<string, number> = {}
  extra.windowStartUs = nowUs()
  for (let i = 0; i < runs; i++) {
    const cpu0 = process.cpuUsage()
    const start = performance.now()
    const outcome = await op()
    const seconds = (performance.now() - start) / 1000
    const used = process.cpuUsage(cpu0)
    const problem = check(outcome)
    if (problem !== undefined) problems.push(`run ${i + 1}: ${problem}`)
    const n = units(outcome)
    rates.push(n / seconds)
    cpu.push((used.user + used.system) / 1000 / n)
    extra[`run${i + 1}`] = rates[i]!
  }
  extra.windowEndUs = nowUs()
  extra.cpuMsPerUnit = median(cpu)
  return {
    value: median(rates),
    extra,
    verified: problems.length === 0,
    detail: problems.length === 0 ? `all ${warmupRuns + runs} runs verified` : problems.join("; ")
  }
}

const bulk = (v: Variant, p: Record<string, number>): Promise<Measured> => {
  const run = v.bulk ?? unsupported("bulk64k")
  return measure(
    p.warmupRuns!,
    p.runs!,
    () => run({ bytes: p.bytes!, writeSize: p.writeSize!, readSize: p.readSize! }),
    (r) => r.received / 1e6,
    (r) =>
      r.received === p.bytes! && r.errors === 0
        ? undefined
        : `received ${r.received}/${p.bytes} bytes, ${r.errors} pattern errors`
  )
}

const tlsBulk = async (v: Variant, p: Record<string, number>): Promise<Measured> => {
  const run = v.tlsBulk ?? unsupported("tlsbulk64k")
  const { ca, server } = serverCerts()
  const tls = { ca, ...server }
  return measure(
    p.warmupRuns!,
    p.runs!,
    () => run({ bytes: p.bytes!, writeSize: p.writeSize!, readSize: p.readSize! }, tls),
    (r) => r.received / 1e6,
    (r) =>
      r.received === p.bytes! && r.errors === 0
        ? undefined
        : `received ${r.received}/${p.bytes} bytes, ${r.errors} pattern errors`
  )
}

const pingPong = (v: Variant, p: Record<string, number>): Promise<Measured> => {
  const run = v.pingPong ?? unsupported("pingpong")
  const n = p.roundTrips!
  return measure(
    p.warmupRuns!,
    p.runs!,
    () => run({ roundTrips: n, size: p.size! }),
    (r) => r.roundTrips,
    (r) =>
      r.errors === 0 && r.roundTrips === n && r.bytes === n * p.size!
        ? undefined
        : `${r.roundTrips}/${n} round trips, ${r.bytes}/${n * p.size!} bytes, ${r.errors} errors`
  )
}

const accept = (v: Variant, p: Record<string, number>): Promise<Measured> => {
  const run = v.accept ?? unsupported("accept")
  const n = p.connections!
  return measure(
    p.warmupRuns!,
    p.runs!,
    () => run({ connections: n }),
    (r) => r.accepted,
    (r) => (r.accepted === n ? undefined : `accepted ${r.accepted}/${n}`)
  )
}

type HelperReply = { readonly type: string; readonly message?: string } & Record<string, unknown>

/** What `ask` needs of a helper process or a cluster worker: messages both ways. */
interface MessagePeer {
  on(event: "message", listener: (m: HelperReply) => void): unknown
  off(event: "message", listener: (m: HelperReply) => void): unknown
  send(message: object): unknown
}

/** Asks a helper to do something and waits for (and returns) its reply of type `reply`. */
const ask = (helper: MessagePeer, message: object, reply: string): Promise<HelperReply> =>
  new Promise((resolve, reject) => {
    const onMessage = (m: HelperReply) => {
      if (m.type === reply) {
        helper.off("message", onMessage)
        resolve(m)
      } else if (m.type === "error") {
        helper.off("message", onMessage)
        reject(new Error(`helper: ${m.message}`))
      }
    }
    helper.on("message", onMessage)
    helper.send(message)
  })

const waitUntilAsync = async (what: string, predicate: () => Promise<boolean>, timeoutMs = 30_000) => {
  const deadline = performance.now() + timeoutMs
  while (!(await predicate())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

const waitUntil = async (what: string, predicate: () => boolean, timeoutMs = 30_000) => {
  const deadline = performance.now() + timeoutMs
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

const fullGc = async () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("the idle scenario needs --expose-gc")
  for (let i = 0; i < 4; i++) {
    gc()
    await sleep(20)
  }
}

const startHelper = async (file: string): Promise<ChildProcess> => {
  const helper = forkJs(file, [])
  await new Promise<void>((resolve, reject) => {
    helper.once("spawn", resolve)
    helper.once("error", reject)
  })
  return helper
}

const idle = async (v: Variant, p: Record<string, number>): Promise<Measured> => {
  const start = v.idleServer ?? unsupported("idle")
  const n = p.connections!
  const server = await start()
  const helper = await startHelper(idleClients).catch(async (error) => {
    await server.close()
    throw error
  })
  try {
    // Warm-up: a first batch of connections opened and closed, so lazily created per-server
    // state is in the baseline.
    await ask(helper, { type: "open", port: server.port, count: p.warmupConnections }, "opened")
    await waitUntil("warm-up connections", () => server.live() === p.warmupConnections)
    await ask(helper, { type: "closeAll" }, "closed")
    await waitUntil("warm-up connections to close", () => server.live() === 0)
    await sleep(100)
    await fullGc()
    const before = process.memoryUsage()
    await ask(helper, { type: "open", port: server.port, count: n }, "opened")
    await waitUntil("connections", () => server.live() === n)
    await sleep(200)
    await fullGc()
    const after = process.memoryUsage()
    const live = server.live()
    await ask(helper, { type: "closeAll" }, "closed")
    await waitUntil("connections to close", () => server.live() === 0)
    const heapPerConn = (after.heapUsed - before.heapUsed) / n
    return {
      value: heapPerConn,
      extra: {
        heapPerConn,
        rssPerConn: (after.rss - before.rss) / n,
        externalPerConn: (after.external - before.external) / n,
        connections: n
      },
      verified: live === n,
      detail: `${live}/${n} connections live when measured`
    }
  } finally {
    helper.send({ type: "exit" })
    await server.close()
  }
}

/**
 * Server under load: the variant's server in this process, a helper process of plain node:net
 * clients driving `connections` keep-alive connections of request/response at it (see
 * load-clients.ts), so this process's CPU is the server's alone. One run: the helper opens the
 * connections, this process waits until the server runs a handler for each, the helper drives
 * for `durationMs` (bounded by `maxRequests`), then closes them and the server must see every
 * handler end. Rate = requests / the helper's drive time; `cpuMsPerUnit` = this process's CPU
 * during the drive / requests. Checked: every reply piece (helper), every request piece
 * (`RequestParser`), the server answered exactly as many requests as the helper got replies,
 * bytes = requests × size, and the drive finished within its limit.
 */
/**
 * The server under load as the harness sees it, in this process (`server-load`) or in cluster
 * workers (`server-load-w1`, `-w2`): a port, counts read at once, and the server's CPU time.
 */
interface LoadTarget {
  readonly port: number
  /** Live handlers, requests answered, bad pieces (summed over the workers). */
  readonly counts: () => Promise<{ live: number; requests: number; errors: number }>
  /** CPU time (user + system, µs) the server's processes have used so far. */
  readonly cpuUs: () => Promise<number>
  readonly close: () => Promise<void>
}

const inProcess = (server: LoadServer): LoadTarget => ({
  port: server.port,
  counts: () => Promise.resolve({ live: server.live(), requests: server.tally.requests, errors: server.tally.errors }),
  cpuUs: () => {
    const used = process.cpuUsage()
    return Promise.resolve(used.user + used.system)
  },
  close: server.close
})

/** The environment variable that makes a forked child a load-server cluster worker (its value: the request size). */
const workerSizeVar = "VVNET_BENCH_LOAD_WORKER_SIZE"

/**
 * This child as the primary of a node:cluster of `workers` processes that each run the variant's
 * load server on one shared port (`127.0.0.1:0`: the same port in every worker). Round-robin
 * scheduling (Node's default on Linux): this process accepts and hands connections out, so its
 * own CPU counts with the workers'. The workers run this same bundle (`runLoadWorker`).
 */
const inWorkers = async (workers: number, size: number): Promise<LoadTarget> => {
  // no --cpu-prof in the workers: they would write this child's profile file
  cluster.setupPrimary({ execArgv: process.execArgv.filter((a) => !a.startsWith("--cpu-prof")) })
  const forked = Array.from({ length: workers }, () => cluster.fork({ [workerSizeVar]: String(size) }))
  const exited = forked.map((w) => new Promise<void>((resolve) => w.process.once("exit", () => resolve())))
  const stopAll = async () => {
    for (const w of forked) w.process.kill("SIGKILL")
    await Promise.all(exited)
  }
  try {
    const ports = await Promise.all(forked.map((w) =>
      new Promise<number>((resolve, reject) => {
        w.on("message", function onMessage(m: HelperReply) {
          if (m.type === "listening") {
            w.off("message", onMessage)
            resolve(m.port as number)
          } else if (m.type === "error") reject(new Error(`load worker: ${m.message}`))
        })
        w.process.once("exit", (code) => reject(new Error(`load worker exited (${code}) before listening`)))
      })
    ))
    if (new Set(ports).size !== 1) throw new Error(`the workers listen on different ports: ${ports.join(", ")}`)
    let asked = 0
    const stats = () =>
      Promise.all(forked.map((w) => ask(w, { type: "stats", id: ++asked }, "stats"))) as Promise<
        Array<HelperReply & { live: number; requests: number; errors: number; cpuUs: number }>
      >
    return {
      port: ports[0]!,
      counts: async () => {
        const all = await stats()
        return {
          live: all.reduce((a, x) => a + x.live, 0),
          requests: all.reduce((a, x) => a + x.requests, 0),
          errors: all.reduce((a, x) => a + x.errors, 0)
        }
      },
      cpuUs: async () => {
        const all = await stats()
        const own = process.cpuUsage()
        return all.reduce((a, x) => a + x.cpuUs, own.user + own.system)
      },
      close: async () => {
        await Promise.all(forked.map((w) => ask(w, { type: "close" }, "closed").catch(() => undefined)))
        const timer = setTimeout(() => void stopAll(), 10_000)
        await Promise.all(exited)
        clearTimeout(timer)
      }
    }
  } catch (error) {
    await stopAll()
    throw error
  }
}

/** A cluster worker of `inWorkers`: the variant's load server, answering the primary's questions. */
const runLoadWorker = async (v: Variant, size: number) => {
  const start = v.loadServer ?? unsupported("server-load")
  const server = await start({ size })
  process.on("message", async (m: { type: string; id?: number }) => {
    if (m.type === "stats") {
      const used = process.cpuUsage()
      process.send!({
        type: "stats",
        id: m.id,
        live: server.live(),
        requests: server.tally.requests,
        errors: server.tally.errors,
        cpuUs: used.user + used.system
      })
    } else if (m.type === "close") {
      await server.close()
      process.send!({ type: "closed" }, () => process.disconnect())
    }
  })
  process.send!({ type: "listening", port: server.port })
}

const serverLoad = async (v: Variant, p: Record<string, number>): Promise<Measured> => {
  const n = p.connections!
  const size = p.size!
  let server: LoadTarget
  if (p.workers === undefined) {
    const start = v.loadServer ?? unsupported("server-load")
    server = inProcess(await start({ size }))
  } else {
    if (v.loadServer === undefined) unsupported("server-load")
    server = await inWorkers(p.workers, size)
  }
  const problems: Array<string> = []
  const rates: Array<number> = []
  const cpu: Array<number> = []
  const extra: Record<string, number> = {}
  const helper = await startHelper(loadClients).catch(async (error) => {
    await server.close()
    throw error
  })
  try {
    for (let i = 0; i < p.warmupRuns! + p.runs!; i++) {
      const timed = i >= p.warmupRuns!
      const name = timed ? `run ${i - p.warmupRuns! + 1}` : `warm-up ${i + 1}`
      await ask(helper, { type: "open", port: server.port, connections: n }, "opened")
      await waitUntilAsync("connections", async () => (await server.counts()).live === n)
      if (timed && extra.windowStartUs === undefined) extra.windowStartUs = nowUs()
      const before = await server.counts()
      const cpu0 = await server.cpuUs()
      const r = await ask(
        helper,
        { type: "drive", durationMs: p.durationMs, maxRequests: p.maxRequests, size },
        "driven"
      ) as HelperReply & {
        requests: number
        bytes: number
        errors: number
        elapsedMs: number
        complete: boolean
      }
      const usedUs = (await server.cpuUs()) - cpu0
      if (timed) extra.windowEndUs = nowUs()
      const after = await server.counts()
      const served = after.requests - before.requests
      const serverErrors = after.errors - before.errors
      if (
        !r.complete || r.errors !== 0 || serverErrors !== 0 || served !== r.requests || r.requests === 0 ||
        r.bytes !== r.requests * size
      ) {
        problems.push(
          `${name}: ${r.complete ? "" : "did not finish in time; "}${r.requests} replies (${r.bytes} bytes, ` +
            `${r.errors} bad) for ${served} requests answered (${serverErrors} bad)`
        )
      }
      await ask(helper, { type: "closeAll" }, "closed")
      await waitUntilAsync("connections to close", async () => (await server.counts()).live === 0)
      if (timed) {
        const k = rates.length + 1
        rates.push(r.requests / (r.elapsedMs / 1000))
        cpu.push(usedUs / 1000 / r.requests)
        extra[`run${k}`] = rates[k - 1]!
        extra[`requests${k}`] = r.requests
      }
    }
  } finally {
    helper.send({ type: "exit" })
    await server.close()
  }
  extra.cpuMsPerUnit = median(cpu)
  extra.connections = n
  if (p.workers !== undefined) extra.workers = p.workers
  return {
    value: median(rates),
    extra,
    verified: problems.length === 0,
    detail: problems.length === 0 ? `all ${p.warmupRuns! + p.runs!} runs verified` : problems.join("; ")
  }
}

const runners: Record<ScenarioId, (v: Variant, p: Record<string, number>) => Promise<Measured>> = {
  bulk64k: bulk,
  tlsbulk64k: tlsBulk,
  bulk4k: bulk,
  pingpong: pingPong,
  accept,
  idle,
  "server-load": serverLoad,
  "server-load-w1": serverLoad,
  "server-load-w2": serverLoad
}

const workerSize = process.env[workerSizeVar]
if (cluster.isWorker && workerSize !== undefined) {
  // a load-server worker of `inWorkers`: serve until the primary says close
  await runLoadWorker(variant, Number(workerSize))
} else {
  await runJob()
}

async function runJob() {
  for (const { id, params } of job.scenarios) {
    try {
      const m = await runners[id](variant, params)
      await send({
        type: "sample",
        sample: { scenario: id, variant: variant.id, rep: job.rep, ...m }
      })
    } catch (error) {
      await send({
        type: "error",
        scenario: id,
        variant: variant.id,
        rep: job.rep,
        message: error instanceof Error ? (error.stack ?? error.message) : String(error)
      })
    }
  }
  // Leave cleanly, so --cpu-prof writes its profile.
  process.disconnect()
  process.exit(0)
}
