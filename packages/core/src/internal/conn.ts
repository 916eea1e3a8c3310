import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type { Network } from "../Address.js"
import type { Conn } from "../Conn.js"
import * as NetError from "../NetError.js"
import type { ConnTransport, Inbound, OsError } from "../Transport.js"
import { type Timer } from "./timer.js"
import { invalidCount, invalidTimeout } from "./validate.js"

const empty = new Uint8Array(0)
const encoder = new TextEncoder()

/**
 * @internal The capability of a `Conn` built by the engine to reset at once (`Conn.abort`),
 * checked with `in` rather than `instanceof`, so no module outside `internal/` needs the class.
 */
export const AbortTypeId: unique symbol = Symbol.for("@vvnet/core/Conn/abort")

/** @internal Default receive buffer high-water mark, in bytes. */
export const defaultReadBufferSize = 128 * 1024

/** @internal Default chunk size of `Conn.stream`, in bytes. */
export const streamChunkSize = 64 * 1024

/**
 * @internal
 * A Go-style absolute deadline for one direction of a connection: one timer, owned by the
 * connection. `expired` is a flag set by the timer rather than a clock comparison, so a timer
 * that fires a millisecond early cannot leave an operation waiting forever.
 */
class Deadline {
  expired = false
  private cancel: (() => void) | undefined = undefined

  set(ms: number, timer: Timer, onExpire: () => void): void {
    this.clear()
    if (ms === 0) return
    this.cancel = timer.schedule(ms, () => {
      this.cancel = undefined
      this.expired = true
      onExpire()
    })
  }

  clear(): void {
    if (this.cancel !== undefined) {
      this.cancel()
      this.cancel = undefined
    }
    this.expired = false
  }
}

/** A list of waiting callbacks, allocated only while something waits. */
type Waiters = Array<() => void> | undefined

const removeWaiter = (waiters: Waiters, wake: () => void): void => {
  if (waiters === undefined) return
  const i = waiters.indexOf(wake)
  if (i >= 0) waiters.splice(i, 1)
}

const runAll = (waiters: Waiters): void => {
  if (waiters === undefined) return
  for (let i = 0; i < waiters.length; i++) waiters[i]!()
}

const abandoned: Effect.Effect<number, NetError.NetError> = Effect.succeed(0)

/**
 * An OS error as one direction reports it. A failure met by the other direction's system call
 * keeps its errno but not that call's name (`read tcp A->B: connection reset by peer`, never
 * `read tcp A->B: write: …`); on the read side a broken pipe is the reset it stands for (the
 * connection is gone and the stream may be cut short, which EOF must never claim).
 */
const sideError = (error: OsError, side: "read" | "write"): OsError => {
  const syscall = error.syscall
  const foreign = syscall !== undefined && syscall !== "" && !syscall.startsWith(side)
  if (side === "read" && error.code === "EPIPE") return { code: "ECONNRESET" }
  return foreign ? { code: error.code, message: error.message } : error
}

/**
 * One write handed to the transport. `done` is what the transport calls; the write's fiber
 * waits only when the transport did not finish synchronously.
 */
class WriteOp {
  private result: Effect.Effect<number, NetError.NetError> | undefined = undefined
  private resume: ((result: Effect.Effect<number, NetError.NetError>) => void) | undefined = undefined

  constructor(private readonly conn: ConnImpl, private readonly size: number) {}

  /** Counted in the connection's bytes-in-transport until the transport reports it done. */
  inTransport = false

  readonly done = (error?: OsError): void => {
    if (this.inTransport) {
      this.inTransport = false
      this.conn.transportDone()
    }
    if (this.result !== undefined) return
    this.conn.writeDone(this)
    this.settle(error === undefined ? Effect.succeed(this.size) : this.conn.writeFailed(error))
  }

  settle(result: Effect.Effect<number, NetError.NetError>): void {
    if (this.result !== undefined) return
    this.result = result
    if (this.resume !== undefined) this.resume(result)
  }

  get await(): Effect.Effect<number, NetError.NetError> {
    return Effect.async<number, NetError.NetError>((resume) => {
      if (this.result !== undefined) return resume(this.result)
      this.resume = resume
      return Effect.sync(() => {
        // interrupted: the bytes stay with the transport, nobody waits for them
        this.resume = undefined
        this.result ??= abandoned
        this.conn.writeDone(this)
      })
    })
  }
}

