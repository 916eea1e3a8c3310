/**
 * Tasks and the context every evaluation step carries: which task runs, in which file, in what
 * kind of frame, and the pacing shared by all the tasks of one evaluator (how deep the
 * JavaScript stack is, when to yield to the event loop).
 */
import type { SourceFile } from "../Ast.js"
import { VvError } from "../Errors.js"
import { Cancelled } from "./control.js"
import type { ClosureCaller } from "./functions.js"

/**
 * One thread of vv execution: the main program, a test, or a handler the bridge started.
 * `signal` aborts when the host stops it; `depth` counts its nested calls.
 *
 * @since 0.1.0
 * @category models
 */
export interface Task {
  readonly signal: AbortSignal
  depth: number
  /** Its nested-call limit (`sys.set_max_recursion_depth`); absent: the machine's. */
  readonly limit?: { readonly max: number } | undefined
}

const neverAborted = new AbortController().signal

/**
 * A task for the main program or a test (never aborted).
 *
 * @since 0.1.0
 * @category constructors
 */
export const mainTask = (): Task => ({ signal: neverAborted, depth: 0 })

/** Nested vv calls per task before "call stack size overflow". */
export const maxDepth = 20_000
/** Nested calls on the JavaScript stack before the walker continues on a fresh stack. */
export const maxNativeNesting = 120
/** A busy loop yields to the event loop (I/O, timers, other tasks) this often. */
const yieldEveryMs = 10

/** What one evaluator's tasks share: the JavaScript stack and the event loop. */
export class Machine {
  /** Closure-call frames on the JavaScript stack right now. */
  nesting = 0
  /** The nested-call limit of tasks without their own: that of the last task that made a call. */
  limit: { readonly max: number } = { max: maxDepth }
  private lastYield = Date.now()
  private steps = 0

  /** `caller` runs a closure called by the host as a new task (closures made here keep it). */
  constructor(readonly caller: ClosureCaller) {}

  /** A promise that lets the event loop run, when this evaluator has computed for a while. */
  maybeYield(): Promise<void> | undefined {
    if ((++this.steps & 1023) !== 0) return undefined
    const now = Date.now()
    if (now - this.lastYield < yieldEveryMs) return undefined
    this.lastYield = now
    return new Promise((resolve) => setImmediate(resolve))
  }
}

/** Where a step runs. */
export interface Ctx {
  readonly source: SourceFile
  readonly task: Task
  /** Where `try` goes and what `return` means: a function body, a module, a test body. */
  readonly frame: "function" | "module" | "test"
  readonly machine: Machine
}

/** A runtime error at offset `at` of the current file. */
export function fail(detail: string, at: number, ctx: Ctx): never {
  throw new VvError(detail, ctx.source.location(at))
}

/** Stops the task when its host aborted it. */
export const checkCancelled = (task: Task): void => {
  if (task.signal.aborted) throw Cancelled.instance
}
