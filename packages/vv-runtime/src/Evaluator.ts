/**
 * The vv evaluator: an asynchronous tree walker.
 *
 * Natives may return promises (network, channels, mutexes), and handlers started by
 * `net.accept` run as their own tasks, concurrently with the main program. Evaluation is
 * "maybe-async": every step returns its result directly while nothing waits, and a promise
 * from the first step that does; only then does the walker continue in an `async` function.
 * So plain computation costs no microtask per node, and a task that waits lets the others run.
 *
 * Control flow:
 * - `break`/`continue`/`return` are completion values returned by statements;
 * - `try` of an error result throws `TryUnwind`, caught by the enclosing function (which returns
 *   the error record) or reported as an unhandled error at module top level and in tests;
 * - runtime errors are `VvError`s naming `file:line:column`; nothing catches them;
 * - each scope (call, `begin`, if-branch, while iteration, test body, module) runs its defers
 *   last in first out on every exit, evaluating each deferred statement at that moment.
 *
 * @since 0.1.0
 */
import { VvRuntimeError } from "@vvnet/vv-bridge"
import { DefaultHost } from "@vvnet/vv-bridge"
import type * as Ast from "./Ast.js"
import type { SourceFile } from "./Ast.js"
import { VvError, VvUnhandledError } from "./Errors.js"
import { show } from "./Printer.js"
import { describeKind, none, toResult, VvChar, VvFunction, VvList, VvRecord, type VvValue } from "./Values.js"

type MaybePromise<A> = A | Promise<A>

const isPromise = <A>(u: MaybePromise<A>): u is Promise<A> => u instanceof Promise

// ---- environments -----------------------------------------------------------------------------

/**
 * A scope's variables, linked to the enclosing scope. Closures keep a reference to the Env they
 * were made in, so a change to a captured variable is seen by everyone who shares it.
 *
 * @since 0.1.0
 * @category models
 */
export class Env {
  private readonly vars = new Map<string, VvValue>()

  constructor(readonly parent: Env | undefined) {}

  /**
   * `let name = value` in this scope (`_` discards).
   *
   * @since 0.1.0
   */
  declare(name: string, value: VvValue): void {
    if (name !== "_") this.vars.set(name, value)
  }

  /**
   * The value of the nearest binding, or `undefined`.
   *
   * @since 0.1.0
   */
  lookup(name: string): VvValue | undefined {
    for (let env: Env | undefined = this; env !== undefined; env = env.parent) {
      const value = env.vars.get(name)
      if (value !== undefined) return value
    }
    return undefined
  }

  /**
   * Updates the nearest binding; false when there is none.
   *
   * @since 0.1.0
   */
  assign(name: string, value: VvValue): boolean {
    for (let env: Env | undefined = this; env !== undefined; env = env.parent) {
      if (env.vars.has(name)) {
        env.vars.set(name, value)
        return true
      }
    }
    return false
  }
}

/** A running scope: its variables and the statements deferred to its exit. */
class Scope {
  defers: Array<Ast.Stmt> | undefined = undefined
  constructor(readonly env: Env) {}
}

// ---- values of the runtime ------------------------------------------------------------------

/**
 * A function value made by vv code: a `fun` literal or declaration and the scope it closes
 * over. Calling it from the host (the bridge's `net.accept`) runs it as a new task.
 *
 * @since 0.1.0
 * @category models
 */
export class Closure extends VvFunction {
  /**
   * The `fun` literal or declaration.
   *
   * @since 0.1.0
   */
  readonly node: Ast.FunLit
  /**
   * The scope it closes over (by reference: later assignments are seen).
   *
   * @since 0.1.0
   */
  readonly env: Env
  /**
   * The file it was written in (for messages).
   *
   * @since 0.1.0
   */
  readonly source: SourceFile

  constructor(evaluator: Evaluator, node: Ast.FunLit, env: Env, source: SourceFile) {
    const ref: { self?: Closure } = {}
    super(node.name, node.params.length, (args, options) => evaluator.callFromHost(ref.self!, args, options.signal))
    ref.self = this
    this.node = node
    this.env = env
    this.source = source
  }
}

/**
 * The parameter names of native functions, for arity messages (`read expects 2 arguments
 * (conn, n), got 1`).
 *
 * @since 0.1.0
 * @category models
 */
export const paramNames = new WeakMap<VvFunction, ReadonlyArray<string>>()

/**
 * A native function value: `name`, its parameter names (the arity), and its implementation.
 * `params` undefined makes it variadic.
 *
 * @since 0.1.0
 * @category constructors
 */
export const nativeFunction = (
  name: string,
  params: ReadonlyArray<string> | undefined,
  impl: (args: ReadonlyArray<VvValue>, signal: AbortSignal) => MaybePromise<VvValue>
): VvFunction => {
  const fn = new VvFunction(name, params?.length, (args, options) => impl(args, options.signal))
  if (params !== undefined) paramNames.set(fn, params)
  return fn
}

/** What a call returns when the function ended without `return`: using it is an error. */
const VOID: unique symbol = Symbol("vv.void")
type Result = VvValue | typeof VOID

/** `return f(x)` in a function: the caller's loop makes the call (a tail call). */
class TailCall {
  constructor(readonly fn: Closure, readonly args: ReadonlyArray<VvValue>) {}
}

const BREAK = 1 as const
const CONTINUE = 2 as const
class Returned {
  constructor(readonly value: Result | TailCall) {}
}
type Completion = undefined | typeof BREAK | typeof CONTINUE | Returned

