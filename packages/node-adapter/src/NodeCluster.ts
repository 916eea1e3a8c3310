/**
 * Serving from several processes on one port, with `node:cluster`: `NodeCluster.run(program,
 * { workers: N })` forks N worker processes that each run `program`, and stops them all when it
 * is interrupted (Ctrl-C under `NodeRuntime.runMain`).
 *
 * A `NodeNet` listener in a cluster worker shares its port with the other workers, as a
 * `node:net` server does: `Net.listen` in a worker asks the primary process for the listening
 * socket, so N workers listening on `"0.0.0.0:8080"` all accept connections on port 8080. What
 * follows from node:cluster (Node 20):
 *
 * - Scheduling: by default (`"round-robin"`, Node's default except on Windows) the primary
 *   accepts every connection and hands it to the workers in turn; with `"os"` the workers
 *   accept on the shared socket themselves and the kernel picks one (often unevenly).
 * - Port `0`: every worker listening on `"127.0.0.1:0"` gets the same port, chosen on the first
 *   listen (`listener.address` reports it in each worker), so `:0` works in tests too.
 * - Each distinct address (host, port, network) is bound once by the primary; a bind failure
 *   (`AddressInUse`, `PermissionDenied`, …) fails the worker's `Net.listen` with its tag, as in
 *   a single process.
 * - Unix sockets are shared too: the primary binds the path and removes the socket file once the
 *   last worker's listener has closed. In a worker, a socket file at the path is left to the
 *   primary: a sibling's shared listener is reused, a foreign or stale file fails the bind with
 *   `AddressInUse`. `reclaimStaleSocket` removes a stale file as in one process (its probe dial
 *   reaches a live sibling's server as a connection that closes at once).
 * - A listener of its own in a worker: `Net.listen(network, address, { exclusive: true })`
 *   (node:net's `exclusive`): port `0` then gives each worker a port of its own.
 * - Beyond one machine, run the processes of each machine behind an existing load balancer
 *   (HAProxy, nginx's `stream` module, Envoy, a cloud TCP/L4 load balancer, a Kubernetes
 *   Service): vvnet adds no balancing of its own.
 *
 * This is node:cluster, not `@effect/platform`'s `Worker` (worker threads or child processes
 * exchanging messages, which share no listening socket) and not `@effect/cluster` (entities
 * sharded over machines).
 *
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import Cluster from "node:cluster"
import type { Worker } from "node:cluster"

/**
 * Options of `run`.
 *
 * - `workers`: how many worker processes the primary forks, a positive integer (say
 *   `os.availableParallelism()`). Ignored in a worker.
 * - `shutdownTimeout`: milliseconds (finite, `>= 0`; default 10000, `defaultShutdownTimeout`)
 *   that stopping gives each worker to end its program and exit before it is killed with
 *   `SIGKILL`. Leave room for what a worker does when it stops: `Net.serve`'s own
 *   `shutdownTimeout` (2000 by default) and lingering closes (`linger`, 5000 by default).
 * - `scheduling`: how the workers share a listening socket (node:cluster's
 *   `schedulingPolicy`): `"round-robin"` (the primary accepts and hands connections out in
 *   turn) or `"os"` (the workers accept themselves). Default: Node's own (round-robin except on
 *   Windows, or `NODE_CLUSTER_SCHED_POLICY`). It is process-wide and takes effect only before
 *   the first worker is forked.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly workers: number
  readonly shutdownTimeout?: number | undefined
  readonly scheduling?: "round-robin" | "os" | undefined
}

/**
 * The default `shutdownTimeout` of `run`, in milliseconds: 10000.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultShutdownTimeout = 10_000

/**
 * A worker process ended while the primary was not stopping it: its program failed (exit code
 * 1 under `NodeRuntime.runMain`), it crashed, or a signal other than `SIGINT` and `SIGTERM`
 * killed it (those two are a stop from outside, not a failure). `code` is its exit code
 * (null when a signal ended it), `signal` the signal's name (null otherwise). `run` fails with
 * it in the primary after stopping the other workers.
 *
 * @since 0.2.0
 * @category errors
 */
export class WorkerExited extends Schema.TaggedError<WorkerExited>()("WorkerExited", {
  workerId: Schema.Number,
  pid: Schema.optional(Schema.Number),
  code: Schema.NullOr(Schema.Number),
  signal: Schema.NullOr(Schema.String)
}) {
  /**
   * `worker 2 (pid 1234) exited with code 1` or `worker 2 (pid 1234) was killed by SIGKILL`.
   *
   * @since 0.2.0
   */
  override get message(): string {
    const who = `worker ${this.workerId}${this.pid === undefined ? "" : ` (pid ${this.pid})`}`
    return this.signal !== null ? `${who} was killed by ${this.signal}` : `${who} exited with code ${this.code}`
  }
}

/**
 * Whether this process is a node:cluster worker (`node:cluster`'s `isWorker`).
 *
 * @since 0.2.0
 * @category getters
 */
