/**
 * A vv runtime: one program run (or one test file). It owns the evaluator, the module cache,
 * the std modules and a `@vvnet/vv-bridge` bridge for the natives of `std/net.vv`,
 * `std/channel.vv` and `std/sync.vv`. `dispose` ends the program's network life: every
 * listener and connection is closed and every handler stopped.
 *
 * @since 0.1.0
 */
import type * as Net from "@vvnet/core/Net"
import * as NodeNet from "@vvnet/node-adapter/NodeNet"
import { Bridge, DefaultHost, Host } from "@vvnet/vv-bridge"
import type * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import type * as Ast from "./Ast.js"
import { SourceFile } from "./Ast.js"
import { VvError } from "./Errors.js"
import { Evaluator, mainTask, ModuleInstance, nativeFunction, type Task } from "./Evaluator.js"
import { parse } from "./Parser.js"
import { stdNatives } from "./std/natives.js"
import { makeRecursionLimit } from "./std/natives/sys.js"
import type { VvRecord, VvValue } from "./Values.js"

const moduleDirectory = Path.dirname(fileURLToPath(import.meta.url))

/**
 * Where the bundled std modules live: the package's `src/std`. The sources find it beside them;
 * the compiled output (`build/esm/`, which tsc fills with JavaScript only) finds it through
 * `../../src/std`, which the published package ships.
 *
 * @since 0.1.0
 * @category constants
 */
export const stdDirectory: string = Fs.existsSync(Path.join(moduleDirectory, "std", "console.vv"))
  ? Path.join(moduleDirectory, "std")
  : Path.join(moduleDirectory, "..", "..", "src", "std")

/**
 * The std modules the runtime bundles as vv text, by logical path. `std/net.vv`,
 * `std/channel.vv` and `std/sync.vv` come from the bridge.
 *
 * @since 0.1.0
 * @category constants
 */
export const bundledStdModules: ReadonlyArray<string> = [
  "std/bool.vv",
  "std/char.vv",
  "std/console.vv",
  "std/encoding/sjis.vv",
  "std/encoding/utf8.vv",
  "std/float.vv",
  "std/fs/dir.vv",
  "std/fs/file.vv",
  "std/int.vv",
  "std/io/bytes.vv",
  "std/io/text.vv",
  "std/list.vv",
  "std/math.vv",
  "std/option.vv",
  "std/random.vv",
  "std/record.vv",
  "std/result.vv",
  "std/string.vv",
  "std/sys.vv"
]

/**
 * Options of a runtime.
 *
 * - `stdout`: where `console.print` writes (default: `process.stdout`).
 * - `log`: the bridge's log (a failed accept handler); default: stderr, prefixed `vv: `.
 * - `layer`: the `Net` of the bridge (default: real sockets, `NodeNet.layer` from
 *   `@vvnet/node-adapter`; tests may pass `MemoryNet.layer`).
 * - `cwd`: the directory file names in messages are relative to (default: `process.cwd()`).
 * - `natives`: more natives, by module path and name (a host's own modules).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly stdout?: ((text: string) => void) | undefined
  readonly log?: ((level: Host.LogLevel, message: string) => void) | undefined
  readonly layer?: Layer.Layer<Net.Net, unknown> | undefined
  readonly cwd?: string | undefined
  readonly natives?: ReadonlyMap<string, ReadonlyMap<string, VvValue>> | undefined
}

const defaultLog = (_level: Host.LogLevel, message: string): void => {
  process.stderr.write(`vv: ${message}\n`)
}

type Entry =
  | { readonly state: "loading" }
  | { readonly state: "done"; readonly exports: VvRecord }

/**
 * One program run.
 *
 * @since 0.1.0
 * @category models
 */