/**
 * `try` of an error result: unwinds to the enclosing function, which returns `result`.
 * Not an `Error`: it is control flow and needs no stack.
 */
class TryUnwind {
  constructor(readonly result: VvValue, readonly location: string) {}
}

/** Thrown when a task's signal aborted (its bridge was disposed): the task stops. */
class Cancelled {
  static readonly instance = new Cancelled()
}

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
}

const neverAborted = new AbortController().signal

/**
 * A task for the main program or a test (never aborted).
 *
 * @since 0.1.0
 * @category constructors
 */
export const mainTask = (): Task => ({ signal: neverAborted, depth: 0 })

interface Ctx {
  readonly source: SourceFile
  readonly task: Task
  /** Where `try` goes and what `return` means: a function body, a module, a test body. */
  readonly frame: "function" | "module" | "test"
}

// ---- modules ------------------------------------------------------------------------------------

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

// ---- limits -------------------------------------------------------------------------------------

/** Nested vv calls per task before "call stack size overflow". */
const maxDepth = 20_000
/** Nested calls on the JavaScript stack before the walker continues on a fresh stack. */
const maxNativeNesting = 120
/** A busy loop yields to the event loop (I/O, timers, other tasks) this often. */
const yieldEveryMs = 10

const hasCallCache = new WeakMap<Ast.Expr, boolean>()

/** Whether evaluating `e` may call a function (and so may wait). Function bodies don't count. */
const hasCall = (e: Ast.Expr): boolean => {
  let cached = hasCallCache.get(e)
  if (cached === undefined) {
    cached = computeHasCall(e)
    hasCallCache.set(e, cached)
  }
  return cached
}

const computeHasCall = (e: Ast.Expr): boolean => {
  switch (e._tag) {
    case "Call":
      return true
    case "Int":
    case "Float":
    case "Bool":
    case "Char":
    case "Ident":
    case "Fun":
      return false
    case "String":
      return e.parts.some((p) => typeof p !== "string" && hasCall(p))
    case "List":
      return e.items.some(hasCall)
    case "Record":
      return e.fields.some((f) => hasCall(f.value))
    case "Not":
    case "Len":
    case "Neg":
    case "Try":
      return hasCall(e.expr)
    case "Binary":
      return hasCall(e.left) || hasCall(e.right)
    case "Field":
      return hasCall(e.object)
    case "Index":
      return hasCall(e.object) || hasCall(e.index)
    case "Slice":
      return hasCall(e.object) || (e.start !== undefined && hasCall(e.start)) ||
        (e.stop !== undefined && hasCall(e.stop))
  }
}

const tooDeep = "stack overflow: a value nested too deeply, or one that contains itself"

const rank = (e: unknown): number => e === undefined ? 0 : e instanceof TryUnwind ? 1 : e instanceof Cancelled ? 3 : 2

const int64 = (n: bigint): bigint => BigInt.asIntN(64, n)

// ---- the evaluator ------------------------------------------------------------------------------

/**
 * Walks modules, functions and tests. One evaluator serves one program run (all its tasks).
 *
 * @since 0.1.0
 * @category models
 */
export class Evaluator {
  /** `callClosure` frames on the JavaScript stack right now. */
  private nesting = 0
  private lastYield = Date.now()
  private steps = 0

  constructor(private readonly host: ModuleHost) {}

  // ---- errors ----

  /** @internal */
  private fail(detail: string, at: number, ctx: Ctx): never {
    throw new VvError(detail, ctx.source.location(at))
  }

  /** @internal */
  private nativeFailure(error: unknown, fn: VvFunction, at: number, ctx: Ctx): unknown {
    if (error instanceof VvError || error instanceof TryUnwind || error instanceof Cancelled) return error
    if (error instanceof VvRuntimeError) return new VvError(error.message, ctx.source.location(at))
    if (error instanceof RangeError) return new VvError(`${fn.name}: ${tooDeep}`, ctx.source.location(at))
    const message = error instanceof Error ? error.message : String(error)
    return new VvError(`${fn.name}: internal error: ${message}`, ctx.source.location(at))
  }

  /** @internal */
  private checkCancelled(task: Task): void {
    if (task.signal.aborted) throw Cancelled.instance
  }

  /**
   * A promise that lets the event loop run, when this task has computed for a while.
   *
   * @internal
   */
  private maybeYield(): Promise<void> | undefined {
    if ((++this.steps & 1023) !== 0) return undefined
    const now = Date.now()
    if (now - this.lastYield < yieldEveryMs) return undefined
    this.lastYield = now
    return new Promise((resolve) => setImmediate(resolve))
  }

  // ---- modules and tests ----

