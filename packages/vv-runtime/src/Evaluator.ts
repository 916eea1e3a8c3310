/**
 * The vv evaluator: an asynchronous tree walker.
 *
 * Natives may return promises (network, channels, mutexes), and handlers started by
 * `net.accept` run as their own tasks, concurrently with the main program. Evaluation is
 * "maybe-async": every step returns its result directly while nothing waits, and a promise
 * from the first step that does; only then does the walker continue in an `async` function.
 * So plain computation costs no microtask per node, and a task that waits lets the others run.
 *
 * This module runs modules and tests; the walker itself is split by concern under
 * `internal/`:
 *
 * | file | holds |
 * |---|---|
 * | `env.ts` | `Env` (a scope's variables) and `Scope` (with its defers) |
 * | `functions.ts` | `Closure`, `nativeFunction`, parameter names and arity messages |
 * | `control.ts` | completions (`break`, `continue`, `return`, tail calls), `try` unwinds, cancellation |
 * | `task.ts` | `Task`, the step context, pacing (yielding to the event loop, stack depth) |
 * | `modules.ts` | `ModuleInstance`, `ModuleHost`, `Mode` |
 * | `callAnalysis.ts` | which expressions may call (and so may wait) |
 * | `calls.ts` | calls: natives, closures, tail calls |
 * | `statements.ts` | scopes, defers and statements |
 * | `expressions.ts` | the synchronous and asynchronous expression walkers |
 * | `operators.ts` | unary and binary operators, fields, indexes, slices |
 *
 * @since 0.1.0
 */
import type * as Ast from "./Ast.js"
import { VvUnhandledError } from "./Errors.js"
import { callFromHost } from "./internal/calls.js"
import { isPromise, type MaybePromise, Returned, TryUnwind } from "./internal/control.js"
import { Env, Scope } from "./internal/env.js"
import type { Closure } from "./internal/functions.js"
import type { Mode, ModuleHost, ModuleInstance } from "./internal/modules.js"
import { exec, runDefers, runScope } from "./internal/statements.js"
import { checkCancelled, type Ctx, fail, Machine, type Task } from "./internal/task.js"
import { show } from "./Printer.js"
import { toResult, VvFunction, VvRecord, type VvValue } from "./Values.js"

export {
  /**
   * A scope's variables, linked to the enclosing scope. Closures keep a reference to the Env
   * they were made in, so a change to a captured variable is seen by everyone who shares it.
   *
   * @since 0.1.0
   * @category models
   */
  Env
} from "./internal/env.js"

export {
  /**
   * A function value made by vv code: a `fun` literal or declaration and the scope it closes
   * over. Calling it from the host (the bridge's `net.accept`) runs it as a new task.
   *
   * @since 0.1.0
   * @category models
   */
  Closure,
  /**
   * A native function value: `name`, its parameter names (the arity), and its implementation.
   * `params` undefined makes it variadic.
   *
   * @since 0.1.0
   * @category constructors
   */
  nativeFunction,
  /**
   * The parameter names of native functions, for arity messages (`read expects 2 arguments
   * (conn, n), got 1`).
   *
   * @since 0.1.0
   * @category models
   */
  paramNames
} from "./internal/functions.js"

export type {
  /**
   * What a closure needs to be called from the host (an `Evaluator`).
   *
   * @since 0.1.0
   * @category models
   */
  ClosureCaller
} from "./internal/functions.js"

export {
  /**
   * A task for the main program or a test (never aborted).
   *
   * @since 0.1.0
   * @category constructors
   */
  mainTask
} from "./internal/task.js"

export type {
  /**
   * One thread of vv execution: the main program, a test, or a handler the bridge started.
   * `signal` aborts when the host stops it; `depth` counts its nested calls.
   *
   * @since 0.1.0
   * @category models
   */
  Task
} from "./internal/task.js"

export {
  /**
   * A loaded module: its syntax tree, its top-level scope and (once run) the record of its
   * `pub` names. `id` is the logical path (`std/list.vv`) or the absolute file path.
   *
   * @since 0.1.0
   * @category models
   */
  ModuleInstance
} from "./internal/modules.js"

export type {
  /**
   * How a module's top-level statements run: `"run"` runs them all (tests skipped); `"test"`
   * runs only imports, externs and `let`/`fun` declarations, so its tests can then run.
   *
   * @since 0.1.0
   * @category models
   */
  Mode,
  /**
   * What the evaluator asks of its runtime: loading imported modules and the natives
   * registered for a module path.
   *
   * @since 0.1.0
   * @category models
   */
  ModuleHost
} from "./internal/modules.js"

