/**
 * `pnpm bench`: vvnet NodeNet against raw node:net and @effect/platform-node, side by side, in
 * one run, on 127.0.0.1. See bench/README.md.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { build, type Built } from "./build.js"
import { forkJs } from "./fork.js"
import { readProfile, render, summarize as summarizeProfile } from "./profile.js"
import { type Failure, markdown, summarize } from "./report.js"
import { scenarioById, type ScenarioDef, scenarioGroups, scenarios, targets } from "./scenarios.js"
import type { ChildJob, ChildMessage, Sample } from "./types.js"
import { defaultVariants, labels, registry, supports } from "./variants/index.js"

const usage = `usage: pnpm bench [options]

  --quick               small sizes, 3 repetitions, one process per variant and repetition:
                        about a minute (a smoke test; figures are rough)
  --reps N              repetitions (default 5; --quick 3)
  --scenarios a,b       among: ${scenarios.map((s) => s.id).join(", ")}, and
                        server-load-workers (= server-load-w1,server-load-w2: the server in 1, then
                        2 node:cluster worker processes; raw and vvnet only) (default: all but
                        ${scenarios.filter((s) => s.optional === true).map((s) => s.id).join(", ")})
  --variants a,b        among: ${Object.keys(registry).join(", ")} (default ${defaultVariants.join(", ")})
  --fork-per M          "measurement" (default: a fresh process for every scenario × variant ×
                        repetition) or "variant" (default with --quick)
  --profile             run children under node --cpu-prof; print the top self-time functions of
                        each timed run (profiles in bench/results/profiles/)
  --out FILE            JSON results file (default bench/results/bench-<time>.json)
  --help

Exit status: 0 unless a variant failed its correctness check or crashed. Ratios never fail it.`

interface Options {
  quick: boolean
  reps: number
  scenarios: Array<ScenarioDef>
  variants: Array<string>
  forkPer: "measurement" | "variant"
  profile: boolean
  out: string | undefined
}

const benchDir = fileURLToPath(new URL("..", import.meta.url))
const resultsDir = Path.join(benchDir, "results")

const parseArgs = (argv: ReadonlyArray<string>): Options => {
  const quick = argv.includes("--quick")
  const value = (flag: string) => {
    const i = argv.indexOf(flag)
    if (i < 0) return undefined
    const v = argv[i + 1]
    if (v === undefined || v.startsWith("--")) throw new Error(`${flag} needs a value`)
    return v
  }
  for (const a of argv) {
    if (
      a.startsWith("--") &&
      !["--quick", "--reps", "--scenarios", "--variants", "--fork-per", "--profile", "--out", "--help"].includes(a)
    ) {
      throw new Error(`unknown option ${a}`)
    }
  }
  const reps = Number(value("--reps") ?? (quick ? 3 : 5))
  if (!Number.isInteger(reps) || reps < 1) throw new Error("--reps must be a positive integer")
  const scenarioIds = value("--scenarios")?.split(",").flatMap((id) => scenarioGroups[id] ?? [id]) ??
    scenarios.filter((s) => s.optional !== true).map((s) => s.id)
  const chosen = scenarioIds.map((id) => {
    const def = scenarioById(id)
    if (def === undefined) throw new Error(`unknown scenario ${id}`)
    return def
  })
  const variants = value("--variants")?.split(",") ?? [...defaultVariants]
  for (const v of variants) if (registry[v] === undefined) throw new Error(`unknown variant ${v}`)
  // raw is the denominator of every ratio: always measure it.
  if (!variants.includes("raw")) variants.unshift("raw")
  const forkPer = value("--fork-per") ?? (quick ? "variant" : "measurement")
  if (forkPer !== "measurement" && forkPer !== "variant") throw new Error("--fork-per is measurement or variant")
  return {
    quick,
    reps,
    scenarios: chosen,
    variants,
    forkPer,
    profile: argv.includes("--profile"),
    out: value("--out")
  }
}

/** The variants in rotated order for repetition `rep`, so each goes first as often as the others. */
const rotate = <A>(xs: ReadonlyArray<A>, rep: number): Array<A> => xs.map((_, i) => xs[(i + rep) % xs.length]!)

interface Run {
  readonly job: ChildJob
  readonly exposeGc: boolean
  readonly profileName: string
}

