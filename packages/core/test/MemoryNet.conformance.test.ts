import * as MemoryNet from "@vvnet/core/MemoryNet"
import { conformance } from "@vvnet/core/testing"

let paths = 0

conformance({
  name: "MemoryNet tcp",
  layer: MemoryNet.layer,
  network: "tcp",
  listenAddress: () => "127.0.0.1:0",
  missingUnixPath: "/vvnet-memory/missing.sock",
  ipv6: true
})

conformance({
  name: "MemoryNet unix",
  layer: MemoryNet.layer,
  network: "unix",
  listenAddress: () => `/vvnet-memory/s${++paths}.sock`,
  missingUnixPath: "/vvnet-memory/missing.sock"
})
