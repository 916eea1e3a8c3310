/**
 * vv-bridge: the natives of `std/net.vv` (`@vvnet/vv-bridge`), driven as the project's vv runtime
 * drives them, with the default value representation (`DefaultHost`): look each native up by
 * module path and name, call it with an argument list of vv values, take its value at once when
 * it completed or await it when it returned a promise (the runtime's evaluator goes on
 * synchronously in the first case), unwrap results as vv's `try` does (`DefaultHost.toResult`).
 * Bulk, ping-pong, accept (targets in scenarios.ts: ≥ 0.8×, 0.5×, 0.5× raw) and the server-load
 * server (see `loadServer` below) are implemented. One bulk run is the
 * vv program
 *
 * ```vv
 * let listener = try net.listen("tcp", "127.0.0.1:0")
 * net.accept(listener, fun(conn)                    // the handler, a vv function value
 *     defer net.close(conn)
 *     while true
 *         let chunk = try net.read(conn, 65536)
 *         if len(chunk) == 0 break end
 *         // count and check chunk (PatternCounter)
 *     end
 * end)
 * let conn = try net.dial("tcp", address)
 * // buf: one 64 KiB list of ints, byte i = i % 256, built once and written again and again
 * for each write: try net.write(conn, buf)
 * try net.close(conn)
 * ```
 *
 * with a fresh `Bridge` (its own runtime and NodeNet layer) per run, disposed at the end, as a
 * vv program's end is.
 *
 * The written list is built the way a vv program builds it: `let buf = []` then
 * `list.push(buf, i % 256)` per element (the vv runtime evaluates `[]` with
 * `VvList.unsafeFromArray`). DefaultHost stores a list of ints 0..255 as bytes, so `write` sends
 * it with one copy; whatever storage the host chose is what this measures. It is built once per
 * process and size, outside the timed runs, and reused for every write, as a program writing the
 * same buffer would.
 */
import { NodeNet } from "@vvnet/node-adapter"
import { Bridge, DefaultHost, type Host, StdNet } from "@vvnet/vv-bridge"
import { HOST, type LoadTally, type Variant } from "../types.js"
import { echoPieceOk, PatternCounter, replyByte, RequestParser } from "../verify.js"

type V = DefaultHost.VvValue
const { VvList } = DefaultHost

const tcp = DefaultHost.chars("tcp")

/** vv's `try`: the value of an ok result; an error result stops the run with its message. */
const unwrap = (native: string, value: V): V => {
  const result = DefaultHost.toResult(value)
  if (result === undefined) return value
  if (!result.ok) throw new Error(`net.${native}: ${DefaultHost.show(result.value)}`)
  return result.value
}

/** The list a vv program writes: `let buf = []`, then `push(buf, i % 256)` for each i. */
const buffers = new Map<number, DefaultHost.VvList>()
const bufferOf = (size: number): DefaultHost.VvList => {
  let buf = buffers.get(size)
  if (buf === undefined) {
    buf = VvList.unsafeFromArray([]) // `[]`, as the vv runtime evaluates a list literal
    for (let i = 0; i < size; i++) buf.push(BigInt(i) % 256n) // `list.push(buf, i % 256)`
    buffers.set(size, buf)
  }
  return buf
}

/** The 256 server-load replies as vv lists, built the same way: reply k is `size` × (k ^ 0xff). */
const replyLists = new Map<number, ReadonlyArray<DefaultHost.VvList>>()
const repliesOf = (size: number): ReadonlyArray<DefaultHost.VvList> => {
  let lists = replyLists.get(size)
  if (lists === undefined) {
    lists = Array.from({ length: 256 }, (_, k) => {
      const list = VvList.unsafeFromArray([])
      for (let i = 0; i < size; i++) list.push(BigInt(replyByte(k)))
      return list
    })
    replyLists.set(size, lists)
  }
  return lists
}

/** The 256 ping-pong messages as vv lists, built the same way: message k is `size` × k. */
const messageLists = new Map<number, ReadonlyArray<DefaultHost.VvList>>()
const messagesOf = (size: number): ReadonlyArray<DefaultHost.VvList> => {
  let lists = messageLists.get(size)
  if (lists === undefined) {
    lists = Array.from({ length: 256 }, (_, k) => {
      const list = VvList.unsafeFromArray([])
      for (let i = 0; i < size; i++) list.push(BigInt(k))
      return list
    })
    messageLists.set(size, lists)
  }
  return lists
}

/** The natives of `std/net.vv` a bridge registered. */
const netNatives = (bridge: Bridge.Bridge<V>) => {
  const natives = bridge.natives("std/net.vv")
  const native = (name: string): Host.Native<V> => {
    const n = natives.get(name)
    if (n === undefined) throw new Error(`extern native: ${name} not registered`)
    return n
  }
  return {
    listen: native("listen"),
    accept: native("accept"),
    dial: native("dial"),
    read: native("read"),
    write: native("write"),
    close: native("close")
  }
}