export const isWorker: Effect.Effect<boolean> = Effect.sync(() => Cluster.isWorker)

/**
 * This worker's id (1, 2, …, in the order the primary forked them; a worker forked again after
 * a crash gets a new one), or none in the primary or in a process outside a cluster.
 *
 * @since 0.2.0
 * @category getters
 */
export const workerId: Effect.Effect<Option.Option<number>> = Effect.sync(() =>
  Cluster.isWorker && Cluster.worker !== undefined ? Option.some(Cluster.worker.id) : Option.none()
)

/** Messages over the cluster's IPC channel: a worker says it listens for `stop`; the primary asks it to stop. */
const readyMessage = "@vvnet/node-adapter/NodeCluster/ready"
const stopMessage = "@vvnet/node-adapter/NodeCluster/stop"

const invalid = (options: Options): string | undefined => {
  const workers: unknown = options?.workers
  const timeout: unknown = options?.shutdownTimeout ?? defaultShutdownTimeout
  const scheduling: unknown = options?.scheduling
  if (typeof workers !== "number" || !Number.isSafeInteger(workers) || workers < 1) {
    return `invalid argument: workers must be a positive integer, got ${String(workers)}`
  }
  if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout < 0) {
    return `invalid argument: shutdownTimeout must be a finite, non-negative number of milliseconds, got ${
      String(timeout)
    }`
  }
  if (scheduling !== undefined && scheduling !== "round-robin" && scheduling !== "os") {
    return `invalid argument: scheduling must be "round-robin" or "os", got ${String(scheduling)}`
  }
  return undefined
}

/**
 * In a worker: runs `program` until it ends, or until the primary asks this worker to stop,
 * its IPC channel closes, or the process gets `SIGINT` or `SIGTERM`; those interrupt `program`
 * (its Scope closes: listeners, `serve`, connections) and end with success. Only the first
 * stop is handled here: a second `SIGINT` while the program's finalizers run has its default
 * effect (or the runtime's). Afterwards the worker leaves the cluster (`worker.disconnect()`),
 * so the process exits once nothing else holds it open.
 */
const runWorker = <A, E, R>(program: Effect.Effect<A, E, R>): Effect.Effect<void, E, R> =>
  Effect.gen(function*() {
    const stopped = Effect.async<void>((resume) => {
      // removed on the first stop (a second Ctrl-C then has its default effect) or when
      // `program` ends first
      const cleanup = () => {
        process.off("message", onMessage)
        process.off("disconnect", stop)
        process.off("SIGINT", stop)
        process.off("SIGTERM", stop)
      }
      const stop = () => {
        cleanup()
        resume(Effect.void)
      }
      const onMessage = (message: unknown) => {
        if (message === stopMessage) stop()
      }
      process.on("message", onMessage)
      process.once("disconnect", stop)
      process.on("SIGINT", stop)
      process.on("SIGTERM", stop)
      if (Cluster.worker === undefined || !Cluster.worker.isConnected()) stop()
      else process.send?.(readyMessage, undefined, undefined, () => {})
      return Effect.sync(cleanup)
    })
    yield* Effect.raceFirst(Effect.asVoid(program), stopped)
  }).pipe(
    Effect.ensuring(Effect.sync(() => {
      const worker = Cluster.worker
      if (worker !== undefined && worker.isConnected()) worker.disconnect()
    }))
  )

/**
 * Whether a worker's end is a failure: an exit code other than 0, or a signal other than SIGINT
 * and SIGTERM (those are a stop from outside: Ctrl-C reaches a worker still loading its code,
 * which has no handler yet, before the primary's own interruption begins).
 */
const failed = (code: number | null, signal: string | null): boolean =>
  signal !== null ? signal !== "SIGINT" && signal !== "SIGTERM" : code !== 0

interface Exited {
  readonly worker: Worker
  readonly code: number | null
  readonly signal: string | null
}

