/**
 * The runtime provides the bridge's `Net`: real sockets (`NodeNet.layer`) unless `layer` says
 * otherwise. The bridge itself takes its layer as an argument and depends on no adapter.
 */
import * as MemoryNet from "@vvnet/core/MemoryNet"
import * as Net from "node:net"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runText } from "../src/Program.js"
import { Runtime } from "../src/Runtime.js"
import { cleanup, tempDir } from "./support/vv.js"

const timeout = 15_000
afterAll(cleanup)

const program = (port: number) => `
import net from "std/net.vv"
import console from "std/console.vv"
let c = try net.dial("tcp", "127.0.0.1:${port}")
try net.write(c, "hi")
console.print(try net.read(c, 10))
net.close(c)
`

describe("the Net of a runtime", () => {
  it("is real sockets by default: a vv program reaches a node:net server", { timeout }, async () => {
    const server = Net.createServer((socket) => socket.on("data", (data) => socket.end(data)))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as Net.AddressInfo).port
    try {
      let stdout = ""
      await runText(Path.join(tempDir(), "main.vv"), program(port), { stdout: (s) => (stdout += s) })
      expect(stdout).toBe("[104, 105]\n")
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it("is the given layer otherwise: over MemoryNet the same port is not reachable", { timeout }, async () => {
    const runtime = new Runtime({ layer: MemoryNet.layer, stdout: () => {} })
    try {
      await expect(runtime.run(runtime.loadText(Path.join(tempDir(), "main.vv"), program(1)))).rejects.toThrow(
        /^unhandled error: dial tcp 127\.0\.0\.1:1: connect: connection refused$/
      )
    } finally {
      await runtime.dispose()
    }
  })
})
