/**
 * effect-floor: the thinnest Effect wrapping of node:net, to show what Effect itself costs on
 * each scenario — how far vvnet is from the floor, not from raw callbacks. None of vvnet's
 * semantics: no deadlines, no read size (a read returns the next chunk Node delivered, whatever
 * its size), no typed errors (a plain `Error`), no scopes, no interruption handling, no close
 * bookkeeping beyond destroying the socket when its handler ends.
 *
 * - One fiber per connection: the server's 'connection' callback runs the handler with
 *   `Effect.runFork` and destroys the socket when the fiber ends (`addObserver`).
 * - Reads: each connection keeps a tiny buffer (an array of chunks) fed by 'data' events. A read
 *   that finds a chunk there returns it with `Effect.succeed`; only a read that has to wait is an
 *   `Effect.async`, resumed by the next 'data', 'end' (EOF: an empty chunk), 'error' or 'close'.
 *   Above `HIGH_MARK` buffered bytes the socket is paused until reads catch up.
 * - Writes: `socket.write()` in the effect itself; when it returns false (Node's buffer is above
 *   its high-water mark) the write waits for 'drain' with an `Effect.async` — the same
 *   back-pressure as the raw variant.
 * - The `Effect.async` registrations take one parameter and return no canceler, so effect
 *   allocates no AbortController and no interruption handler for them; the effects a connection
 *   repeats (a read, a waiting read, waiting for 'drain') are built once per connection.
 *
 * Loops are `Effect.flatMap` recursion, written like the vvnet variant's, so the two differ only
 * in the library underneath. Same socket options as the others: TCP_NODELAY on, allowHalfOpen.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Net from "node:net"
import { HOST, type LoadTally, type Variant } from "../types.js"
import { echoPieceOk, messages, pattern, PatternCounter, replies, RequestParser } from "../verify.js"

type Op<A> = Effect.Effect<A, Error>
type Resume<A> = (effect: Op<A>) => void

/** Buffered bytes above which a connection pauses its socket until reads catch up. */
const HIGH_MARK = 64 * 1024

const EOF: Uint8Array = new Uint8Array(0)
const succeedEof: Op<Uint8Array> = Effect.succeed(EOF)
/** What reads and writes fail with once the socket closed without EOF (one instance: no stack per close). */
const closed = new Error("connection closed")

class FloorConn {
  private readonly chunks: Array<Buffer> = []
  private buffered = 0
  private paused = false
  private ended = false
  private failure: Error | undefined = undefined
  private reader: Resume<Uint8Array> | undefined = undefined
  private drainer: Resume<void> | undefined = undefined

  constructor(readonly socket: Net.Socket) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk))
    socket.on("end", () => this.onEnd())
    socket.on("drain", () => this.onDrain())
    socket.on("error", (error: Error) => this.onFailure(error))
    socket.on("close", () => this.onFailure(closed))
  }

  /** The next chunk; an empty one at EOF. */
  readonly read: Op<Uint8Array> = Effect.suspend(() => {
    const chunk = this.chunks.shift()
    if (chunk !== undefined) {
      this.buffered -= chunk.length
      if (this.paused && this.buffered <= HIGH_MARK) {
        this.paused = false
        this.socket.resume()
      }
      return Effect.succeed(chunk)
    }
    if (this.ended) return succeedEof
    if (this.failure !== undefined) return Effect.fail(this.failure)
    return this.waitRead
  })

  private readonly waitRead: Op<Uint8Array> = Effect.async<Uint8Array, Error>((resume) => {
    this.reader = resume
  })

  /** Built on the first write that has to wait (most connections of most scenarios never do). */
  private waitDrain: Op<void> | undefined = undefined

  /** Hands `buf` to Node; waits for 'drain' when Node's buffer is full. */
  write(buf: Uint8Array): Op<void> {
    return Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (this.socket.write(buf)) return Effect.void
      return this.waitDrain ??= Effect.async<void, Error>((resume) => {
        this.drainer = resume
      })
    })
  }

  /** Half-close (FIN after what was written). */
  closeWrite(): Op<void> {
    return Effect.sync(() => {
      this.socket.end()
    })
  }

  close(): Op<void> {
    return Effect.sync(() => {
      this.socket.destroy()
    })
  }

  private onData(chunk: Buffer): void {
    const reader = this.reader
    if (reader !== undefined) {
      this.reader = undefined
      reader(Effect.succeed(chunk))
      return
    }
    this.chunks.push(chunk)
    this.buffered += chunk.length
    if (!this.paused && this.buffered > HIGH_MARK) {
      this.paused = true
      this.socket.pause()
    }
  }

  private onEnd(): void {
    this.ended = true
    const reader = this.reader
    if (reader !== undefined) {
      this.reader = undefined
      reader(succeedEof)
    }
  }

  private onDrain(): void {
    const drainer = this.drainer
    if (drainer !== undefined) {
      this.drainer = undefined
      drainer(Effect.void)
    }
  }

  private onFailure(error: Error): void {
    this.failure ??= error
    const reader = this.reader
    if (reader !== undefined) {
      this.reader = undefined
      reader(this.ended ? succeedEof : Effect.fail(this.failure))
    }
    const drainer = this.drainer
    if (drainer !== undefined) {
      this.drainer = undefined
      drainer(Effect.fail(this.failure))
    }
  }
}

interface FloorServer {
  readonly server: Net.Server
  readonly port: number
  /** Connections whose handler fiber is running. */
  readonly live: () => number
}

