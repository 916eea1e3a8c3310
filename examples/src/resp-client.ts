/**
 * A RESP (Redis serialization protocol, version 2) client on vvnet: commands are written as
 * arrays of bulk strings, replies are read with `BufferedReader` (a line for the type and its
 * size, then `readExactly` for a bulk string's bytes) and returned as plain values. Pipelining
 * writes N commands while their replies are read, on one connection.
 *
 * | reply | value |
 * |---|---|
 * | simple string `+OK` | `"OK"` (a string) |
 * | error `-ERR …` | a `RespError`: the command fails with it (in a pipeline, that command's `Left`; inside an array, an element) |
 * | integer `:42` | `42` (a number; beyond ±2^53 a `RespProtocolError`) |
 * | bulk string `$5 hello` | its bytes (`Uint8Array`, binary-safe; `text` decodes UTF-8) |
 * | null bulk string `$-1`, null array `*-1` | `null` |
 * | array `*2 …` | an array of replies |
 *
 *   cd examples && npx tsx src/resp-client.ts [ADDRESS] [COMMAND ARG…]
 *
 * runs COMMAND against the server at ADDRESS (default `127.0.0.1:6379`; a path dials a unix
 * socket) and prints the reply as `redis-cli` does; without a command it runs a short tour
 * (SET, GET, INCR, a pipeline of 1000 commands).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { BufferedReader, type Conn, FrameError, Net, type NetError } from "@vvnet/core"
import { NodeNet } from "@vvnet/node-adapter"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Path from "node:path"
import * as Url from "node:url"

/** An error reply (`-ERR unknown command`): the server refused one command; the connection is fine. */
export class RespError extends Data.TaggedError("RespError")<{ readonly message: string }> {
  /** The error's first word, its kind by Redis convention: `"ERR"`, `"WRONGTYPE"`, `"NOAUTH"`, … */
  get prefix(): string {
    return this.message.split(" ", 1)[0] ?? ""
  }
}

/** The server sent something that is not RESP (or an integer out of range); the client is unusable. */
export class RespProtocolError extends Data.TaggedError("RespProtocolError")<{ readonly reason: string }> {
  override get message(): string {
    return `RESP protocol error: ${this.reason}`
  }
}

/**
 * The server closed the connection at a reply boundary while `pending` replies were still
 * expected (a server that ends in the middle of a reply is the reader's `UnexpectedEof`).
 */
export class RespConnectionClosed extends Data.TaggedError("RespConnectionClosed")<{ readonly pending: number }> {
  override get message(): string {
    return `connection closed by the server with ${this.pending} replies pending`
  }
}

/** A reply, as in the module's table. */
export type RespValue = string | number | Uint8Array | null | RespError | ReadonlyArray<RespValue>

/** A command's argument: a string is sent as UTF-8, a number in decimal, bytes as they are. */
export type RespArg = string | number | Uint8Array

/**
 * What ends a client: the connection's `NetError`, the reader's `FrameError` (`UnexpectedEof`: the
 * server left in the middle of a reply; `FrameTooLarge`: a reply over the client's limits), a
 * `RespProtocolError`, `RespConnectionClosed`. After one of these every later call fails with it.
 */
export type RespClientError = NetError.NetError | FrameError.FrameError | RespProtocolError | RespConnectionClosed

/**
 * Limits on what the server may send, each with its default:
 * - `maxBulkLength`: bytes of one bulk string (512 MiB, Redis's `proto-max-bulk-len`); more fails
 *   with `FrameTooLarge` before the bytes are read.
 * - `maxLineLength`: bytes of a simple string, an error or a header line (65536).
 * - `maxDepth`: nesting of arrays (32).
 */
export interface Options {
  readonly maxBulkLength?: number | undefined
  readonly maxLineLength?: number | undefined
  readonly maxDepth?: number | undefined
}

/**
 * A RESP client over one connection. Calls from several fibers take turns (a lock), so each
 * gets its own replies.
 */
export interface RespClient {
  readonly conn: Conn.Conn
  /** Sends one command and reads its reply; an error reply fails with `RespError`. */
  command(...args: ReadonlyArray<RespArg>): Effect.Effect<RespValue, RespError | RespClientError>
  /**
   * Sends `commands` back to back while reading their replies (pipelining), and returns one
   * result per command, in order: `Right(reply)` or `Left(RespError)` for an error reply. Fails
   * only with a `RespClientError`.
   */
  pipeline(
    commands: ReadonlyArray<ReadonlyArray<RespArg>>
  ): Effect.Effect<Array<Either.Either<RespValue, RespError>>, RespClientError>
}

const CRLF = new Uint8Array([0x0d, 0x0a])
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const INTEGER = /^-?[0-9]{1,20}$/