export class Runtime {
  /**
   * The program's bridge: the natives of `std/net.vv`, `std/channel.vv`, `std/sync.vv`.
   *
   * @since 0.1.0
   */
  readonly bridge: Bridge.Bridge<VvValue>
  /**
   * The evaluator running the program's tasks.
   *
   * @since 0.1.0
   */
  readonly evaluator: Evaluator
  private readonly cwd: string
  private readonly std: ReadonlyMap<string, ReadonlyMap<string, VvValue>>
  /** The run's nested-call limit (`sys.set_max_recursion_depth`), carried by its tasks. */
  private readonly recursionLimit = makeRecursionLimit()
  private readonly extra: ReadonlyMap<string, ReadonlyMap<string, VvValue>>
  private readonly bridged = new Map<string, Map<string, VvValue>>()
  private readonly modules = new Map<string, Entry>()
  /** The modules being loaded, outermost first (for cycle messages). */
  private readonly loading: Array<string> = []

  constructor(options: Options = {}) {
    const stdout = options.stdout ?? ((text: string) => void process.stdout.write(text))
    this.cwd = options.cwd ?? process.cwd()
    this.std = stdNatives(stdout, this.recursionLimit)
    this.extra = options.natives ?? new Map()
    this.bridge = Bridge.make(DefaultHost.make({ log: options.log ?? defaultLog }), {
      layer: options.layer ?? NodeNet.layer
    })
    this.evaluator = new Evaluator({
      importModule: (path, from, location, task) => this.importModule(path, from, location, task),
      native: (modulePath, name) => this.native(modulePath, name)
    })
  }

  /**
   * A new main task (the program, or a test), under the run's recursion limit.
   *
   * @internal
   */
  private task(): Task {
    return { ...mainTask(), limit: this.recursionLimit }
  }

  /**
   * The name a file gets in messages: relative to `cwd` when inside it.
   *
   * @internal
   */
  private displayName(file: string): string {
    const relative = Path.relative(this.cwd, file)
    return relative !== "" && !relative.startsWith("..") && !Path.isAbsolute(relative) ? relative : file
  }

  /**
   * The module id of a file: `std/x.vv` for a file of the bundled std, else its absolute path.
   *
   * @internal
   */
  private fileId(file: string): string {
    const absolute = Path.resolve(this.cwd, file)
    const relative = Path.relative(stdDirectory, absolute)
    if (!relative.startsWith("..") && !Path.isAbsolute(relative)) {
      const id = "std/" + relative.split(Path.sep).join("/")
      if (bundledStdModules.includes(id)) return id
    }
    return absolute
  }

  /** @internal */
  private native(modulePath: string, name: string): VvValue | undefined {
    const own = this.extra.get(modulePath)?.get(name) ?? this.std.get(modulePath)?.get(name)
    if (own !== undefined) return own
    let bridged = this.bridged.get(modulePath)
    if (bridged === undefined) {
      bridged = new Map()
      for (const [key, native] of this.bridge.natives(modulePath)) {
        bridged.set(key, nativeFunction(native.name, native.params, (args) => native.call(args)))
      }
      this.bridged.set(modulePath, bridged)
    }
    return bridged.get(name)
  }

  /**
   * The text of a std module, or undefined when there is none.
   *
   * @internal
   */
  private stdSource(id: string): string | undefined {
    const fromBridge = this.bridge.moduleSource(id)
    if (fromBridge !== undefined) return fromBridge
    if (!bundledStdModules.includes(id)) return undefined
    return Fs.readFileSync(Path.join(stdDirectory, id.slice("std/".length)), "utf8")
  }

  /**
   * The module id `path` names when imported by `from`.
   *
   * @internal
   */
  private resolve(path: string, from: ModuleInstance, location: string): string {
    if (path.startsWith("std/")) return Path.posix.normalize(path)
    if (from.id.startsWith("std/")) {
      const id = Path.posix.normalize(Path.posix.join(Path.posix.dirname(from.id), path))
      if (!id.startsWith("std/")) {
        throw new VvError(`cannot import ${JSON.stringify(path)}: outside the std modules`, location)
      }
      return id
    }
    return Path.resolve(Path.dirname(from.id), path)
  }

