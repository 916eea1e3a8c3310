/**
 * The HTTP/1.1 example server over real sockets (NodeNet: tcp on 127.0.0.1 and a unix socket in
 * a temp dir), driven by node's `http` client and by raw sockets: keep-alive reuse, pipelining,
 * `Connection: close`, HTTP/1.0, refusals (400, 413, 414, 431, 501) that close the connection,
 * bounded reading. Every socket and agent is closed by the test's Scope.
 */
import { describe, expect, it } from "@effect/vitest"
import { Net } from "@vvnet/core"
import { NodeNet } from "@vvnet/node-adapter"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import * as HttpServer from "../src/http-server.js"
import { connectOptions, latin1, rawClient, within } from "./support.js"

const timeout = 30_000
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-http-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let sockets = 0

const networks = [
  ["tcp", () => "127.0.0.1:0"],
  ["unix", () => Path.join(dir, `h${++sockets}.sock`)]
] as const

interface ParsedResponse {
  readonly status: number
  readonly headers: Map<string, string>
  readonly body: string
}

/** The complete responses at the start of `data` (Content-Length framed), and whether bytes remain. */
const parseResponses = (data: Buffer): { responses: Array<ParsedResponse>; rest: number } => {
  const responses: Array<ParsedResponse> = []
  let offset = 0
  while (true) {
    const end = data.indexOf("\r\n\r\n", offset, "latin1")
    if (end === -1) break
    const [statusLine, ...lines] = data.toString("latin1", offset, end).split("\r\n")
    const headers = new Map(lines.map((line) => {
      const colon = line.indexOf(":")
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const
    }))
    const length = Number(headers.get("content-length") ?? 0)
    if (end + 4 + length > data.length) break
    responses.push({
      status: Number(statusLine!.split(" ")[1]),
      headers,
      body: data.toString("latin1", end + 4, end + 4 + length)
    })
    offset = end + 4 + length
  }
  return { responses, rest: data.length - offset }
}

/** Waits until `n` whole responses arrived. */
const responses = (client: Effect.Effect.Success<ReturnType<typeof rawClient>>, n: number) =>
  Effect.map(
    client.waitFor((data) => parseResponses(data).responses.length >= n),
    (data) => parseResponses(data).responses
  )

/** Listens on `network` and serves the example app (with `options`) for the test's Scope. */
const server = (network: string, address: string, options?: HttpServer.Options) =>
  Effect.gen(function*() {
    const listener = yield* Net.listen(network, address)
    yield* HttpServer.serve(listener, HttpServer.app, options)
    return listener.address
  })

/** One request with node's http client through `agent`. */
const request = (
  network: string,
  address: string,
  agent: Http.Agent,
  options: { method?: string; path?: string; body?: string; headers?: Record<string, string> }
) =>
  within(
    10_000,
    `${options.method ?? "GET"} ${options.path ?? "/"}`,
    new Promise<{ status: number; body: string; reused: boolean; headers: Http.IncomingHttpHeaders }>(
      (resolve, reject) => {
        const target = connectOptions(network, address)
        const req = Http.request({
          ...("path" in target ? { socketPath: target.path } : { host: target.host, port: target.port }),
          agent,
          method: options.method ?? "GET",
          path: options.path ?? "/",
          headers: options.headers
        }, (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (chunk: Buffer) => chunks.push(chunk))
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString(),
              reused: req.reusedSocket,
              headers: res.headers
            }))
          res.on("error", reject)
        })
        req.on("error", reject)
        req.end(options.body)
      }
    )
  )

const agentFor = Effect.acquireRelease(
  Effect.sync(() => new Http.Agent({ keepAlive: true, maxSockets: 1 })),
  (agent) => Effect.sync(() => agent.destroy())
)

