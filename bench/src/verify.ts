/**
 * Cheap correctness checks, so a broken variant cannot look fast.
 *
 * Bulk: the client writes a buffer whose byte i is `i & 0xff`, with write sizes a multiple of
 * 256, so byte p of the stream is `p & 0xff`. The server counts bytes and checks the first and
 * last byte of every chunk it receives against its stream position (O(1) per chunk): a lost,
 * duplicated, reordered or truncated chunk shows up as an error or a wrong count.
 *
 * Ping-pong: message k is filled with `k & 0xff`; the client checks the first and last byte of
 * every piece of the echo.
 *
 * Server-load: a request is a message (filled with its tag), its reply is filled with
 * `tag ^ 0xff`. The server checks every piece of a request (`RequestParser`), the client every
 * piece of a reply (load-clients.ts), and both count: the server's answered requests must equal
 * the replies the client received.
 */
import type { LoadTally } from "./types.js"

/** A buffer of `size` bytes with byte i = i & 0xff. */
export const pattern = (size: number): Buffer => {
  if (size % 256 !== 0) throw new Error(`pattern size must be a multiple of 256, got ${size}`)
  const buf = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) buf[i] = i & 0xff
  return buf
}

/** Counts received bytes and checks each chunk's ends against the stream position. */
export class PatternCounter {
  bytes = 0
  errors = 0
  add(chunk: Uint8Array): void {
    const n = chunk.length
    if (n === 0) return
    if (chunk[0] !== (this.bytes & 0xff) || chunk[n - 1] !== ((this.bytes + n - 1) & 0xff)) this.errors++
    this.bytes += n
  }
}

/** 256 ping-pong messages of `size` bytes: message k is filled with k. */
export const messages = (size: number): ReadonlyArray<Buffer> =>
  Array.from({ length: 256 }, (_, k) => Buffer.alloc(size, k))

/** True when a piece of the echo of message `round` has the right tag at both ends. */
export const echoPieceOk = (chunk: Uint8Array, round: number): boolean =>
  chunk.length > 0 && chunk[0] === (round & 0xff) && chunk[chunk.length - 1] === (round & 0xff)

/** The 256 server-load replies of `size` bytes: the reply to a request tagged k is filled with k ^ 0xff. */
export const replies = (size: number): ReadonlyArray<Buffer> =>
  Array.from({ length: 256 }, (_, k) => Buffer.alloc(size, k ^ 0xff))

/** The byte a reply to a request tagged `tag` is filled with. */
export const replyByte = (tag: number): number => tag ^ 0xff

/**
 * The server side of server-load, one per connection: follows the requests of `size` bytes as
 * their pieces arrive (at most one request in flight: the client waits for each reply), checks
 * each piece's ends against the request's tag, and returns the reply when a piece completes a
 * request. A piece running past its request's end (the client never sends one) is an error.
 */
export class RequestParser<Reply = Buffer> {
  private got = 0
  private tag = 0
  /** `answers[k]`: the reply to a request tagged k (`replies(size)`, or the same as vv lists). */
  constructor(
    private readonly size: number,
    private readonly answers: ReadonlyArray<Reply>,
    private readonly tally: LoadTally
  ) {}
  /** Bytes left of the current request (what a `read(n)` API asks for). */
  get remaining(): number {
    return this.size - this.got
  }
  /** Takes a piece of the stream; the reply to send when it completes a request. */
  feed(chunk: Uint8Array): Reply | undefined {
    const n = chunk.length
    if (n === 0) return undefined
    if (this.got === 0) this.tag = chunk[0]!
    if (chunk[0] !== this.tag || chunk[n - 1] !== this.tag || this.got + n > this.size) this.tally.errors++
    this.got += n
    if (this.got < this.size) return undefined
    this.got = 0
    this.tally.requests++
    return this.answers[this.tag]
  }
}