/** A bulk string's bytes, or a simple string, as text (UTF-8). */
export const text = (value: RespValue): string =>
  value instanceof Uint8Array ? decoder.decode(value) : typeof value === "string" ? value : String(value)

/** One command's bytes: an array of bulk strings. */
const encodeCommand = (args: ReadonlyArray<RespArg>, parts: Array<Uint8Array>): number => {
  let size = 0
  const push = (part: Uint8Array) => {
    parts.push(part)
    size += part.length
  }
  push(encoder.encode(`*${args.length}\r\n`))
  for (const arg of args) {
    const bytes = arg instanceof Uint8Array ? arg : encoder.encode(typeof arg === "number" ? String(arg) : arg)
    push(encoder.encode(`$${bytes.length}\r\n`))
    push(bytes)
    push(CRLF)
  }
  return size
}

const concat = (parts: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  const out = new Uint8Array(size)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** The commands' bytes in writes of about 64 KiB (one command is never split across two). */
const writeCommands = (conn: Conn.Conn, commands: ReadonlyArray<ReadonlyArray<RespArg>>) =>
  Effect.gen(function*() {
    let parts: Array<Uint8Array> = []
    let size = 0
    for (const args of commands) {
      size += encodeCommand(args, parts)
      if (size >= 64 * 1024) {
        yield* conn.write(concat(parts, size))
        parts = []
        size = 0
      }
    }
    if (size > 0) yield* conn.write(concat(parts, size))
  })

const protocol = (reason: string) => Effect.fail(new RespProtocolError({ reason }))

type Limits = { readonly [K in keyof Options]-?: number }

/** Reads one reply; `None` at a clean EOF before its first byte. */
const readReply = (
  reader: BufferedReader.BufferedReader,
  limits: Limits,
  depth: number
): Effect.Effect<Option.Option<RespValue>, RespClientError> =>
  Effect.flatMap(
    reader.readLine({ maxLength: limits.maxLineLength }),
    (read): Effect.Effect<Option.Option<RespValue>, RespClientError> => {
      if (Option.isNone(read)) return Effect.succeed(Option.none())
      const line = read.value
      if (line.length === 0) return protocol("an empty line where a reply was expected")
      const rest = decoder.decode(line.subarray(1))
      switch (line[0]) {
        case 0x2b: // +
          return Effect.succeed(Option.some(rest))
        case 0x2d: // -
          return Effect.succeed(Option.some(new RespError({ message: rest })))
        case 0x3a: { // :
          const n = Number(rest)
          return INTEGER.test(rest) && Number.isSafeInteger(n)
            ? Effect.succeed(Option.some(n))
            : protocol(`integer reply out of range or malformed: ${JSON.stringify(rest.slice(0, 40))}`)
        }
        case 0x24: { // $
          const length = Number(rest)
          if (rest === "-1") return Effect.succeed(Option.some(null))
          if (!INTEGER.test(rest) || length < 0) return protocol(`malformed bulk length ${JSON.stringify(rest)}`)
          if (length > limits.maxBulkLength) {
            return Effect.fail(
              new FrameError.FrameTooLarge({ frame: "fixed", maxLength: limits.maxBulkLength, length })
            )
          }
          return Effect.flatMap(reader.readExactly(length + 2), (body): Effect.Effect<
            Option.Option<RespValue>,
            RespClientError
          > => {
            if (Option.isNone(body)) {
              return Effect.fail(new FrameError.UnexpectedEof({ frame: "fixed", received: 0, expected: length + 2 }))
            }
            const bytes = body.value
            return bytes[length] === 0x0d && bytes[length + 1] === 0x0a
              ? Effect.succeed(Option.some(bytes.subarray(0, length)))
              : protocol("bulk string not followed by CRLF")
          })
        }
        case 0x2a: { // *
          if (rest === "-1") return Effect.succeed(Option.some(null))
          const count = Number(rest)
          if (!INTEGER.test(rest) || count < 0) return protocol(`malformed array length ${JSON.stringify(rest)}`)
          if (depth >= limits.maxDepth) return protocol(`arrays nested deeper than ${limits.maxDepth}`)
          return Effect.gen(function*() {
            // no allocation from the declared count: elements are added as they arrive
            const items: Array<RespValue> = []
            for (let i = 0; i < count; i++) {
              const item = yield* readReply(reader, limits, depth + 1)
              if (Option.isNone(item)) {
                return yield* new FrameError.UnexpectedEof({ frame: "line", received: 0 })
              }
              items.push(item.value)
            }
            return Option.some(items)
          })
        }
        default:
          return protocol(`unknown reply type ${JSON.stringify(String.fromCharCode(line[0]!))}`)
      }
    }
  )

/**
 * Makes a client over `conn` (the caller keeps the connection: closing it ends the client).
 */
export const make = (conn: Conn.Conn, options?: Options): Effect.Effect<RespClient, NetError.InvalidArgument> =>
  Effect.gen(function*() {
    const limits: Limits = {
      maxBulkLength: options?.maxBulkLength ?? 512 * 1024 * 1024,
      maxLineLength: options?.maxLineLength ?? 64 * 1024,
      maxDepth: options?.maxDepth ?? 32
    }
    const reader = yield* BufferedReader.make(conn)
    const lock = yield* Effect.makeSemaphore(1)
    let broken: RespClientError | undefined

    const readReplies = (n: number) =>
      Effect.gen(function*() {
        const out: Array<Either.Either<RespValue, RespError>> = []
        for (let i = 0; i < n; i++) {
          const reply = yield* readReply(reader, limits, 0)
          if (Option.isNone(reply)) return yield* new RespConnectionClosed({ pending: n - i })
          out.push(reply.value instanceof RespError ? Either.left(reply.value) : Either.right(reply.value))
        }
        return out
      })

    const run = (commands: ReadonlyArray<ReadonlyArray<RespArg>>) =>
      lock.withPermits(1)(Effect.suspend(() => {
        if (broken !== undefined) return Effect.fail(broken)
        return Effect.all([writeCommands(conn, commands), readReplies(commands.length)], {
          concurrency: 2
        }).pipe(
          Effect.map(([, replies]) => replies),
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (Exit.isSuccess(exit)) return
              // a failure or an interruption leaves replies unread: the connection is out of step
              const failure = Option.getOrUndefined(Cause.failureOption(exit.cause))
              broken ??= failure ??
                new RespProtocolError({ reason: "a command was interrupted; its replies are out of step" })
            })
          )
        )
      }))

    return {
      conn,
      command: (...args) =>
        Effect.flatMap(
          run([args]),
          ([reply]) => Either.isLeft(reply!) ? Effect.fail(reply.left) : Effect.succeed(reply!.right)
        ),
      pipeline: run
    } satisfies RespClient
  })

