/**
 * The conformance suite (`@vvnet/core/testing`) over TLS: `NodeTls.layer` on tcp 127.0.0.1 and
 * on unix sockets, with certificates made at test time (`tlsCerts.ts`) and verification on.
 */
import { conformance } from "@vvnet/core/testing"
import { NodeTls } from "@vvnet/node-adapter"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { testCerts } from "./tlsCerts.js"

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-tls-conformance-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0

const certs = testCerts()
const rss = () => process.memoryUsage().rss

/** Why the reset cases do not apply: the reason shown in each skipped test's name. */
const noReset =
  "Conn.abort cannot send a reset (RST) on a TLS connection: node:tls's socket wraps the TCP handle (resetAndDestroy refuses it), so abort closes without close_notify and the peer reads EOF"
const skip = { C05: noReset, R10: noReset, R11: noReset }

conformance({
  name: "NodeTls tcp 127.0.0.1",
  layer: NodeTls.layer({ ca: certs.ca, cert: certs.server.cert, key: certs.server.key }),
  network: "tcp",
  listenAddress: () => "127.0.0.1:0",
  missingUnixPath: Path.join(dir, "missing.sock"),
  reset: false,
  skip,
  rss
})

/** Node 20's node:tls over a unix socket, seen with raw node:tls too (no vvnet code involved). */
const unixWriteStall =
  "node:tls over a unix socket (Node 20): when the client closes right after its handshake, the server reads EOF and its next write neither completes nor fails (a write deadline still ends it), so the peer-ended handler of case 0 never ends"

conformance({
  name: "NodeTls unix",
  layer: NodeTls.layer({ ca: certs.ca, cert: certs.server.cert, key: certs.server.key, serverName: "localhost" }),
  network: "unix",
  listenAddress: () => Path.join(dir, `s${++sockets}.sock`),
  missingUnixPath: Path.join(dir, "missing.sock"),
  reset: false,
  skip: { ...skip, S5: unixWriteStall },
  rss
})
