import * as MemoryNet from "@vvnet/core/MemoryNet"
import * as Net from "@vvnet/core/Net"
import { NodeNet } from "@vvnet/node-adapter"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Bridge, DefaultHost, StdChannel, StdNet, StdSync, VvRuntimeError } from "../src/index.js"
import {
  activeResources,
  addressOf,
  chars,
  cleanupSockets,
  eventually,
  fdCount,
  fun,
  int,
  isNone,
  makeHarness,
  networks,
  none,
  resourcesAbove,
  settlesWithin,
  tryOk,
  type VvValue
} from "./support/harness.js"

afterAll(cleanupSockets)

/** The `pub extern "native" fun NAME(params)` declarations of a module text. */
const externs = (source: string): Map<string, Array<string>> =>
  new Map(
    Array.from(
      source.matchAll(/^pub extern "native" fun (\w+)\(([^)]*)\)$/gm),
      (m) => [m[1]!, m[2]!.split(",").map((p) => p.trim()).filter((p) => p !== "")] as const
    )
  )

describe("Bridge", () => {
  it("registers natives per logical module path, matching the externs of its module texts", () => {
    const bridge = Bridge.make(DefaultHost.host, { layer: MemoryNet.layer })
    expect(Bridge.modulePaths).toEqual(["std/net.vv", "std/channel.vv", "std/sync.vv"])
    const expected: Record<string, Array<string>> = {
      "std/net.vv": ["dial", "listen", "accept", "read", "write", "close", "set_read_timeout", "set_write_timeout"],
      "std/channel.vv": ["make", "send", "recv", "select"],
      "std/sync.vv": ["mutex", "lock", "unlock"]
    }
    for (const path of Bridge.modulePaths) {
      const natives = bridge.natives(path)
      expect(Array.from(natives.keys())).toEqual(expected[path])
      const declared = externs(bridge.moduleSource(path)!)
      expect(Array.from(declared.keys())).toEqual(expected[path])
      for (const [name, native] of natives) expect(declared.get(name)).toEqual(native.params)
    }
    expect(bridge.natives("std/console.vv").size).toBe(0)
    expect(bridge.moduleSource("std/console.vv")).toBeUndefined()
    expect(bridge.netModuleSource).toBe(StdNet.source)
    expect(bridge.moduleSource("std/channel.vv")).toBe(StdChannel.source)
    expect(bridge.moduleSource("std/sync.vv")).toBe(StdSync.source)
    // nothing was opened: disposing an unused bridge is immediate
    return bridge.dispose()
  }, 10_000)

  it("net.vv defines reader and writer records over the natives, returned as ok results", () => {
    const source = StdNet.source
    expect(source).toMatch(/^pub fun reader\(conn\)$/m)
    expect(source).toMatch(/^pub fun writer\(conn\)$/m)
    // as the reference runtime's std/net.vv: ok(record), so `try net.reader(conn)` is the idiom
    const body = (name: string) => source.slice(source.indexOf(`pub fun ${name}(conn)`)).split(/^end$/m)[0]!
    expect(body("reader")).toMatch(/^ {4}return \{ type = "ok", value = \{$/m)
    expect(body("writer")).toMatch(/^ {4}return \{ type = "ok", value = \{$/m)
    expect(source).toContain("read = fun(r, n) return read(r.conn, n) end")
    expect(source).toContain("close = fun(r) return close(r.conn) end")
    expect(source).toContain("write = fun(w, bytes) return write(w.conn, bytes) end")
    expect(source).toContain("close = fun(w) return close(w.conn) end")
    // externs come before the other statements
    expect(source.lastIndexOf("extern")).toBeLessThan(source.indexOf("pub fun"))
  }, 5_000)

  it("takes its Net layer as an argument: it depends on no adapter (no @vvnet/node-adapter)", () => {
    const packageDir = Path.resolve(import.meta.dirname, "..")
    const manifest = JSON.parse(Fs.readFileSync(Path.join(packageDir, "package.json"), "utf8"))
    expect(Object.keys(manifest.dependencies ?? {})).toEqual(["@vvnet/core"])
    const sources = Fs.readdirSync(Path.join(packageDir, "src"), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
    expect(sources.length).toBeGreaterThan(0)
    for (const file of sources) {
      expect(Fs.readFileSync(Path.join(packageDir, "src", file), "utf8"), file).not.toMatch(
        /(from |import\()"@vvnet\/node-adapter/
      )
    }
    expect("nodeNetLayer" in Bridge).toBe(false)
    // @ts-expect-error the layer is required
    const noLayer = () => Bridge.make(DefaultHost.host)
    expect(noLayer).toBeTypeOf("function")
  }, 5_000)

  it("a Net layer that builds asynchronously: dials made while it builds and after it work", async () => {
    let builds = 0
    const slow = Layer.effect(
      Net.Net,
      Effect.as(
        Effect.zipRight(Effect.sync(() => builds++), Effect.sleep(Duration.millis(20))),
        NodeNet.make()
      )
    )
    const server = makeHarness(NodeNet.layer)
    const listener = tryOk(await server.net("listen", chars("tcp"), chars("127.0.0.1:0")))
    let accepted = 0
    await server.net(
      "accept",
      listener,
      fun("handler", 1, ([conn]) => {
        accepted++
        return server.callRaw("std/net.vv", "close", conn!) as VvValue
      })
    )
    const h = makeHarness(slow)
    // the first dial starts while the layer builds; the later ones find it built
    const first = h.net("dial", chars("tcp"), chars(addressOf(listener)))
    const conns: Array<VvValue> = [tryOk(await first)]
    for (let i = 0; i < 2; i++) conns.push(tryOk(await h.net("dial", chars("tcp"), chars(addressOf(listener)))))
    await eventually(() => accepted === 3)
    for (const conn of conns) expect((tryOk(await h.net("read", conn, int(1))) as DefaultHost.VvList).length).toBe(0) // EOF
    expect(builds).toBe(1)
    await h.dispose()
    await server.dispose()
  }, 10_000)

  it("a failure to build the Net layer rejects the natives that need it with a runtime error", async () => {
    const broken = Layer.die(new Error("no network here"))
    const bridge = Bridge.make(DefaultHost.host, { layer: broken })
    const dial = bridge.natives("std/net.vv").get("dial")!
    await expect(dial.call([chars("tcp"), chars("127.0.0.1:1")])).rejects.toThrow(
      new VvRuntimeError("dial: no network here", { native: "dial" })
    )
    // channels do not need the network
    const make = bridge.natives("std/channel.vv").get("make")!
    expect(DefaultHost.kindOf(make.call([]) as VvValue)).toBe("userdata")
    await bridge.dispose()
  }, 10_000)
})

describe.each(networks)("dispose over $name", (network) => {
  it(
    "closes every listener and connection, interrupts every handler and wait, and returns fds and handles to baseline",
    async () => {
      const fdsBefore = fdCount()
      const resourcesBefore = activeResources()
      const h = makeHarness(network.layer())

      const listener = tryOk(await h.net("listen", chars(network.network), chars(network.listenAddress())))
      const idle = tryOk(await h.net("listen", chars(network.network), chars(network.listenAddress())))
      let started = 0
      let aborted = 0
      const handlerErrors: Array<unknown> = []
      await h.net(
        "accept",
        listener,
        fun("handler", 1, async ([conn], { signal }) => {
          started++
          signal.addEventListener("abort", () => aborted++)
          tryOk(await h.net("set_read_timeout", conn!, int(60_000)))
          try {
            await h.net("read", conn!, int(10)) // nobody writes: blocks until dispose
          } catch (error) {
            handlerErrors.push(error)
            throw error
          }
          return none()
        })
      )
      const clients: Array<VvValue> = []
      for (let i = 0; i < 3; i++) {
        clients.push(tryOk(await h.net("dial", chars(network.network), chars(addressOf(listener)))))
      }
      await eventually(() => started === 3)

      tryOk(await h.net("set_write_timeout", clients[0]!, int(60_000)))
      const pendingRead = h.net("read", clients[0]!, int(1))
      const ch = await h.channel("make")
      const pendingRecv = h.channel("recv", ch, int(60_000))
      const pendingSend = h.channel("send", ch, 1n)
      const other = await h.channel("make")
      const pendingSelect = h.channel("select", DefaultHost.VvList.of(other), int(60_000))
      const m = await h.sync("mutex")
      await h.sync("lock", m)
      const pendingLock = h.sync("lock", m)
      expect(await settlesWithin(pendingRead, 20)).toBe(false)
      expect(isNone(await pendingSend)).toBe(true) // taken by the pending recv
      expect(tryOk(await pendingRecv)).toBe(1n)

      // before dispose: timers (deadlines, the recv) and, on a real network, sockets are live
      const leftOver = () => ({ fds: Math.max(0, fdCount() - fdsBefore), resources: resourcesAbove(resourcesBefore) })
      expect(leftOver().resources).toHaveProperty("Timeout")
      if (network.real) expect(leftOver().fds).toBeGreaterThanOrEqual(8) // 2 listeners, 3 + 3 connection ends

      expect(h.bridge.isDisposed).toBe(false)
      await h.dispose()
      expect(h.bridge.isDisposed).toBe(true)

      expect(aborted).toBe(3)
      const ended = /interrupted: the program has ended \(its bridge was disposed\)/
      await expect(pendingRead).rejects.toThrow(ended)
      await expect(pendingSelect).rejects.toThrow(ended)
      await expect(pendingLock).rejects.toThrow(ended)
      await eventually(() => handlerErrors.length === 3)
      for (const error of handlerErrors) expect(error).toBeInstanceOf(VvRuntimeError)
      expect(() => h.callRaw("std/net.vv", "close", idle)).toThrow(
        new VvRuntimeError("close: the program has ended (its bridge was disposed)", { native: "close" })
      )
      expect(() => h.callRaw("std/channel.vv", "make")).toThrow("make: the program has ended")
      await h.dispose() // idempotent
      expect(h.logs).toEqual([])

      await eventually(() => leftOver().fds <= 0 && Object.keys(leftOver().resources).length === 0).catch(() =>
        undefined
      )
      expect(leftOver()).toEqual({ fds: 0, resources: {} })
    },
    15_000
  )
})