  /**
   * Runs a module's top level in `mode`, then its defers, and fills `instance.exports`.
   * Throws `VvError`, `VvSyntaxError` (from an import) or `VvUnhandledError`.
   *
   * @since 0.1.0
   */
  async runModule(instance: ModuleInstance, mode: Mode, task: Task): Promise<void> {
    const ctx: Ctx = { source: instance.source, task, frame: "module" }
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
        if (mode === "test" && node._tag !== "Let" && node._tag !== "LetRecord") continue
        this.checkCancelled(task)
        let c = this.exec(node, scope, ctx)
        if (isPromise(c)) c = await c
        if (c instanceof Returned) break
      }
    } catch (error) {
      await this.runDefers(scope, ctx, error)
      throw this.unhandled(error)
    }
    try {
      await this.runDefers(scope, ctx, undefined)
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
    const ctx: Ctx = { source: instance.source, task, frame: "test" }
    try {
      const c = this.runScope(test.body, new Env(instance.env), ctx)
      if (isPromise(c)) await c
    } catch (error) {
      throw this.unhandled(error)
    }
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
      this.fail(`extern: unsupported kind ${JSON.stringify(node.abi)} (only "native")`, node.at, ctx)
    }
    const value = this.host.native(instance.id, node.name)
    if (value === undefined) this.fail(`extern native: ${node.name} not registered`, node.at, ctx)
    if (node.kind === "fun" && !(value instanceof VvFunction)) {
      this.fail(`extern native: ${node.name} is not a function`, node.at, ctx)
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
    }
    return new VvRecord(fields)
  }

  // ---- calls ----

  /**
   * Calls a closure as the host does (a handler): a new task; no result is none.
   *
   * @since 0.1.0
   */
  callFromHost(fn: Closure, args: ReadonlyArray<VvValue>, signal: AbortSignal): MaybePromise<VvValue> {
    const task: Task = { signal, depth: 0 }
    const r = this.callClosure(fn, args, task, undefined)
    return isPromise(r) ? r.then((v) => v === VOID ? none() : v) : r === VOID ? none() : r
  }

  /** @internal */
  private arityCheck(fn: VvFunction, args: ReadonlyArray<VvValue>, at: number, ctx: Ctx): void {
    if (fn.arity === undefined || fn.arity === args.length) return
    const names = fn instanceof Closure ? fn.node.params : paramNames.get(fn) ?? []
    const params = names.length > 0 ? ` (${names.join(", ")})` : ""
    const name = fn.name === "<anonymous>" ? "function" : fn.name
    this.fail(`${name} expects ${fn.arity} argument${fn.arity === 1 ? "" : "s"}${params}, got ${args.length}`, at, ctx)
  }

  /** @internal */
  private invoke(fn: VvValue, args: ReadonlyArray<VvValue>, at: number, ctx: Ctx): MaybePromise<Result> {
    if (fn instanceof Closure) {
      this.arityCheck(fn, args, at, ctx)
      return this.callClosure(fn, args, ctx.task, { at, ctx })
    }
    if (fn instanceof VvFunction) {
      this.arityCheck(fn, args, at, ctx)
      let r: MaybePromise<VvValue>
      try {
        r = fn.invoke(args, { signal: ctx.task.signal })
      } catch (error) {
        throw this.nativeFailure(error, fn, at, ctx)
      }
      if (isPromise(r)) {
        return r.then(
          (value) => {
            this.checkCancelled(ctx.task)
            return value
          },
          (error) => {
            throw this.nativeFailure(error, fn, at, ctx)
          }
        )
      }
      return r
    }
    return this.fail(`cannot call ${describeKind(fn)}`, at, ctx)
  }

  /** @internal */
  private callClosure(
    fn: Closure,
    args: ReadonlyArray<VvValue>,
    task: Task,
    site: { readonly at: number; readonly ctx: Ctx } | undefined
  ): MaybePromise<Result> {
    if (task.depth >= maxDepth) {
      const detail = `call stack size overflow (max depth ${maxDepth})`
      if (site !== undefined) this.fail(detail, site.at, site.ctx)
      throw new VvError(detail, undefined)
    }
    const pause = this.nesting >= maxNativeNesting ? Promise.resolve() : this.maybeYield()
    if (pause !== undefined) return pause.then(() => this.callClosure(fn, args, task, site))
    this.nesting++
    task.depth++
    let r: MaybePromise<Result>
    try {
      r = this.runFunction(fn, args, task)
    } catch (error) {
      task.depth--
      throw error
    } finally {
      this.nesting--
    }
    if (isPromise(r)) {
      return r.then(
        (value) => {
          task.depth--
          return value
        },
        (error) => {
          task.depth--
          throw error
        }
      )
    }
    task.depth--
    return r
  }

  /**
   * Runs `fn`, and the tail calls it returns, in a loop.
   *
   * @internal
   */
  private runFunction(fn: Closure, args: ReadonlyArray<VvValue>, task: Task): MaybePromise<Result> {
    for (;;) {
      const r = this.runBody(fn, args, task)
      if (isPromise(r)) return this.runFunctionAsync(r, task)
      if (!(r instanceof TailCall)) return r
      fn = r.fn
      args = r.args
    }
  }

  /** @internal */
  private async runFunctionAsync(pending: Promise<Result | TailCall>, task: Task): Promise<Result> {
    let r = await pending
    while (r instanceof TailCall) {
      const pause = this.maybeYield()
      if (pause !== undefined) await pause
      const next = this.runBody(r.fn, r.args, task)
      r = isPromise(next) ? await next : next
    }
    return r
  }

  /**
   * One run of a function body: its result, a tail call, or (on `try`) the error record.
   *
   * @internal
   */
  private runBody(fn: Closure, args: ReadonlyArray<VvValue>, task: Task): MaybePromise<Result | TailCall> {
    const env = new Env(fn.env)
    const params = fn.node.params
    for (let i = 0; i < params.length; i++) env.declare(params[i]!, args[i]!)
    const ctx: Ctx = { source: fn.source, task, frame: "function" }
    let c: MaybePromise<Completion>
    try {
      c = this.runScope(fn.node.body, env, ctx)
    } catch (error) {
      return catchTry(error)
    }
    return isPromise(c) ? c.then(completionValue, catchTry) : completionValue(c)
  }

  // ---- scopes and statements ----

  /**
   * Runs statements in a new scope over `env`, then the scope's defers.
   *
   * @internal
   */
  private runScope(stmts: ReadonlyArray<Ast.Stmt>, env: Env, ctx: Ctx): MaybePromise<Completion> {
    const scope = new Scope(env)
    let c: MaybePromise<Completion>
    try {
      c = this.execStmts(stmts, 0, scope, ctx)
    } catch (error) {
      if (scope.defers === undefined) throw error
      return this.unwindScope(scope, ctx, error)
    }
    if (isPromise(c)) return this.settleScope(c, scope, ctx)
    if (scope.defers === undefined) return c
    const done = c
    return this.runDefers(scope, ctx, undefined).then(() => done)
  }

  /**
   * A block: a scope whose variables are new, over the enclosing ones.
   *
   * @internal
   */
  private runBlock(stmts: ReadonlyArray<Ast.Stmt>, parent: Env, ctx: Ctx): MaybePromise<Completion> {
    return this.runScope(stmts, new Env(parent), ctx)
  }

  /** @internal */
  private async unwindScope(scope: Scope, ctx: Ctx, error: unknown): Promise<never> {
    await this.runDefers(scope, ctx, error)
    throw error
  }

  /** @internal */
  private async settleScope(pending: Promise<Completion>, scope: Scope, ctx: Ctx): Promise<Completion> {
    let c: Completion
    try {
      c = await pending
    } catch (error) {
      await this.runDefers(scope, ctx, error)
      throw error
    }
    await this.runDefers(scope, ctx, undefined)
    return c
  }

  /**
   * Runs the scope's deferred statements, last first, each in its own scope over the exiting
   * one's variables. `primary` is the error the scope is exiting with, if any: a deferred
   * statement's error replaces it only when it is graver (a runtime error over a `try`
   * unwind). A stopped task runs no defers (its bridge closes everything).
   *
   * @internal
   */
  private async runDefers(scope: Scope, ctx: Ctx, primary: unknown): Promise<void> {
    const defers = scope.defers
    if (defers === undefined) return
    scope.defers = undefined
    if (primary instanceof Cancelled) return
    let replacement: unknown = undefined
    let worst = rank(primary)
    for (let i = defers.length - 1; i >= 0; i--) {
      try {
        const c = this.runScope([defers[i]!], scope.env, ctx)
        if (isPromise(c)) await c
      } catch (error) {
        if (rank(error) > worst) {
          replacement = error
          worst = rank(error)
        }
        if (error instanceof Cancelled) break
      }
    }
    if (replacement !== undefined) throw replacement
  }

  /** @internal */
  private execStmts(stmts: ReadonlyArray<Ast.Stmt>, from: number, scope: Scope, ctx: Ctx): MaybePromise<Completion> {
    for (let i = from; i < stmts.length; i++) {
      this.checkCancelled(ctx.task)
      const c = this.exec(stmts[i]!, scope, ctx)
      if (isPromise(c)) return this.execStmtsAsync(c, stmts, i, scope, ctx)
      if (c !== undefined) return c
    }
    return undefined
  }

  /** @internal */
  private async execStmtsAsync(
    pending: Promise<Completion>,
    stmts: ReadonlyArray<Ast.Stmt>,
    index: number,
    scope: Scope,
    ctx: Ctx
  ): Promise<Completion> {
    let c = await pending
    for (let i = index + 1; c === undefined && i < stmts.length; i++) {
      this.checkCancelled(ctx.task)
      const next = this.exec(stmts[i]!, scope, ctx)
      c = isPromise(next) ? await next : next
    }
    return c
  }

  /** @internal */
  private exec(s: Ast.Stmt, scope: Scope, ctx: Ctx): MaybePromise<Completion> {
    const env = scope.env
    switch (s._tag) {
      case "Let": {
        const v = this.evalValue(s.value, env, ctx)
        if (isPromise(v)) {
          return v.then((value) => {
            env.declare(s.name, value)
            return undefined
          })
        }
        env.declare(s.name, v)
        return undefined
      }
      case "LetRecord": {
        const v = this.evalValue(s.value, env, ctx)
        if (isPromise(v)) return v.then((value) => this.destructure(s, value, env, ctx))
        return this.destructure(s, v, env, ctx)
      }
      case "Begin":
        return this.runBlock(s.body, env, ctx)
      case "While":
        return this.execWhile(s, scope, ctx)
      case "If":
        return this.execIf(s, 0, scope, ctx)
      case "Defer":
        ;(scope.defers ??= []).push(s.stmt)
        return undefined
      case "Assert": {
        const v = this.evalValue(s.expr, env, ctx)
        if (isPromise(v)) return v.then((value) => this.assert(s, value, ctx))
        return this.assert(s, v, ctx)
      }
      case "Break":
        return BREAK
      case "Continue":
        return CONTINUE
      case "Return":
        return this.execReturn(s, env, ctx)
      case "ExprStmt": {
        const e = s.expr
        const v = e._tag === "Call" ? this.evalCall(e, env, ctx) : this.evalValue(e, env, ctx)
        return isPromise(v) ? v.then(() => undefined) : undefined
      }
      case "Assign":
        return this.execAssign(s, env, ctx)
    }
  }

  /** @internal */
  private destructure(s: Ast.LetRecord, value: VvValue, env: Env, ctx: Ctx): Completion {
    if (!(value instanceof VvRecord)) {
      this.fail(`cannot destructure ${describeKind(value)}: a record was expected`, s.value.at, ctx)
    }
    for (const f of s.fields) {
      const v = value.get(f.field)
      if (v === undefined) this.fail(`field '${f.field}' not found in record`, f.at, ctx)
      env.declare(f.name, v)
    }
    return undefined
  }

  /** @internal */
  private assert(s: Ast.Assert, value: VvValue, ctx: Ctx): Completion {
    if (typeof value !== "boolean") this.fail(`assert expects a bool, got ${describeKind(value)}`, s.expr.at, ctx)
    if (!value) this.fail(`assertion failed: ${ctx.source.text.slice(s.expr.at, s.expr.end)}`, s.at, ctx)
    return undefined
  }

  /** @internal */
  private condition(value: VvValue, e: Ast.Expr, construct: string, ctx: Ctx): boolean {
    if (typeof value !== "boolean") {
      this.fail(`${construct} condition must be a bool, got ${describeKind(value)}`, e.at, ctx)
    }
    return value
  }

  /** @internal */
  private execIf(s: Ast.If, from: number, scope: Scope, ctx: Ctx): MaybePromise<Completion> {
    for (let i = from; i < s.branches.length; i++) {
      const branch = s.branches[i]!
      const v = this.evalValue(branch.cond, scope.env, ctx)
      if (isPromise(v)) {
        const index = i
        return v.then((value) =>
          this.condition(value, branch.cond, "if", ctx)
            ? this.runBlock(branch.body, scope.env, ctx)
            : this.execIf(s, index + 1, scope, ctx)
        )
      }
      if (this.condition(v, branch.cond, "if", ctx)) return this.runBlock(branch.body, scope.env, ctx)
    }
    return s.otherwise === undefined ? undefined : this.runBlock(s.otherwise, scope.env, ctx)
  }

  /** @internal */
  private execWhile(s: Ast.While, scope: Scope, ctx: Ctx): MaybePromise<Completion> {
    for (;;) {
      const pause = this.maybeYield()
      if (pause !== undefined) return this.whileAsync(s, scope, ctx, pause, "pause")
      const v = this.evalValue(s.cond, scope.env, ctx)
      if (isPromise(v)) return this.whileAsync(s, scope, ctx, v, "cond")
      if (!this.condition(v, s.cond, "while", ctx)) return undefined
      const c = this.runBlock(s.body, scope.env, ctx)
      if (isPromise(c)) return this.whileAsync(s, scope, ctx, c, "body")
      if (c === BREAK) return undefined
      if (c instanceof Returned) return c
    }
  }

  /**
   * The rest of a `while` once a step waits: one loop in one async call, however long it runs.
   *
   * @internal
   */
  private async whileAsync(
    s: Ast.While,
    scope: Scope,
    ctx: Ctx,
    pending: Promise<unknown>,
    step: "pause" | "cond" | "body"
  ): Promise<Completion> {
    let first: Promise<unknown> | undefined = pending
    for (;;) {
      let c: Completion
      if (first !== undefined && step === "body") {
        c = (await first) as Completion
      } else {
        if (first !== undefined && step === "pause") await first
        let v: MaybePromise<VvValue> = first !== undefined && step === "cond"
          ? (first as Promise<VvValue>)
          : this.evalValue(s.cond, scope.env, ctx)
        if (isPromise(v)) v = await v
        if (!this.condition(v, s.cond, "while", ctx)) return undefined
        const body = this.runBlock(s.body, scope.env, ctx)
        c = isPromise(body) ? await body : body
      }
      first = undefined
      if (c === BREAK) return undefined
      if (c instanceof Returned) return c
      const pause = this.maybeYield()
      if (pause !== undefined) await pause
    }
  }

  /** @internal */
  private execReturn(s: Ast.Return, env: Env, ctx: Ctx): MaybePromise<Completion> {
    const e = s.value
    if (e === undefined) return new Returned(none())
    if (e._tag !== "Call") {
      const v = this.evalValue(e, env, ctx)
      return isPromise(v) ? v.then((value) => new Returned(value)) : new Returned(v)
    }
    if (ctx.frame !== "function") {
      const v = this.evalCall(e, env, ctx)
      return isPromise(v) ? v.then((value) => new Returned(value)) : new Returned(v)
    }
    // a tail call: evaluate the callee and the arguments here, call from the caller's loop
    const parts = this.evalCallParts(e, env, ctx)
    return isPromise(parts) ? parts.then((values) => this.tailCall(values, e, ctx)) : this.tailCall(parts, e, ctx)
  }

  /** @internal */
  private tailCall(values: ReadonlyArray<VvValue>, e: Ast.Call, ctx: Ctx): MaybePromise<Completion> {
    const fn = values[0]!
    const args = values.slice(1)
    if (fn instanceof Closure) {
      this.arityCheck(fn, args, e.at, ctx)
      return new Returned(new TailCall(fn, args))
    }
    const v = this.invoke(fn, args, e.at, ctx)
    return isPromise(v) ? v.then((value) => new Returned(value)) : new Returned(v)
  }

  /** @internal */
  private execAssign(s: Ast.Assign, env: Env, ctx: Ctx): MaybePromise<Completion> {
    const target = s.target
    switch (target._tag) {
      case "Ident": {
        const v = this.evalValue(s.value, env, ctx)
        return isPromise(v)
          ? v.then((value) => this.assignName(s, target, value, env, ctx))
          : this.assignName(s, target, v, env, ctx)
      }
      case "Field": {
        const parts = this.evalAll([target.object, s.value], env, ctx)
        return isPromise(parts)
          ? parts.then((values) => this.assignField(s, target, values, ctx))
          : this.assignField(s, target, parts, ctx)
      }
      case "Index": {
        const parts = this.evalAll([target.object, target.index, s.value], env, ctx)
        return isPromise(parts)
          ? parts.then((values) => this.assignIndex(s, target, values, ctx))
          : this.assignIndex(s, target, parts, ctx)
      }
    }
  }

  /** @internal */
  private assignName(s: Ast.Assign, target: Ast.Ident, value: VvValue, env: Env, ctx: Ctx): Completion {
    if (s.op !== "=") {
      const current = env.lookup(target.name)
      if (current === undefined) this.fail(`variable named '${target.name}' is not defined`, target.at, ctx)
      value = this.binary(s.op === "+=" ? "+" : "-", current, value, s.at, ctx)
    }
    if (!env.assign(target.name, value)) this.fail(`variable named '${target.name}' is not defined`, target.at, ctx)
    return undefined
  }

  /** @internal */
  private assignField(s: Ast.Assign, target: Ast.Field, [object, value]: ReadonlyArray<VvValue>, ctx: Ctx): Completion {
    if (!(object instanceof VvRecord)) {
      return this.fail(`cannot set field '${target.name}' of ${describeKind(object!)}`, target.at, ctx)
    }
    let v = value!
    if (s.op !== "=") {
      const current = object.get(target.name)
      if (current === undefined) this.fail(`field '${target.name}' not found in record`, target.at, ctx)
      v = this.binary(s.op === "+=" ? "+" : "-", current, v, s.at, ctx)
    }
    object.set(target.name, v)
    return undefined
  }

  /** @internal */
  private assignIndex(
    s: Ast.Assign,
    target: Ast.Index,
    [object, index, value]: ReadonlyArray<VvValue>,
    ctx: Ctx
  ): Completion {
    const list = this.expectList(object!, target.object.at, ctx)
    const i = this.listIndex(list, index!, target.index.at, ctx)
    let v = value!
    if (s.op !== "=") v = this.binary(s.op === "+=" ? "+" : "-", list.get(i)!, v, s.at, ctx)
    list.set(i, v)
    return undefined
  }

  // ---- expressions ----

  /**
   * Evaluates `e` to a value (a call's missing result is an error here).
   *
   * @internal
   */
  private evalValue(e: Ast.Expr, env: Env, ctx: Ctx): MaybePromise<VvValue> {
    return hasCall(e) ? this.evalAsync(e, env, ctx) : this.evalSync(e, env, ctx)
  }

  /** @internal */
  private evalAll(exprs: ReadonlyArray<Ast.Expr>, env: Env, ctx: Ctx): MaybePromise<Array<VvValue>> {
    const values: Array<VvValue> = []
    for (let i = 0; i < exprs.length; i++) {
      const v = this.evalValue(exprs[i]!, env, ctx)
      if (isPromise(v)) return this.evalAllAsync(exprs, i, v, values, env, ctx)
      values.push(v)
    }
    return values
  }

  /** @internal */
  private async evalAllAsync(
    exprs: ReadonlyArray<Ast.Expr>,
    index: number,
    pending: Promise<VvValue>,
    values: Array<VvValue>,
    env: Env,
    ctx: Ctx
  ): Promise<Array<VvValue>> {
    values.push(await pending)
    for (let i = index + 1; i < exprs.length; i++) values.push(await this.evalValue(exprs[i]!, env, ctx))
    return values
  }

  /** @internal */
  private value(r: Result, e: Ast.Call, ctx: Ctx): VvValue {
    if (r !== VOID) return r
    const callee = e.callee
    const name = callee._tag === "Ident" ? callee.name : callee._tag === "Field" ? callee.name : "the function"
    return this.fail(`${name} ended without 'return': its result cannot be used`, e.at, ctx)
  }

  /**
   * The callee and the arguments of a call, evaluated left to right, as one array.
   *
   * @internal
   */
  private evalCallParts(e: Ast.Call, env: Env, ctx: Ctx): MaybePromise<Array<VvValue>> {
    return this.evalAll([e.callee, ...e.args], env, ctx)
  }

  /**
   * A call; its result may be VOID (allowed in statement and `return` position only).
   *
   * @internal
   */
  private evalCall(e: Ast.Call, env: Env, ctx: Ctx): MaybePromise<Result> {
    const parts = this.evalCallParts(e, env, ctx)
    if (isPromise(parts)) return parts.then((values) => this.invoke(values[0]!, values.slice(1), e.at, ctx))
    return this.invoke(parts[0]!, parts.slice(1), e.at, ctx)
  }

  /** @internal */
  private async evalAsync(e: Ast.Expr, env: Env, ctx: Ctx): Promise<VvValue> {
    switch (e._tag) {
      case "Call": {
        const r = this.evalCall(e, env, ctx)
        return this.value(isPromise(r) ? await r : r, e, ctx)
      }
      case "String": {
        let text = ""
        for (const part of e.parts) {
          text += typeof part === "string" ? part : this.show(await this.evalValue(part, env, ctx), part.at, ctx)
        }
        return VvList.fromText(text)
      }
      case "List": {
        const items: Array<VvValue> = []
        for (const item of e.items) items.push(await this.evalValue(item, env, ctx))
        return VvList.unsafeFromArray(items)
      }
      case "Record": {
        const fields: Array<[string, VvValue]> = []
        for (const f of e.fields) fields.push([f.name, await this.evalValue(f.value, env, ctx)])
        return new VvRecord(fields)
      }
      case "Not":
        return this.not(await this.evalValue(e.expr, env, ctx), e, ctx)
      case "Len":
        return this.len(await this.evalValue(e.expr, env, ctx), e, ctx)
      case "Neg":
        return this.neg(await this.evalValue(e.expr, env, ctx), e, ctx)
      case "Try":
        return this.try(await this.evalValue(e.expr, env, ctx), e, ctx)
      case "Binary": {
        const left = await this.evalValue(e.left, env, ctx)
        return this.binary(e.op, left, await this.evalValue(e.right, env, ctx), e.at, ctx)
      }
      case "Field":
        return this.field(await this.evalValue(e.object, env, ctx), e, ctx)
      case "Index": {
        const object = await this.evalValue(e.object, env, ctx)
        return this.index(object, await this.evalValue(e.index, env, ctx), e, ctx)
      }
      case "Slice": {
        const object = await this.evalValue(e.object, env, ctx)
        const start = e.start === undefined ? undefined : await this.evalValue(e.start, env, ctx)
        const stop = e.stop === undefined ? undefined : await this.evalValue(e.stop, env, ctx)
        return this.slice(object, start, stop, e, ctx)
      }
      default:
        return this.evalSync(e, env, ctx)
    }
  }

  /**
   * Evaluates an expression that contains no call.
   *
   * @internal
   */
  private evalSync(e: Ast.Expr, env: Env, ctx: Ctx): VvValue {
    switch (e._tag) {
      case "Int":
      case "Float":
      case "Bool":
        return e.value
      case "Char":
        return VvChar.of(e.codePoint)
      case "String": {
        if (e.parts.length === 1 && typeof e.parts[0] === "string") return VvList.fromText(e.parts[0])
        let text = ""
        for (const part of e.parts) {
          text += typeof part === "string"
            ? part
            : this.show(this.evalSync(part, env, ctx), part.at, ctx)
        }
        return VvList.fromText(text)
      }
      case "Ident": {
        const v = env.lookup(e.name)
        return v !== undefined ? v : this.fail(`variable named '${e.name}' is not defined`, e.at, ctx)
      }
      case "Fun":
        return new Closure(this, e, env, ctx.source)
      case "List":
        return VvList.unsafeFromArray(e.items.map((item) => this.evalSync(item, env, ctx)))
      case "Record":
        return new VvRecord(e.fields.map((f) => [f.name, this.evalSync(f.value, env, ctx)] as const))
      case "Not":
        return this.not(this.evalSync(e.expr, env, ctx), e, ctx)
      case "Len":
        return this.len(this.evalSync(e.expr, env, ctx), e, ctx)
      case "Neg":
        return this.neg(this.evalSync(e.expr, env, ctx), e, ctx)
      case "Try":
        return this.try(this.evalSync(e.expr, env, ctx), e, ctx)
      case "Binary":
        return this.binary(e.op, this.evalSync(e.left, env, ctx), this.evalSync(e.right, env, ctx), e.at, ctx)
      case "Field":
        return this.field(this.evalSync(e.object, env, ctx), e, ctx)
      case "Index":
        return this.index(this.evalSync(e.object, env, ctx), this.evalSync(e.index, env, ctx), e, ctx)
      case "Slice":
        return this.slice(
          this.evalSync(e.object, env, ctx),
          e.start === undefined ? undefined : this.evalSync(e.start, env, ctx),
          e.stop === undefined ? undefined : this.evalSync(e.stop, env, ctx),
          e,
          ctx
        )
      case "Call":
        throw new Error("vv: evalSync reached a call (a bug in the evaluator)")
    }
  }

  // ---- operators ----

  /**
   * A value as interpolation prints it.
   *
   * @internal
   */
  private show(v: VvValue, at: number, ctx: Ctx): string {
    try {
      return show(v)
    } catch (error) {
      if (error instanceof RangeError) return this.fail(`cannot print: ${tooDeep}`, at, ctx)
      throw error
    }
  }

  /** @internal */
  private not(v: VvValue, e: Ast.Expr, ctx: Ctx): VvValue {
    if (typeof v !== "boolean") this.fail(`not expects a bool, got ${describeKind(v)}`, e.at, ctx)
    return !v
  }

  /** @internal */
  private len(v: VvValue, e: Ast.Expr, ctx: Ctx): VvValue {
    if (!(v instanceof VvList)) this.fail(`len expects a list, got ${describeKind(v)}`, e.at, ctx)
    return BigInt(v.length)
  }

  /** @internal */
  private neg(v: VvValue, e: Ast.Expr, ctx: Ctx): VvValue {
    if (typeof v === "bigint") return int64(-v)
    if (typeof v === "number") return -v
    return this.fail(`cannot negate ${describeKind(v)}`, e.at, ctx)
  }

  /** @internal */
  private try(v: VvValue, e: Ast.Try, ctx: Ctx): VvValue {
    const result = toResult(v)
    if (result === undefined) return v
    if (result.ok) return result.value
    throw new TryUnwind(v, ctx.source.location(e.at))
  }

  /** @internal */
  private binary(op: Ast.BinaryOp, a: VvValue, b: VvValue, at: number, ctx: Ctx): VvValue {
    switch (op) {
      case "==":
        try {
          return DefaultHost.equals(a, b)
        } catch (error) {
          if (error instanceof RangeError) return this.fail(`cannot compare: ${tooDeep}`, at, ctx)
          return this.fail(error instanceof Error ? error.message : String(error), at, ctx)
        }
      case "<":
      case "<=": {
        if (typeof a === "bigint" && typeof b === "bigint") return op === "<" ? a < b : a <= b
        if (typeof a === "number" && typeof b === "number") return op === "<" ? a < b : a <= b
        if (a instanceof VvChar && b instanceof VvChar) {
          return op === "<" ? a.codePoint < b.codePoint : a.codePoint <= b.codePoint
        }
        return this.fail(`cannot compare ${describeKind(a)} with ${describeKind(b)} using '${op}'`, at, ctx)
      }
      case "and":
      case "or":
        if (typeof a !== "boolean" || typeof b !== "boolean") {
          this.fail(`'${op}' expects two bools, got ${describeKind(a)} and ${describeKind(b)}`, at, ctx)
        }
        return op === "and" ? a && b : a || b
      case "+":
        if (a instanceof VvList && b instanceof VvList) return a.concat(b)
        return this.arithmetic(op, a, b, at, ctx)
      default:
        return this.arithmetic(op, a, b, at, ctx)
    }
  }

  /** @internal */
  private arithmetic(op: "+" | "-" | "*" | "/" | "/:" | "%", a: VvValue, b: VvValue, at: number, ctx: Ctx): VvValue {
    if ((typeof a !== "bigint" && typeof a !== "number") || (typeof b !== "bigint" && typeof b !== "number")) {
      const verb = {
        "+": "add",
        "-": "subtract",
        "*": "multiply",
        "/": "divide",
        "/:": "divide",
        "%": "take the remainder of"
      }[op]
      return this.fail(`cannot ${verb} ${describeKind(a)} and ${describeKind(b)} with '${op}'`, at, ctx)
    }
    if (typeof a === "bigint" && typeof b === "bigint") {
      switch (op) {
        case "+":
          return int64(a + b)
        case "-":
          return int64(a - b)
        case "*":
          return int64(a * b)
        case "/":
          if (b === 0n) this.fail("division by zero", at, ctx)
          return Number(a) / Number(b)
        case "/:":
          if (b === 0n) this.fail("division by zero", at, ctx)
          return int64(a / b)
        case "%":
          if (b === 0n) this.fail("division by zero", at, ctx)
          return a % b
      }
    }
    if (op === "/:") return this.fail(`'/:' expects two ints, got ${describeKind(a)} and ${describeKind(b)}`, at, ctx)
    const x = Number(a)
    const y = Number(b)
    switch (op) {
      case "+":
        return x + y
      case "-":
        return x - y
      case "*":
        return x * y
      case "/":
        if (y === 0) this.fail("division by zero", at, ctx)
        return x / y
      case "%":
        if (y === 0) this.fail("division by zero", at, ctx)
        return x % y
    }
  }

  /** @internal */
  private field(object: VvValue, e: Ast.Field, ctx: Ctx): VvValue {
    if (!(object instanceof VvRecord)) {
      return this.fail(`cannot read field '${e.name}' of ${describeKind(object)}`, e.at, ctx)
    }
    const v = object.get(e.name)
    return v !== undefined ? v : this.fail(`field '${e.name}' not found in record`, e.at, ctx)
  }

  /** @internal */
  private expectList(v: VvValue, at: number, ctx: Ctx): VvList {
    return v instanceof VvList ? v : this.fail(`cannot index ${describeKind(v)}: a list was expected`, at, ctx)
  }

  /**
   * The position of `index` in `list` (negative counts from the end); out of range fails.
   *
   * @internal
   */
  private listIndex(list: VvList, index: VvValue, at: number, ctx: Ctx): number {
    if (typeof index !== "bigint") this.fail(`list index must be an int, got ${describeKind(index)}`, at, ctx)
    const i = index < 0n ? index + BigInt(list.length) : index
    if (i < 0n || i >= BigInt(list.length)) {
      this.fail(`list index out of range: ${index} (length ${list.length})`, at, ctx)
    }
    return Number(i)
  }

  /** @internal */
  private index(object: VvValue, index: VvValue, e: Ast.Index, ctx: Ctx): VvValue {
    const list = this.expectList(object, e.at, ctx)
    return list.get(this.listIndex(list, index, e.index.at, ctx))!
  }

  /** @internal */
  private slice(
    object: VvValue,
    start: VvValue | undefined,
    stop: VvValue | undefined,
    e: Ast.Slice,
    ctx: Ctx
  ): VvValue {
    if (!(object instanceof VvList)) {
      return this.fail(`cannot slice ${describeKind(object)}: a list was expected`, e.at, ctx)
    }
    const from = this.sliceBound(object.length, start, 0, e.start?.at ?? e.at, ctx)
    const to = this.sliceBound(object.length, stop, object.length, e.stop?.at ?? e.at, ctx)
    return object.slice(from, Math.max(from, to))
  }

  /**
   * A slice bound: negative counts from the end; clamped to 0..length.
   *
   * @internal
   */
  private sliceBound(length: number, v: VvValue | undefined, fallback: number, at: number, ctx: Ctx): number {
    if (v === undefined) return fallback
    if (typeof v !== "bigint") this.fail(`slice bounds must be ints, got ${describeKind(v)}`, at, ctx)
    const n = v < 0n ? v + BigInt(length) : v
    return n < 0n ? 0 : n > BigInt(length) ? length : Number(n)
  }
}

const catchTry = (error: unknown): VvValue => {
  if (error instanceof TryUnwind) return error.result
  throw error
}

const completionValue = (c: Completion): Result | TailCall => c instanceof Returned ? c.value : VOID
