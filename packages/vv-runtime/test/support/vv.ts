/**
 * Helpers for the runtime's tests: run vv source in process (stdout and the bridge's log
 * captured, MemoryNet by default so no socket is opened), and run the real CLI as a child
 * process.
 */
import * as MemoryNet from "@vvnet/core/MemoryNet"
import type * as Net from "@vvnet/core/Net"
import type * as Layer from "effect/Layer"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { runText, testFiles, type TestReport } from "../../src/Program.js"
import type { VvValue } from "../../src/Values.js"

export const packageDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
export const binPath = Path.join(packageDir, "bin", "vv.js")

export interface Outcome {
  readonly stdout: string
  readonly logs: Array<string>
  /** The error the program ended with, if any. */
  readonly error: unknown
}

/** A fresh temporary directory, removed by `cleanup`. */
const dirs: Array<string> = []
export const tempDir = (): string => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vv-runtime-"))
  dirs.push(dir)
  return dir
}
export const cleanup = (): void => {
  for (const dir of dirs.splice(0)) Fs.rmSync(dir, { recursive: true, force: true })
}

/** Writes `files` (name → text) into a new temp dir; returns the dir. */
export const writeFiles = (files: Readonly<Record<string, string>>): string => {
  const dir = tempDir()
  for (const [name, text] of Object.entries(files)) {
    Fs.mkdirSync(Path.dirname(Path.join(dir, name)), { recursive: true })
    Fs.writeFileSync(Path.join(dir, name), text)
  }
  return dir
}

/**
 * Runs `text` as the main program `main.vv` (in `dir`, so relative imports resolve there) and
 * resolves with what it printed and the error it ended with. The bridge is disposed.
 */
export const run = async (
  text: string,
  options: {
    readonly dir?: string
    readonly layer?: Layer.Layer<Net.Net, unknown>
    readonly natives?: ReadonlyMap<string, ReadonlyMap<string, VvValue>>
  } = {}
): Promise<Outcome> => {
  const dir = options.dir ?? tempDir()
  let stdout = ""
  const logs: Array<string> = []
  let error: unknown = undefined
  try {
    await runText(Path.join(dir, "main.vv"), text, {
      cwd: dir,
      layer: options.layer ?? MemoryNet.layer,
      natives: options.natives,
      stdout: (s) => {
        stdout += s
      },
      log: (level, message) => logs.push(`${level}: ${message}`)
    })
  } catch (e) {
    error = e
  }
  return { stdout, logs, error }
}

/** The message of the error a run ended with (throws when it ended without one). */
export const errorOf = (outcome: Outcome): string => {
  if (outcome.error === undefined) throw new Error(`expected an error; the program printed:\n${outcome.stdout}`)
  return outcome.error instanceof Error ? outcome.error.message : String(outcome.error)
}

/** Runs a program that must succeed; resolves with its stdout. */
export const output = async (text: string, options?: Parameters<typeof run>[1]): Promise<string> => {
  const outcome = await run(text, options)
  if (outcome.error !== undefined) throw outcome.error
  return outcome.stdout
}

/** Runs the tests of `files` (name → text) written into a temp dir. */
export const runTests = async (files: Readonly<Record<string, string>>): Promise<TestReport & { stdout: string }> => {
  const dir = writeFiles(files)
  let stdout = ""
  const report = await testFiles(Object.keys(files).map((f) => Path.join(dir, f)), {
    cwd: dir,
    layer: MemoryNet.layer,
    stdout: (s) => {
      stdout += s
    }
  })
  return { ...report, stdout }
}

export interface Spawned {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the real CLI (`node bin/vv.js …args`) in `cwd`; kills it after `timeoutMs`. */
export const cli = (
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {}
): Promise<Spawned> =>
  new Promise((resolve, reject) => {
    const env = { ...process.env, ...options.env }
    if (options.env?.["npm_lifecycle_event"] === undefined) delete env["npm_lifecycle_event"]
    if (options.env?.["INIT_CWD"] === undefined) delete env["INIT_CWD"]
    const child = spawn(process.execPath, [binPath, ...args], { cwd: options.cwd ?? packageDir, env })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(
        new Error(
          `vv ${args.join(" ")} did not exit within ${
            options.timeoutMs ?? 20_000
          } ms\nstdout: ${stdout}\nstderr: ${stderr}`
        )
      )
    }, options.timeoutMs ?? 20_000)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
