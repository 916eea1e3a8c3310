/**
 * vvnet's main demo, over real sockets.
 *
 *   pnpm demo                  echo servers on 127.0.0.1:0, on a unix socket and over TLS
 *                              (NodeTls, certificates made at start), 50 clients that
 *                              verify every byte, typed error handling, a report; then the vv
 *                              program examples/vv/echo.vv on the vv runtime; exit 0 only if
 *                              every byte checked out in both
 *   pnpm demo serve ADDRESS    an echo server left running (tcp "127.0.0.1:7000", or a unix
 *                              path); try it with `nc 127.0.0.1 7000`; Ctrl-C stops it cleanly
 *   pnpm demo serve ADDRESS --workers N
 *                              the same echo server in N processes (node:cluster workers, one
 *                              shared port or path, NodeCluster.run); Ctrl-C stops them all
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Conn, Net, NetError } from "@vvnet/core"
import { NodeCluster, NodeNet, NodeTls } from "@vvnet/node-adapter"
import { serverCerts } from "@vvnet/testkit/TlsCerts"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Url from "node:url"

const MiB = 1024 * 1024

/** Echo: copy everything read back to the peer until EOF, then half-close. */
const echo = (conn: Conn.Conn) =>
  Effect.gen(function*() {
    while (true) {
      const data = yield* conn.read(64 * 1024)
      if (data.length === 0) break
      yield* conn.write(data)
    }
    yield* conn.closeWrite
  })

/** Message sizes from 1 byte to 1 MiB. */
const sizes = [1, 7, 100, 1024, 4096, 65_536, 100_000, 262_144, MiB]

