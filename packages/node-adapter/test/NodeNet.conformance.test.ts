import { conformance } from "@vvnet/core/testing"
import { NodeNet } from "@vvnet/node-adapter"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"

const hasIpv6Loopback = Object.values(Os.networkInterfaces()).some((list) =>
  (list ?? []).some((i) => i.internal && i.family === "IPv6" && i.address === "::1")
)

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-conformance-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0

const rss = () => process.memoryUsage().rss

conformance({
  name: "NodeNet tcp 127.0.0.1",
  layer: NodeNet.layer,
  network: "tcp",
  listenAddress: () => "127.0.0.1:0",
  missingUnixPath: Path.join(dir, "missing.sock"),
  ipv6: hasIpv6Loopback,
  rss
})

if (hasIpv6Loopback) {
  conformance({
    name: "NodeNet tcp [::1]",
    layer: NodeNet.layer,
    network: "tcp",
    listenAddress: () => "[::1]:0",
    missingUnixPath: Path.join(dir, "missing.sock"),
    ipv6: true,
    rss
  })
}

conformance({
  name: "NodeNet unix",
  layer: NodeNet.layer,
  network: "unix",
  listenAddress: () => Path.join(dir, `s${++sockets}.sock`),
  missingUnixPath: Path.join(dir, "missing.sock"),
  reset: false,
  rss
})
