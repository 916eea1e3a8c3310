/**
 * How the evaluator takes a native's result: a value returned at once is used at once (the
 * program goes on in the same JavaScript turn, no promise, no microtask), a promise is awaited.
 * The bridge's natives return at once when their work completes at once (a read with data
 * buffered, a write the OS takes, a deadline, a close, a channel send to a waiting receiver, a
 * free lock).
 */
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { nativeFunction } from "../src/Evaluator.js"
import type { VvValue } from "../src/Values.js"
import { cleanup, output, writeFiles } from "./support/vv.js"

const timeout = 15_000
afterAll(cleanup)

/**
 * A host module: `arm()` queues a microtask that marks the turn as ended; `ticked()` says
 * whether it ran, i.e. whether the program waited on a promise since `arm()`.
 */
const probe = () => {
  const dir = writeFiles({ "probe.vv": `pub extern "native" fun arm()\npub extern "native" fun ticked()\n` })
  let ticked = false
  const natives = new Map([[
    Path.join(dir, "probe.vv"),
    new Map<string, VvValue>([
      [
        "arm",
        nativeFunction("arm", [], () => {
          ticked = false
          queueMicrotask(() => (ticked = true))
          return false
        })
      ],
      ["ticked", nativeFunction("ticked", [], () => ticked)]
    ])
  ]])
  return { dir, natives }
}

describe("natives that complete at once", () => {
  it("keep the program in the same turn: read with data buffered, write, deadlines, close", { timeout }, async () => {
    const { dir, natives } = probe()
    const stdout = await output(
      `
      import console from "std/console.vv"
      import net from "std/net.vv"
      import probe from "./probe.vv"
      let l = try net.listen("tcp", "127.0.0.1:7000")
      net.accept(l, fun(conn)
          try net.write(conn, "abc")
      end)
      let c = try net.dial("tcp", "127.0.0.1:7000")
      let first = try net.read(c, 1)    // waits for the handler's write
      probe.arm()
      let rest = try net.read(c, 10)    // "bc" is buffered
      try net.write(c, "x")
      try net.set_read_timeout(c, 1000)
      try net.set_write_timeout(c, 0)
      try net.close(c)
      try net.close(l)
      console.print(probe.ticked(), first, rest)
      `,
      { dir, natives }
    )
    expect(stdout).toBe("false [97] [98, 99]\n")
  })

  it("keep the program in the same turn: a send to a waiting receiver, a free lock", { timeout }, async () => {
    const { dir, natives } = probe()
    const stdout = await output(
      `
      import console from "std/console.vv"
      import channel from "std/channel.vv"
      import sync from "std/sync.vv"
      import net from "std/net.vv"
      import probe from "./probe.vv"
      let ch = channel.make()
      let got = channel.make()
      let l = try net.listen("tcp", "127.0.0.1:7000")
      net.accept(l, fun(conn)
          channel.send(got, try channel.recv(ch, 0))
      end)
      let c = try net.dial("tcp", "127.0.0.1:7000")
      let m = sync.mutex()
      probe.arm()
      sync.lock(m)
      sync.unlock(m)
      let ticked = probe.ticked()
      channel.send(ch, 42)              // the handler is waiting in recv by now
      console.print(ticked, try channel.recv(got, 1000))
      `,
      { dir, natives }
    )
    expect(stdout).toBe("false 42\n")
  })

  it("a native that waits is awaited: the turn ends, the value is the same", { timeout }, async () => {
    const { dir, natives } = probe()
    const stdout = await output(
      `
      import console from "std/console.vv"
      import net from "std/net.vv"
      import probe from "./probe.vv"
      let l = try net.listen("tcp", "127.0.0.1:7000")
      net.accept(l, fun(conn)
          let request = try net.read(conn, 1)
          try net.write(conn, "abc")
      end)
      let c = try net.dial("tcp", "127.0.0.1:7000")
      probe.arm()
      try net.write(c, "?")
      let data = try net.read(c, 10)    // the handler answers once this turn has ended
      console.print(probe.ticked(), data)
      `,
      { dir, natives }
    )
    expect(stdout).toBe("true [97, 98, 99]\n")
  })

  it("a loop of tail calls on natives that complete at once still lets the event loop run", { timeout }, async () => {
    const dir = writeFiles({ "probe.vv": `pub extern "native" fun arm()\npub extern "native" fun ticked()\n` })
    let ticked = false
    const natives = new Map([[
      Path.join(dir, "probe.vv"),
      new Map<string, VvValue>([
        [
          "arm",
          nativeFunction("arm", [], () => {
            ticked = false
            setImmediate(() => (ticked = true))
            return false
          })
        ],
        ["ticked", nativeFunction("ticked", [], () => ticked)]
      ])
    ]])
    const stdout = await output(
      `
      import console from "std/console.vv"
      import sync from "std/sync.vv"
      import probe from "./probe.vv"
      let m = sync.mutex()
      fun loop(i)
          if i == 0 return probe.ticked() end
          sync.lock(m)                      // free: completes at once
          sync.unlock(m)
          return loop(i - 1)
      end
      probe.arm()
      console.print(loop(200000))
      `,
      { dir, natives }
    )
    expect(stdout).toBe("true\n")
  })
})
