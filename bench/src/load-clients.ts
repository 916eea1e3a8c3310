/**
 * Helper process for the server-load scenario: plain node:net clients (no effect loaded), so the
 * measured process holds only the server. It keeps N keep-alive connections and, when told to
 * drive, runs request/response on all of them at once: each connection writes a request of
 * `size` bytes (message k of verify.ts, filled with its tag), waits for the whole reply (filled
 * with tag ^ 0xff, every piece checked), and writes the next, until `durationMs` has passed or
 * `maxRequests` were sent in total; then it waits for the replies in flight and reports.
 * Driven over IPC:
 *   { type: "open", port, connections }             → { type: "opened", total }
 *   { type: "drive", durationMs, maxRequests, size }  → { type: "driven", requests, bytes, errors,
 *                                                        elapsedMs, complete }
 *   { type: "closeAll" }                             → { type: "closed" }
 *   { type: "exit" }
 * A drive that has not finished `LIMIT_MS` after its duration stops and reports `complete: false`
 * (a server that lost a request or a reply). The helper exits when its parent goes away.
 */
import { once } from "node:events"
import * as Net from "node:net"
import { performance } from "node:perf_hooks"
import { messages, replyByte } from "./verify.js"

const HOST = "127.0.0.1"
/** How long a drive may overrun its duration before it is reported incomplete. */
const LIMIT_MS = 10_000

interface Client {
  readonly socket: Net.Socket
  /** Tag of the request in flight (its reply is filled with replyByte(tag)). */
  tag: number
  /** Bytes of the current reply received so far. */
  got: number
  /** A request is in flight. */
  waiting: boolean
}

interface Drive {
  readonly size: number
  readonly deadline: number
  readonly maxRequests: number
  readonly requests: ReadonlyArray<Buffer>
  readonly start: number
  sent: number
  completed: number
  bytes: number
  errors: number
  /** Connections still sending or waiting for a reply. */
  active: number
  readonly finish: (complete: boolean) => void
}

const clients: Array<Client> = []
let drive: Drive | undefined
/** Data that arrived while no request was in flight (reported as errors by the next drive). */
let stray = 0

const open = async (port: number, count: number) => {
  const pending: Array<Promise<unknown>> = []
  for (let i = 0; i < count; i++) {
    const socket = Net.connect({ host: HOST, port, noDelay: true })
    const client: Client = { socket, tag: (i * 37) & 0xff, got: 0, waiting: false }
    socket.on("data", (chunk: Buffer) => onReply(client, chunk))
    socket.on("error", () => {})
    socket.on("close", () => {
      if (client.waiting && drive !== undefined) {
        // The server closed a connection with a request in flight.
        client.waiting = false
        drive.errors++
        stop(drive)
      }
    })
    clients.push(client)
    pending.push(once(socket, "connect"))
  }
  await Promise.all(pending)
}

/** Sends the client's next request, or retires the connection when the drive is over. */
const next = (d: Drive, client: Client) => {
  if (d.sent >= d.maxRequests || performance.now() >= d.deadline) {
    stop(d)
    return
  }
  d.sent++
  client.tag = (client.tag + 1) & 0xff
  client.got = 0
  client.waiting = true
  client.socket.write(d.requests[client.tag]!)
}

/** One connection is done with this drive. */
const stop = (d: Drive) => {
  d.active--
  if (d.active === 0) d.finish(true)
}

const onReply = (client: Client, chunk: Buffer) => {
  const d = drive
  if (d === undefined || !client.waiting) {
    stray++
    return
  }
  const expected = replyByte(client.tag)
  const n = chunk.length
  if (chunk[0] !== expected || chunk[n - 1] !== expected) d.errors++
  d.bytes += n
  client.got += n
  if (client.got < d.size) return
  if (client.got > d.size) d.errors++
  client.waiting = false
  d.completed++
  next(d, client)
}

const run = (durationMs: number, maxRequests: number, size: number) =>
  new Promise<Record<string, unknown>>((resolve) => {
    const requests = messages(size)
    const start = performance.now()
    const d: Drive = {
      size,
      start,
      deadline: start + durationMs,
      maxRequests,
      requests,
      sent: 0,
      completed: 0,
      bytes: 0,
      errors: stray,
      active: clients.length,
      finish: (complete) => {
        if (drive !== d) return
        const elapsedMs = performance.now() - start
        drive = undefined
        clearTimeout(timer)
        for (const c of clients) c.waiting = false
        resolve({
          type: "driven",
          requests: d.completed,
          sent: d.sent,
          bytes: d.bytes,
          errors: d.errors,
          elapsedMs,
          complete
        })
      }
    }
    // `finish` runs only after this line: the drive starts below.
    const timer = setTimeout(() => d.finish(false), durationMs + LIMIT_MS)
    stray = 0
    drive = d
    if (clients.length === 0) d.finish(true)
    for (const c of clients) next(d, c)
  })

process.on(
  "message",
  async (
    message: {
      type: string
      port?: number
      connections?: number
      durationMs?: number
      maxRequests?: number
      size?: number
    }
  ) => {
    try {
      if (message.type === "open") {
        await open(message.port!, message.connections!)
        process.send!({ type: "opened", total: clients.length })
      } else if (message.type === "drive") {
        process.send!(await run(message.durationMs!, message.maxRequests!, message.size!))
      } else if (message.type === "closeAll") {
        const closed = clients.splice(0).map((c) =>
          c.socket.closed
            ? Promise.resolve()
            : new Promise<void>((resolve) => c.socket.destroy().once("close", () => resolve()))
        )
        await Promise.all(closed)
        process.send!({ type: "closed" })
      } else if (message.type === "exit") {
        process.exit(0)
      }
    } catch (error) {
      process.send!({ type: "error", message: String(error) })
    }
  }
)
process.on("disconnect", () => process.exit(0))