describe.each(networks)("HTTP example server over NodeNet %s", (network, address) => {
  it.scopedLive(
    "node's http client: keep-alive reuses one connection for GET, HEAD, POST and 404",
    () =>
      Effect.gen(function*() {
        const bound = yield* server(network, address())
        const agent = yield* agentFor
        const first = yield* request(network, bound, agent, {})
        expect(first).toMatchObject({ status: 200, body: "hello, world\n", reused: false })
        expect(first.headers["content-type"]).toBe("text/plain")
        expect(first.headers["date"]).toMatch(/GMT$/)
        const head = yield* request(network, bound, agent, { method: "HEAD" })
        expect(head).toMatchObject({ status: 200, body: "", reused: true })
        expect(head.headers["content-length"]).toBe("13")
        const echo = yield* request(network, bound, agent, { method: "POST", path: "/echo", body: "x".repeat(100_000) })
        expect(echo).toMatchObject({ status: 200, reused: true })
        expect(echo.body).toBe("x".repeat(100_000))
        const missing = yield* request(network, bound, agent, { path: "/nope?q=1" })
        expect(missing).toMatchObject({ status: 404, body: "not found: /nope\n", reused: true })
        const wrongMethod = yield* request(network, bound, agent, { method: "DELETE" })
        expect(wrongMethod).toMatchObject({ status: 405, reused: true })
        expect(wrongMethod.headers["allow"]).toBe("GET, HEAD")
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "pipelined requests in one write are answered in order; Connection: close ends the connection",
    () =>
      Effect.gen(function*() {
        const bound = yield* server(network, address())
        const client = yield* rawClient(network, bound)
        client.socket.write(
          "GET / HTTP/1.1\r\nHost: x\r\n\r\n" +
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye" +
            "GET / HTTP/1.1\r\nHost: x\r\n\r\n" // after the close: never answered
        )
        const got = yield* responses(client, 4)
        expect(got.map((r) => [r.status, r.body])).toEqual([
          [200, "hello, world\n"],
          [200, "hello"],
          [404, "not found: /a\n"],
          [200, "bye"]
        ])
        expect(got[3]!.headers.get("connection")).toBe("close")
        expect(got.slice(0, 3).every((r) => !r.headers.has("connection"))).toBe(true)
        expect(yield* within(10_000, "the server's close", client.ended)).toBeUndefined()
        expect(parseResponses(client.received())).toMatchObject({ rest: 0 })
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "pipelined requests written in 1..7-byte pieces: every response, in order",
    () =>
      Effect.gen(function*() {
        const bound = yield* server(network, address())
        const client = yield* rawClient(network, bound)
        let all = ""
        for (let i = 0; i < 50; i++) {
          all += i % 2 === 0
            ? `GET /${i} HTTP/1.1\r\nHost: x\r\nX-N: ${i}\r\n\r\n`
            : `POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: ${String(i).length}\r\n\r\n${i}`
        }
        const bytes = Buffer.from(all)
        yield* Effect.promise(async () => {
          for (let at = 0, k = 0; at < bytes.length; k++) {
            const size = 1 + (k * 5) % 7
            client.socket.write(bytes.subarray(at, at + size))
            at += size
            if (k % 40 === 0) await new Promise((resolve) => setTimeout(resolve, 1))
          }
        })
        const got = yield* responses(client, 50)
        expect(got.map((r) => r.body)).toEqual(
          Array.from({ length: 50 }, (_, i) => i % 2 === 0 ? `not found: /${i}\n` : String(i))
        )
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive("HTTP/1.0 closes after the response unless it asks for keep-alive", () =>
    Effect.gen(function*() {
      const bound = yield* server(network, address())
      const keep = yield* rawClient(network, bound)
      keep.socket.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n")
      const got = yield* responses(keep, 2)
      expect(got.map((r) => r.headers.get("connection"))).toEqual(["keep-alive", "close"])
      expect(yield* within(10_000, "the server's close", keep.ended)).toBeUndefined()
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  const refusals: ReadonlyArray<readonly [string, string, number]> = [
    ["a request line of two words", "GET /\r\n\r\n", 400],
    ["a lower-case HTTP version", "GET / http/1.1\r\nHost: x\r\n\r\n", 400],
    ["a space in the target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["a space before a header's colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400],
    ["a folded header line", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", 400],
    ["a header line without a colon", "GET / HTTP/1.1\r\nHost: x\r\nnonsense\r\n\r\n", 400],
    ["no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400],
    ["two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
    ["a malformed Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400],
    [
      "conflicting Content-Lengths",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      400
    ],
    ["a NUL in a header value", "GET / HTTP/1.1\r\nHost: x\u0000y\r\n\r\n", 400],
    ["a chunked body", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501],
    ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505]
  ]

  it.scopedLive(
    "malformed requests: the status, Connection: close, then the server closes (after a good request on the same connection)",
    () =>
      Effect.gen(function*() {
        const bound = yield* server(network, address())
        for (const [what, bytes, status] of refusals) {
          const client = yield* rawClient(network, bound)
          client.socket.write(`GET / HTTP/1.1\r\nHost: x\r\n\r\n${bytes}`)
          const got = yield* responses(client, 2)
          expect([what, got[0]!.status, got[1]!.status]).toEqual([what, 200, status])
          expect(got[1]!.headers.get("connection")).toBe("close")
          expect(yield* within(10_000, `the server's close after ${what}`, client.ended)).toBeUndefined()
          expect(got).toHaveLength(2)
        }
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "an over-long header is 431 as soon as the limit is passed: the rest is never waited for",
    () =>
      Effect.gen(function*() {
        const bound = yield* server(network, address(), { maxHeaderBytes: 4096 })
        // a header line that never ends: the answer must come without it
        const endless = yield* rawClient(network, bound)
        endless.socket.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(64 * 1024)}`)
        const [refused] = yield* responses(endless, 1)
        expect(refused!.status).toBe(431)
        expect(refused!.headers.get("connection")).toBe("close")
        expect(yield* within(10_000, "the server's close", endless.ended)).toBeUndefined()

        // many small header lines adding up past the limit
        const many = yield* rawClient(network, bound)
        many.socket.write(`GET / HTTP/1.1\r\nHost: x\r\n${"X-A: 0123456789\r\n".repeat(400)}\r\n`)
        expect((yield* responses(many, 1))[0]!.status).toBe(431)

        // within the limit: fine
        const fits = yield* rawClient(network, bound)
        fits.socket.write(`GET / HTTP/1.1\r\nHost: x\r\nX-A: ${"a".repeat(3000)}\r\n\r\n`)
        expect((yield* responses(fits, 1))[0]!.status).toBe(200)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "more header fields than allowed is 431; an over-long request line is 414",
    () =>
      Effect.gen(function*() {
        const bound = yield* server(network, address(), { maxHeaderCount: 10, maxRequestLineLength: 100 })
        const many = yield* rawClient(network, bound)
        many.socket.write(`GET / HTTP/1.1\r\nHost: x\r\n${"X-A: 1\r\n".repeat(10)}\r\n`)
        expect((yield* responses(many, 1))[0]!.status).toBe(431)
        const long = yield* rawClient(network, bound)
        long.socket.write(`GET /${"a".repeat(200)}`) // no line end yet: refused all the same
        expect((yield* responses(long, 1))[0]!.status).toBe(414)
        expect(yield* within(10_000, "the server's close", long.ended)).toBeUndefined()
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive(
    "a body over maxBodySize is 413 from its Content-Length, before the body is sent",
    () =>
      Effect.gen(function*() {
        const bound = yield* server(network, address(), { maxBodySize: 1000 })
        const client = yield* rawClient(network, bound)
        client.socket.write("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n")
        const [refused] = yield* responses(client, 1)
        expect(refused!.status).toBe(413)
        expect(refused!.body).toContain("exceeds the maximum of 1000 bytes")
        expect(yield* within(10_000, "the server's close", client.ended)).toBeUndefined()

        const fits = yield* rawClient(network, bound)
        fits.socket.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n${"b".repeat(1000)}`)
        expect((yield* responses(fits, 1))[0]!.body).toBe("b".repeat(1000))
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive("Expect: 100-continue gets 100 Continue before the body is read", () =>
    Effect.gen(function*() {
      const bound = yield* server(network, address())
      const client = yield* rawClient(network, bound)
      client.socket.write("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
      yield* client.waitFor((data) => latin1(data).startsWith("HTTP/1.1 100 Continue\r\n\r\n"))
      client.socket.write("data")
      const got = yield* client.waitFor((data) => latin1(data).endsWith("\r\n\r\ndata"))
      expect(latin1(got)).toContain("HTTP/1.1 200 OK")
    }).pipe(Effect.provide(NodeNet.layer)), timeout)

  it.scopedLive(
    "a client that leaves mid-request, or stays idle past readTimeout, is closed without a response",
    () =>
      Effect.gen(function*() {
        const bound = yield* server(network, address(), { readTimeout: 200 })
        const idle = yield* rawClient(network, bound)
        expect(yield* within(10_000, "the idle close", idle.ended)).toBeUndefined()
        expect(idle.received()).toHaveLength(0)

        const half = yield* rawClient(network, bound)
        half.socket.end("GET / HTTP/1.1\r\nHost: x\r\n") // EOF inside the headers
        expect(yield* within(10_000, "the close after EOF", half.ended)).toBeUndefined()
        expect(half.received()).toHaveLength(0)
      }).pipe(Effect.provide(NodeNet.layer)),
    timeout
  )

  it.scopedLive("a handler that fails: 500 and Connection: close; the server goes on", () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen(network, address())
      yield* HttpServer.serve(listener, (request) =>
        request.target === "/fail"
          ? Effect.fail("boom")
          : Effect.succeed({ status: 201, body: "made" }))
      const client = yield* rawClient(network, listener.address)
      client.socket.write("GET /fail HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
      const got = yield* responses(client, 1)
      expect(got[0]!.status).toBe(500)
      expect(got[0]!.headers.get("connection")).toBe("close")
      expect(yield* within(10_000, "the server's close", client.ended)).toBeUndefined()
      expect(parseResponses(client.received()).responses).toHaveLength(1)
      const next = yield* rawClient(network, listener.address)
      next.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
      expect((yield* responses(next, 1))[0]).toMatchObject({ status: 201, body: "made" })
    }).pipe(Effect.provide(NodeNet.layer)), timeout)
})
