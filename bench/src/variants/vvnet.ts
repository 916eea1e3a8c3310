/**
 * vvnet's NodeNet (`NodeNet.layer` from @vvnet/node-adapter) through the public API only:
 * `Net.listen`, `Net.serve`, `Net.dial`, `conn.read`, `conn.write`, `conn.closeWrite`. Loops are
 * plain `Effect.flatMap` recursion (as core's own `readAll` is written), so the figures show
 * vvnet's cost rather than a generator's.
 */
import { type Conn, Net, type NetError } from "@vvnet/core"
import { NodeNet, NodeTls } from "@vvnet/node-adapter"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { HOST, type LoadTally, type Variant } from "../types.js"
import { echoPieceOk, messages, pattern, PatternCounter, replies, RequestParser } from "../verify.js"

type Op<A> = Effect.Effect<A, NetError.NetError>

const run = <A, E>(effect: Effect.Effect<A, E, Net.Net | Scope.Scope>): Promise<A> =>
  Effect.runPromise(Effect.scoped(effect).pipe(Effect.provide(NodeNet.layer)))

const listenAddress = `${HOST}:0`

/** Reads until EOF, feeding every chunk to `f`. */
const drain = (conn: Conn.Conn, readSize: number, f: (chunk: Uint8Array) => void): Op<void> => {
  const loop: Op<void> = Effect.flatMap(conn.read(readSize), (chunk) => {
    if (chunk.length === 0) return Effect.void
    f(chunk)
    return loop
  })
  return loop
}

/** Echoes until EOF (Go's `io.Copy(conn, conn)`). */
const echo = (conn: Conn.Conn): Op<void> => {
  const loop: Op<void> = Effect.flatMap(
    conn.read(65536),
    (chunk) => chunk.length === 0 ? Effect.void : Effect.flatMap(conn.write(chunk), () => loop)
  )
  return loop
}

/** Answers server-load requests until EOF, reading what is left of the current request. */
const respond = (conn: Conn.Conn, parser: RequestParser): Op<void> => {
  const next = (): Op<void> => Effect.flatMap(conn.read(parser.remaining), step)
  const step = (chunk: Uint8Array): Op<void> => {
    if (chunk.length === 0) return Effect.void
    const reply = parser.feed(chunk)
    return reply === undefined ? next() : Effect.flatMap(conn.write(reply), next)
  }
  return next()
}

/** Writes `buf` `count` times, each write waiting for the previous one (Go's Write). */
const writeN = (conn: Conn.Conn, buf: Uint8Array, count: number): Op<void> => {
  const loop = (i: number): Op<void> => i === count ? Effect.void : Effect.flatMap(conn.write(buf), () => loop(i + 1))
  return loop(0)
}

/**
 * A long-lived server (idle, server-load): `Net.serve` with `handler` per connection, counting
 * live handlers; closed by the returned `close`.
 */
