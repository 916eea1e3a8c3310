import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type { Network } from "../Address.js"
import type { Conn } from "../Conn.js"
import * as NetError from "../NetError.js"
import type { ConnTransport, Inbound, OsError } from "./seam.js"
import { type Timer } from "./timer.js"
import { invalidCount, invalidTimeout } from "./validate.js"
import { type Resume, WaitList } from "./waitList.js"

const empty = new Uint8Array(0)
const encoder = new TextEncoder()

/**
 * @internal The capability of a `Conn` built by the engine to reset at once (`Conn.abort`),
 * checked with `in` rather than `instanceof`, so no module outside `internal/` needs the class.
 */
export const AbortTypeId: unique symbol = Symbol.for("@vvnet/core/Conn/abort")

/**
 * @internal The capability of a `Conn` built by the engine to perform a read at once, outside
 * any fiber (`Conn.readNow`); a method on the prototype, checked with `in`.
 */
export const ReadNowTypeId: unique symbol = Symbol.for("@vvnet/core/Conn/readNow")

/** @internal The same for starting a write at once (`Conn.writeNow`). */
export const WriteNowTypeId: unique symbol = Symbol.for("@vvnet/core/Conn/writeNow")

/** @internal The same for closing at once (`Conn.closeNow`). */
export const CloseNowTypeId: unique symbol = Symbol.for("@vvnet/core/Conn/closeNow")

/**
 * @internal The capability of a `Conn` built by the engine to call back, outside any fiber,
 * when a read may make progress (`Conn.whenReadable`).
 */