/**
 * Walks modules, functions and tests. One evaluator serves one program run (all its tasks).
 *
 * @since 0.1.0
 * @category models
 */
export class Evaluator {
  private readonly machine: Machine

  constructor(private readonly host: ModuleHost) {
    this.machine = new Machine(this)
  }

  /**
   * Runs a module's top level in `mode`, then its defers, and fills `instance.exports`.
   * Throws `VvError`, `VvSyntaxError` (from an import) or `VvUnhandledError`.
   *
   * @since 0.1.0
   */
  async runModule(instance: ModuleInstance, mode: Mode, task: Task): Promise<void> {
    const ctx: Ctx = { source: instance.source, task, frame: "module", machine: this.machine }
    const env = instance.env
    const scope = new Scope(env)
    const ast = instance.ast
    try {
      for (const imp of ast.imports) {
        const record = await this.host.importModule(imp.path, instance, instance.source.location(imp.at), task)
        env.declare(imp.alias, record)
      }
      for (const item of ast.items) {
        const node = item.node
        if (node._tag === "Test") continue
        if (node._tag === "Extern") {
          this.bindExtern(instance, node, ctx)
          continue
        }
        if (mode === "test" && node._tag !== "Let" && node._tag !== "LetRecord" && node._tag !== "LetRec") continue
        checkCancelled(task)
        let c = exec(node, scope, ctx)
        if (isPromise(c)) c = await c
        if (c instanceof Returned) break
      }
    } catch (error) {
      await runDefers(scope, ctx, error)
      throw this.unhandled(error)
    }
    try {
      await runDefers(scope, ctx, undefined)
    } catch (error) {
      throw this.unhandled(error)
    }
    instance.exports = this.exportsOf(instance)
  }

  /**
   * Runs one test of a module already run in `"test"` mode. Throws when the test fails.
   *
   * @since 0.1.0
   */
  async runTest(instance: ModuleInstance, test: Ast.Test, task: Task): Promise<void> {
    const ctx: Ctx = { source: instance.source, task, frame: "test", machine: this.machine }
    try {
      const c = runScope(test.body, new Env(instance.env), ctx)
      if (isPromise(c)) await c
    } catch (error) {
      throw this.unhandled(error)
    }
  }

  /**
   * Calls a closure as the host does (a handler): a new task; no result is none.
   *
   * @since 0.1.0
   */
  callFromHost(fn: Closure, args: ReadonlyArray<VvValue>, signal: AbortSignal): MaybePromise<VvValue> {
    return callFromHost(this.machine, fn, args, signal)
  }

  /** @internal */
  private unhandled(error: unknown): unknown {
    return error instanceof TryUnwind
      ? new VvUnhandledError(this.errorMessage(error.result), error.location)
      : error
  }

  /**
   * The message of an error result: its value, printed.
   *
   * @internal
   */
  private errorMessage(result: VvValue): string {
    const view = toResult(result)
    return view === undefined ? show(result) : show(view.value)
  }

  /** @internal */
  private bindExtern(instance: ModuleInstance, node: Ast.Extern, ctx: Ctx): void {
    if (node.abi !== "native") {
      fail(`extern: unsupported kind ${JSON.stringify(node.abi)} (only "native")`, node.at, ctx)
    }
    const value = this.host.native(instance.id, node.name)
    if (value === undefined) fail(`extern native: ${node.name} not registered`, node.at, ctx)
    if (node.kind === "fun" && !(value instanceof VvFunction)) {
      fail(`extern native: ${node.name} is not a function`, node.at, ctx)
    }
    instance.env.declare(node.name, value)
  }

  /** @internal */
  private exportsOf(instance: ModuleInstance): VvRecord {
    const fields: Array<[string, VvValue]> = []
    const add = (name: string) => {
      const value = instance.env.lookup(name)
      if (value !== undefined) fields.push([name, value])
    }
    for (const item of instance.ast.items) {
      if (!item.pub) continue
      const node = item.node
      if (node._tag === "Let" || node._tag === "Extern") add(node.name)
      else if (node._tag === "LetRecord") { for (const f of node.fields) add(f.name) }
      else if (node._tag === "LetRec") { for (const f of node.funs) add(f.name) }
    }
    return new VvRecord(fields)
  }
}
