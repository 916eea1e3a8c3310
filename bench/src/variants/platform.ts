/**
 * @effect/platform-node's sockets, used as their API intends: `NodeSocketServer.make` +
 * `server.run(handler)` on the server, `NodeSocket.makeNet` on the client, `socket.run(onChunk)`
 * to read and `socket.writer` to write (each write waits for its callback). Imported by subpath
 * (design.md §1: the barrel needs @effect/cluster, @effect/rpc, @effect/sql). Same socket
 * options as the other variants where the API takes them (TCP_NODELAY on).
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import type * as Socket from "@effect/platform/Socket"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { HOST, type LoadTally, type Variant } from "../types.js"
import { echoPieceOk, messages, pattern, PatternCounter, replies, RequestParser } from "../verify.js"

type SocketError = Socket.SocketError

const makeServer = NodeSocketServer.make({ port: 0, host: HOST, noDelay: true })

const portOf = (server: Effect.Effect.Success<typeof makeServer>): number => {
  if (server.address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return server.address.port
}

const dial = (port: number) => NodeSocket.makeNet({ host: HOST, port, noDelay: true })

const noop = () => {}

/** Echoes every chunk back (the handler's Effect runs on a fiber per chunk, as run does it). */
const echo = (socket: Socket.Socket) =>
  Effect.scoped(Effect.flatMap(socket.writer, (write) => socket.run((chunk) => write(chunk))))

/** Answers server-load requests: the reply is written when a chunk completes a request. */
const respond = (socket: Socket.Socket, parser: RequestParser) =>
  Effect.scoped(Effect.flatMap(socket.writer, (write) =>
    socket.run((chunk) => {
      const reply = parser.feed(chunk)
      return reply === undefined ? undefined : write(reply)
    })))

/**
 * A long-lived server (idle, server-load): `server.run` with `handler` per socket, counting live
 * handlers; closed by the returned `close`.
 */
const serveLong = async <E>(handler: (socket: Socket.Socket) => Effect.Effect<void, E>) => {
  const scope = Effect.runSync(Scope.make())
  let live = 0
  const port = await Effect.runPromise(
    Effect.gen(function*() {
      const server = yield* makeServer
      yield* Effect.forkScoped(server.run((socket) =>
        Effect.suspend(() => {
          live++
          // counted with one match frame, as in the vvnet variant
          return Effect.flatMap(Effect.exit(handler(socket)), (exit) => {
            live--
            return exit
          })
        })
      ))
      return portOf(server)
    }).pipe(Scope.extend(scope))
  )
  return { port, live: () => live, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

export const variant: Variant = {
  id: "platform",
  label: "@effect/platform-node NodeSocket",

  bulk: ({ bytes, writeSize }) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const server = yield* makeServer
      const counter = new PatternCounter()
      const done = yield* Deferred.make<void>()
      yield* Effect.forkScoped(server.run((socket) =>
        socket.run((chunk) => {
          counter.add(chunk)
        }).pipe(Effect.ensuring(Deferred.succeed(done, undefined)))
      ))
      const socket = yield* dial(portOf(server))
      yield* Effect.forkScoped(socket.run(noop))
      const buf = pattern(writeSize)
      const count = bytes / writeSize
      // Closing the writer's scope half-closes (end()).
      yield* Effect.scoped(Effect.flatMap(socket.writer, (write) => {
        const loop = (i: number): Effect.Effect<void, SocketError> =>
          i === count ? Effect.void : Effect.flatMap(write(buf), () => loop(i + 1))
        return loop(0)
      }))
      yield* Deferred.await(done)
      return { received: counter.bytes, errors: counter.errors }
    }))),

  pingPong: ({ roundTrips, size }) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const server = yield* makeServer
      yield* Effect.forkScoped(server.run(echo))
      const socket = yield* dial(portOf(server))
      const msgs = messages(size)
      let round = 0
      let got = 0
      let bytes = 0
      let errors = 0
      let roundDone = false
      let resumeRound: ((effect: Effect.Effect<void>) => void) | undefined
      yield* Effect.forkScoped(socket.run((chunk) => {
        if (!echoPieceOk(chunk, round)) errors++
        got += chunk.length
        bytes += chunk.length
        if (got >= size) {
          got = 0
          const resume = resumeRound
          resumeRound = undefined
          if (resume !== undefined) resume(Effect.void)
          else roundDone = true
        }
      }))
      const awaitEcho = Effect.async<void>((resume) => {
        if (roundDone) {
          roundDone = false
          return resume(Effect.void)
        }
        resumeRound = resume
      })
      const write = yield* socket.writer
      const loop: Effect.Effect<void, SocketError> = Effect.suspend(() =>
        round === roundTrips
          ? Effect.void
          : Effect.flatMap(write(msgs[round & 0xff]!), () =>
            Effect.flatMap(awaitEcho, () => {
              round++
              return loop
            }))
      )
      yield* loop
      return { roundTrips: round, bytes, errors }
    }))),

  accept: ({ connections }) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const server = yield* makeServer
      let accepted = 0
      let wake: (() => void) | undefined
      // A handler must run the socket for the library to open and later close it; it ends when
      // the client closes.
      yield* Effect.forkScoped(server.run((socket) =>
        socket.run(noop, {
          onOpen: Effect.sync(() => {
            accepted++
            wake?.()
          })
        })
      ))
      const port = portOf(server)
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
      const once = (i: number) =>
        Effect.scoped(Effect.gen(function*() {
          const socket = yield* dial(port)
          const opened = yield* Deferred.make<void>()
          yield* Effect.forkScoped(socket.run(noop, { onOpen: Deferred.succeed(opened, undefined) }))
          yield* Deferred.await(opened)
          yield* acceptedAtLeast(i)
        }))
      const loop = (i: number): Effect.Effect<void, SocketError> =>
        i > connections ? Effect.void : Effect.flatMap(once(i), () => loop(i + 1))
      yield* loop(1)
      return { accepted }
    }))),

  idleServer: () => serveLong(echo),

  async loadServer({ size }) {
    const tally: LoadTally = { requests: 0, errors: 0 }
    const answers = replies(size)
    const server = await serveLong((socket) => respond(socket, new RequestParser(size, answers, tally)))
    return { ...server, tally }
  }
}