export const WhenReadableTypeId: unique symbol = Symbol.for("@vvnet/core/Conn/whenReadable")

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
 * @internal
 * The connection engine every `Net` shares: a bounded receive buffer fed by the transport,
 * pending readers and writers, deadlines, half-close and close. Transports only move bytes.
 * State that only some connections need (waiters, deadlines, the write callback) is allocated
 * on first use, so an idle connection stays small.
 *
 * Cost model (issue "Engine v2"): an operation whose result is ready (bytes buffered, a write
 * the OS took at once) completes in one `Effect.suspend`, with no `Effect.async`, no fiber
 * and no allocation beyond its result. A blocking one waits on a per-connection cached
 * `Effect.async` with no canceler (see `WaitList`). At most one write is in the transport at a
 * time (a write abandoned by a deadline or an interruption holds the next one until it drains,
 * rule 4), so the write in flight is a few fields of the connection rather than an object.
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
  private readWaiters: WaitList | undefined = undefined
  private waitReadableEffect: Effect.Effect<void> | undefined = undefined

  // the write in the transport, if any
  /** A write was handed to the transport and the transport has not called back yet. */
  private writing = false
  /** Its byte count, reported when it completes. */
  private writingSize = 0
  /** The fiber waiting for it, or undefined once settled (deadline, close) or never awaited. */
  private writeResume: Resume<number, NetError.NetError> | undefined = undefined
  /** Counts writes handed to the transport; tells `Conn.writeNow`'s Effect which one is its. */
  private writeSeq = 0
  /**
   * The outcome of the last write that ended with nobody waiting: one the transport reported
   * within `transport.write`, one `Conn.writeNow` started and has not collected yet, or an
   * abandoned one. See `claim`.
   */
  private unclaimed: { readonly seq: number; readonly error: OsError | undefined } | undefined = undefined
  private onWritten: ((error?: OsError) => void) | undefined = undefined
  private awaitWriteEffect: Effect.Effect<number, NetError.NetError> | undefined = undefined
  private drainWaiters: WaitList | undefined = undefined
  private waitDrainedEffect: Effect.Effect<void> | undefined = undefined
  private closeWriteWaiters: Array<() => void> | undefined = undefined
  private writeShut = false
  private writeFailure: OsError | undefined = undefined

  private closed = false
  private readDeadline: Deadline | undefined = undefined
  private writeDeadline: Deadline | undefined = undefined

  constructor(
    readonly transport: ConnTransport,
    private readonly timer: Timer,
    private readonly highWaterMark: number,
    /** Fault injection (`MakeConnOptions.readLimit`): caps the size of each read. */
    private readonly readLimit?: ((n: number) => number) | undefined
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
    this.readWaiters?.wakeAll()
    if (this.buffered >= this.highWaterMark && !this.paused) {
      this.paused = true
      this.transport.pause()
    }
    return !this.paused
  }

  end(): void {
    if (this.closed || this.eof || this.failure !== undefined) return
    this.eof = true
    this.readWaiters?.wakeAll()
  }

  fail(error: OsError): void {
    if (this.closed) return
    if (this.writeFailure === undefined) this.writeFailure = sideError(error, "write")
    this.settleWrite(() => Exit.fail(NetError.fromErrno(this.writeFailure!, this.context("write"))))
    this.drainWaiters?.wakeAll()
    // After EOF, reads keep returning EOF (Go): the failure concerns the other direction.
    if (this.failure !== undefined || this.eof) return
    this.failure = sideError(error, "read")
    this.readWaiters?.wakeAll()
  }

  /**
   * Settles the write in flight, if a fiber waits for it, with `result` (built only then); its
   * bytes stay in the transport, which still calls back.
   */
  private settleWrite(result: () => Effect.Effect<number, NetError.NetError>): void {
    const resume = this.writeResume
    if (resume === undefined) return
    this.writeResume = undefined
    resume(result())
  }

  /**
   * The failure of a write the transport reported; it sticks for later writes. Reads are not
   * failed by it: bytes already received stay readable, and the transport reports what the
   * read side sees (`fail`, `end`).
   */
  private writeFailed(error: OsError): Effect.Effect<never, NetError.NetError> {
    if (this.writeFailure === undefined) this.writeFailure = sideError(error, "write")
    return Exit.fail(NetError.fromErrno(this.writeFailure, this.context("write")))
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
      this.chunks.length = 0
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

  /** Waits until something may have changed for readers (bytes, EOF, an error, a deadline). */
  private get waitReadable(): Effect.Effect<void> {
    return this.waitReadableEffect ??= Effect.async<void>((resume) => {
      ;(this.readWaiters ??= new WaitList()).add(resume)
    })
  }

  /** One attempt at a read of at most n bytes (n >= 1), waiting and retrying while none are ready. */
  private readStep(n: number): Effect.Effect<Uint8Array, NetError.NetError> {
    if (this.closed) return Exit.fail(this.closedError("read"))
    if (this.readDeadline?.expired === true) return Exit.fail(this.timeoutError("read"))
    if (this.buffered > 0) {
      return Effect.succeed(this.take(this.readLimit === undefined ? n : Math.max(1, Math.min(n, this.readLimit(n)))))
    }
    if (this.failure !== undefined) return Exit.fail(NetError.fromErrno(this.failure, this.context("read")))
    if (this.eof) return Effect.succeed(empty)
    return Effect.flatMap(this.waitReadable, () => {
      this.readWaiters!.rechecked++
      return this.readStep(n)
    })
  }

  read(n: number): Effect.Effect<Uint8Array, NetError.NetError> {
    const reason = invalidCount(n)
    if (reason !== undefined) {
      return Exit.fail(NetError.make("InvalidArgument", { ...this.context("read"), reason }))
    }
    if (n === 0) {
      return Effect.suspend(() => this.closed ? Exit.fail(this.closedError("read")) : Effect.succeed(empty))
    }
    return Effect.suspend(() => this.readStep(n))
  }

  /**
   * `read(n)` performed now: an Exit (`Effect.succeed` / `Effect.fail` are Exits) when its
   * outcome is known, else the Effect that waits.
   */
  [ReadNowTypeId](n: number): Effect.Effect<Uint8Array, NetError.NetError> {
    const reason = invalidCount(n)
    if (reason !== undefined) {
      return Exit.fail(NetError.make("InvalidArgument", { ...this.context("read"), reason }))
    }
    if (n === 0) return this.closed ? Exit.fail(this.closedError("read")) : Effect.succeed(empty)
    const step = this.readStep(n)
    // not ready: the read re-checks when run (bytes may arrive before it is)
    return Exit.isExit(step) ? step : Effect.suspend(() => this.readStep(n))
  }

  /**
   * Calls `callback` once, at the next change for readers (bytes, EOF, an error, a passed read
   * deadline, close): a waiter of `readWaiters` as a fiber's `resume` is. It counts as a waiter
   * that re-checked when it runs, as a live fiber does, so callbacks that wait again from within
   * a wake-up never trigger a sweep.
   */
  [WhenReadableTypeId](callback: () => void): void {
    const waiters = this.readWaiters ??= new WaitList()
    waiters.add(() => {
      waiters.rechecked++
      callback()
    })
  }

  // ---- writing ------------------------------------------------------------------------------

  /** `write(data)` started now: an Exit when it ended at once, else the Effect that waits. */
  [WriteNowTypeId](data: Uint8Array | string): Effect.Effect<number, NetError.NetError> {
    if (typeof data !== "string" && !(data instanceof Uint8Array)) return this.write(data)
    // another write in flight: nothing is handed over now; the write happens when run
    if (this.writing) return Effect.suspend(() => this.writeStep(data))
    const step = this.writeStep(data)
    if (Exit.isExit(step) || !this.writing) return step
    // handed over and in flight: the Effect may run later, when this write may have ended
    const seq = this.writeSeq
    const size = this.writingSize
    return Effect.suspend(() => {
      const ended = this.claim(seq, size)
      if (ended !== undefined) return ended
      if (this.closed) return Exit.fail(this.closedError("write"))
      if (this.writeDeadline?.expired === true) return Exit.fail(this.timeoutError("write"))
      if (this.writeFailure !== undefined) {
        return Exit.fail(NetError.fromErrno(this.writeFailure, this.context("write")))
      }
      if (this.writing && this.writeSeq === seq) return this.awaitWriteEffect ?? this.makeAwaitWrite()
      return Effect.succeed(size)
    })
  }

  write(data: Uint8Array | string): Effect.Effect<number, NetError.NetError> {
    if (typeof data !== "string" && !(data instanceof Uint8Array)) {
      return Exit.fail(
        NetError.make("InvalidArgument", {
          ...this.context("write"),
          reason: "invalid argument: data must be a Uint8Array or a string"
        })
      )
    }
    return Effect.suspend(() => this.writeStep(data))
  }

  private writeStep(data: Uint8Array | string): Effect.Effect<number, NetError.NetError> {
    if (this.closed) return Exit.fail(this.closedError("write"))
    if (this.writeDeadline?.expired === true) return Exit.fail(this.timeoutError("write"))
    if (this.writeFailure !== undefined) {
      return Exit.fail(NetError.fromErrno(this.writeFailure, this.context("write")))
    }
    if (this.writeShut) return Exit.fail(this.error("BrokenPipe", "write", "broken pipe"))
    const bytes = typeof data === "string" ? encoder.encode(data) : data
    const size = bytes.length
    if (size === 0) return Effect.succeed(0)
    // A write abandoned by a deadline or an interruption is still in the transport: the next
    // one waits for it to drain rather than queue more bytes in process memory (rule 4).
    if (this.writing) {
      return Effect.flatMap(this.waitDrained, () => {
        this.drainWaiters!.rechecked++
        return this.writeStep(data)
      })
    }
    this.writing = true
    this.writeSeq++
    this.writingSize = size
    if (this.transport.write(bytes, this.onWritten ?? this.makeOnWritten())) {
      this.writing = false
      return Effect.succeed(size)
    }
    // the transport may have called back before returning (a failure it knew at once)
    return this.claim(this.writeSeq, size) ?? this.awaitWriteEffect ?? this.makeAwaitWrite()
  }

  /** The outcome of write number `seq` if it ended with nobody waiting, taken once. */
  private claim(seq: number, size: number): Effect.Effect<number, NetError.NetError> | undefined {
    const ended = this.unclaimed
    if (ended === undefined || ended.seq !== seq) return undefined
    this.unclaimed = undefined
    return ended.error === undefined ? Exit.succeed(size) : this.writeFailed(ended.error)
  }

  // Made outside `writeStep`, whose closures share its context (and so would keep its `data`).
  private makeOnWritten(): (error?: OsError) => void {
    return this.onWritten = (error) => this.written(error)
  }

  private makeAwaitWrite(): Effect.Effect<number, NetError.NetError> {
    return this.awaitWriteEffect = Effect.async<number, NetError.NetError>((resume) => {
      this.writeResume = resume
    })
  }

  /** The transport's callback for the write in flight: the OS took its bytes, or `error`. */
  private written(error: OsError | undefined): void {
    if (!this.writing) return // not ours to report (a transport calling back twice)
    this.writing = false
    if (this.writeResume !== undefined) {
      const resume = this.writeResume
      this.writeResume = undefined
      resume(error === undefined ? Effect.succeed(this.writingSize) : this.writeFailed(error))
    } else {
      // nobody waits yet (called within transport.write, or by a write `Conn.writeNow` started)
      // or any more (abandoned): kept for `claim` as the OS error, not a NetError, whose stack
      // would hold the caller's frames (and the bytes they reference) until collected.
      if (error !== undefined && !this.closed && this.writeFailure === undefined) {
        this.writeFailure = sideError(error, "write")
      }
      this.unclaimed = { seq: this.writeSeq, error }
    }
    this.drainWaiters?.wakeAll()
  }

  /** Waits until the write in flight left the transport (or the connection failed, closed). */
  private get waitDrained(): Effect.Effect<void> {
    return this.waitDrainedEffect ??= Effect.async<void>((resume) => {
      ;(this.drainWaiters ??= new WaitList()).add(resume)
    })
  }

  get closeWrite(): Effect.Effect<void, NetError.NetError> {
    return Effect.suspend(() => {
      if (this.closed) return Exit.fail(this.closedError("close"))
      if (this.writeShut) return Effect.void
      this.writeShut = true
      return Effect.async<void, NetError.NetError>((resume) => {
        // `close` also settles it: the FIN may wait behind writes a peer never reads
        const closed = () => resume(Effect.void)
        ;(this.closeWriteWaiters ??= []).push(closed)
        this.transport.closeWrite((error) => {
          const waiters = this.closeWriteWaiters
          const i = waiters === undefined ? -1 : waiters.indexOf(closed)
          if (i < 0) return
          waiters!.splice(i, 1)
          if (error === undefined || this.closed) resume(Effect.void)
          else resume(Exit.fail(NetError.fromErrno(error, this.context("close"))))
        })
      })
    })
  }

  // ---- deadlines ----------------------------------------------------------------------------

  private deadline(op: "set_read_timeout" | "set_write_timeout", ms: number) {
    return Effect.suspend(() => {
      const reason = invalidTimeout(ms)
      if (reason !== undefined) return Exit.fail(NetError.make("InvalidArgument", { ...this.context(op), reason }))
      if (this.closed) return Exit.fail(this.closedError(op))
      if (op === "set_read_timeout") {
        ;(this.readDeadline ??= new Deadline()).set(ms, this.timer, () => this.readWaiters?.wakeAll())
      } else {
        ;(this.writeDeadline ??= new Deadline()).set(
          ms,
          this.timer,
          () => {
            this.settleWrite(() => Exit.fail(this.timeoutError("write")))
            this.drainWaiters?.wakeAll()
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
    this.readWaiters?.wakeAll()
    this.settleWrite(() => Exit.fail(this.closedError("write")))
    this.drainWaiters?.wakeAll()
    const closeWrites = this.closeWriteWaiters
    this.closeWriteWaiters = undefined
    if (closeWrites !== undefined) { for (const closed of closeWrites) closed() }
    this.transport.close(abort)
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.closeNow(false))
  }

  [CloseNowTypeId](): void {
    this.closeNow(false)
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
        (chunk) => chunk.length === 0 ? Exit.fail(Option.none()) : Effect.succeed(chunk)
      )
    )
  }

  get sink(): Sink.Sink<void, Uint8Array, never, NetError.NetError> {
    return Sink.forEach((chunk: Uint8Array) => this.write(chunk))
  }
}
