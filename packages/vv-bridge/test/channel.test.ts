import { afterEach, describe, expect, it } from "vitest"
import { StdChannel, VvRuntimeError } from "../src/index.js"
import {
  chars,
  errorMessage,
  field,
  type Harness,
  int,
  isNone,
  list,
  makeHarness,
  settlesWithin,
  show,
  sleep,
  tryOk,
  type VvValue
} from "./support/harness.js"

const harnesses: Array<Harness> = []
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.dispose()))
})
const setup = () => {
  const h = makeHarness()
  harnesses.push(h)
  return h
}

describe("std/channel", () => {
  it("make returns a channel; send blocks until a receiver takes the value", async () => {
    const h = setup()
    const ch = await h.channel("make")
    expect(show(ch)).toBe("<userdata>")
    const value = chars("hello")
    const sending = h.channel("send", ch, value)
    expect(await settlesWithin(sending, 50)).toBe(false)
    const got = tryOk(await h.channel("recv", ch, int(1000)))
    expect(got).toBe(value) // shared by reference, not copied
    expect(isNone(await sending)).toBe(true)
  }, 10_000)

  it("a send to a waiting receiver completes at once", async () => {
    const h = setup()
    const ch = await h.channel("make")
    const receiving = h.channel("recv", ch, int(0))
    await sleep(10)
    const sent = h.callRaw("std/channel.vv", "send", ch, 42n)
    expect(sent instanceof Promise).toBe(false)
    expect(isNone(sent as VvValue)).toBe(true)
    expect(tryOk(await receiving)).toBe(42n)
  }, 10_000)

  it("recv with a timeout is error(\"timeout\") when nobody sends", async () => {
    const h = setup()
    const ch = await h.channel("make")
    const started = Date.now()
    expect(errorMessage(await h.channel("recv", ch, int(40)))).toBe("timeout")
    expect(Date.now() - started).toBeGreaterThanOrEqual(30)
    // a sender arriving later is not lost to the timed-out receiver
    const sending = h.channel("send", ch, 1n)
    expect(tryOk(await h.channel("recv", ch, int(1000)))).toBe(1n)
    expect(isNone(await sending)).toBe(true)
  }, 10_000)

  it("recv with ms <= 0 waits until a value comes", async () => {
    const h = setup()
    for (const ms of [0n, -1n]) {
      const ch = await h.channel("make")
      const receiving = h.channel("recv", ch, ms)
      expect(await settlesWithin(receiving, 80)).toBe(false)
      await h.channel("send", ch, 7n)
      expect(tryOk(await receiving)).toBe(7n)
    }
  }, 10_000)

  it("values are delivered once each, in order of the waiting senders", async () => {
    const h = setup()
    const ch = await h.channel("make")
    const sends = [1n, 2n, 3n].map((v) => h.channel("send", ch, v))
    const got: Array<VvValue> = []
    for (let i = 0; i < 3; i++) got.push(tryOk(await h.channel("recv", ch, int(1000))))
    expect(got).toEqual([1n, 2n, 3n])
    await Promise.all(sends)
    expect(errorMessage(await h.channel("recv", ch, int(20)))).toBe("timeout")
  }, 10_000)

  it("select returns { index, value } of a ready channel", async () => {
    const h = setup()
    const a = await h.channel("make")
    const b = await h.channel("make")
    const c = await h.channel("make")
    // a sender already waiting
    const sending = h.channel("send", c, chars("c"))
    const ready = tryOk(await h.channel("select", list(a, b, c), int(1000)))
    expect(field(ready, "index")).toBe(2n)
    expect(show(field(ready, "value"))).toBe("c")
    await sending
    // a sender arriving while select waits
    const waiting = h.channel("select", list(a, b, c), int(0))
    await sleep(20)
    await h.channel("send", a, 5n)
    const picked = tryOk(await waiting)
    expect(field(picked, "index")).toBe(0n)
    expect(field(picked, "value")).toBe(5n)
    // the select's other registrations are gone: a later send on b waits for a receiver
    const later = h.channel("send", b, 6n)
    expect(await settlesWithin(later, 30)).toBe(false)
    expect(tryOk(await h.channel("recv", b, int(1000)))).toBe(6n)
    await later
  }, 10_000)

  it("select times out with error(\"timeout\")", async () => {
    const h = setup()
    const quiet = await h.channel("make")
    const r = await h.channel("select", list(quiet), int(100))
    expect(errorMessage(r)).toBe("timeout")
    expect(errorMessage(await h.channel("select", list(), int(10)))).toBe("timeout")
  }, 10_000)

  it("select picks among several ready channels without starving any", async () => {
    const h = setup()
    const a = await h.channel("make")
    const b = await h.channel("make")
    const seen = new Set<bigint>()
    for (let i = 0; i < 64 && seen.size < 2; i++) {
      const sa = h.channel("send", a, 0n)
      const sb = h.channel("send", b, 1n)
      const picked = tryOk(await h.channel("select", list(a, b), int(1000)))
      seen.add(field(picked, "index") as bigint)
      // drain the other one
      tryOk(await h.channel("select", list(a, b), int(1000)))
      await Promise.all([sa, sb])
    }
    expect(seen).toEqual(new Set([0n, 1n]))
  }, 10_000)

  it("a value is taken by exactly one of several receivers", async () => {
    const h = setup()
    const ch = await h.channel("make")
    const receivers = [
      h.channel("recv", ch, int(500)),
      h.channel("select", list(ch), int(500)),
      h.channel("recv", ch, int(500))
    ]
    await sleep(10)
    await h.channel("send", ch, 9n)
    const results = await Promise.all(receivers)
    const oks = results.filter((r) => {
      try {
        tryOk(r)
        return true
      } catch {
        return false
      }
    })
    expect(oks.length).toBe(1)
    expect(results.filter((r) => show(r).includes("timeout")).length).toBe(2)
  }, 10_000)

  it("wrong arguments are runtime errors", async () => {
    const h = setup()
    const ch = await h.channel("make")
    const m = await h.sync("mutex")
    const raw = (name: string, ...args: Array<VvValue>) => () => h.callRaw("std/channel.vv", name, ...args)
    expect(raw("make", 1n)).toThrow("make expects no arguments, got 1")
    expect(raw("send", m, 1n)).toThrow("send expects ch to be a channel, got a mutex")
    expect(raw("send", ch)).toThrow("send expects 2 arguments (ch, v), got 1")
    expect(raw("recv", ch, chars("10"))).toThrow("recv expects ms to be an int, got a list")
    expect(raw("recv", list(ch), 10n)).toThrow("recv expects ch to be a channel, got a list")
    expect(raw("select", ch, 10n)).toThrow("select expects chs to be a list of channels, got a channel")
    expect(raw("select", list(ch, 1n), 10n)).toThrow(
      "select expects chs to be a list of channels, got a list with an int at index 1"
    )
    expect(raw("select", list(ch), 10n, 1n)).toThrow(VvRuntimeError)
  }, 10_000)

  it("a channel's handle is a StdChannel.Channel", async () => {
    const h = setup()
    const ch = await h.channel("make")
    const handle = h.bridge.host.toUserdata(ch)
    expect(handle).toBeInstanceOf(StdChannel.Channel)
    expect((handle as StdChannel.Channel<VvValue>).hasSender).toBe(false)
  }, 10_000)
})