/** In the primary: forks the workers, waits for them, stops them all on interruption or failure. */
const runPrimary = (options: Options): Effect.Effect<void, WorkerExited> =>
  Effect.suspend(() => {
    const timeout = options.shutdownTimeout ?? defaultShutdownTimeout
    if (options.scheduling !== undefined) {
      Cluster.schedulingPolicy = options.scheduling === "os" ? Cluster.SCHED_NONE : Cluster.SCHED_RR
    }
    const live = new Set<Worker>()
    /** Workers listening for the stop message (the others are stopped with SIGTERM). */
    const ready = new Set<Worker>()
    const exits = new Map<Worker, Promise<Exited>>()
    let stopping = false
    let onUnexpected: ((exited: Exited) => void) | undefined
    let onAllDone: (() => void) | undefined

    const fork = () => {
      const worker = Cluster.fork()
      live.add(worker)
      exits.set(
        worker,
        new Promise<Exited>((resolve) => {
          worker.process.once("exit", (code, signal) => {
            live.delete(worker)
            const exited = { worker, code, signal }
            resolve(exited)
            if (!stopping && failed(code, signal)) onUnexpected?.(exited)
            if (live.size === 0) onAllDone?.()
          })
        })
      )
      worker.on("message", (message: unknown) => {
        if (message === readyMessage) ready.add(worker)
      })
      worker.on("error", () => {}) // a failed send to an exiting worker; its exit is what counts
    }

    /** Asks every live worker to stop; kills those still running after `timeout` ms; waits for all. */
    const stopAll = Effect.async<void>((resume) => {
      stopping = true
      const waiting = Array.from(live)
      for (const worker of waiting) {
        // a worker still loading its code would miss the message: it gets SIGTERM instead
        if (ready.has(worker) && worker.isConnected()) worker.send(stopMessage, () => {})
        else worker.process.kill("SIGTERM")
      }
      const timer = setTimeout(() => {
        for (const worker of live) worker.process.kill("SIGKILL")
      }, timeout)
      void Promise.all(waiting.map((w) => exits.get(w)!)).then(() => {
        clearTimeout(timer)
        resume(Effect.void)
      })
    })

    const wait = Effect.async<void, WorkerExited>((resume) => {
      onUnexpected = ({ code, signal, worker }) =>
        resume(Effect.fail(new WorkerExited({ workerId: worker.id, pid: worker.process.pid, code, signal })))
      onAllDone = () => resume(Effect.void)
      if (live.size === 0) resume(Effect.void)
    })

    return Effect.acquireUseRelease(
      Effect.sync(() => {
        for (let i = 0; i < options.workers; i++) fork()
      }),
      () => wait,
      () => stopAll
    )
  })

/**
 * Runs `program` in `options.workers` node:cluster worker processes. Call it from the program's
 * entry module, as node:cluster expects: each worker starts the same script with the same
 * arguments and Node flags (a `--import tsx` loader included), reaches the same `run` call, and
 * runs `program` there.
 *
 * - In the primary, `run` forks the workers and waits for them. It succeeds when every worker
 *   has exited with code 0 (each program ended) or by `SIGINT`/`SIGTERM` (stopped from outside),
 *   and fails with `WorkerExited` as soon as one exits otherwise (its program failed under
 *   `NodeRuntime.runMain`, it crashed or was killed by another signal), after stopping the
 *   others. Interrupting it (Ctrl-C or `SIGTERM` under
 *   `NodeRuntime.runMain`, or closing the Scope of a fiber running it) stops them all.
 *   Stopping a worker: the primary asks it over the cluster's IPC channel, waits up to
 *   `shutdownTimeout` ms (default 10000) for it to exit, then kills it with `SIGKILL`; `run`
 *   returns once every worker has exited. No worker outlives the primary: a worker whose IPC
 *   channel closes stops too (node:cluster ends it if it is still running).
 * - In a worker, `run` runs `program` until it ends, or until the primary asks it to stop, or
 *   the worker gets `SIGINT` or `SIGTERM` (Ctrl-C in a terminal reaches every process of the
 *   group): then `program` is interrupted, its Scope closes (listeners, `Net.serve`'s handlers,
 *   connections, with their bounded shutdown), and `run` succeeds. `program`'s own failure is
 *   `run`'s failure (so the worker exits with code 1 under `NodeRuntime.runMain`). Afterwards
 *   the worker leaves the cluster, so its process exits once nothing else holds it open.
 *
 * Fails with `IllegalArgumentException` (before anything is forked) for a `workers` that is not
 * a positive integer, a `shutdownTimeout` that is negative or not finite, or a `scheduling`
 * other than `"round-robin"` and `"os"`. Resources: the worker processes, all ended when `run`
 * returns in the primary.
 *
 * @example
 * ```ts
 * import { Net } from "@vvnet/core"
 * import { NodeCluster, NodeNet } from "@vvnet/node-adapter"
 * import * as Effect from "effect/Effect"
 *
 * // Every worker listens on port 7000; the primary shares the port between them.
 * const server = Effect.gen(function*() {
 *   const listener = yield* Net.listen("tcp", "127.0.0.1:7000")
 *   yield* Net.serve(listener, (conn) => conn.write("hello\n"))
 *   return yield* Effect.never
 * }).pipe(Effect.scoped, Effect.provide(NodeNet.layer))
 *
 * // The entry module: `node server.js` forks 2 workers, each runs `server`; run it with
 * // `NodeRuntime.runMain(main)` (@effect/platform-node/NodeRuntime) so Ctrl-C stops them all.
 * const main = NodeCluster.run(server, { workers: 2 })
 * assert.strictEqual(typeof main.pipe, "function")
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const run = <A, E, R>(
  program: Effect.Effect<A, E, R>,
  options: Options
): Effect.Effect<void, E | WorkerExited | Cause.IllegalArgumentException, R> =>
  Effect.suspend((): Effect.Effect<void, E | WorkerExited | Cause.IllegalArgumentException, R> => {
    if (Cluster.isWorker) return runWorker(program)
    const bad = invalid(options)
    if (bad !== undefined) return Effect.fail(new Cause.IllegalArgumentException(bad))
    return runPrimary(options)
  })
