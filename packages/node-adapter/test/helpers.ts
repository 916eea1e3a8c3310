/**
 * Shared helpers of NodeNet's own tests: resource accounting (open fds, active handles), a
 * loopback "black hole" that keeps dials pending, child processes that are always killed, and
 * a bundler for child scripts that must start under a low fd limit.
 */
import { expect } from "@effect/vitest"
import type { NetError } from "@vvnet/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"

export const MiB = 1024 * 1024

const decoder = new TextDecoder()
export const text = (bytes: Uint8Array): string => decoder.decode(bytes)

/** The `_tag` of an exit's failure, `"success"`, or the cause's tag for a defect/interruption. */
export const tagOf = <A>(exit: Exit.Exit<A, NetError.NetError>): string =>
  Exit.isSuccess(exit) ? "success" : exit.cause._tag === "Fail" ? exit.cause.error._tag : exit.cause._tag

/** The failure of an exit, asserting that it is a typed failure. */
export const failureOf = <A>(exit: Exit.Exit<A, NetError.NetError>): NetError.NetError => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") {
    throw new Error(`expected a typed failure, got ${Exit.isSuccess(exit) ? "success" : exit.cause._tag}`)
  }
  return exit.cause.error
}

// ---- resource accounting -------------------------------------------------------------------

/** The handle kinds a socket, server, pipe or timer shows up as in `getActiveResourcesInfo`. */
export const trackedKinds = ["TCPSocketWrap", "TCPServerWrap", "PipeWrap", "PipeServerWrap", "Timeout"] as const

export interface Resources {
  readonly fds: number
  readonly handles: Readonly<Record<(typeof trackedKinds)[number], number>>
}

export const resources = (): Resources => {
  const handles = { TCPSocketWrap: 0, TCPServerWrap: 0, PipeWrap: 0, PipeServerWrap: 0, Timeout: 0 }
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind in handles) handles[kind as keyof typeof handles]++
  }
  return { fds: Fs.readdirSync("/proc/self/fd").length, handles }
}

const within = (now: Resources, baseline: Resources): boolean =>
  now.fds <= baseline.fds && trackedKinds.every((kind) => now.handles[kind] <= baseline.handles[kind])

/**
 * The baseline: the least of each count over a short window (~300 ms). The test runner keeps
 * short-lived timers of its own (RPC, report throttling) that come and go at any time; taking
 * the minimum keeps them out of the baseline, and `expectBackTo` polls past them.
 */
export const baseline: Effect.Effect<Resources> = Effect.gen(function*() {
  let fds = Number.POSITIVE_INFINITY
  const handles = {
    TCPSocketWrap: Infinity,
    TCPServerWrap: Infinity,
    PipeWrap: Infinity,
    PipeServerWrap: Infinity,
    Timeout: Infinity
  }
  for (let i = 0; i < 12; i++) {
    if (i > 0) yield* Effect.sleep(Duration.millis(25))
    const now = resources()
    fds = Math.min(fds, now.fds)
    for (const kind of trackedKinds) handles[kind] = Math.min(handles[kind], now.handles[kind])
  }
  return { fds, handles }
})

/**
 * Polls (every 25 ms, for up to `seconds`) until the fd count and every tracked handle kind
 * are back at or below `base`, then asserts it: closes in node:net are asynchronous.
 */
export const expectBackTo = (base: Resources, seconds = 10): Effect.Effect<Resources> =>
  Effect.gen(function*() {
    let now = resources()
    for (let i = 0; i < seconds * 40 && !within(now, base); i++) {
      yield* Effect.sleep(Duration.millis(25))
      now = resources()
    }
    // at or below the baseline (a transient timer counted in the baseline may be gone)
    if (!within(now, base)) expect(now).toEqual(base)
    return now
  })

/** Polls (for up to `seconds`) until `predicate` holds on the current resources; returns them. */
export const awaitResources = (predicate: (now: Resources) => boolean, seconds = 5): Effect.Effect<Resources> =>
  Effect.gen(function*() {
    let now = resources()
    for (let i = 0; i < seconds * 40 && !predicate(now); i++) {
      yield* Effect.sleep(Duration.millis(25))
      now = resources()
    }
    expect(predicate(now), JSON.stringify(now)).toBe(true)
    return now
  })

// ---- child processes -----------------------------------------------------------------------

export interface Child {
  readonly process: ChildProcess.ChildProcessWithoutNullStreams
  /** Resolves with the next stdout line that starts with `prefix` (the rest of the line). */
  readonly nextLine: (prefix: string, seconds?: number) => Effect.Effect<string>
  /** Resolves when the process has exited. */
  readonly exited: Effect.Effect<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  readonly stderr: () => string
}

