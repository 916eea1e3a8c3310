/**
 * Throughput of the HTTP example server (`http-server.ts`, on vvnet) side by side with an
 * equivalent minimal HTTP/1.1 server written on raw `node:net`, in one run on 127.0.0.1.
 *
 *   cd examples && npx tsx src/http-bench.ts [--connections 64] [--duration 3] [--warmup 1]
 *                                            [--rounds 3] [--pipeline 1] [--profile DIR]
 *                                            [--variants vvnet,vvnet-floor]
 *
 * Each server runs in a child process of its own (both load effect, as vvnet's process does);
 * this process is the load client, plain `node:net`: `--connections` keep-alive connections,
 * each keeping `--pipeline` requests (`GET / HTTP/1.1`) in flight, writing the next as soon as a
 * response is complete, for `--warmup` seconds untimed and then `--duration` seconds timed. Every
 * response is checked (status 200, the 13-byte body). The servers take turns, `--rounds` times
 * each (the order rotates); the report gives each server's median requests/s, the server
 * process's CPU time per request, and the ratios to raw. A third server, `vvnet-floor`, is vvnet
 * without HTTP: `Net.serve` and one `readUntil("\r\n\r\n")` per request, answered with the same
 * bytes; the gap between it and the example is the example's own cost. On a 2-core machine the client
 * takes about one core: the figures compare the servers, they are not the servers' limits.
 * `--profile DIR` runs the servers under `node --cpu-prof`, writing their profiles into DIR.
 */
import { BufferedReader, type Conn, Net } from "@vvnet/core"
import { NodeNet } from "@vvnet/node-adapter"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ChildProcess from "node:child_process"
import * as NodeNetModule from "node:net"
import * as Url from "node:url"
import * as HttpServer from "./http-server.js"

type Variant = "raw" | "vvnet" | "vvnet-floor"
const variants: ReadonlyArray<Variant> = ["raw", "vvnet", "vvnet-floor"]
const labels: Record<Variant, string> = {
  raw: "raw node:net HTTP",
  vvnet: "vvnet example (http-server)",
  "vvnet-floor": "vvnet floor (no HTTP parsing)"
}

// -- the raw node:net server: the same parsing work and the same response -------------------

const rawBody = Buffer.from("hello, world\n")
let dateValue = ""
let dateSecond = 0
const httpDate = (): string => {
  const now = Date.now()
  const second = Math.floor(now / 1000)
  if (second !== dateSecond) {
    dateSecond = second
    dateValue = new Date(now).toUTCString()
  }
  return dateValue
}

/**
 * A minimal HTTP/1.1 keep-alive server on raw node:net, doing what the example does for
 * `GET /`: split the request line and the header fields into a map, honour Content-Length and
 * `Connection: close`, answer 400 to a malformed request line, one write per response.
 */
