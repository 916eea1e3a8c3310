/**
 * C12, the fd-limit part: a server in a child process started under `ulimit -n 64` (the
 * script is `fixtures/emfile-server.ts`, bundled into one file so it can load under that limit)
 * serves 70 clients it cannot all hold. It must not crash, must not spin while its fds are
 * exhausted, and must resume accepting once some connections close.
 *
 * Node's libuv meets EMFILE on accept with a reserve fd: it closes the reserve, accepts and
 * closes the pending connections, and reopens it, so most clients beyond the limit see EOF
 * rather than the accept loop seeing `TooManyOpenFiles`. Either way the loop's accept errors
 * in a 1 s exhausted window are counted and bounded (serve's back-off is 5 ms doubling to 1 s).
 * Since libuv rarely lets EMFILE through, a second test feeds serve a NodeNet listener whose
 * accept fails with `TooManyOpenFiles` for a while, and bounds the retries directly.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Conn, type Listener, Net, NetError } from "@vvnet/core"
import { NodeNet } from "@vvnet/node-adapter"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { bundleChild, spawnChild, tagOf, text } from "./helpers.js"

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-emfile-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

interface Stats {
  readonly acceptTooManyOpenFiles: number
  readonly acceptOtherErrors: number
  readonly retryWarnings: number
  readonly handlersStarted: number
  readonly handlersLive: number
  readonly cpuMicros: number
  readonly wallMillis: number
}

interface Client {
  readonly conn: Conn.Conn
  readonly scope: Scope.CloseableScope
}

describe("NodeNet under a low fd limit", () => {
  it.scopedLive(
    "C12 under ulimit -n 64: 70 clients, close 10, dial again: accepting resumes, no crash, no busy loop",
    () =>
      Effect.gen(function*() {
        const script = bundleChild(fileURLToPath(new URL("./fixtures/emfile-server.ts", import.meta.url)), dir)
        const child = yield* spawnChild("bash", ["-c", `ulimit -n 64 && exec "$0" "$1"`, process.execPath, script])
        const port = yield* child.nextLine("listening ")
        const address = `127.0.0.1:${port}`
        const stats = Effect.gen(function*() {
          child.process.stdin.write("stats\n")
          return JSON.parse(yield* child.nextLine("stats ")) as Stats
        })
        const testScope = yield* Effect.scope

        /** Dials in a Scope of its own; reads the server's "+" (served) or EOF/reset (dropped). */
        const connect = Effect.gen(function*() {
          const scope = yield* Scope.fork(testScope, ExecutionStrategy.sequential)
          const conn = yield* Scope.extend(Net.dial("tcp", address), scope)
          yield* conn.setReadTimeout(20_000)
          const exit = yield* Effect.exit(conn.read(1))
          yield* conn.setReadTimeout(0)
          const outcome = Exit.isSuccess(exit) ? (exit.value.length === 0 ? "dropped" : text(exit.value)) : tagOf(exit)
          return { client: { conn, scope } as Client, outcome }
        })

        const served: Array<Client> = []
        const outcomes = new Map<string, number>()
        for (let i = 0; i < 70; i++) {
          const { client, outcome } = yield* connect
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
          if (outcome === "+") served.push(client)
          else yield* Scope.close(client.scope, Exit.void)
        }
        const summary = JSON.stringify(Object.fromEntries(outcomes))
        // The limit bit: not every client was served; the rest were dropped, none left hanging.
        expect(served.length, summary).toBeGreaterThanOrEqual(10)
        expect(served.length, summary).toBeLessThan(70)
        expect(served.length + (outcomes.get("dropped") ?? 0) + (outcomes.get("ConnectionReset") ?? 0), summary).toBe(
          70
        )

        // A window of about 1 s with the fds exhausted and clients still knocking.
        const before = yield* stats
        for (let i = 0; i < 5; i++) {
          const { client, outcome } = yield* connect
          expect(outcome).not.toBe("Timeout")
          yield* Scope.close(client.scope, Exit.void)
          yield* Effect.sleep(Duration.millis(200))
        }
        const after = yield* stats
        const wall = after.wallMillis - before.wallMillis // about 1000 ms, as the child saw it
        const acceptErrors = after.acceptTooManyOpenFiles - before.acceptTooManyOpenFiles
        expect(acceptErrors, JSON.stringify({ before, after })).toBeLessThan(200)
        expect(after.retryWarnings - before.retryWarnings).toBeLessThan(200)
        // a spinning loop burns a whole core; an idle one a small fraction of it
        expect((after.cpuMicros - before.cpuMicros) / 1000 / wall, JSON.stringify({ before, after })).toBeLessThan(0.5)
        expect(after.acceptOtherErrors).toBe(0)

        // Close 10 served clients: their handlers see EOF and close, freeing 10 fds.
        for (const client of served.splice(0, 10)) yield* Scope.close(client.scope, Exit.void)
        let echoed = ""
        for (let attempt = 0; attempt < 100 && echoed === ""; attempt++) {
          const { client, outcome } = yield* connect
          if (outcome === "+") {
            yield* client.conn.write("echo")
            let got = ""
            while (got.length < 4) {
              const data = yield* client.conn.read(4 - got.length)
              if (data.length === 0) break
              got += text(data)
            }
            echoed = got
          } else {
            yield* Scope.close(client.scope, Exit.void)
            yield* Effect.sleep(Duration.millis(100))
          }
        }
        expect(echoed).toBe("echo")

        // Still alive, still answering, and the loop never saw a storm of errors.
        expect(child.process.exitCode).toBeNull()
        const last = yield* stats
        expect(last.acceptTooManyOpenFiles, JSON.stringify(last)).toBeLessThan(200)
        expect(last.handlersStarted).toBeGreaterThanOrEqual(served.length + 11)
      }).pipe(Effect.provide(NodeNet.layer)),
    120_000
  )

  it.scopedLive("C12 serve backs off on TooManyOpenFiles from accept (no spin) and serves again once it clears", () => {
    let warnings = 0
    const counting = Logger.make(({ message }) => {
      if (String(Array.isArray(message) ? message.join(" ") : message).includes("too many open files")) warnings++
    })
    return Effect.gen(function*() {
      const real = yield* Net.listen("tcp", "127.0.0.1:0")
      let exhausted = true
      let attempts = 0
      const emfile = NetError.fromErrno({ code: "EMFILE", syscall: "accept" }, {
        op: "accept",
        network: "tcp",
        address: real.address
      })
      expect(emfile._tag).toBe("TooManyOpenFiles")
      const listener: Listener.Listener = {
        network: real.network,
        address: real.address,
        accept: Effect.suspend(() => {
          attempts++
          return exhausted ? Effect.fail(emfile) : real.accept
        }),
        connections: real.connections,
        close: real.close
      }
      yield* Net.serve(listener, (conn) => Effect.flatMap(conn.read(16), (data) => conn.write(data)))
      const started = Date.now()
      yield* Effect.sleep(Duration.millis(1000))
      const during = attempts
      exhausted = false
      // Back-off 5, 10, 20, … ms: about 8 attempts in a second; a spinning loop makes thousands.
      expect(during).toBeGreaterThanOrEqual(1)
      expect(during, `${during} accept attempts in ${Date.now() - started} ms`).toBeLessThan(200)
      expect(warnings).toBeGreaterThanOrEqual(during - 1) // one warning per failed accept
      expect(warnings).toBeLessThanOrEqual(during)
      const client = yield* Net.dial("tcp", real.address)
      yield* client.write("resumed")
      let got = ""
      while (got.length < 7) {
        const data = yield* client.read(7)
        expect(data.length).toBeGreaterThan(0)
        got += text(data)
      }
      expect(got).toBe("resumed")
    }).pipe(Effect.provide(NodeNet.layer), Effect.provide(Logger.replace(Logger.defaultLogger, counting)))
  }, 60_000)
})
