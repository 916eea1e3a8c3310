/**
 * Running vv programs and test files end to end: make a runtime, load, run, dispose. These are
 * what the `vv` CLI does, as functions (for embedding and for tests).
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { VvError } from "./Errors.js"
import type { ModuleInstance } from "./Evaluator.js"
import { type Options, Runtime } from "./Runtime.js"

const loadFile = (runtime: Runtime, file: string): ModuleInstance => {
  try {
    return runtime.load(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code
    if (code === "ENOENT") throw new VvError(`cannot read ${file}: no such file`, undefined)
    if (code === "EISDIR") throw new VvError(`cannot read ${file}: it is a directory`, undefined)
    throw error
  }
}

/**
 * Runs the vv program in `file` (test blocks skipped), then disposes its bridge: when this
 * settles, every listener and connection is closed and every handler stopped. Rejects with
 * `VvSyntaxError`, `VvError` or `VvUnhandledError` (each with a message to print as is).
 *
 * @since 0.1.0
 * @category running
 */
export const runFile = async (file: string, options?: Options): Promise<void> => {
  const runtime = new Runtime(options)
  try {
    await runtime.run(loadFile(runtime, file))
  } finally {
    await runtime.dispose()
  }
}

/**
 * Runs vv source text as the main program; `file` names it in messages and places it for
 * relative imports. Disposes as `runFile` does.
 *
 * @since 0.1.0
 * @category running
 */
export const runText = async (file: string, text: string, options?: Options): Promise<void> => {
  const runtime = new Runtime(options)
  try {
    await runtime.run(runtime.loadText(file, text))
  } finally {
    await runtime.dispose()
  }
}

/**
 * The files `vv test` runs for its arguments: a file as it is; a directory's `.vv` files,
 * recursively, sorted (skipping `.git`, `node_modules`, `vendor` and `.vv-modules`). Paths are
 * relative to `cwd` as given.
 *
 * @since 0.1.0
 * @category running
 */
export const expandTestPaths = (paths: ReadonlyArray<string>, cwd: string = process.cwd()): Array<string> => {
  const skip = new Set([".git", "node_modules", "vendor", ".vv-modules"])
  const walk = (dir: string): Array<string> =>
    Fs.readdirSync(Path.resolve(cwd, dir), { withFileTypes: true })
      .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
      .flatMap((entry) => {
        const path = Path.join(dir, entry.name)
        if (entry.isDirectory()) return skip.has(entry.name) ? [] : walk(path)
        return entry.name.endsWith(".vv") ? [path] : []
      })
  return paths.flatMap((path) => {
    try {
      return Fs.statSync(Path.resolve(cwd, path)).isDirectory() ? walk(path) : [path]
    } catch {
      return [path] // reported as a file that cannot be read
    }
  })
}

/**
 * The outcome of one test, or of a file whose tests could not run (`test` undefined: a
 * syntax error, or an error in its top-level declarations).
 *
 * @since 0.1.0
 * @category models
 */
export interface TestOutcome {
  readonly file: string
  readonly test: string | undefined
  readonly passed: boolean
  readonly error: unknown
  readonly ms: number
}

/**
 * The outcome of one file, as `vv test` reports it (the reference runtime's format): it passed
 * when it loaded and every test that ran passed. `failedTest` names the test that failed
 * (`undefined` when the file could not load, or failed outside a test); `error` is that failure.
 * `file` is the path as given to `testFiles`.
 *
 * @since 0.2.0
 * @category models
 */
export interface FileOutcome {
  readonly file: string
  readonly passed: boolean
  readonly failedTest: string | undefined
  readonly error: unknown
}

/**
 * The outcomes of `testFiles`: per test (`outcomes`, with the counts) and per file (`files`).
 *
 * @since 0.1.0
 * @category models
 */
export interface TestReport {
  readonly outcomes: ReadonlyArray<TestOutcome>
  readonly passed: number
  readonly failed: number
  /**
   * One entry per file, in order.
   *
   * @since 0.2.0
   */
  readonly files: ReadonlyArray<FileOutcome>
}

/**
 * Options of `testFiles`: a runtime's `Options`, and
 *
 * - `onOutcome`: called as each test ends;
 * - `onFile`: called as each file ends;
 * - `stopAtFirstFailure`: stop a file's tests at its first failing test, as the reference
 *   runtime's `vv test` does (default: run every test).
 *
 * @since 0.2.0
 * @category models
 */
export interface TestOptions extends Options {
  readonly onOutcome?: ((outcome: TestOutcome) => void) | undefined
  readonly onFile?: ((outcome: FileOutcome) => void) | undefined
  readonly stopAtFirstFailure?: boolean | undefined
}

/**
 * Runs the tests of each file, in order, each file with its own runtime (disposed after its
 * tests): its imports, externs and `let`/`fun` declarations, then each `test` block. Calls
 * `onOutcome` as each test ends and `onFile` as each file ends.
 *
 * @since 0.1.0
 * @category running
 */
export const testFiles = async (files: ReadonlyArray<string>, options?: TestOptions): Promise<TestReport> => {
  const outcomes: Array<TestOutcome> = []
  const fileOutcomes: Array<FileOutcome> = []
  const record = (outcome: TestOutcome) => {
    outcomes.push(outcome)
    options?.onOutcome?.(outcome)
  }
  for (const file of files) {
    const runtime = new Runtime(options)
    let started = Date.now()
    let fileOutcome: FileOutcome = { file, passed: true, failedTest: undefined, error: undefined }
    try {
      const instance = loadFile(runtime, file)
      const name = instance.source.name
      const tests = await runtime.prepareTests(instance)
      for (const test of tests) {
        started = Date.now()
        try {
          await runtime.runTest(instance, test)
          record({ file: name, test: test.name, passed: true, error: undefined, ms: Date.now() - started })
        } catch (error) {
          record({ file: name, test: test.name, passed: false, error, ms: Date.now() - started })
          if (fileOutcome.passed) fileOutcome = { file, passed: false, failedTest: test.name, error }
          if (options?.stopAtFirstFailure === true) break
        }
      }
    } catch (error) {
      record({ file, test: undefined, passed: false, error, ms: Date.now() - started })
      fileOutcome = { file, passed: false, failedTest: undefined, error }
    } finally {
      await runtime.dispose()
    }
    fileOutcomes.push(fileOutcome)
    options?.onFile?.(fileOutcome)
  }
  const passed = outcomes.filter((o) => o.passed).length
  return { outcomes, passed, failed: outcomes.length - passed, files: fileOutcomes }
}