/** Deterministic content, so each byte can be checked on the way back. */
const message = (client: number, round: number, size: number): Uint8Array => {
  const out = new Uint8Array(size)
  let x = (client * 7919 + round * 104_729 + size) >>> 0
  for (let i = 0; i < size; i++) {
    x = (x * 1_103_515_245 + 12_345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

interface Tally {
  connections: number
  bytesVerified: number
  roundTrips: number
  mismatches: number
  readonly errors: Map<string, number>
}

const seen = (tally: Tally, error: NetError.NetError | NodeTls.TlsError) =>
  Effect.sync(() => tally.errors.set(error._tag, (tally.errors.get(error._tag) ?? 0) + 1))

/** One client: every message size once, in an order of its own, each echoed and checked. */
const client = <R>(
  tally: Tally,
  dial: Effect.Effect<Conn.Conn, NetError.NetError | NodeTls.TlsError, R>,
  id: number
) =>
  Effect.scoped(Effect.gen(function*() {
    const conn = yield* dial
    tally.connections++
    for (let round = 0; round < sizes.length; round++) {
      const size = sizes[(round + id) % sizes.length]!
      const sent = message(id, round, size)
      // write and read concurrently: a 1 MiB echo does not fit in the socket buffers
      const [, back] = yield* Effect.all([conn.write(sent), Conn.readFull(conn, size)], { concurrency: 2 })
      let ok = back.length === sent.length
      for (let i = 0; ok && i < size; i++) ok = back[i] === sent[i]
      if (ok) tally.bytesVerified += size
      else tally.mismatches++
      tally.roundTrips++
    }
    yield* conn.closeWrite
    const rest = yield* conn.read(1)
    if (rest.length !== 0) tally.mismatches++
  })).pipe(Effect.tapError((e) => seen(tally, e)), Effect.either)

/** A refused dial caught by its tag; a read that hits its deadline caught by its tag. */
const typedErrors = (tally: Tally, address: string, tlsAddress: string) =>
  Effect.gen(function*() {
    const closedAddress = yield* Effect.scoped(Effect.map(Net.listen("tcp", "127.0.0.1:0"), (l) => l.address))
    const refused = yield* Effect.scoped(Net.dial("tcp", closedAddress)).pipe(
      Effect.as("connected?!"),
      Effect.catchTag("ConnectionRefused", (e) => Effect.zipRight(seen(tally, e), Effect.succeed(e.message)))
    )
    yield* Console.log(`  refused dial, caught by tag ConnectionRefused: ${refused}`)

    const timedOut = yield* Effect.scoped(Effect.gen(function*() {
      const conn = yield* Net.dial("tcp", address)
      yield* conn.setReadTimeout(100)
      return yield* conn.read(1).pipe(
        Effect.as("data?!"),
        Effect.catchTag("Timeout", (e) => Effect.zipRight(seen(tally, e), Effect.succeed(e.message)))
      )
    }))
    yield* Console.log(`  read past its deadline, caught by tag Timeout: ${timedOut}`)

    // the TLS server's certificate is signed by the demo's CA: without it, verification fails
    const untrusted = yield* Effect.scoped(NodeTls.dial("tcp", tlsAddress, {})).pipe(
      Effect.as("connected?!"),
      Effect.catchTag("TlsError", (e) => Effect.zipRight(seen(tally, e), Effect.succeed(`${e.code}: ${e.message}`)))
    )
    yield* Console.log(`  TLS dial without the CA, caught by tag TlsError: ${untrusted}`)
  })

const demo = Effect.gen(function*() {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-demo-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
  const tally: Tally = { connections: 0, bytesVerified: 0, roundTrips: 0, mismatches: 0, errors: new Map() }
  const started = Date.now()

  const report = yield* Effect.scoped(Effect.gen(function*() {
    const tcp = yield* Net.listen("tcp", "127.0.0.1:0")
    const unix = yield* Net.listen("unix", Path.join(dir, "echo.sock"))
    // a CA and a server certificate for 127.0.0.1, made in memory at start (a real server loads its own)
    const certs = yield* Effect.sync(serverCerts)
    const tls = yield* NodeTls.listen("tcp", "127.0.0.1:0", certs.server)
    yield* Net.serve(tcp, echo)
    yield* Net.serve(unix, echo)
    yield* Net.serve(tls, echo)
    yield* Console.log(
      `vvnet demo: echo servers on tcp ${tcp.address}, unix ${unix.address} and TLS (tcp) ${tls.address}`
    )

    const dials = [
      Net.dial("tcp", tcp.address),
      Net.dial("unix", unix.address),
      NodeTls.dial("tcp", tls.address, { ca: certs.ca }) // the server's certificate verified
    ]
    const clients = Array.from({ length: 50 }, (_, id) => client(tally, dials[id % 3]!, id))
    yield* Console.log(`  50 clients, messages of ${sizes.join(", ")} bytes each, every byte checked`)
    yield* Effect.all(clients, { concurrency: "unbounded" })
    yield* typedErrors(tally, tcp.address, tls.address)
    return { tcp: tcp.address, unix: unix.address }
  }))
  // the scope above is closed: servers, handlers and connections are gone
  const elapsed = Date.now() - started
  const socketFileLeft = Fs.existsSync(report.unix)

  const errors = [...tally.errors].map(([tag, n]) => `${tag} ×${n}`).join(", ") || "none"
  yield* Console.log("")
  yield* Console.log("| connections | bytes verified | round trips | mismatches | elapsed | errors seen by tag |")
  yield* Console.log("|---|---|---|---|---|---|")
  yield* Console.log(
    `| ${tally.connections} | ${tally.bytesVerified} (${
      (tally.bytesVerified / MiB).toFixed(1)
    } MiB) | ${tally.roundTrips} | ${tally.mismatches} | ${elapsed} ms | ${errors} |`
  )
  yield* Console.log(`scope closed: listeners and connections closed; unix socket file removed: ${!socketFileLeft}`)

  const expectedBytes = 50 * sizes.reduce((a, b) => a + b, 0)
  const unexpected = [...tally.errors.keys()].filter((tag) =>
    tag !== "ConnectionRefused" && tag !== "Timeout" && tag !== "TlsError"
  )
  if (tally.mismatches > 0 || tally.bytesVerified !== expectedBytes || unexpected.length > 0 || socketFileLeft) {
    yield* Console.error(`FAILED: expected ${expectedBytes} bytes verified, got ${tally.bytesVerified}`)
    return yield* Effect.fail(new Error("demo failed"))
  }
  yield* Console.log("OK: every byte checked out")
  yield* Console.log("")
  yield* runVv
})

const repo = Path.resolve(Path.dirname(Url.fileURLToPath(import.meta.url)), "../..")

/** The other face of vvnet: a vv program on the vv runtime, over real sockets, through the bridge. */
const runVv = Effect.gen(function*() {
  const program = Path.join(repo, "examples/vv/echo.vv")
  yield* Console.log(`vv runtime: vv run ${Path.relative(repo, program)}`)
  const code = yield* Effect.async<number>((resume) => {
    const child = ChildProcess.spawn(process.execPath, [
      Path.join(repo, "packages/vv-runtime/bin/vv.js"),
      "run",
      program
    ], {
      stdio: ["ignore", "inherit", "inherit"]
    })
    child.on("error", () => resume(Effect.succeed(127)))
    child.on("exit", (status) => resume(Effect.succeed(status ?? 1)))
    return Effect.sync(() => child.kill())
  })
  if (code !== 0) return yield* Effect.fail(new Error(`the vv program exited with status ${code}`))
  yield* Console.log("OK: the vv program checked every byte too")
})

const serve = (address: string) =>
  Effect.gen(function*() {
    const network = address.includes("/") ? "unix" : "tcp"
    // in a node:cluster worker (--workers), "worker N (pid P): " before each line
    const who = Option.match(yield* NodeCluster.workerId, {
      onNone: () => "",
      onSome: (id) => `worker ${id} (pid ${process.pid}): `
    })
    const listener = yield* Net.listen(network, address)
    yield* Net.serve(listener, (conn) =>
      Effect.zipRight(
        Console.log(`${who}connection from ${conn.remoteAddress || "(unix peer)"}`),
        echo(conn)
      ))
    yield* Console.log(`${who}echo server on ${network} ${listener.address}; Ctrl-C to stop`)
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.onInterrupt(() =>
      Effect.flatMap(NodeCluster.workerId, (id) =>
        Console.log(
          Option.match(id, { onNone: () => "echo server stopped", onSome: (id) => `worker ${id}: echo server stopped` })
        ))
    )
  )

/**
 * `serve` in `workers` processes: node:cluster workers each run `serve(address)`, sharing one
 * port (or unix path); Ctrl-C (SIGINT) reaches them all and the primary waits for every one.
 */
const serveWorkers = (address: string, workers: number) =>
  Effect.gen(function*() {
    if (!(yield* NodeCluster.isWorker)) {
      yield* Console.log(`echo server: ${workers} worker processes on ${address} (primary pid ${process.pid})`)
    }
    yield* NodeCluster.run(serve(address), { workers })
  }).pipe(Effect.onInterrupt(() =>
    Effect.flatMap(NodeCluster.isWorker, (worker) => worker ? Effect.void : Console.log("all workers stopped"))
  ))

/** `serve ADDRESS [--workers N]`: the address (default 127.0.0.1:7000) and N (default 1: one process). */
const parseServe = (args: ReadonlyArray<string>) => {
  const rest = [...args]
  let workers = 1
  const flag = rest.indexOf("--workers")
  if (flag >= 0) {
    const value = rest[flag + 1]
    workers = Number(value)
    if (value === undefined || !Number.isSafeInteger(workers) || workers < 1) {
      return Effect.fail(new Error(`--workers needs a positive integer, got ${value ?? "nothing"}`))
    }
    rest.splice(flag, 2)
  }
  const address = rest[0] ?? "127.0.0.1:7000"
  return Effect.succeed(flag >= 0 ? serveWorkers(address, workers) : serve(address))
}

const [command, ...args] = process.argv.slice(2)
const program = command === "serve"
  ? Effect.flatten(parseServe(args))
  : command === undefined
  ? demo
  : Effect.fail(new Error(`unknown command ${command}; usage: pnpm demo [serve ADDRESS [--workers N]]`))

// Errors are reported as one line (the typed error's Go-style message), not a stack trace.
// Ctrl-C (an interruption) is the way `serve` is meant to end: exit status 0, not 130.
NodeRuntime.runMain(
  program.pipe(
    Effect.tapError((error) => Console.error(`demo: ${error.message}`)),
    Effect.scoped,
    Effect.provide(NodeNet.layer)
  ),
  {
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) || Exit.isInterrupted(exit) ? 0 : 1)
  }
)