/**
 * @internal
 * The connection engine every `Net` shares: a bounded receive buffer fed by the transport,
 * pending readers and writers, deadlines, half-close and close. Transports only move bytes.
 * State that only some connections need (waiters, deadlines) is allocated on first use, so an
 * idle connection stays small.
 */
export class ConnImpl implements Conn, Inbound {
  readonly network: Network

  // receive buffer: chunks[head..] hold `buffered` bytes
  private chunks: Array<Uint8Array> = []
  private head = 0
  private buffered = 0
  private paused = false
  private eof = false
  private failure: OsError | undefined = undefined
  private readWaiters: Waiters = undefined

  private pendingWrites: Array<WriteOp> | undefined = undefined
  /** Writes handed to the transport and not yet taken by the OS, abandoned ones included. */
  private inTransport = 0
  private drainWaiters: Waiters = undefined
  private closeWriteWaiters: Waiters = undefined
  private writeShut = false
  private writeFailure: OsError | undefined = undefined

  private closed = false
  private readDeadline: Deadline | undefined = undefined
  private writeDeadline: Deadline | undefined = undefined

  constructor(
    readonly transport: ConnTransport,
    private readonly timer: Timer,
    private readonly highWaterMark: number,
    /** Fault injection (MemoryNet): caps the size of each read. */
    private readonly shortRead?: ((n: number) => number) | undefined
  ) {
    this.network = transport.network
  }

  /** Read from the transport when first asked: an adapter may compute it lazily. */
  get localAddress(): string {
    return this.transport.localAddress
  }

  get remoteAddress(): string {
    return this.transport.remoteAddress
  }

  // ---- errors -------------------------------------------------------------------------------

  private context(op: NetError.Op): NetError.ErrnoContext {
    return { op, network: this.network, address: this.remoteAddress, source: this.localAddress }
  }

  private error(tag: "Closed" | "Timeout" | "BrokenPipe", op: NetError.Op, reason: string): NetError.NetError {
    return NetError.make(tag, { ...this.context(op), reason })
  }

  private closedError(op: NetError.Op) {
    return this.error("Closed", op, NetError.closedReason)
  }

  private timeoutError(op: NetError.Op) {
    return this.error("Timeout", op, NetError.timeoutReason)
  }

  // ---- inbound (called by the transport) ----------------------------------------------------

  push(chunk: Uint8Array): boolean {
    if (this.closed || this.eof || this.failure !== undefined) return true
    if (chunk.length === 0) return !this.paused
    this.chunks.push(chunk)
    this.buffered += chunk.length
    this.wakeReaders()
    if (this.buffered >= this.highWaterMark && !this.paused) {
      this.paused = true
      this.transport.pause()
    }
    return !this.paused
  }

  end(): void {
    if (this.closed || this.eof || this.failure !== undefined) return
    this.eof = true
    this.wakeReaders()
  }

  fail(error: OsError): void {
    if (this.closed) return
    if (this.writeFailure === undefined) this.writeFailure = sideError(error, "write")
    this.settleWrites(() => Effect.fail(NetError.fromErrno(this.writeFailure!, this.context("write"))))
    this.wakeWriters()
    // After EOF, reads keep returning EOF (Go): the failure concerns the other direction.
    if (this.failure !== undefined || this.eof) return
    this.failure = sideError(error, "read")
    this.wakeReaders()
  }

  private wakeReaders(): void {
    const waiters = this.readWaiters
    if (waiters === undefined) return
    this.readWaiters = undefined
    runAll(waiters)
  }

  /** Settles every pending write; `result` is built only when one is pending. */
  private settleWrites(result: () => Effect.Effect<number, NetError.NetError>): void {
    const writes = this.pendingWrites
    if (writes === undefined || writes.length === 0) return
    this.pendingWrites = undefined
    const settled = result()
    for (const op of writes) op.settle(settled)
  }

  /** @internal A write finished or was abandoned: it is no longer pending. */
  writeDone(op: WriteOp): void {
    const writes = this.pendingWrites
    if (writes === undefined) return
    const i = writes.indexOf(op)
    if (i >= 0) writes.splice(i, 1)
  }

