import { afterAll, afterEach, describe, expect, it } from "vitest"
import { VvRuntimeError } from "../src/index.js"
import {
  addressOf,
  bytes,
  bytesOf,
  char,
  chars,
  cleanupSockets,
  error,
  errorMessage,
  eventually,
  field,
  fun,
  type Harness,
  int,
  ints,
  isNone,
  isOkNone,
  list,
  makeHarness,
  networks,
  record,
  settlesWithin,
  sleep,
  tryOk,
  type VvValue
} from "./support/harness.js"

const harnesses: Array<Harness> = []
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.dispose()))
})
afterAll(cleanupSockets)

/** Reads until `n` bytes arrived or EOF (bounded by `n` reads). */
const readFull = async (h: Harness, conn: VvValue, n: number): Promise<Array<number>> => {
  const out: Array<number> = []
  for (let i = 0; i < n && out.length < n; i++) {
    const chunk = bytesOf(tryOk(await h.net("read", conn, int(n - out.length))))
    if (chunk.length === 0) break
    out.push(...chunk)
  }
  return out
}

describe.each(networks)("std/net over $name", (network) => {
  const setup = () => {
    const h = makeHarness(network.layer())
    harnesses.push(h)
    return h
  }

  /** listen + accept (handlers hand their connection over a channel) + dial. */
  const pair = async (h: Harness) => {
    const listener = tryOk(await h.net("listen", chars(network.network), chars(network.listenAddress())))
    const conns = await h.channel("make")
    const handler = fun("handler", 1, ([conn]) => h.channel("send", conns, conn!))
    await h.net("accept", listener, handler)
    const client = tryOk(await h.net("dial", chars(network.network), chars(addressOf(listener))))
    const server = tryOk(await h.channel("recv", conns, int(5000)))
    return { listener, client, server }
  }

  it("client server: the handler hands its connection over a channel and five bytes cross", async () => {
    const h = setup()
    const listener = tryOk(await h.net("listen", chars(network.network), chars(network.listenAddress())))
    const conns = await h.channel("make")
    const handler = fun("handler", 1, ([conn]) => h.channel("send", conns, conn!))
    const accepted = h.callRaw("std/net.vv", "accept", listener, handler)
    expect(accepted instanceof Promise).toBe(false)
    expect(isNone(accepted as VvValue)).toBe(true)

    const client = tryOk(await h.net("dial", chars(network.network), chars(addressOf(listener))))
    const server = tryOk(await h.channel("recv", conns, int(2000)))
    expect(tryOk(await h.net("write", client, chars("hello")))).toBe(5n)
    expect(bytesOf(tryOk(await h.net("read", server, int(5))))).toEqual([104, 101, 108, 108, 111])

    // the handler has returned; its connection stays open until vv code closes it
    expect(tryOk(await h.net("write", server, chars("ok")))).toBe(2n)
    expect(bytesOf(tryOk(await h.net("read", client, int(2))))).toEqual([111, 107])

    for (const x of [server, client, listener]) expect(isOkNone(await h.net("close", x))).toBe(true)
    expect(h.logs).toEqual([])
  }, 10_000)

  it("read returns ok([]) at EOF and for n = 0", async () => {
    const h = setup()
    const { client, server } = await pair(h)
    expect(bytesOf(tryOk(await h.net("read", server, int(0))))).toEqual([])
    tryOk(await h.net("write", client, chars("a")))
    tryOk(await h.net("close", client))
    expect(bytesOf(tryOk(await h.net("read", server, int(10))))).toEqual([97])
    expect(bytesOf(tryOk(await h.net("read", server, int(10))))).toEqual([])
    expect(bytesOf(tryOk(await h.net("read", server, int(10))))).toEqual([])
  }, 10_000)

  it("writes chars and ints as their low 8 bits", async () => {
    const h = setup()
    const { client, server } = await pair(h)
    const data = list(
      256n,
      -1n,
      65n,
      char("A"),
      char("é"),
      char("€"),
      2n ** 63n - 1n,
      -(2n ** 63n),
      0n,
      511n,
      -256n
    )
    expect(tryOk(await h.net("write", client, data))).toBe(11n)
    expect(await readFull(h, server, 11)).toEqual([0, 255, 65, 65, 0xe9, 0xac, 255, 0, 0, 255, 0])
    // a byte list made by read is written back as it is
    tryOk(await h.net("write", server, bytes([1, 2, 3])))
    const back = tryOk(await h.net("read", client, int(3)))
    expect(tryOk(await h.net("write", client, back))).toBe(3n)
    expect(await readFull(h, server, 3)).toEqual([1, 2, 3])
    // an empty list writes nothing
    expect(tryOk(await h.net("write", client, list()))).toBe(0n)
  }, 10_000)

  it("a bad element (a bool, a record) is a runtime error before any byte is written", async () => {
    const h = setup()
    const { client, server } = await pair(h)
    expect(() => h.callRaw("std/net.vv", "write", client, list(1n, 2n, true))).toThrow(
      new VvRuntimeError("write expects bytes to be a list of ints or chars, got a list with a bool at index 2", {
        native: "write"
      })
    )
    expect(() => h.callRaw("std/net.vv", "write", client, list(char("x"), record({ a: 1n })))).toThrow(
      "write expects bytes to be a list of ints or chars, got a list with a record at index 1"
    )
    expect(() => h.callRaw("std/net.vv", "write", client, list(1.5))).toThrow("got a list with a float at index 0")
    expect(() => h.callRaw("std/net.vv", "write", client, list(list(1n)))).toThrow("got a list with a list at index 0")
    expect(() => h.callRaw("std/net.vv", "write", client, record({}))).toThrow(
      "write expects bytes to be a list of ints or chars, got a record"
    )
    // nothing of the rejected lists reached the peer
    tryOk(await h.net("write", client, ints([7])))
    expect(bytesOf(tryOk(await h.net("read", server, int(100))))).toEqual([7])
  }, 10_000)

  it("a second close is an error result; so is any use of a closed connection", async () => {
    const h = setup()
    const { client, listener, server } = await pair(h)
    expect(isOkNone(await h.net("close", client))).toBe(true)
    const again = errorMessage(await h.net("close", client))
    expect(again).toMatch(/^close (tcp|unix) .*: use of closed network connection$/)
    expect(errorMessage(await h.net("read", client, int(1)))).toContain("use of closed network connection")
    expect(errorMessage(await h.net("write", client, chars("x")))).toContain("use of closed network connection")
    expect(errorMessage(await h.net("set_read_timeout", client, int(10)))).toContain("use of closed network connection")

    expect(isOkNone(await h.net("close", listener))).toBe(true)
    expect(errorMessage(await h.net("close", listener))).toBe(
      `close ${network.network} ${addressOf(listener)}: use of closed network connection`
    )
    // closing the listener leaves accepted connections open
    expect(bytesOf(tryOk(await h.net("read", server, int(1))))).toEqual([])
    expect(isOkNone(await h.net("close", server))).toBe(true)
    expect(errorMessage(await h.net("close", server))).toContain("use of closed network connection")
  }, 10_000)

  it("a read past an absolute deadline is an i/o timeout; after clearing it the next read gets the data", async () => {
    const h = setup()
    const { client, server } = await pair(h)
    expect(isOkNone(await h.net("set_read_timeout", server, int(50)))).toBe(true)
    const started = Date.now()
    const timedOut = errorMessage(await h.net("read", server, int(10)))
    expect(timedOut).toContain("i/o timeout")
    expect(timedOut).toMatch(/^read (tcp|unix) /)
    expect(Date.now() - started).toBeGreaterThanOrEqual(40)
    // the deadline stays passed until it is moved
    expect(errorMessage(await h.net("read", server, int(10)))).toContain("i/o timeout")

    tryOk(await h.net("write", client, chars("hi")))
    expect(isOkNone(await h.net("set_read_timeout", server, int(0)))).toBe(true)
    expect(bytesOf(tryOk(await h.net("read", server, int(10))))).toEqual([104, 105])
  }, 10_000)

  it("reads waiting for data: each wakes for bytes that arrive, a deadline or a close by another task", async () => {
    const h = setup()
    const { client, server } = await pair(h)
    // two tasks wait on one connection: the first bytes go to one, the next to the other
    const first = h.net("read", server, int(10))
    const second = h.net("read", server, int(10))
    expect(await settlesWithin(first, 20)).toBe(false)
    let settled = 0
    for (const read of [first, second]) read.then(() => settled++, () => settled++)
    tryOk(await h.net("write", client, chars("a")))
    await eventually(() => settled === 1)
    expect(await settlesWithin(first, 20) && await settlesWithin(second, 1)).toBe(false) // one still waits
    tryOk(await h.net("write", client, chars("b")))
    const got = [bytesOf(tryOk(await first)), bytesOf(tryOk(await second))].flat().sort()
    expect(got).toEqual([97, 98])
    // a waiting read is ended by a deadline set while it waits
    const timed = h.net("read", server, int(10))
    expect(await settlesWithin(timed, 20)).toBe(false)
    tryOk(await h.net("set_read_timeout", server, int(10)))
    expect(errorMessage(await timed)).toContain("i/o timeout")
    tryOk(await h.net("set_read_timeout", server, int(0)))
    // and by a close from another task, with Go's message, not EOF
    const closed = h.net("read", server, int(10))
    expect(await settlesWithin(closed, 20)).toBe(false)
    expect(isOkNone(await h.net("close", server))).toBe(true)
    expect(errorMessage(await closed)).toMatch(/^read (tcp|unix) .*use of closed network connection$/)
  }, 10_000)

  it("deadlines are absolute: set once, they cover a later read; ms < 0 clears", async () => {
    const h = setup()
    const { client, server } = await pair(h)
    tryOk(await h.net("set_read_timeout", server, int(30)))
    await sleep(60)
    expect(errorMessage(await h.net("read", server, int(1)))).toContain("i/o timeout")

    tryOk(await h.net("set_read_timeout", server, int(30)))
    tryOk(await h.net("set_read_timeout", server, int(-5)))
    const reading = h.net("read", server, int(5))
    await sleep(80)
    tryOk(await h.net("write", client, chars("late")))
    expect(bytesOf(tryOk(await reading))).toEqual([108, 97, 116, 101])

    expect(isOkNone(await h.net("set_write_timeout", client, int(1000)))).toBe(true)
    expect(isOkNone(await h.net("set_write_timeout", client, int(0)))).toBe(true)
  }, 10_000)

  it(
    "a refused dial is an error result: \"connection refused\" (tcp), \"no such file or directory\" (unix)",
    async () => {
      const h = setup()
      const listener = tryOk(await h.net("listen", chars(network.network), chars(network.listenAddress())))
      const address = addressOf(listener)
      tryOk(await h.net("close", listener))
      const refused = errorMessage(await h.net("dial", chars(network.network), chars(address)))
      expect(refused).toBe(
        network.network === "tcp"
          ? `dial tcp ${address}: connect: connection refused`
          : `dial unix ${address}: connect: no such file or directory`
      )
    },
    10_000
  )

  it("bad addresses and networks are error results with Go's messages", async () => {
    const h = setup()
    expect(errorMessage(await h.net("dial", chars("tcpx"), chars("127.0.0.1:1")))).toBe(
      "dial tcpx: unknown network tcpx"
    )
    expect(errorMessage(await h.net("dial", chars("tcp"), chars("::1:80")))).toBe(
      "dial tcp: address ::1:80: too many colons in address"
    )
    expect(errorMessage(await h.net("listen", chars("tcp"), chars("127.0.0.1:70000")))).toContain("invalid port")
  }, 10_000)

  it("a failing handler does not stop the accept loop; its error goes to the host's log", async () => {
    const h = setup()
    const listener = tryOk(await h.net("listen", chars(network.network), chars(network.listenAddress())))
    const conns = await h.channel("make")
    let calls = 0
    const handler = fun("handler", 1, async ([conn]) => {
      calls++
      if (calls === 1) throw new VvRuntimeError("assertion failed at handler.vv:3")
      if (calls === 2) return error("bad request")
      return h.channel("send", conns, conn!)
    })
    await h.net("accept", listener, handler)
    const clients: Array<VvValue> = []
    for (let i = 0; i < 3; i++) {
      clients.push(tryOk(await h.net("dial", chars(network.network), chars(addressOf(listener)))))
    }
    const server = tryOk(await h.channel("recv", conns, int(5000)))
    await eventually(() => h.logs.length >= 2)
    expect(h.logs.map((l) => l.level)).toEqual(["error", "error"])
    expect(h.logs.some((l) => /handler failed .*assertion failed at handler\.vv:3/.test(l.message))).toBe(true)
    expect(h.logs.some((l) => /handler returned an error .*bad request/.test(l.message))).toBe(true)
    // the failed handlers' connections were not closed for them
    tryOk(await h.net("write", clients[0]!, chars("x")))
    tryOk(await h.net("write", server, chars("y")))
    expect(bytesOf(tryOk(await h.net("read", clients[2]!, int(1))))).toEqual([121])
  }, 10_000)

  it("handlers run concurrently", async () => {
    const h = setup()
    const listener = tryOk(await h.net("listen", chars(network.network), chars(network.listenAddress())))
    const done = await h.channel("make")
    // each handler waits for its client's byte before answering: all three must be live at once
    const handler = fun("handler", 1, async ([conn]) => {
      const got = tryOk(await h.net("read", conn!, int(1)))
      tryOk(await h.net("write", conn!, got))
      await h.net("close", conn!)
      return h.channel("send", done, got)
    })
    await h.net("accept", listener, handler)
    const clients: Array<VvValue> = []
    for (let i = 0; i < 3; i++) {
      clients.push(tryOk(await h.net("dial", chars(network.network), chars(addressOf(listener)))))
    }
    for (let i = 2; i >= 0; i--) {
      tryOk(await h.net("write", clients[i]!, ints([i])))
      expect(bytesOf(tryOk(await h.net("read", clients[i]!, int(1))))).toEqual([i])
      expect(bytesOf(tryOk(await h.channel("recv", done, int(5000))))).toEqual([i])
    }
  }, 10_000)

  it("wrong argument counts and kinds are runtime errors, never error results", async () => {
    const h = setup()
    const { client, listener } = await pair(h)
    const raw = (name: string, ...args: Array<VvValue>) => () => h.callRaw("std/net.vv", name, ...args)
    expect(raw("read", listener, int(1))).toThrow("read expects conn to be a connection, got a listener")
    expect(raw("read", client)).toThrow("read expects 2 arguments (conn, n), got 1")
    expect(raw("read", client, int(1), int(2))).toThrow("read expects 2 arguments (conn, n), got 3")
    expect(raw("read", client, int(-1))).toThrow("read expects n to be a non-negative int, got -1")
    expect(raw("read", client, 1.5)).toThrow("read expects n to be an int, got a float")
    expect(raw("read", chars("conn"), int(1))).toThrow("read expects conn to be a connection, got a list")
    expect(raw("dial", int(1), chars("x"))).toThrow("dial expects network to be a string (a list of chars), got an int")
    expect(raw("dial", chars("tcp"), ints([1]))).toThrow(
      "dial expects address to be a string (a list of chars), got a list"
    )
    expect(raw("accept", listener, int(5))).toThrow("accept expects handler to be a function, got an int")
    expect(raw("accept", client, fun("f", 1, () => false))).toThrow(
      "accept expects listener to be a listener, got a connection"
    )
    const ch = await h.channel("make")
    expect(raw("close", ch)).toThrow("close expects x to be a connection or a listener, got a channel")
    expect(raw("close", true)).toThrow("close expects x to be a connection or a listener, got a bool")
    expect(raw("set_read_timeout", client, char("a"))).toThrow("set_read_timeout expects ms to be an int, got a char")
    expect(raw("write", listener, ints([1]))).toThrow("write expects conn to be a connection, got a listener")
    expect(raw("write", client)).toThrow(VvRuntimeError)
  }, 10_000)

  it("reads are bounded by n and keep the rest", async () => {
    const h = setup()
    const { client, server } = await pair(h)
    tryOk(await h.net("write", client, chars("abcdef")))
    await sleep(20)
    expect(bytesOf(tryOk(await h.net("read", server, int(2))))).toEqual([97, 98])
    expect(await readFull(h, server, 4)).toEqual([99, 100, 101, 102])
    // a huge n allocates by bytes received, not by n
    tryOk(await h.net("write", client, chars("g")))
    expect(bytesOf(tryOk(await h.net("read", server, int(2 ** 62))))).toEqual([103])
  }, 10_000)

  it("select and recv carry connections between handlers and the main task", async () => {
    const h = setup()
    const { client, server } = await pair(h)
    const a = await h.channel("make")
    const b = await h.channel("make")
    const sending = h.channel("send", b, server)
    const picked = tryOk(await h.channel("select", list(a, b), int(1000)))
    expect(field(picked, "index")).toBe(1n)
    expect(field(picked, "value")).toBe(server)
    expect(isNone(await sending)).toBe(true)
    tryOk(await h.net("write", client, chars("z")))
    expect(bytesOf(tryOk(await h.net("read", field(picked, "value"), int(1))))).toEqual([122])
  }, 10_000)

  it("the accept loop stops when the listener closes; no handler starts afterwards", async () => {
    const h = setup()
    const listener = tryOk(await h.net("listen", chars(network.network), chars(network.listenAddress())))
    let calls = 0
    await h.net(
      "accept",
      listener,
      fun("handler", 1, () => {
        calls++
        return false
      })
    )
    const address = addressOf(listener)
    tryOk(await h.net("dial", chars(network.network), chars(address)))
    await eventually(() => calls === 1)
    tryOk(await h.net("close", listener))
    const late = await h.net("dial", chars(network.network), chars(address))
    expect(errorMessage(late)).toMatch(/connection refused|no such file or directory/)
    expect(await settlesWithin(sleep(50), 100)).toBe(true)
    expect(calls).toBe(1)
  }, 10_000)
})