const rawServer = (): Promise<{ address: string; close: () => void }> =>
  new Promise((resolve) => {
    const server = NodeNetModule.createServer({ noDelay: true }, (socket) => {
      let pending: Buffer = Buffer.alloc(0)
      socket.on("error", () => {})
      socket.on("data", (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
        let offset = 0
        while (true) {
          const end = pending.indexOf("\r\n\r\n", offset, "latin1")
          if (end === -1) break
          const lines = pending.toString("latin1", offset, end).split("\r\n")
          const parts = lines[0]!.split(" ")
          if (parts.length !== 3 || (parts[2] !== "HTTP/1.1" && parts[2] !== "HTTP/1.0")) {
            socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
          }
          const headers = new Map<string, string>()
          for (let i = 1; i < lines.length; i++) {
            const line = lines[i]!
            const colon = line.indexOf(":")
            headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
          }
          const length = Number(headers.get("content-length") ?? 0)
          if (end + 4 + length > pending.length) break
          offset = end + 4 + length
          const close = headers.get("connection") === "close"
          const path = parts[1]!.split("?")[0]
          const head = path === "/"
            ? `HTTP/1.1 200 OK\r\nDate: ${httpDate()}\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n`
            : `HTTP/1.1 404 Not Found\r\nDate: ${httpDate()}\r\nContent-Length: 0\r\n`
          const response = Buffer.from(`${head}${close ? "Connection: close\r\n" : ""}\r\n`, "latin1")
          socket.write(path === "/" ? Buffer.concat([response, rawBody]) : response)
          if (close) {
            socket.end()
            return
          }
        }
        pending = pending.subarray(offset)
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as NodeNetModule.AddressInfo
      resolve({ address: `127.0.0.1:${port}`, close: () => server.close() })
    })
  })

/**
 * The floor under the example: `Net.serve` and a `BufferedReader` that reads each request's head
 * with one `readUntil("\r\n\r\n")` and writes the same response, without parsing anything or
 * arming a deadline: what vvnet itself costs for this exchange.
 */
const floorHandler = (conn: Conn.Conn) =>
  Effect.gen(function*() {
    const reader = yield* BufferedReader.make(conn)
    while (true) {
      const head = yield* reader.readUntil("\r\n\r\n", { maxLength: 16384 })
      if (Option.isNone(head)) return
      yield* conn.write(
        Buffer.from(
          `HTTP/1.1 200 OK\r\nDate: ${httpDate()}\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n`,
          "latin1"
        )
      )
    }
  })

/** The child: serves with `variant` until its parent goes; answers "cpu" with its CPU usage. */
const serveChild = async (variant: Variant) => {
  let address: string
  if (variant === "raw") {
    address = (await rawServer()).address
  } else {
    address = await new Promise<string>((resolve) => {
      const program = Effect.gen(function*() {
        const listener = yield* Net.listen("tcp", "127.0.0.1:0")
        if (variant === "vvnet") {
          yield* HttpServer.serve(listener, HttpServer.app)
        } else yield* Net.serve(listener, floorHandler)
        resolve(listener.address)
        return yield* Effect.never
      }).pipe(Effect.scoped, Effect.provide(NodeNet.layer))
      Effect.runFork(program)
    })
  }
  process.on("message", (message) => {
    if (message === "cpu") process.send!({ cpu: process.cpuUsage() })
  })
  // exit (not kill) when the parent goes, so that --cpu-prof writes its profile
  process.on("disconnect", () => process.exit(0))
  process.send!({ address })
}

// -- the load client ----------------------------------------------------------------------

const request = Buffer.from("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: vvnet-http-bench\r\n\r\n")
const expectedStatus = Buffer.from("HTTP/1.1 200 ")
const contentLength = Buffer.from("\r\nContent-Length: ")

interface Load {
  readonly completed: () => number
  readonly errors: () => number
  readonly close: () => void
}

/** `connections` keep-alive connections, each keeping `depth` requests in flight. */
const load = (port: number, connections: number, depth: number): Promise<Load> =>
  new Promise((resolve, reject) => {
    let completed = 0
    let errors = 0
    let ready = 0
    const sockets: Array<NodeNetModule.Socket> = []
    for (let c = 0; c < connections; c++) {
      const socket = NodeNetModule.connect({ port, host: "127.0.0.1", noDelay: true })
      sockets.push(socket)
      let pending: Buffer = Buffer.alloc(0)
      socket.on("error", (error) => {
        errors++
        reject(error)
      })
      socket.on("connect", () => {
        for (let i = 0; i < depth; i++) socket.write(request)
        if (++ready === connections) {
          resolve({
            completed: () => completed,
            errors: () => errors,
            close: () => sockets.forEach((s) => s.destroy())
          })
        }
      })
      socket.on("data", (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
        let offset = 0
        let answered = 0
        while (true) {
          const end = pending.indexOf("\r\n\r\n", offset, "latin1")
          if (end === -1) break
          const at = pending.indexOf(contentLength, offset)
          const length = at === -1 || at > end ? 0 : parseInt(pending.toString("latin1", at + 18, end), 10)
          if (end + 4 + length > pending.length) break
          if (pending.compare(expectedStatus, 0, expectedStatus.length, offset, offset + expectedStatus.length) !== 0) {
            errors++
          } else if (length !== 13 || pending.toString("latin1", end + 4, end + 4 + length) !== "hello, world\n") {
            errors++
          }
          offset = end + 4 + length
          answered++
        }
        pending = pending.subarray(offset)
        completed += answered
        if (answered > 0) {
          const next = answered === 1 ? request : Buffer.concat(Array.from({ length: answered }, () => request))
          socket.write(next)
        }
      })
    }
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Measurement {
  readonly rate: number
  readonly cpuMicrosPerRequest: number
  readonly errors: number
}

const cpuOf = (child: ChildProcess.ChildProcess) =>
  new Promise<NodeJS.CpuUsage>((resolve) => {
    child.once("message", (message: { cpu: NodeJS.CpuUsage }) => resolve(message.cpu))
    child.send("cpu")
  })

/** One measurement of `variant`: a fresh server process, warm-up, then the timed drive. */
const measure = async (
  variant: Variant,
  options: { connections: number; depth: number; warmup: number; duration: number }
): Promise<Measurement> => {
  const file = Url.fileURLToPath(import.meta.url)
  const profile = process.argv.indexOf("--profile")
  const execArgv = profile === -1
    ? process.execArgv
    : [...process.execArgv, "--cpu-prof", "--cpu-prof-dir", process.argv[profile + 1] ?? "."]
  const child = ChildProcess.fork(file, ["--serve", variant], {
    execArgv,
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  try {
    const address = await new Promise<string>((resolve, reject) => {
      child.once("message", (message: { address: string }) => resolve(message.address))
      child.once("exit", (code) => reject(new Error(`the ${variant} server exited (${code})`)))
    })
    const port = Number(address.slice(address.lastIndexOf(":") + 1))
    const driver = await load(port, options.connections, options.depth)
    try {
      await sleep(options.warmup * 1000)
      const cpuStart = await cpuOf(child)
      const start = driver.completed()
      const startTime = performance.now()
      await sleep(options.duration * 1000)
      const done = driver.completed() - start
      const elapsed = (performance.now() - startTime) / 1000
      const cpuEnd = await cpuOf(child)
      const cpu = cpuEnd.user + cpuEnd.system - cpuStart.user - cpuStart.system
      return { rate: done / elapsed, cpuMicrosPerRequest: cpu / done, errors: driver.errors() }
    } finally {
      driver.close()
    }
  } finally {
    // the child exits when disconnected; killed if it has not after 5 s
    const exited = new Promise((resolve) => child.once("exit", resolve))
    if (child.connected) child.disconnect()
    if (child.exitCode === null && child.signalCode === null) {
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000)
      await exited
      clearTimeout(timer)
    }
  }
}

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const option = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`)
  if (at === -1) return fallback
  const value = Number(process.argv[at + 1])
  if (!(Number.isFinite(value) && value > 0)) throw new Error(`--${name} needs a positive number`)
  return value
}

const main = async () => {
  const options = {
    connections: option("connections", 64),
    depth: option("pipeline", 1),
    warmup: option("warmup", 1),
    duration: option("duration", 3)
  }
  const rounds = option("rounds", 3)
  const only = process.argv.indexOf("--variants")
  const chosen = only === -1
    ? variants
    : variants.filter((v) => v === "raw" || (process.argv[only + 1] ?? "").split(",").includes(v))
  console.log(
    `HTTP/1.1 GET / on 127.0.0.1: ${options.connections} keep-alive connections, ${options.depth} in flight each, ` +
      `${options.warmup} s warm-up + ${options.duration} s timed, ${rounds} rounds`
  )
  const results: Record<Variant, Array<Measurement>> = { raw: [], vvnet: [], "vvnet-floor": [] }
  for (let round = 0; round < rounds; round++) {
    // the order rotates, so no variant always runs first or last
    const order = chosen.map((_, i) => chosen[(i + round) % chosen.length]!)
    for (const variant of order) {
      const m = await measure(variant, options)
      results[variant].push(m)
      console.log(
        `  round ${round + 1} ${variant.padEnd(11)} ${Math.round(m.rate).toLocaleString("en-US").padStart(8)} req/s  ` +
          `${m.cpuMicrosPerRequest.toFixed(1)} µs CPU/req (server)${m.errors > 0 ? `  ${m.errors} BAD RESPONSES` : ""}`
      )
    }
  }
  const summary = (variant: Variant) => ({
    rate: median(results[variant].map((m) => m.rate)),
    cpu: median(results[variant].map((m) => m.cpuMicrosPerRequest))
  })
  const raw = summary("raw")
  console.log("")
  console.log("server                          median req/s   vs raw   server CPU/req   vs raw")
  for (const variant of chosen) {
    const { cpu, rate } = summary(variant)
    console.log(
      `${labels[variant].padEnd(30)} ${Math.round(rate).toLocaleString("en-US").padStart(12)}   ${
        (rate / raw.rate).toFixed(2)
      }×   ${cpu.toFixed(1).padStart(10)} µs   ${(cpu / raw.cpu).toFixed(2)}×`
    )
  }
  const bad = variants.flatMap((variant) => results[variant]).reduce((n, m) => n + m.errors, 0)
  if (bad > 0) {
    console.error(`${bad} responses were wrong`)
    process.exitCode = 1
  }
}

const serveAt = process.argv.indexOf("--serve")
if (serveAt !== -1) {
  const variant = process.argv[serveAt + 1]
  void serveChild(variants.find((v) => v === variant) ?? "vvnet")
} else if (process.argv[1] !== undefined && Url.pathToFileURL(process.argv[1]).href === import.meta.url) {
  main().catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
