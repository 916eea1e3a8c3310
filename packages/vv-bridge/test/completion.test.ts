/**
 * Natives whose work completes at once return their value, with no fiber kept and no promise;
 * natives that wait return a promise, resolved by the same single run (never run again), and
 * are still stopped and cleaned up by `dispose`.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { DefaultHost, VvRuntimeError } from "../src/index.js"
import {
  activeResources,
  addressOf,
  bytesOf,
  chars,
  cleanupSockets,
  errorMessage,
  eventually,
  fdCount,
  fun,
  type Harness,
  int,
  isNone,
  isOkNone,
  makeHarness,
  networks,
  resourcesAbove,
  tryOk,
  type VvValue
} from "./support/harness.js"

const harnesses: Array<Harness> = []
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.dispose()))
})
afterAll(cleanupSockets)

const isPromise = (u: unknown): u is Promise<VvValue> => u instanceof Promise

/** The value a native returned at once; fails the test when it returned a promise. */
const now = (r: VvValue | Promise<VvValue>): VvValue => {
  expect(isPromise(r), "the native returned a promise").toBe(false)
  return r as VvValue
}

describe.each(networks)("natives over $name", (network) => {
  const setup = () => {
    const h = makeHarness(network.layer())
    harnesses.push(h)
    return h
  }
  const net = (h: Harness, name: string, ...args: Array<VvValue>) => h.callRaw("std/net.vv", name, ...args)

  /** listen + accept (the handler hands its connection over a channel) + dial. */
  const pair = async (h: Harness) => {
    const listener = tryOk(await h.net("listen", chars(network.network), chars(network.listenAddress())))
    const conns = await h.channel("make")
    await h.net("accept", listener, fun("handler", 1, ([conn]) => h.channel("send", conns, conn!)))
    const client = tryOk(await h.net("dial", chars(network.network), chars(addressOf(listener))))
    const server = tryOk(await h.channel("recv", conns, int(5000)))
    return { listener, client, server }
  }

  it("a read with data buffered, a write the OS takes, deadlines and close return at once; a read that waits returns a promise", async () => {
    const h = setup()
    const { client, listener, server } = await pair(h)

    // nothing buffered: the read waits, as a promise
    const waiting = net(h, "read", server, int(10))
    expect(isPromise(waiting)).toBe(true)
    expect(tryOk(now(net(h, "write", client, chars("hello"))))).toBe(5n)
    expect(bytesOf(tryOk(await waiting))).toEqual([104, 101, 108, 108, 111])

    // "abc" in one write: once its first byte is read, the rest is buffered and read at once
    expect(tryOk(now(net(h, "write", client, chars("abc"))))).toBe(3n)
    const first = net(h, "read", server, int(1))
    expect(bytesOf(tryOk(await first))).toEqual([97])
    expect(bytesOf(tryOk(now(net(h, "read", server, int(10)))))).toEqual([98, 99])
    expect(bytesOf(tryOk(now(net(h, "read", server, int(0)))))).toEqual([])

    expect(isOkNone(now(net(h, "set_read_timeout", server, int(60_000))))).toBe(true)
    expect(isOkNone(now(net(h, "set_write_timeout", server, int(0))))).toBe(true)
    expect(isOkNone(now(net(h, "close", client)))).toBe(true)
    expect(errorMessage(now(net(h, "close", client)))).toMatch(/use of closed network connection$/)
    expect(errorMessage(now(net(h, "write", client, chars("x"))))).toMatch(/use of closed network connection$/)

    // EOF: at once or after a wait, the same ok([])
    const eof = net(h, "read", server, int(10))
    expect(bytesOf(tryOk(isPromise(eof) ? await eof : eof))).toEqual([])
    expect(bytesOf(tryOk(now(net(h, "read", server, int(10)))))).toEqual([])
    expect(isOkNone(now(net(h, "close", server)))).toBe(true)
    expect(isOkNone(now(net(h, "close", listener)))).toBe(true)
  })

  it("a write that waits for its reader is one run: every byte arrives once, in order", async () => {
    const h = setup()
    const { client, server } = await pair(h)
    const size = 32 * 1024 * 1024 // more than a socket buffer and MemoryNet's: the write must wait
    const data = new Uint8Array(size)
    for (let i = 0; i < size; i++) data[i] = i & 255
    const write = net(h, "write", client, DefaultHost.host.bytes(data))
    expect(isPromise(write)).toBe(true)
    let received = 0
    let wrong = 0
    while (received < size) {
      const r = net(h, "read", server, int(65536))
      const chunk = tryOk(isPromise(r) ? await r : r)
      const view = (chunk as DefaultHost.VvList).byteView()!
      if (view.length === 0) break
      if (view[0] !== (received & 255) || view[view.length - 1] !== ((received + view.length - 1) & 255)) wrong++
      received += view.length
    }
    expect(tryOk(await write)).toBe(BigInt(size))
    expect({ received, wrong }).toEqual({ received: size, wrong: 0 })
    expect(isOkNone(now(net(h, "close", client)))).toBe(true)
    const eof = net(h, "read", server, int(10))
    expect(bytesOf(tryOk(isPromise(eof) ? await eof : eof))).toEqual([]) // nothing written twice
  }, 30_000)

  it("a write lends a byte list's storage: changing the list while the write waits changes nothing sent", async () => {
    const h = setup()
    const { client, server } = await pair(h)
    const size = 32 * 1024 * 1024
    const list = DefaultHost.host.bytes(new Uint8Array(size).fill(1)) as DefaultHost.VvList
    const write = net(h, "write", client, list)
    expect(isPromise(write)).toBe(true)
    for (let i = 0; i < size; i += 4096) list.set(i, 2n) // another task changing the list meanwhile
    list.push(3n)
    let received = 0
    let changed = 0
    while (received < size) {
      const r = net(h, "read", server, int(65536))
      const view = (tryOk(isPromise(r) ? await r : r) as DefaultHost.VvList).byteView()!
      if (view.length === 0) break
      for (let i = 0; i < view.length; i++) if (view[i] !== 1) changed++
      received += view.length
    }
    expect(tryOk(await write)).toBe(BigInt(size))
    expect({ received, changed }).toEqual({ received: size, changed: 0 })
    expect([list.get(0), list.get(1), list.length]).toEqual([2n, 1n, size + 1])
  }, 30_000)

  it(
    "dispose interrupts a native that waited after starting at once (a write behind backpressure), and fds and handles return to baseline",
    async () => {
      const fdsBefore = fdCount()
      const resourcesBefore = activeResources()
      const h = makeHarness(network.layer())
      const { client, server } = await pair(h)
      const write = net(h, "write", client, DefaultHost.host.bytes(new Uint8Array(32 * 1024 * 1024)))
      const read = net(h, "read", client, int(10))
      expect(isPromise(write) && isPromise(read)).toBe(true)
      expect(isOkNone(now(net(h, "set_read_timeout", server, int(60_000))))).toBe(true)
      await h.dispose()
      const ended = /interrupted: the program has ended \(its bridge was disposed\)/
      await expect(write).rejects.toThrow(ended)
      await expect(read).rejects.toThrow(ended)
      await expect(write).rejects.toBeInstanceOf(VvRuntimeError)
      expect(() => net(h, "read", server, int(1))).toThrow("read: the program has ended")
      const leftOver = () => ({ fds: Math.max(0, fdCount() - fdsBefore), resources: resourcesAbove(resourcesBefore) })
      await eventually(() => leftOver().fds <= 0 && Object.keys(leftOver().resources).length === 0).catch(() =>
        undefined
      )
      expect(leftOver()).toEqual({ fds: 0, resources: {} })
    },
    30_000
  )
})

