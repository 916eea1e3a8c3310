/**
 * Module instances: a loaded module's syntax tree, its top-level scope and its exports, and
 * what the evaluator asks of the runtime that loads modules (`ModuleHost`).
 */
import type * as Ast from "../Ast.js"
import type { SourceFile } from "../Ast.js"
import { VvRecord, type VvValue } from "../Values.js"
import { Env } from "./env.js"
import type { Task } from "./task.js"

/**
 * A loaded module: its syntax tree, its top-level scope and (once run) the record of its `pub`
 * names. `id` is the logical path (`std/list.vv`) or the absolute file path.
 *
 * @since 0.1.0
 * @category models
 */
export class ModuleInstance {
  /**
   * The module's top-level scope.
   *
   * @since 0.1.0
   */
  readonly env = new Env(undefined)
  /**
   * The record of its `pub` names, once the module has run.
   *
   * @since 0.1.0
   */
  exports: VvRecord = new VvRecord()

  constructor(readonly id: string, readonly ast: Ast.Module) {}

  get source(): SourceFile {
    return this.ast.source
  }
}

/**
 * What the evaluator asks of its runtime: loading imported modules and the natives registered
 * for a module path.
 *
 * @since 0.1.0
 * @category models
 */
export interface ModuleHost {
  /**
   * The record of module `path` as imported by `from` (loaded and run once, on `task`).
   * `location` is the import's `file:line:column`, for errors.
   */
  readonly importModule: (path: string, from: ModuleInstance, location: string, task: Task) => Promise<VvRecord>
  /** The native registered for `modulePath` under `name`, or `undefined`. */
  readonly native: (modulePath: string, name: string) => VvValue | undefined
}

/**
 * How a module's top-level statements run: `"run"` runs them all (tests skipped); `"test"`
 * runs only imports, externs and `let`/`fun` declarations, so its tests can then run.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "run" | "test"