  /**
   * @internal The failure of a write the transport reported; it sticks for later writes. Reads
   * are not failed by it: bytes already received stay readable, and the transport reports
   * what the read side sees (`fail`, `end`).
   */
  writeFailed(error: OsError): Effect.Effect<never, NetError.NetError> {
    if (this.writeFailure === undefined) this.writeFailure = sideError(error, "write")
    return Effect.fail(NetError.fromErrno(this.writeFailure, this.context("write")))
  }

  // ---- reading ------------------------------------------------------------------------------

  /** Takes up to n bytes from the buffer (buffered > 0). Copies only to join chunks. */
  private take(n: number): Uint8Array {
    const first = this.chunks[this.head]!
    let out: Uint8Array
    if (first.length >= n || this.head === this.chunks.length - 1) {
      out = first.length > n ? first.subarray(0, n) : first
      if (out.length === first.length) {
        this.chunks[this.head++] = empty
      } else {
        this.chunks[this.head] = first.subarray(out.length)
      }
    } else {
      const size = Math.min(n, this.buffered)
      out = new Uint8Array(size)
      let offset = 0
      while (offset < size) {
        const chunk = this.chunks[this.head]!
        const count = Math.min(chunk.length, size - offset)
        out.set(count === chunk.length ? chunk : chunk.subarray(0, count), offset)
        offset += count
        if (count === chunk.length) this.chunks[this.head++] = empty
        else this.chunks[this.head] = chunk.subarray(count)
      }
    }
    this.buffered -= out.length
    if (this.head === this.chunks.length) {
      this.chunks = []
      this.head = 0
    } else if (this.head > 1024) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
    if (this.paused && this.buffered <= this.highWaterMark >>> 1) {
      this.paused = false
      this.transport.resume()
    }
    return out
  }

