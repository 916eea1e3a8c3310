/**
 * A bridge: one vv program's natives of `std/net.vv`, `std/channel.vv` and `std/sync.vv`, with
 * the Effect runtime and the Scope they run in. A host makes one bridge per program run (or
 * test), binds `natives(path)` to the `extern "native"` declarations of each module path, and
 * disposes the bridge when the program ends: the end of a vv program is a Scope closing.
 *
 * @since 0.1.0
 */
import * as Net from "@vvnet/core/Net"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import * as StdChannel from "./channel.js"
import type { Host, Native } from "./Host.js"
import { VvRuntimeError } from "./Host.js"
import { Call } from "./internal/call.js"
import type { NativeContext } from "./internal/context.js"
import type { Waiter } from "./internal/waiter.js"
import * as StdNet from "./net.js"
import * as StdSync from "./sync.js"

/**
 * The logical module paths a bridge registers natives for, in this order:
 * `std/net.vv`, `std/channel.vv`, `std/sync.vv`.
 *
 * @since 0.1.0
 * @category constants
 */
export const modulePaths: ReadonlyArray<string> = Object.freeze([
  StdNet.modulePath,
  StdChannel.modulePath,
  StdSync.modulePath
])

/**
 * The bridge's vv text of each module path (`std/net.vv` declares the net externs and defines
 * `reader` and `writer`; the others declare their externs).
 *
 * @since 0.1.0
 * @category constants
 */
export const moduleSources: ReadonlyMap<string, string> = new Map([
  [StdNet.modulePath, StdNet.source],
  [StdChannel.modulePath, StdChannel.source],
  [StdSync.modulePath, StdSync.source]
])

