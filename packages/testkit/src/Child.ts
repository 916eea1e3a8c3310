/**
 * Child processes for tests: spawned in a Scope that always kills them (a detached child with
 * its whole process group), their stdout read line by line with every wait bounded; whether
 * processes are gone; and a bundler for child scripts that must start under a low fd limit.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { expect } from "vitest"

export interface Child {
  readonly process: ChildProcess.ChildProcessWithoutNullStreams
  /** Resolves with the next stdout line that starts with `prefix` (the rest of the line). */
  readonly nextLine: (prefix: string, seconds?: number) => Effect.Effect<string>
  /** Resolves with the match of the next stdout line that matches `pattern`. */
  readonly line: (pattern: RegExp, seconds?: number) => Effect.Effect<RegExpMatchArray>
  /** Resolves when the process has exited. */
  readonly exited: Effect.Effect<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  readonly stderr: () => string
  /** All it wrote, stdout and stderr, in the order it arrived. */
  readonly output: () => string
}

/**
 * Spawns a child process in the current Scope; the Scope's close kills it (SIGKILL) and waits
 * for its exit, so no test leaves a process behind. A `detached` child leads a process group of
 * its own (so a test can signal the group as a terminal's Ctrl-C does), and the whole group is
 * killed: the child and whatever it forked.
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
      let output = ""
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
      const wake = () => {
        for (const w of Array.from(waiters)) w()
      }
      child.stdout.setEncoding("utf8")
      child.stderr.setEncoding("utf8")
      child.stdout.on("data", (chunk: string) => {
        output += chunk
        stdout += chunk
        let newline: number
        while ((newline = stdout.indexOf("\n")) >= 0) {
          lines.push(stdout.slice(0, newline))
          stdout = stdout.slice(newline + 1)
        }
        wake()
      })
      child.stderr.on("data", (chunk: string) => {
        output += chunk
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
              resume(Effect.dieMessage(`child exited (${JSON.stringify(exit)}) before ${what}; output:\n${output}`))
            }
          }
          const timer = setTimeout(() => {
            cleanup()
            resume(Effect.dieMessage(`no ${what} from the child within ${seconds} s; output:\n${output}`))
          }, seconds * 1000)
          const cleanup = () => {
            clearTimeout(timer)
            waiters.delete(check)
          }
          waiters.add(check)
          check()
          return Effect.sync(cleanup)
        })
      /** The first line `match` accepts, once it has arrived; it and the lines before it are consumed. */
      const take = <A>(match: (line: string) => A | undefined, seconds: number, what: string) =>
        waitFor(
          () => {
            for (let i = 0; i < lines.length; i++) {
              const found = match(lines[i]!)
              if (found !== undefined) {
                lines.splice(0, i + 1)
                return found
              }
            }
            return undefined
          },
          seconds,
          what
        )
      return {
        process: child,
        nextLine: (prefix, seconds = 30) =>
          take(
            (line) => line.startsWith(prefix) ? line.slice(prefix.length).trim() : undefined,
            seconds,
            `line "${prefix}"`
          ),
        line: (pattern, seconds = 30) => take((line) => line.match(pattern) ?? undefined, seconds, `line ${pattern}`),
        exited: waitFor(() => exit, 30, "exit"),
        stderr: () => stderr,
        output: () => output
      }
    }),
    (child) =>
      Effect.gen(function*() {
        if (options?.detached === true && child.process.pid !== undefined) {
          try {
            process.kill(-child.process.pid, "SIGKILL") // the whole group
          } catch {
            // already gone
          }
        } else if (child.process.exitCode === null && child.process.signalCode === null) {
          child.process.kill("SIGKILL")
        }
        yield* child.exited
        child.process.stdin.destroy()
        child.process.stdout.destroy()
        child.process.stderr.destroy()
      })
  )

/** Whether a process with this pid exists (signal 0). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Polls until none of `pids` is alive (at most `seconds`), then asserts it. */
export const expectGone = (pids: ReadonlyArray<number>, seconds = 10) =>
  Effect.gen(function*() {
    for (let i = 0; i < seconds * 20 && pids.some(alive); i++) yield* Effect.sleep(Duration.millis(50))
    expect(pids.filter(alive)).toEqual([])
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