const serveLong = async (handler: (conn: Conn.Conn) => Op<void>) => {
  const scope = Effect.runSync(Scope.make())
  let live = 0
  const address = await Effect.runPromise(
    Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", listenAddress)
      yield* Net.serve(listener, (conn) =>
        Effect.suspend(() => {
          live++
          // counted with one match frame, as cheap as effect-floor's fiber observer (an
          // `ensuring` would add an uninterruptible region per connection to what is measured)
          return Effect.flatMap(Effect.exit(handler(conn)), (exit) => {
            live--
            return exit
          })
        }))
      return listener.address
    }).pipe(Effect.provide(NodeNet.layer), Scope.extend(scope))
  )
  const port = Number(address.slice(address.lastIndexOf(":") + 1))
  return {
    port,
    live: () => live,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

export const variant: Variant = {
  id: "vvnet",
  label: "vvnet NodeNet",

  bulk: ({ bytes, readSize, writeSize }) =>
    run(Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", listenAddress)
      const counter = new PatternCounter()
      const done = yield* Deferred.make<void, NetError.NetError>()
      yield* Net.serve(listener, (conn) =>
        Effect.exit(drain(conn, readSize, (chunk) => counter.add(chunk))).pipe(
          Effect.flatMap((exit) => Deferred.done(done, exit))
        ))
      const conn = yield* Net.dial("tcp", listener.address)
      yield* writeN(conn, pattern(writeSize), bytes / writeSize)
      yield* conn.closeWrite
      yield* Deferred.await(done)
      return { received: counter.bytes, errors: counter.errors }
    })),

  // the same as bulk, with NodeTls.layer: TLS 1.3, the server's certificate verified against the CA
  tlsBulk: ({ bytes, readSize, writeSize }, tls) =>
    Effect.runPromise(
      Effect.scoped(Effect.gen(function*() {
        const listener = yield* Net.listen("tcp", listenAddress)
        const counter = new PatternCounter()
        const done = yield* Deferred.make<void, NetError.NetError>()
        yield* Net.serve(listener, (conn) =>
          Effect.exit(drain(conn, readSize, (chunk) => counter.add(chunk))).pipe(
            Effect.flatMap((exit) => Deferred.done(done, exit))
          ))
        const conn = yield* Net.dial("tcp", listener.address)
        yield* writeN(conn, pattern(writeSize), bytes / writeSize)
        yield* conn.closeWrite
        yield* Deferred.await(done)
        return { received: counter.bytes, errors: counter.errors }
      })).pipe(Effect.provide(NodeTls.layer(tls)))
    ),

  pingPong: ({ roundTrips, size }) =>
    run(Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", listenAddress)
      yield* Net.serve(listener, echo)
      const conn = yield* Net.dial("tcp", listener.address)
      const msgs = messages(size)
      let bytes = 0
      let errors = 0
      /** Reads the `remaining` bytes of round `round`'s echo. */
      const expect = (round: number, remaining: number): Op<void> =>
        Effect.flatMap(conn.read(remaining), (chunk) => {
          if (!echoPieceOk(chunk, round)) errors++
          if (chunk.length === 0) return Effect.void // EOF: counted as an error, the count shows it
          bytes += chunk.length
          return chunk.length >= remaining ? Effect.void : expect(round, remaining - chunk.length)
        })
      const loop = (round: number): Op<number> =>
        round === roundTrips
          ? Effect.succeed(round)
          : Effect.flatMap(
            conn.write(msgs[round & 0xff]!),
            () => Effect.flatMap(expect(round, size), () => loop(round + 1))
          )
      const completed = yield* loop(0)
      return { roundTrips: completed, bytes, errors }
    })),

  accept: ({ connections }) =>
    run(Effect.gen(function*() {
      const listener = yield* Net.listen("tcp", listenAddress)
      let accepted = 0
      let wake: (() => void) | undefined
      // The handler returns at once: serve closes the connection.
      yield* Net.serve(listener, () =>
        Effect.sync(() => {
          accepted++
          wake?.()
        }))
      const acceptedAtLeast = (k: number) =>
        Effect.async<void>((resume) => {
          if (accepted >= k) return resume(Effect.void)
          wake = () => {
            if (accepted >= k) {
              wake = undefined
              resume(Effect.void)
            }
          }
          return Effect.sync(() => {
            wake = undefined
          })
        })
      const once = (i: number) => Effect.scoped(Effect.zipRight(Net.dial("tcp", listener.address), acceptedAtLeast(i)))
      const loop = (i: number): Effect.Effect<void, NetError.NetError, Net.Net> =>
        i > connections ? Effect.void : Effect.flatMap(once(i), () => loop(i + 1))
      yield* loop(1)
      return { accepted }
    })),

  idleServer: () => serveLong(echo),

  async loadServer({ size }) {
    const tally: LoadTally = { requests: 0, errors: 0 }
    const answers = replies(size)
    const server = await serveLong((conn) => respond(conn, new RequestParser(size, answers, tally)))
    return { ...server, tally }
  }
}
