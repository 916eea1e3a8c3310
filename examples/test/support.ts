/**
 * Test helpers shared by the examples' tests: raw node:net clients as Effects, each socket
 * destroyed when its Scope closes, and every wait bounded.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"

/** Where a server listens, as node:net wants it: a port on 127.0.0.1, or a unix path. */
export const connectOptions = (network: string, address: string): Net.NetConnectOpts =>
  network === "unix"
    ? { path: address }
    : { host: "127.0.0.1", port: Number(address.slice(address.lastIndexOf(":") + 1)) }

/**
 * A raw client socket, destroyed when the Scope closes. `received` holds every byte that
 * arrived; `ended` resolves at EOF or close (with the error, if any).
 */
export interface RawClient {
  readonly socket: Net.Socket
  readonly received: () => Buffer
  readonly ended: Promise<Error | undefined>
  /** Resolves once `predicate(received)` holds; rejects after `ms` (with what arrived). */
  readonly waitFor: (predicate: (data: Buffer) => boolean, ms?: number) => Effect.Effect<Buffer>
}

export const rawClient = (network: string, address: string): Effect.Effect<RawClient, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<RawClient>((resolve, reject) => {
        const socket = Net.connect(connectOptions(network, address))
        const chunks: Array<Buffer> = []
        let watchers: Array<() => void> = []
        const received = () => {
          if (chunks.length > 1) chunks.splice(0, chunks.length, Buffer.concat(chunks))
          return chunks[0] ?? Buffer.alloc(0)
        }
        const notify = () => {
          const current = watchers
          watchers = []
          for (const watcher of current) watcher()
        }
        socket.on("data", (chunk: Buffer) => {
          chunks.push(chunk)
          notify()
        })
        const ended = new Promise<Error | undefined>((done) => {
          socket.on("error", (error) => done(error))
          socket.on("close", () => done(undefined))
          socket.on("end", () => done(undefined))
        })
        void ended.then(notify)
        let isEnded = false
        void ended.then(() => {
          isEnded = true
        })
        const waitFor = (predicate: (data: Buffer) => boolean, ms = 10_000) =>
          Effect.promise(() =>
            new Promise<Buffer>((ok, fail) => {
              const timer = setTimeout(
                () =>
                  fail(new Error(`timed out; received ${JSON.stringify(received().toString("latin1").slice(0, 300))}`)),
                ms
              )
              const check = () => {
                const data = received()
                if (predicate(data)) {
                  clearTimeout(timer)
                  ok(data)
                } else if (isEnded) {
                  clearTimeout(timer)
                  fail(new Error(`ended; received ${JSON.stringify(data.toString("latin1").slice(0, 300))}`))
                } else {
                  watchers.push(check)
                }
              }
              check()
            })
          )
        socket.once("connect", () => resolve({ socket, received, ended, waitFor }))
        socket.once("error", reject)
      })
    ),
    (client) => Effect.sync(() => client.socket.destroy())
  )

/** Bytes as a string, one char per byte. */
export const latin1 = (data: Uint8Array): string => Buffer.from(data).toString("latin1")

/** Waits for `promise` at most `ms`, else fails the test with `what`. */
export const within = <A>(ms: number, what: string, promise: Promise<A>): Effect.Effect<A> =>
  Effect.promise(() =>
    new Promise<A>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
      promise.then((a) => {
        clearTimeout(timer)
        resolve(a)
      }, (error) => {
        clearTimeout(timer)
        reject(error)
      })
    })
  )