/** Dials `address` on `network` and makes a client over the connection, which the Scope closes. */
export const connect = (
  network: string,
  address: string,
  options?: Options & Net.DialOptions
): Effect.Effect<RespClient, NetError.NetError, Net.Net | Scope.Scope> =>
  Effect.flatMap(Net.dial(network, address, options), (conn) => make(conn, options))

/** A reply as `redis-cli` prints it. */
export const format = (value: RespValue, indent = ""): string => {
  if (value === null) return "(nil)"
  if (value instanceof RespError) return `(error) ${value.message}`
  if (typeof value === "number") return `(integer) ${value}`
  if (typeof value === "string") return value
  if (value instanceof Uint8Array) return JSON.stringify(decoder.decode(value))
  if (value.length === 0) return "(empty array)"
  return value.map((item, i) => `${i === 0 ? "" : indent}${i + 1}) ${format(item, `${indent}   `)}`).join("\n")
}

/** `tsx src/resp-client.ts [ADDRESS] [COMMAND ARG…]`. */
const main = (address: string, args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const client = yield* connect(address.includes("/") ? "unix" : "tcp", address, { timeout: 5000 })
    if (args.length > 0) {
      const reply = yield* client.command(...args).pipe(Effect.catchTag("RespError", (error) => Effect.succeed(error)))
      return yield* Console.log(format(reply))
    }
    yield* Console.log(`SET vvnet:greeting → ${format(yield* client.command("SET", "vvnet:greeting", "hello"))}`)
    yield* Console.log(`GET vvnet:greeting → ${format(yield* client.command("GET", "vvnet:greeting"))}`)
    yield* Console.log(`GET vvnet:missing → ${format(yield* client.command("GET", "vvnet:missing"))}`)
    const wrong = yield* client.command("INCR", "vvnet:greeting").pipe(
      Effect.catchTag("RespError", (error) => Effect.succeed(error))
    )
    yield* Console.log(`INCR vvnet:greeting → ${format(wrong)}`)
    const replies = yield* client.pipeline([
      ["DEL", "vvnet:counter"],
      ...Array.from({ length: 1000 }, () => ["INCR", "vvnet:counter"]),
      ["DEL", "vvnet:counter", "vvnet:greeting"]
    ])
    const last = replies[replies.length - 2]!
    yield* Console.log(`a pipeline of ${replies.length} commands; the last INCR → ${format(Either.merge(last))}`)
  }).pipe(
    Effect.scoped,
    Effect.catchAll((error) =>
      Effect.zipRight(
        Console.error(error.message),
        Effect.sync(() => {
          process.exitCode = 1
        })
      )
    ),
    Effect.provide(NodeNet.layer)
  )

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === Url.fileURLToPath(import.meta.url)) {
  NodeRuntime.runMain(main(process.argv[2] ?? "127.0.0.1:6379", process.argv.slice(3)))
}
