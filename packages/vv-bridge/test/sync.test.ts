import { afterEach, describe, expect, it } from "vitest"
import { StdSync, VvRuntimeError } from "../src/index.js"
import { type Harness, isNone, makeHarness, settlesWithin, sleep, type VvValue } from "./support/harness.js"

const harnesses: Array<Harness> = []
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.dispose()))
})
const setup = () => {
  const h = makeHarness()
  harnesses.push(h)
  return h
}

describe("std/sync", () => {
  it("lock of a free mutex returns none at once", async () => {
    const h = setup()
    const m = await h.sync("mutex")
    const locked = h.callRaw("std/sync.vv", "lock", m)
    expect(locked instanceof Promise).toBe(false)
    expect(isNone(locked as VvValue)).toBe(true)
    expect(isNone(await h.sync("unlock", m))).toBe(true)
  }, 10_000)

  it("lock blocks a second locker until unlock", async () => {
    const h = setup()
    const m = await h.sync("mutex")
    await h.sync("lock", m)
    const second = h.sync("lock", m)
    expect(await settlesWithin(second, 50)).toBe(false)
    await h.sync("unlock", m)
    expect(isNone(await second)).toBe(true)
    // the second locker holds it now
    const third = h.sync("lock", m)
    expect(await settlesWithin(third, 30)).toBe(false)
    await h.sync("unlock", m)
    await third
    await h.sync("unlock", m)
  }, 10_000)

  it("waiting lockers get the mutex first come, first served", async () => {
    const h = setup()
    const m = await h.sync("mutex")
    await h.sync("lock", m)
    const order: Array<number> = []
    const lockers = [1, 2, 3].map((i) =>
      h.sync("lock", m).then(async () => {
        order.push(i)
        await sleep(5)
        await h.sync("unlock", m)
      })
    )
    await sleep(10)
    await h.sync("unlock", m)
    await Promise.all(lockers)
    expect(order).toEqual([1, 2, 3])
    const handle = h.bridge.host.toUserdata(m) as StdSync.Mutex
    expect(handle.isLocked).toBe(false)
  }, 10_000)

  it("a mutex keeps a shared counter consistent across concurrent tasks", async () => {
    const h = setup()
    const m = await h.sync("mutex")
    let counter = 0
    const task = async () => {
      for (let i = 0; i < 20; i++) {
        await h.sync("lock", m)
        const seen = counter
        await sleep(0)
        counter = seen + 1
        await h.sync("unlock", m)
      }
    }
    await Promise.all([task(), task(), task()])
    expect(counter).toBe(60)
  }, 10_000)

  it("unlock of an unlocked mutex is a runtime error", async () => {
    const h = setup()
    const m = await h.sync("mutex")
    expect(() => h.callRaw("std/sync.vv", "unlock", m)).toThrow(
      new VvRuntimeError("unlock of an unlocked mutex", { native: "unlock" })
    )
    await h.sync("lock", m)
    await h.sync("unlock", m)
    expect(() => h.callRaw("std/sync.vv", "unlock", m)).toThrow("unlock of an unlocked mutex")
  }, 10_000)

  it("wrong arguments are runtime errors", async () => {
    const h = setup()
    const ch = await h.channel("make")
    const raw = (name: string, ...args: Array<VvValue>) => () => h.callRaw("std/sync.vv", name, ...args)
    expect(raw("lock", ch)).toThrow("lock expects m to be a mutex, got a channel")
    expect(raw("unlock", 1n)).toThrow("unlock expects m to be a mutex, got an int")
    expect(raw("lock")).toThrow("lock expects 1 argument (m), got 0")
    expect(raw("mutex", true)).toThrow("mutex expects no arguments, got 1")
  }, 10_000)
})