/** Listens on 127.0.0.1; runs `handler` on its own fiber per connection, then destroys the socket. */
const listen = (handler: (conn: FloorConn) => Op<void>): Op<FloorServer> =>
  Effect.async<FloorServer, Error>((resume) => {
    let live = 0
    const server = Net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      live++
      const fiber = Effect.runFork(handler(new FloorConn(socket)))
      fiber.addObserver(() => {
        live--
        socket.destroy()
      })
    })
    const onError = (error: Error) => resume(Effect.fail(error))
    server.once("error", onError)
    server.listen(0, HOST, () => {
      server.off("error", onError)
      resume(Effect.succeed({ server, port: (server.address() as Net.AddressInfo).port, live: () => live }))
    })
  })

/** Stops listening; completes when every connection has closed. */
const closeServer = (s: FloorServer): Op<void> =>
  Effect.async<void, Error>((resume) => {
    s.server.close(() => resume(Effect.void))
  })

const dial = (port: number): Op<FloorConn> =>
  Effect.async<FloorConn, Error>((resume) => {
    const socket = Net.connect({ host: HOST, port, noDelay: true, allowHalfOpen: true })
    const conn = new FloorConn(socket)
    const onError = (error: Error) => resume(Effect.fail(error))
    socket.once("error", onError)
    socket.once("connect", () => {
      socket.off("error", onError)
      resume(Effect.succeed(conn))
    })
  })

/** Reads until EOF, feeding every chunk to `f`. */
const drain = (conn: FloorConn, f: (chunk: Uint8Array) => void): Op<void> => {
  const loop: Op<void> = Effect.flatMap(conn.read, (chunk) => {
    if (chunk.length === 0) return Effect.void
    f(chunk)
    return loop
  })
  return loop
}

/** Echoes until EOF. */
const echo = (conn: FloorConn): Op<void> => {
  const loop: Op<void> = Effect.flatMap(
    conn.read,
    (chunk) => chunk.length === 0 ? Effect.void : Effect.flatMap(conn.write(chunk), () => loop)
  )
  return loop
}

/** Answers server-load requests until EOF. */
const respond = (conn: FloorConn, parser: RequestParser): Op<void> => {
  const next = (): Op<void> => loop
  const loop: Op<void> = Effect.flatMap(conn.read, (chunk) => {
    if (chunk.length === 0) return Effect.void
    const reply = parser.feed(chunk)
    return reply === undefined ? loop : Effect.flatMap(conn.write(reply), next)
  })
  return loop
}

/** Writes `buf` `count` times, each write waiting for the previous one. */
const writeN = (conn: FloorConn, buf: Uint8Array, count: number): Op<void> => {
  const loop = (i: number): Op<void> => i === count ? Effect.void : Effect.flatMap(conn.write(buf), () => loop(i + 1))
  return loop(0)
}

/** Runs a server's whole life (listen, `use`, close) as one effect. */
const withServer = <A>(handler: (conn: FloorConn) => Op<void>, use: (s: FloorServer) => Op<A>): Promise<A> =>
  Effect.runPromise(Effect.flatMap(listen(handler), (s) => Effect.zipLeft(use(s), closeServer(s))))

/** A long-lived server (idle, server-load): started now, closed by the returned `close`. */
const startServer = async (handler: (conn: FloorConn) => Op<void>) => {
  const s = await Effect.runPromise(listen(handler))
  return { port: s.port, live: s.live, close: () => Effect.runPromise(closeServer(s)) }
}

export const variant: Variant = {
  id: "effect-floor",
  label: "effect floor (thinnest Effect over node:net)",

  bulk: ({ bytes, writeSize }) => {
    const counter = new PatternCounter()
    const done = Deferred.unsafeMake<void, Error>(FiberId.none)
    return withServer(
      (conn) =>
        Effect.flatMap(Effect.exit(drain(conn, (chunk) => counter.add(chunk))), (exit) => Deferred.done(done, exit)),
      (s) =>
        Effect.gen(function*() {
          const conn = yield* dial(s.port)
          yield* writeN(conn, pattern(writeSize), bytes / writeSize)
          yield* conn.closeWrite()
          yield* Deferred.await(done)
          yield* conn.close()
          return { received: counter.bytes, errors: counter.errors }
        })
    )
  },

  pingPong: ({ roundTrips, size }) =>
    withServer(echo, (s) =>
      Effect.gen(function*() {
        const conn = yield* dial(s.port)
        const msgs = messages(size)
        let bytes = 0
        let errors = 0
        /** Reads the `remaining` bytes of round `round`'s echo. */
        const expect = (round: number, remaining: number): Op<void> =>
          Effect.flatMap(conn.read, (chunk) => {
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
        yield* conn.close()
        return { roundTrips: completed, bytes, errors }
      })),

  accept: ({ connections }) => {
    let accepted = 0
    let wake: (() => void) | undefined
    // The handler returns at once: the server destroys the socket when its fiber ends.
    const handler = () =>
      Effect.sync(() => {
        accepted++
        wake?.()
      })
    const acceptedAtLeast = (k: number) =>
      Effect.async<void>((resume) => {
        if (accepted >= k) return resume(Effect.void)
        wake = () => {
          if (accepted >= k) {
            wake = undefined
            resume(Effect.void)
          }
        }
      })
    return withServer(handler, (s) => {
      const once = (i: number) =>
        Effect.flatMap(dial(s.port), (conn) => Effect.zipRight(acceptedAtLeast(i), conn.close()))
      const loop = (i: number): Op<void> => i > connections ? Effect.void : Effect.flatMap(once(i), () => loop(i + 1))
      return Effect.map(loop(1), () => ({ accepted }))
    })
  },

  idleServer: () => startServer(echo),

  async loadServer({ size }) {
    const tally: LoadTally = { requests: 0, errors: 0 }
    const answers = replies(size)
    const s = await startServer((conn) => respond(conn, new RequestParser(size, answers, tally)))
    return { ...s, tally }
  }
}