describe("channel and mutex natives", () => {
  it("a send to a waiting receiver, a receive from a waiting sender and a free lock return at once", async () => {
    const h = makeHarness()
    harnesses.push(h)
    const channel = (name: string, ...args: Array<VvValue>) => h.callRaw("std/channel.vv", name, ...args)
    const sync = (name: string, ...args: Array<VvValue>) => h.callRaw("std/sync.vv", name, ...args)
    const ch = now(channel("make"))
    const recv = channel("recv", ch, int(0))
    expect(isPromise(recv)).toBe(true)
    expect(isNone(now(channel("send", ch, 1n)))).toBe(true)
    expect(tryOk(await recv)).toBe(1n)
    const send = channel("send", ch, 2n)
    expect(isPromise(send)).toBe(true)
    expect(tryOk(now(channel("recv", ch, int(0))))).toBe(2n)
    expect(isNone(await send)).toBe(true)

    const m = now(sync("mutex"))
    expect(isNone(now(sync("lock", m)))).toBe(true)
    const lock = sync("lock", m)
    expect(isPromise(lock)).toBe(true)
    expect(isNone(now(sync("unlock", m)))).toBe(true)
    expect(isNone(await lock)).toBe(true)
    expect(isNone(now(sync("unlock", m)))).toBe(true)
  })
})