  private get waitReadable(): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const wake = () => resume(Effect.void)
      ;(this.readWaiters ??= []).push(wake)
      return Effect.sync(() => removeWaiter(this.readWaiters, wake))
    })
  }

  private readLoop(n: number): Effect.Effect<Uint8Array, NetError.NetError> {
    return Effect.suspend(() => {
      if (this.closed) return Effect.fail(this.closedError("read"))
      if (n === 0) return Effect.succeed(empty)
      if (this.readDeadline?.expired === true) return Effect.fail(this.timeoutError("read"))
      if (this.buffered > 0) return Effect.succeed(this.take(this.shortRead === undefined ? n : this.shortRead(n)))
      if (this.failure !== undefined) return Effect.fail(NetError.fromErrno(this.failure, this.context("read")))
      if (this.eof) return Effect.succeed(empty)
      return Effect.flatMap(this.waitReadable, () => this.readLoop(n))
    })
  }

  read(n: number): Effect.Effect<Uint8Array, NetError.NetError> {
    const reason = invalidCount(n)
    if (reason !== undefined) {
      return Effect.fail(NetError.make("InvalidArgument", { ...this.context("read"), reason }))
    }
    return this.readLoop(n)
  }

  // ---- writing ------------------------------------------------------------------------------

  write(data: Uint8Array | string): Effect.Effect<number, NetError.NetError> {
    return Effect.suspend(() => {
      if (typeof data !== "string" && !(data instanceof Uint8Array)) {
        return Effect.fail(
          NetError.make("InvalidArgument", {
            ...this.context("write"),
            reason: "invalid argument: data must be a Uint8Array or a string"
          })
        )
      }
      if (this.closed) return Effect.fail(this.closedError("write"))
      if (this.writeDeadline?.expired === true) return Effect.fail(this.timeoutError("write"))
      if (this.writeFailure !== undefined) {
        return Effect.fail(NetError.fromErrno(this.writeFailure, this.context("write")))
      }
      if (this.writeShut) return Effect.fail(this.error("BrokenPipe", "write", "broken pipe"))
      const bytes = typeof data === "string" ? encoder.encode(data) : data
      const size = bytes.length
      if (size === 0) return Effect.succeed(0)
      // A write abandoned by a deadline or an interruption is still in the transport: the next
      // one waits for it to drain rather than queue more bytes in process memory (rule 4).
      if (this.inTransport > 0) return Effect.flatMap(this.waitDrained, () => this.write(data))
      const op = new WriteOp(this, size)
      ;(this.pendingWrites ??= []).push(op)
      op.inTransport = true
      this.inTransport++
      if (this.transport.write(bytes, op.done)) {
        op.inTransport = false
        this.inTransport--
        this.writeDone(op)
        op.settle(Effect.succeed(size))
        return Effect.succeed(size)
      }
      return op.await
    })
  }

  /** @internal A write handed to the transport was taken by the OS (or failed). */
  transportDone(): void {
    this.inTransport--
    if (this.inTransport === 0) this.wakeWriters()
  }

  private wakeWriters(): void {
    const waiters = this.drainWaiters
    if (waiters === undefined) return
    this.drainWaiters = undefined
    runAll(waiters)
  }

  private get waitDrained(): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const wake = () => resume(Effect.void)
      ;(this.drainWaiters ??= []).push(wake)
      return Effect.sync(() => removeWaiter(this.drainWaiters, wake))
    })
  }

  get closeWrite(): Effect.Effect<void, NetError.NetError> {
    return Effect.suspend(() => {
      if (this.closed) return Effect.fail(this.closedError("close"))
      if (this.writeShut) return Effect.void
      this.writeShut = true
      return Effect.async<void, NetError.NetError>((resume) => {
        // `close` also settles it: the FIN may wait behind writes a peer never reads
        const closed = () => resume(Effect.void)
        ;(this.closeWriteWaiters ??= []).push(closed)
        this.transport.closeWrite((error) => {
          const waiting = this.closeWriteWaiters?.includes(closed) === true
          removeWaiter(this.closeWriteWaiters, closed)
          if (!waiting) return
          if (error === undefined || this.closed) resume(Effect.void)
          else resume(Effect.fail(NetError.fromErrno(error, this.context("close"))))
        })
      })
    })
  }

  // ---- deadlines ----------------------------------------------------------------------------

  private deadline(op: "set_read_timeout" | "set_write_timeout", ms: number) {
    return Effect.suspend(() => {
      const reason = invalidTimeout(ms)
      if (reason !== undefined) return Effect.fail(NetError.make("InvalidArgument", { ...this.context(op), reason }))
      if (this.closed) return Effect.fail(this.closedError(op))
      if (op === "set_read_timeout") {
        ;(this.readDeadline ??= new Deadline()).set(ms, this.timer, () => this.wakeReaders())
      } else {
        ;(this.writeDeadline ??= new Deadline()).set(
          ms,
          this.timer,
          () => {
            this.settleWrites(() => Effect.fail(this.timeoutError("write")))
            this.wakeWriters()
          }
        )
      }
      return Effect.void
    })
  }

  setReadTimeout(ms: number): Effect.Effect<void, NetError.NetError> {
    return this.deadline("set_read_timeout", ms)
  }

  setWriteTimeout(ms: number): Effect.Effect<void, NetError.NetError> {
    return this.deadline("set_write_timeout", ms)
  }

  // ---- closing ------------------------------------------------------------------------------

  /** Closes at once; `abort` resets the connection (RST) instead of a graceful FIN. */
  closeNow(abort: boolean): void {
    if (this.closed) return
    this.closed = true
    this.readDeadline?.clear()
    this.writeDeadline?.clear()
    this.chunks = []
    this.head = 0
    this.buffered = 0
    this.wakeReaders()
    this.settleWrites(() => Effect.fail(this.closedError("write")))
    this.wakeWriters()
    const closeWrites = this.closeWriteWaiters
    this.closeWriteWaiters = undefined
    runAll(closeWrites)
    this.transport.close(abort)
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.closeNow(false))
  }

  [AbortTypeId](): void {
    this.closeNow(true)
  }

  get isClosed(): boolean {
    return this.closed
  }

  // ---- streams ------------------------------------------------------------------------------

  get stream(): Stream.Stream<Uint8Array, NetError.NetError> {
    return Stream.repeatEffectOption(
      Effect.flatMap(
        Effect.mapError(this.read(streamChunkSize), Option.some),
        (chunk) => chunk.length === 0 ? Effect.fail(Option.none()) : Effect.succeed(chunk)
      )
    )
  }

  get sink(): Sink.Sink<void, Uint8Array, never, NetError.NetError> {
    return Sink.forEach((chunk: Uint8Array) => this.write(chunk))
  }
}