/**
 * Options of `make`.
 *
 * - `layer` (required): the `Net` the natives use, such as `NodeNet.layer` from
 *   `@vvnet/node-adapter` (real sockets) or `MemoryNet.layer` from `@vvnet/core` (in process,
 *   for tests). The bridge serves any host on any `Net` and depends on no adapter. The layer is
 *   built on first use and released by `dispose`; a failure to build it rejects the natives
 *   that needed it with a `VvRuntimeError`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly layer: Layer.Layer<Net.Net, unknown>
}

/**
 * A bridge instance, for one vv program run.
 *
 * - `host`: the host it makes values with.
 * - `natives(modulePath)`: the natives registered for a logical module path (`std/net.vv`,
 *   `std/channel.vv`, `std/sync.vv`) by name; an empty map for any other path (the host then
 *   reports `extern native: NAME not registered`).
 * - `moduleSource(modulePath)`: the bridge's vv text of that module, or `undefined`.
 * - `netModuleSource`: the text of `std/net.vv`.
 * - `dispose()`: ends the program's network life. In order: interrupts every accept loop,
 *   every handler (aborting the `signal` of its host call) and every native call in flight
 *   (their promises reject with `VvRuntimeError`); closes every listener and connection that
 *   vv code left open; releases the `Net` layer. Resolves when all of that is done; idempotent
 *   (later calls return the same promise). Natives called afterwards throw `VvRuntimeError`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bridge<V> {
  readonly host: Host<V>
  readonly natives: (modulePath: string) => ReadonlyMap<string, Native<V>>
  readonly moduleSource: (modulePath: string) => string | undefined
  readonly netModuleSource: string
  readonly isDisposed: boolean
  readonly dispose: () => Promise<void>
}

const noNatives: ReadonlyMap<string, never> = new Map<string, never>()

class BridgeImpl<V> implements Bridge<V> {
  readonly netModuleSource = StdNet.source
  private readonly runtime: ManagedRuntime.ManagedRuntime<Net.Net, unknown>
  /** Every connection's and listener's Scope is a child of `root`. */
  private readonly root: Scope.CloseableScope = Effect.runSync(Scope.make())
  /** Owns `fibers`: closing it interrupts every fiber of the bridge. */
  private readonly fiberScope: Scope.CloseableScope = Effect.runSync(Scope.make())
  private readonly fibers: FiberSet.FiberSet<unknown, unknown>
  private readonly registry: ReadonlyMap<string, ReadonlyMap<string, Native<V>>>
  /** Channel and mutex waits in progress, with their native's name. */
  private readonly waiters = new Map<Pick<Waiter<unknown>, "fail">, string>()
  private disposing: Promise<void> | undefined = undefined
  /** Calls into vv code (handlers) in progress: `dispose` aborts their signals first thing. */
  private readonly calls = new Set<Call>()

  constructor(readonly host: Host<V>, layer: Layer.Layer<Net.Net, unknown>) {
    this.runtime = ManagedRuntime.make(layer)
    this.fibers = Effect.runSync(Scope.extend(FiberSet.make<unknown, unknown>(), this.fiberScope))
    const context: NativeContext<V> = {
      host,
      beginCall: () => {
        // no call begins once dispose has begun (net.ts checks `isDisposed` first)
        const call = new Call()
        this.calls.add(call)
        return call
      },
      endCall: (call) => this.calls.delete(call),
      root: this.root,
      fibers: this.fibers,
      run: (native, effect) => this.run(native, effect),
      fork: (native, effect) => this.fork(native, effect),
      wait: (native, waiter) => this.wait(native, waiter),
      ensureOpen: (native) => this.ensureOpen(native),
      netService: () => this.netService(),
      isDisposed: () => this.isDisposed
    }
    this.registry = new Map([
      [StdNet.modulePath, StdNet.natives(context)],
      [StdChannel.modulePath, StdChannel.natives(context)],
      [StdSync.modulePath, StdSync.natives(context)]
    ])
  }

  /** The layer's `Net`, once it was had. */
  private net: Net.Net["Type"] | undefined = undefined

  private netService(): Net.Net["Type"] | undefined {
    if (this.net === undefined) {
      // builds the layer now when it needs no waiting (NodeNet, MemoryNet); a layer still
      // building (asked again next time) or one that failed leaves the natives on `run`
      const exit = this.runtime.runSyncExit(Net.Net)
      if (Exit.isSuccess(exit)) this.net = exit.value
    }
    return this.net
  }

  get isDisposed(): boolean {
    return this.disposing !== undefined
  }

  natives(modulePath: string): ReadonlyMap<string, Native<V>> {
    return this.registry.get(modulePath) ?? noNatives
  }

  moduleSource(modulePath: string): string | undefined {
    return moduleSources.get(modulePath)
  }

  private ensureOpen(native: string): void {
    if (this.disposing !== undefined) {
      throw new VvRuntimeError(`${native}: the program has ended (its bridge was disposed)`, { native })
    }
  }

  private failure(native: string, cause: Cause.Cause<unknown>): VvRuntimeError {
    if (Cause.isInterruptedOnly(cause)) {
      return new VvRuntimeError(`${native}: interrupted: the program has ended (its bridge was disposed)`, { native })
    }
    const error = Cause.squash(cause)
    return new VvRuntimeError(`${native}: ${error instanceof Error ? error.message : Cause.pretty(cause)}`, {
      native,
      cause: error
    })
  }

  /**
   * Runs a native's Effect on the bridge's runtime. A fiber starts synchronously and runs until
   * it completes or has to wait. When it completed at once (a read with data buffered, a write
   * the OS took, a deadline, a close), its value is returned as it is: the fiber is done, so it
   * is neither tracked nor observed, and there is no promise. When it has to wait, that same
   * fiber goes on (the Effect never runs twice): it joins the bridge's fibers, so `dispose`
   * interrupts it, and its outcome comes back as a promise.
   */
  private run<A>(native: string, effect: Effect.Effect<A, never, Net.Net>): A | Promise<A> {
    this.ensureOpen(native)
    const fiber = this.runtime.runFork(effect)
    const exit = fiber.unsafePoll()
    if (exit !== null) {
      if (Exit.isSuccess(exit)) return exit.value
      // a defect at once (or a Net layer that failed to build) rejects, as one that came later
      return Promise.reject(this.failure(native, exit.cause))
    }
    FiberSet.unsafeAdd(this.fibers, fiber)
    return new Promise<A>((resolve, reject) => {
      fiber.addObserver((exit) => {
        if (Exit.isSuccess(exit)) resolve(exit.value)
        else reject(this.failure(native, exit.cause))
      })
    })
  }

  private wait<A>(native: string, waiter: Waiter<A>): Promise<A> {
    this.ensureOpen(native)
    this.waiters.set(waiter, native)
    waiter.onSettle(() => this.waiters.delete(waiter))
    return waiter.promise
  }

  private fork(native: string, effect: Effect.Effect<void, never, Net.Net>): void {
    this.ensureOpen(native)
    const fiber = this.runtime.runFork(effect)
    FiberSet.unsafeAdd(this.fibers, fiber)
    fiber.addObserver((exit) => {
      if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
        try {
          this.host.log("error", this.failure(native, exit.cause).message)
        } catch {
          // the host's log never ends the program
        }
      }
    })
  }

  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      for (const call of this.calls) call.stop()
      this.calls.clear()
      for (const [waiter, native] of Array.from(this.waiters)) {
        waiter.fail(this.failure(native, Cause.interrupt(FiberId.none)))
      }
      await Effect.runPromise(Scope.close(this.fiberScope, Exit.void))
      await Effect.runPromise(Scope.close(this.root, Exit.void))
      await this.runtime.dispose()
    })()
    return this.disposing
  }
}

/**
 * Makes a bridge for `host` over the `Net` of `options.layer` (`NodeNet.layer` for real
 * sockets, `MemoryNet.layer` in tests). Nothing is opened until a native runs. Dispose it when
 * the vv program ends.
 *
 * @example
 * ```ts
 * import { Bridge, DefaultHost } from "@vvnet/vv-bridge"
 * import { MemoryNet } from "@vvnet/core"
 *
 * const bridge = Bridge.make(DefaultHost.host, { layer: MemoryNet.layer })
 * const net = bridge.natives("std/net.vv")
 * const listener = await net.get("listen")!.call([DefaultHost.chars("tcp"), DefaultHost.chars("127.0.0.1:0")])
 * await bridge.dispose()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <V>(host: Host<V>, options: Options): Bridge<V> => new BridgeImpl(host, options.layer)