  /** @internal */
  private read(id: string, path: string, location: string): SourceFile {
    if (id.startsWith("std/")) {
      const text = this.stdSource(id)
      if (text === undefined) throw new VvError(`cannot import ${JSON.stringify(path)}: no such std module`, location)
      return new SourceFile(id, text)
    }
    let text: string
    try {
      text = Fs.readFileSync(id, "utf8")
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "a directory" : (error as Error).message
      throw new VvError(`cannot import ${JSON.stringify(path)}: ${reason} (${id})`, location)
    }
    return new SourceFile(this.displayName(id), text)
  }

  /** @internal */
  private async importModule(path: string, from: ModuleInstance, location: string, task: Task): Promise<VvRecord> {
    const id = this.resolve(path, from, location)
    const entry = this.modules.get(id)
    if (entry?.state === "done") return entry.exports
    if (entry?.state === "loading") {
      const cycle = [...this.loading.slice(this.loading.indexOf(id)), id].map((m) => this.shortName(m))
      throw new VvError(`import cycle: ${cycle.join(" -> ")}`, location)
    }
    const instance = new ModuleInstance(id, parse(this.read(id, path, location)))
    await this.runInstance(instance, task)
    return instance.exports
  }

  /** @internal */
  private shortName(id: string): string {
    return id.startsWith("std/") ? id : this.displayName(id)
  }

  /** @internal */
  private async runInstance(instance: ModuleInstance, task: Task): Promise<void> {
    this.modules.set(instance.id, { state: "loading" })
    this.loading.push(instance.id)
    try {
      await this.evaluator.runModule(instance, "run", task)
    } finally {
      this.loading.pop()
    }
    this.modules.set(instance.id, { state: "done", exports: instance.exports })
  }

  /**
   * Parses a file as a module (a `VvSyntaxError` on bad syntax).
   *
   * @since 0.1.0
   */
  load(file: string): ModuleInstance {
    const id = this.fileId(file)
    const source = id.startsWith("std/")
      ? new SourceFile(id, this.stdSource(id)!)
      : new SourceFile(this.displayName(id), Fs.readFileSync(id, "utf8"))
    return new ModuleInstance(id, parse(source))
  }

  /**
   * A module from text. `file` names it and places it: relative imports resolve next to it
   * (it need not exist).
   *
   * @since 0.1.0
   */
  loadText(file: string, text: string): ModuleInstance {
    const id = Path.resolve(this.cwd, file)
    return new ModuleInstance(id, parse(new SourceFile(this.displayName(id), text)))
  }

  /**
   * Runs a module as the main program (tests skipped): its top level, then its defers.
   * Rejects with `VvError`, `VvSyntaxError` or `VvUnhandledError`. Does not dispose.
   *
   * @since 0.1.0
   */
  async run(instance: ModuleInstance): Promise<void> {
    await this.runInstance(instance, this.task())
  }

  /**
   * Prepares a module's tests: runs its imports, externs and `let`/`fun` declarations only.
   * Returns its tests, in order.
   *
   * @since 0.1.0
   */
  async prepareTests(instance: ModuleInstance): Promise<ReadonlyArray<Ast.Test>> {
    this.modules.set(instance.id, { state: "loading" })
    this.loading.push(instance.id)
    try {
      await this.evaluator.runModule(instance, "test", this.task())
    } finally {
      this.loading.pop()
    }
    this.modules.set(instance.id, { state: "done", exports: instance.exports })
    return instance.ast.items.flatMap((item) => item.node._tag === "Test" ? [item.node] : [])
  }

  /**
   * Runs one test of a prepared module; rejects when it fails.
   *
   * @since 0.1.0
   */
  runTest(instance: ModuleInstance, test: Ast.Test): Promise<void> {
    return this.evaluator.runTest(instance, test, this.task())
  }

  /**
   * Ends the program's network life (closes every socket, stops every handler).
   *
   * @since 0.1.0
   */
  dispose(): Promise<void> {
    return this.bridge.dispose()
  }
}