/** `net.listen("tcp", "127.0.0.1:0")`: the listener value and its address. */
const listenOn = async (bridge: Bridge.Bridge<V>, listen: Host.Native<V>) => {
  let listenerOut = listen.call([tcp, DefaultHost.chars(`${HOST}:0`)])
  if (listenerOut instanceof Promise) listenerOut = await listenerOut
  const listener = unwrap("listen", listenerOut)
  const handle = bridge.host.toUserdata(listener)
  if (!(handle instanceof StdNet.ListenerHandle)) throw new Error("net.listen: not a listener")
  return { listener, address: handle.listener.address } // vv code would use a fixed port; port 0 here
}

/** The bytes of a list `read` returned (byte-backed; other storage is converted). */
const bytesOf = (list: DefaultHost.VvList): Uint8Array =>
  list.byteView() ?? Uint8Array.from(list, (v) => Number(v as bigint))

export const variant: Variant = {
  id: "vv-bridge",
  label: "vv-bridge (std/net.vv natives)",

  async bulk({ bytes, readSize, writeSize }) {
    const buf = bufferOf(writeSize)
    const bridge = Bridge.make(DefaultHost.host, { layer: NodeNet.layer })
    const { accept, close, dial, listen, read, write } = netNatives(bridge)
    const n = BigInt(readSize)
    try {
      const counter = new PatternCounter()
      let handlerDone!: () => void
      let handlerFailed!: (error: unknown) => void
      const received = new Promise<void>((resolve, reject) => {
        handlerDone = resolve
        handlerFailed = reject
      })
      received.catch(() => {}) // awaited below; a failure while the client still writes is not unhandled
      const handler = DefaultHost.fun("handler", 1, async ([conn]) => {
        try {
          for (;;) {
            let chunkOut = read.call([conn!, n])
            if (chunkOut instanceof Promise) chunkOut = await chunkOut
            const chunk = unwrap("read", chunkOut)
            if (!(chunk instanceof VvList)) throw new Error(`net.read: not a list: ${DefaultHost.show(chunk)}`)
            if (chunk.length === 0) break
            counter.add(bytesOf(chunk))
          }
          unwrap("close", await close.call([conn!])) // defer net.close(conn)
          handlerDone()
        } catch (error) {
          handlerFailed(error)
        }
        return DefaultHost.none()
      })

      const { address, listener } = await listenOn(bridge, listen)
      await accept.call([listener, handler]) // none, at once
      let connOut = dial.call([tcp, DefaultHost.chars(address)])
      if (connOut instanceof Promise) connOut = await connOut
      const conn = unwrap("dial", connOut)
      const count = bytes / writeSize
      for (let i = 0; i < count; i++) {
        let wroteOut = write.call([conn, buf])
        if (wroteOut instanceof Promise) wroteOut = await wroteOut
        const wrote = unwrap("write", wroteOut)
        if (wrote !== BigInt(writeSize)) throw new Error(`net.write: wrote ${DefaultHost.show(wrote)} of ${writeSize}`)
      }
      unwrap("close", await close.call([conn]))
      await received
      unwrap("close", await close.call([listener]))
      return { received: counter.bytes, errors: counter.errors }
    } finally {
      await bridge.dispose()
    }
  },

  /**
   * ping-pong: a fresh bridge per run; the server is `accept` with a handler echoing until EOF
   * (`read(conn, 65536)`, then `write(conn, chunk)` of the list it read), the client writes
   * message k (a 100-element list of ints built as a vv program builds it) and reads until the
   * whole echo is back (`read(conn, what is left)`), checking every piece.
   */
  async pingPong({ roundTrips, size }) {
    const msgs = messagesOf(size)
    const bridge = Bridge.make(DefaultHost.host, { layer: NodeNet.layer })
    const { accept, close, dial, listen, read, write } = netNatives(bridge)
    try {
      const handler = DefaultHost.fun("echo", 1, async ([conn]) => {
        try {
          for (;;) {
            let chunkOut = read.call([conn!, 65536n])
            if (chunkOut instanceof Promise) chunkOut = await chunkOut
            const chunk = unwrap("read", chunkOut)
            if (!(chunk instanceof VvList) || chunk.length === 0) break
            let wroteOut = write.call([conn!, chunk])
            if (wroteOut instanceof Promise) wroteOut = await wroteOut
            unwrap("write", wroteOut)
          }
        } finally {
          await close.call([conn!]) // defer net.close(conn)
        }
        return DefaultHost.none()
      })
      const { address, listener } = await listenOn(bridge, listen)
      await accept.call([listener, handler]) // none, at once
      let connOut = dial.call([tcp, DefaultHost.chars(address)])
      if (connOut instanceof Promise) connOut = await connOut
      const conn = unwrap("dial", connOut)
      let bytes = 0
      let errors = 0
      let round = 0
      rounds: for (; round < roundTrips; round++) {
        let wroteOut = write.call([conn, msgs[round & 0xff]!])
        if (wroteOut instanceof Promise) wroteOut = await wroteOut
        unwrap("write", wroteOut)
        let remaining = size
        while (remaining > 0) {
          let chunkOut = read.call([conn, BigInt(remaining)])
          if (chunkOut instanceof Promise) chunkOut = await chunkOut
          const chunk = unwrap("read", chunkOut)
          if (!(chunk instanceof VvList)) throw new Error(`net.read: not a list: ${DefaultHost.show(chunk)}`)
          const piece = bytesOf(chunk)
          if (!echoPieceOk(piece, round)) errors++
          if (piece.length === 0) break rounds // EOF: counted as an error, the count shows it
          bytes += piece.length
          remaining -= piece.length
        }
      }
      unwrap("close", await close.call([conn]))
      unwrap("close", await close.call([listener]))
      return { roundTrips: round, bytes, errors }
    } finally {
      await bridge.dispose()
    }
  },

  /**
   * accept: a fresh bridge per run; `accept` with a handler that counts the connection and
   * closes it (`defer net.close(conn)`); the client, sequentially, `dial`s, waits until the
   * handler saw the connection, and `close`s it.
   */
  async accept({ connections }) {
    const bridge = Bridge.make(DefaultHost.host, { layer: NodeNet.layer })
    const { accept, close, dial, listen } = netNatives(bridge)
    try {
      let accepted = 0
      let wake: (() => void) | undefined
      const handler = DefaultHost.fun("handler", 1, ([conn]) => {
        accepted++
        wake?.()
        return close.call([conn!])
      })
      const acceptedAtLeast = (k: number) =>
        accepted >= k ? undefined : new Promise<void>((resolve) => {
          wake = () => {
            if (accepted >= k) {
              wake = undefined
              resolve()
            }
          }
        })
      const { address, listener } = await listenOn(bridge, listen)
      await accept.call([listener, handler]) // none, at once
      const target = DefaultHost.chars(address)
      for (let i = 1; i <= connections; i++) {
        let connOut = dial.call([tcp, target])
        if (connOut instanceof Promise) connOut = await connOut
        const conn = unwrap("dial", connOut)
        await acceptedAtLeast(i)
        let closed = close.call([conn])
        if (closed instanceof Promise) closed = await closed
        unwrap("close", closed)
      }
      unwrap("close", await close.call([listener]))
      return { accepted }
    } finally {
      await bridge.dispose()
    }
  },

  /**
   * server-load: one bridge for the server's life; `accept` with a handler that loops
   * `read(conn, size - got)` (what is left of the current request), checks each piece, and
   * answers a complete request with `write(conn, reply)`, a 100-element list of ints built as a
   * vv program builds it; at EOF `close(conn)`. A read or write error ends the handler (the
   * client's count shows a lost reply).
   */
  async loadServer({ size }) {
    const tally: LoadTally = { requests: 0, errors: 0 }
    const answers = repliesOf(size)
    const bridge = Bridge.make(DefaultHost.host, { layer: NodeNet.layer })
    try {
      const { accept, close, listen, read, write } = netNatives(bridge)
      let live = 0
      const handler = DefaultHost.fun("handler", 1, async ([conn]) => {
        live++
        const parser = new RequestParser(size, answers, tally)
        try {
          for (;;) {
            let chunkOut = read.call([conn!, BigInt(parser.remaining)])
            if (chunkOut instanceof Promise) chunkOut = await chunkOut
            const chunk = unwrap("read", chunkOut)
            if (!(chunk instanceof VvList)) throw new Error(`net.read: not a list: ${DefaultHost.show(chunk)}`)
            if (chunk.length === 0) break
            const reply = parser.feed(bytesOf(chunk))
            if (reply !== undefined) {
              let wroteOut = write.call([conn!, reply])
              if (wroteOut instanceof Promise) wroteOut = await wroteOut
              const wrote = unwrap("write", wroteOut)
              if (wrote !== BigInt(size)) throw new Error(`net.write: wrote ${DefaultHost.show(wrote)} of ${size}`)
            }
          }
        } catch {
          // the connection ends; a lost reply shows in the client's count
        } finally {
          await close.call([conn!]) // defer net.close(conn)
          live--
        }
        return DefaultHost.none()
      })
      const { address, listener } = await listenOn(bridge, listen)
      await accept.call([listener, handler]) // none, at once
      return {
        port: Number(address.slice(address.lastIndexOf(":") + 1)),
        live: () => live,
        tally,
        close: async () => {
          unwrap("close", await close.call([listener]))
          await bridge.dispose()
        }
      }
    } catch (error) {
      await bridge.dispose()
      throw error
    }
  }
}
