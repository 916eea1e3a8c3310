/**
 * The `vv` command:
 *
 * ```
 * vv run FILE          run a program (test blocks skipped)
 * vv test [PATH…]      run the test blocks of each file (a directory, `.` by default: its
 *                      .vv files); per file `PASS: FILE` or `FAIL: FILE [TEST]` and the
 *                      message, as the reference runtime reports; exit 1 if any failed
 * vv FILE              same as vv run FILE
 * ```
 *
 * A vv error (syntax, runtime, unhandled) prints its message alone on stderr, with no
 * JavaScript stack, and exits 1. When the main module ends, the bridge is disposed (every
 * socket closed, every handler stopped) and the process exits.
 *
 * @since 0.1.0
 */
import { Transport } from "@vvnet/core"
import { isVvError, VvUnhandledError } from "./Errors.js"
import { expandTestPaths, runFile, testFiles } from "./Program.js"

const usage = `usage:
  vv run FILE        run a vv program
  vv test [PATH...]  run the test blocks of vv files (or of the .vv files in a directory; default .)
`

const describeError = (error: unknown): string =>
  isVvError(error)
    ? error.message
    : `internal error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`

/** Waits until stdout and stderr have taken everything written so far. */
const flush = (): Promise<void> =>
  Promise.all(
    [process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => stream.write("", () => resolve())))
  ).then(() => undefined)

/**
 * The directory relative FILE arguments are resolved against: the caller's, also when run as
 * a pnpm script (`pnpm vv run FILE` runs in the repository root; pnpm passes INIT_CWD).
 */
const callerDirectory = (): string =>
  process.env["npm_lifecycle_event"] === "vv" && process.env["INIT_CWD"] ? process.env["INIT_CWD"] : process.cwd()

/**
 * Runs the CLI with `args` (without `node` and the script); resolves to the exit status.
 *
 * @since 0.1.0
 * @category cli
 */
export const main = async (args: ReadonlyArray<string>): Promise<number> => {
  const cwd = callerDirectory()
  const [command, ...rest] = args
  if (command === "-h" || command === "--help" || command === "help") {
    process.stdout.write(usage)
    return 0
  }
  if (command === "run" && rest.length === 1) return run(rest[0]!, cwd)
  if (command === "test") return test(rest.length > 0 ? rest : ["."], cwd)
  if (
    command !== undefined && command !== "run" && command !== "test" && !command.startsWith("-") && rest.length === 0
  ) {
    return run(command, cwd)
  }
  process.stderr.write(usage)
  return 2
}

const run = async (file: string, cwd: string): Promise<number> => {
  try {
    await runFile(file, { cwd })
    return 0
  } catch (error) {
    process.stderr.write(describeError(error) + "\n")
    return 1
  }
}

/**
 * `vv test`, reporting as the reference runtime does: one line per file, `PASS: FILE`, or
 * `FAIL: FILE [TEST]` and the failure's message indented by two spaces; a file stops at its
 * first failing test. (`[TEST]` is left out when the file failed outside a test.)
 */
const test = async (paths: ReadonlyArray<string>, cwd: string): Promise<number> => {
  const files = expandTestPaths(paths, cwd)
  if (files.length === 0) {
    process.stdout.write("no .vv files found\n")
    return 0
  }
  const report = await testFiles(files, {
    cwd,
    stopAtFirstFailure: true,
    onFile: (outcome) => {
      if (outcome.passed) {
        process.stdout.write(`PASS: ${outcome.file}\n`)
        return
      }
      const test = outcome.failedTest === undefined ? "" : ` [${outcome.failedTest}]`
      process.stdout.write(`FAIL: ${outcome.file}${test}\n`)
      // in a test report, say where the unhandled error was raised
      const error = outcome.error
      const message = error instanceof VvUnhandledError && error.location !== undefined
        ? `${error.location}: ${error.message}`
        : describeError(error)
      process.stdout.write(message.replace(/^/gm, "  ") + "\n")
    }
  })
  return report.files.every((f) => f.passed) ? 0 : 1
}

/**
 * Runs the `vv` command as the process (what `bin/vv.js` calls): `main(args)`, then exits with
 * its status once stdout and stderr are flushed and the connections the program closed have
 * finished their lingering close (at most `Transport.defaultLinger` ms more). While the program waits with nothing left
 * to wait for (no socket, no timer: every task blocked on another, a channel nobody sends on
 * or a mutex nobody unlocks), it reports a deadlock and exits 1, as Go does, instead of
 * exiting as if the program had finished.
 *
 * @since 0.1.0
 * @category cli
 */
export const runMain = (args: ReadonlyArray<string>): void => {
  let finished = false
  process.once("beforeExit", () => {
    if (finished) return
    process.stderr.write("fatal error: all tasks are asleep - deadlock!\n")
    process.exit(1)
  })
  main(args).then(
    async (code) => {
      finished = true
      await flush()
      // Let connections the program closed finish their lingering close (they deliver what
      // was written before the kernel drops them; each lingers at most its `linger` bound),
      // rather than cutting them off with process.exit; anything else left running is cut
      // off once that bound has passed.
      process.exitCode = code
      setTimeout(() => process.exit(code), Transport.defaultLinger + 500).unref()
    },
    async (error: unknown) => {
      finished = true
      process.stderr.write(describeError(error) + "\n")
      await flush()
      process.exit(1)
    }
  )
}