const plan = (o: Options): Array<Run> => {
  const runs: Array<Run> = []
  const paramsOf = (def: ScenarioDef) => (o.quick ? def.quick : def.full)
  for (let rep = 1; rep <= o.reps; rep++) {
    const order = rotate(o.variants, rep - 1)
    if (o.forkPer === "measurement") {
      for (const def of o.scenarios) {
        for (const variant of order) {
          if (!(supports[variant] ?? []).includes(def.id)) continue
          runs.push({
            job: { variant, rep, scenarios: [{ id: def.id, params: paramsOf(def) }] },
            exposeGc: def.exposeGc,
            profileName: `${def.id}-${variant}-rep${rep}`
          })
        }
      }
    } else {
      for (const variant of order) {
        const group = o.scenarios.filter((d) => (supports[variant] ?? []).includes(d.id))
        if (group.length === 0) continue
        runs.push({
          job: { variant, rep, scenarios: group.map((d) => ({ id: d.id, params: paramsOf(d) })) },
          exposeGc: group.some((d) => d.exposeGc),
          profileName: `all-${variant}-rep${rep}`
        })
      }
    }
  }
  return runs
}

const childTimeoutMs = (o: Options) => (o.quick ? 60_000 : 240_000)

/** Runs one child; resolves with what it reported (a crash or timeout becomes a failure). */
const runChild = (o: Options, built: Built, run: Run, profileDir: string | undefined) =>
  new Promise<{ samples: Array<Sample>; failures: Array<Failure> }>((resolve) => {
    const flags: Array<string> = []
    if (run.exposeGc) flags.push("--expose-gc")
    if (profileDir !== undefined) {
      flags.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${run.profileName}.cpuprofile`)
    }
    const child = forkJs(built.child, [JSON.stringify(run.job)], flags)
    const samples: Array<Sample> = []
    const failures: Array<Failure> = []
    const timer = setTimeout(() => {
      failures.push(...missing(`timed out after ${childTimeoutMs(o) / 1000} s`))
      child.kill("SIGKILL")
    }, childTimeoutMs(o))
    const missing = (why: string): Array<Failure> =>
      run.job.scenarios
        .filter((s) => !samples.some((x) => x.scenario === s.id) && !failures.some((f) => f.scenario === s.id))
        .map((s) => ({ scenario: s.id, variant: run.job.variant, rep: run.job.rep, message: why }))
    child.on("message", (m: ChildMessage) => {
      if (m.type === "sample") samples.push(m.sample)
      else failures.push({ scenario: m.scenario, variant: m.variant, rep: m.rep, message: m.message })
    })
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      failures.push(...missing(`child exited (${signal ?? code}) without reporting`))
      resolve({ samples, failures })
    })
  })

const main = async () => {
  let o: Options
  try {
    if (process.argv.includes("--help")) {
      console.log(usage)
      return 0
    }
    o = parseArgs(process.argv.slice(2))
  } catch (error) {
    console.error(String(error instanceof Error ? error.message : error))
    console.error(usage)
    return 2
  }
  const started = new Date()
  const stamp = started.toISOString().replace(/[:.]/g, "-")
  const profileDir = o.profile ? Path.join(resultsDir, "profiles", stamp) : undefined
  if (profileDir !== undefined) Fs.mkdirSync(profileDir, { recursive: true })
  const built = await build()
  const runs = plan(o)
  const layout = o.forkPer === "measurement"
    ? "a fresh child process per scenario × variant × repetition"
    : "a fresh child process per variant × repetition (all scenarios in turn)"
  console.error(
    `vvnet bench: ${o.reps} repetitions, ${runs.length} child processes (${layout}); ` +
      `variants in rotated order per repetition; ${o.quick ? "--quick sizes" : "full sizes"}.`
  )

  const samples: Array<Sample> = []
  const failures: Array<Failure> = []
  const t0 = performance.now()
  for (const [i, run] of runs.entries()) {
    const childStart = performance.now()
    const result = await runChild(o, built, run, profileDir)
    const childSeconds = ((performance.now() - childStart) / 1000).toFixed(1)
    samples.push(...result.samples)
    failures.push(...result.failures)
    for (const s of result.samples) {
      const def = scenarioById(s.scenario)!
      const flag = s.verified ? "" : `  VERIFICATION FAILED: ${s.detail}`
      console.error(
        `[${i + 1}/${runs.length}] rep ${s.rep} ${s.scenario.padEnd(11)} ${s.variant.padEnd(12)} ` +
          `${def.format(s.value).padStart(9)} ${def.unit}${flag}`
      )
    }
    if (result.samples.length > 0) {
      console.error(`[${i + 1}/${runs.length}]   (child process: ${childSeconds} s)`)
    }
    for (const f of result.failures) {
      console.error(`[${i + 1}/${runs.length}] rep ${f.rep} ${f.scenario} ${f.variant} FAILED: ${f.message}`)
    }
  }
  const elapsedS = (performance.now() - t0) / 1000

  const rows = summarize(o.scenarios, o.variants, samples, failures)
  const cpu = Os.cpus()
  const header = [
    `## vvnet bench — ${started.toISOString()}`,
    "",
    `Node ${process.version}, ${Os.platform()} ${Os.release()}, ${cpu.length} × ${cpu[0]?.model ?? "?"}; ` +
    `${o.reps} repetitions${o.quick ? " (--quick)" : ""}; ${elapsedS.toFixed(0)} s.`,
    `Loopback 127.0.0.1. Each measurement ran in ${layout}: untimed warm-up runs, then timed runs ` +
    "whose median the child reports; the table gives the median and range of those over the " +
    "repetitions. Every child loads effect first (raw included). Server and client share the child " +
    "process and use the same variant, except idle and server-load, whose clients are plain node:net " +
    "sockets in a helper process (server-load: 64 keep-alive connections, one 100 B request in " +
    "flight on each, every reply checked; server-load-w1/-w2: the same with the server in 1 or 2 " +
    "node:cluster workers sharing one port, CPU = primary + workers). TCP_NODELAY on everywhere. " +
    "\"CPU/unit vs raw\": process " +
    "CPU time (user + system) per MB, round trip, connection or request (server-load: the server " +
    "process's alone), relative to raw; lower is better, and less disturbed by a busy machine than " +
    "the rates. effect-floor is the thinnest Effect wrapping of node:net (what Effect itself costs). " +
    "MB = 10^6 bytes, KiB = 1024 bytes.",
    ""
  ].join("\n")
  const table = markdown(o.scenarios, rows)
  console.log(`${header}\n${table}\n`)
  const failed = rows.some((r) => r.failures > 0)
  if (failed) {
    console.log("Failures (these measurements are left out of the figures):")
    for (const s of samples.filter((x) => !x.verified)) {
      console.log(`- ${s.scenario} ${s.variant} rep ${s.rep}: ${s.detail}`)
    }
    for (const f of failures) console.log(`- ${f.scenario} ${f.variant} rep ${f.rep}: ${f.message.split("\n")[0]}`)
    console.log("")
  }

  let profiles: Array<{ file: string; summary: ReturnType<typeof summarizeProfile> }> = []
  if (profileDir !== undefined) {
    profiles = runs.flatMap((run) => {
      const file = Path.join(profileDir, `${run.profileName}.cpuprofile`)
      if (!Fs.existsSync(file)) return []
      const profile = readProfile(file)
      // One summary per timed run in this child.
      return samples
        .filter((s) =>
          s.variant === run.job.variant && s.rep === run.job.rep && run.job.scenarios.some((x) => x.id === s.scenario)
        )
        .map((s) => {
          const w = s.extra.windowStartUs !== undefined && s.extra.windowEndUs !== undefined
            ? { startUs: s.extra.windowStartUs, endUs: s.extra.windowEndUs }
            : undefined
          const summary = summarizeProfile(profile, w, 20)
          console.log(
            render(
              `${s.scenario} · ${labels[s.variant] ?? s.variant} · rep ${s.rep} (${Path.relative(benchDir, file)})`,
              summary
            )
          )
          console.log("")
          return { file, summary }
        })
    })
  }

  const out = o.out ?? Path.join(resultsDir, `bench-${stamp}.json`)
  Fs.mkdirSync(Path.dirname(out), { recursive: true })
  const json = {
    startedAt: started.toISOString(),
    elapsedSeconds: elapsedS,
    machine: {
      node: process.version,
      platform: Os.platform(),
      release: Os.release(),
      cpus: cpu.length,
      cpuModel: cpu[0]?.model,
      totalMemory: Os.totalmem()
    },
    options: {
      quick: o.quick,
      reps: o.reps,
      forkPer: o.forkPer,
      variants: o.variants,
      scenarios: o.scenarios.map((s) => ({ id: s.id, params: o.quick ? s.quick : s.full }))
    },
    targets,
    summary: rows,
    samples,
    failures,
    profiles,
    markdown: `${header}\n${table}`
  }
  Fs.writeFileSync(out, JSON.stringify(json, null, 2) + "\n")
  Fs.writeFileSync(Path.join(resultsDir, "latest.json"), JSON.stringify(json, null, 2) + "\n")
  console.error(`results: ${Path.relative(process.cwd(), out)}`)
  return failed ? 1 : 0
}

process.exitCode = await main()
