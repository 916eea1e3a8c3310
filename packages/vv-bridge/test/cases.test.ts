/**
 * The programs of cases/vv/*.vv, hand-translated onto the test host (vv's `defer` is
 * `finally`, `try` is `tryOk`), over MemoryNet and real loopback sockets on port 0.
 */
import { afterEach, describe, expect, it } from "vitest"
import {
  addressOf,
  bytesOf,
  chars,
  errorMessage,
  fun,
  type Harness,
  int,
  ints,
  list,
  makeHarness,
  memoryTcp,
  nodeTcp,
  show,
  tryOk
} from "./support/harness.js"

const harnesses: Array<Harness> = []
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.dispose()))
})

describe.each([memoryTcp, nodeTcp])("cases/vv over $name", (network) => {
  const setup = () => {
    const h = makeHarness(network.layer())
    harnesses.push(h)
    return h
  }

  it("counter.vv: concurrent handlers, a mutex-guarded counter, completion over a channel", async () => {
    const h = setup()
    const listener = tryOk(await h.net("listen", chars("tcp"), chars(network.listenAddress())))
    try {
      const mu = await h.sync("mutex")
      let served = 0
      const done = await h.channel("make")
      const handler = fun("handler", 1, async ([conn]) => {
        try {
          await h.sync("lock", mu)
          served = served + 1
          await h.sync("unlock", mu)
          return await h.channel("send", done, chars("done"))
        } finally {
          await h.net("close", conn!)
        }
      })
      await h.net("accept", listener, handler)
      for (let i = 0; i < 20; i++) {
        const c = tryOk(await h.net("dial", chars("tcp"), chars(addressOf(listener))))
        await h.net("close", c)
      }
      for (let j = 0; j < 20; j++) tryOk(await h.channel("recv", done, int(5000)))
      expect(`served ${served} connections`).toBe("served 20 connections")
    } finally {
      await h.net("close", listener)
    }
    expect(h.logs).toEqual([])
  }, 15_000)

  it("echo.vv: the handler echoes what it read and reports it over a channel", async () => {
    const h = setup()
    const listener = tryOk(await h.net("listen", chars("tcp"), chars(network.listenAddress())))
    const echoed = await h.channel("make")
    const echo = fun("echo", 1, async ([conn]) => {
      try {
        const data = tryOk(await h.net("read", conn!, int(1024)))
        tryOk(await h.net("write", conn!, data))
        return await h.channel("send", echoed, data)
      } finally {
        await h.net("close", conn!)
      }
    })
    await h.net("accept", listener, echo)
    const client = tryOk(await h.net("dial", chars("tcp"), chars(addressOf(listener))))
    tryOk(await h.net("write", client, chars("hello over vv")))
    const back = tryOk(await h.net("read", client, int(1024)))
    const seen = tryOk(await h.channel("recv", echoed, int(5000)))
    expect(`client got: ${show(back)}`).toBe(
      "client got: [104, 101, 108, 108, 111, 32, 111, 118, 101, 114, 32, 118, 118]"
    )
    expect(`server saw ${bytesOf(seen).length} bytes`).toBe("server saw 13 bytes")
    await h.net("close", client)
    await h.net("close", listener)
  }, 15_000)

  it("line_reader.vv: UTF-8 bytes written as ints arrive intact", async () => {
    const h = setup()
    const listener = tryOk(await h.net("listen", chars("tcp"), chars(network.listenAddress())))
    await h.net(
      "accept",
      listener,
      fun("greet", 1, async ([conn]) => {
        try {
          return tryOk(await h.net("write", conn!, ints([72, 105, 32, 226, 130, 172, 10])))
        } finally {
          await h.net("close", conn!)
        }
      })
    )
    const client = tryOk(await h.net("dial", chars("tcp"), chars(addressOf(listener))))
    const received: Array<number> = []
    for (let i = 0; i < 10 && !received.includes(10); i++) {
      const chunk = bytesOf(tryOk(await h.net("read", client, int(3))))
      if (chunk.length === 0) break
      received.push(...chunk)
    }
    const line = new TextDecoder().decode(Uint8Array.from(received)).split("\n")[0]
    expect(`line: ${line}`).toBe("line: Hi €")
    await h.net("close", client)
    await h.net("close", listener)
  }, 15_000)

  it("sync_chan.vv: a mutex round trip, then a select that times out", async () => {
    const h = setup()
    const m = await h.sync("mutex")
    await h.sync("lock", m)
    await h.sync("unlock", m)
    const quiet = await h.channel("make")
    const r = await h.channel("select", list(quiet), int(100))
    expect(`select timed out: ${errorMessage(r)}`).toBe("select timed out: timeout")
  }, 15_000)

  it("refused.vv: dialing a closed port is an error whose message contains \"connection refused\"", async () => {
    const h = setup()
    const listener = tryOk(await h.net("listen", chars("tcp"), chars(network.listenAddress())))
    const address = addressOf(listener)
    await h.net("close", listener)
    expect(() => tryOk(h.bridge.host.error("x"))).toThrow("unhandled error: x")
    const dialed = await h.net("dial", chars("tcp"), chars(address))
    expect(() => tryOk(dialed)).toThrow(/^unhandled error: dial tcp .*: connect: connection refused$/)
  }, 15_000)
})