/**
 * Spawns a child process in the current Scope; the Scope's close kills it (SIGKILL) and waits
 * for its exit, so no test leaves a process behind.
 */
export const spawnChild = (
  command: string,
  args: ReadonlyArray<string>,
  options?: ChildProcess.SpawnOptionsWithoutStdio
) =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const child = ChildProcess.spawn(command, args, { ...options, stdio: ["pipe", "pipe", "pipe"] })
      const lines: Array<string> = []
      const waiters = new Set<() => void>()
      let stdout = ""
      let stderr = ""
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
      const wake = () => {
        for (const w of Array.from(waiters)) w()
      }
      child.stdout.setEncoding("utf8")
      child.stderr.setEncoding("utf8")
      child.stdout.on("data", (chunk: string) => {
        stdout += chunk
        let newline: number
        while ((newline = stdout.indexOf("\n")) >= 0) {
          lines.push(stdout.slice(0, newline))
          stdout = stdout.slice(newline + 1)
        }
        wake()
      })
      child.stderr.on("data", (chunk: string) => {
        stderr += chunk
      })
      child.stdin.on("error", () => {})
      child.on("error", (error) => {
        stderr += `spawn error: ${error.message}\n`
        exit ??= { code: null, signal: null }
        wake()
      })
      child.on("exit", (code, signal) => {
        exit = { code, signal }
        wake()
      })
      const waitFor = <A>(poll: () => A | undefined, seconds: number, what: string) =>
        Effect.async<A>((resume) => {
          const check = () => {
            const value = poll()
            if (value !== undefined) {
              cleanup()
              resume(Effect.succeed(value))
            } else if (exit !== undefined && what !== "exit") {
              cleanup()
              resume(Effect.dieMessage(`child exited (${JSON.stringify(exit)}) before ${what}; stderr: ${stderr}`))
            }
          }
          const timer = setTimeout(() => {
            cleanup()
            resume(Effect.dieMessage(`no ${what} from the child within ${seconds} s; stderr: ${stderr}`))
          }, seconds * 1000)
          const cleanup = () => {
            clearTimeout(timer)
            waiters.delete(check)
          }
          waiters.add(check)
          check()
          return Effect.sync(cleanup)
        })
      return {
        process: child,
        nextLine: (prefix, seconds = 30) =>
          waitFor(
            () => {
              const index = lines.findIndex((line) => line.startsWith(prefix))
              if (index < 0) return undefined
              const [line] = lines.splice(0, index + 1).slice(-1)
              return line!.slice(prefix.length).trim()
            },
            seconds,
            `line "${prefix}"`
          ),
        exited: waitFor(() => exit, 30, "exit"),
        stderr: () => stderr
      }
    }),
    (child) =>
      Effect.gen(function*() {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
        yield* child.exited
        child.process.stdin.destroy()
        child.process.stdout.destroy()
        child.process.stderr.destroy()
      })
  )

/**
 * A TCP listener on 127.0.0.1 that never accepts and whose accept queue is full (a python3
 * child: `listen(0)`, then a few non-blocking connects to itself), so the kernel drops later
 * SYNs and a dial to it stays pending (SYN retransmits, ~2 minutes). Killed with the Scope.
 */
export const blackHole = Effect.gen(function*() {
  const script = [
    "import socket, sys",
    "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
    "s.bind(('127.0.0.1', 0))",
    "s.listen(0)",
    "port = s.getsockname()[1]",
    "fill = []",
    "for _ in range(4):",
    "    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
    "    c.setblocking(False)",
    "    try:",
    "        c.connect(('127.0.0.1', port))",
    "    except BlockingIOError:",
    "        pass",
    "    fill.append(c)",
    "print('port', port, flush=True)",
    "sys.stdin.read()"
  ].join("\n")
  const child = yield* spawnChild("python3", ["-c", script])
  const port = yield* child.nextLine("port ")
  return `127.0.0.1:${port}`
})

// ---- bundling child scripts ------------------------------------------------------------------

interface EsbuildLike {
  readonly buildSync: (options: Record<string, unknown>) => unknown
}

/**
 * Bundles a TypeScript child script (and the workspace packages it imports) into one ES module
 * in `outDir`, with the esbuild that tsx ships (resolved from the workspace). A child that must
 * start under `ulimit -n 64` cannot use `--import tsx`: Node's ESM loader reads a module graph
 * the size of effect's in parallel and fails with EMFILE while loading; one file loads in one fd.
 */
export const bundleChild = (entry: string, outDir: string): string => {
  const require = createRequire(import.meta.url)
  const tsx = require.resolve("tsx")
  const esbuild = createRequire(tsx)("esbuild") as EsbuildLike
  const outfile = Path.join(outDir, Path.basename(entry).replace(/\.ts$/, ".mjs"))
  esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "error"
  })
  return outfile
}
