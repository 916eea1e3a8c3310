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
 */

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
