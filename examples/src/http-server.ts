/**
 * A minimal HTTP/1.1 server on vvnet: `BufferedReader` reads the request line, the header lines
 * and a `Content-Length` body from each connection, `Net.serve` runs one fiber per connection.
 *
 * What it does: keep-alive (HTTP/1.1 by default, HTTP/1.0 with `Connection: keep-alive`),
 * `Connection: close`, pipelined requests (answered in order, as they are read), `HEAD`,
 * `Expect: 100-continue`, and bounded input: a request line over its limit is 414, header lines
 * over their byte or count limit are 431 (the reader's `FrameTooLarge`), a body over its limit is
 * 413 (refused from its `Content-Length`, before it is read), anything malformed is 400; each of
 * these answers with `Connection: close` and closes. What it does not: chunked request bodies
 * (`Transfer-Encoding` is 501), TLS, HTTP/2.
 *
 *   cd examples && npx tsx src/http-server.ts [ADDRESS]
 *
 * serves `GET /` ("hello, world") and `POST /echo` (the body back) on ADDRESS (default
 * `127.0.0.1:8080`; a path serves on a unix socket) until Ctrl-C:
 * `curl -v http://127.0.0.1:8080/`, `curl --data hi http://127.0.0.1:8080/echo`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { BufferedReader, type Conn, FrameError, type Listener, Net, type NetError } from "@vvnet/core"
import { NodeNet } from "@vvnet/node-adapter"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Path from "node:path"
import * as Url from "node:url"

/**
 * A request as read from the connection. Header names are lower-cased; a header sent more than
 * once has its values joined with `", "`.
 */
export interface Request {
  readonly method: string
  /** The request target as sent: `/path?query` (or `*`, or an absolute URL). */
  readonly target: string
  readonly version: "HTTP/1.0" | "HTTP/1.1"
  readonly headers: ReadonlyMap<string, string>
  /** The `Content-Length` bytes of the body (empty without one). */
  readonly body: Uint8Array
  readonly remoteAddress: string
}

/**
 * A handler's response. The server adds `Content-Length`, `Date` and, when the connection is to
 * close, `Connection: close`; a `Content-Length` or `Transfer-Encoding` in `headers` is ignored.
 * A `Connection: close` in `headers` closes the connection after the response.
 */
export interface Response {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly body?: Uint8Array | string | undefined
}

/**
 * The limits and the deadline of `handleConnection` and `serve`, each with its default.
 *
 * - `maxRequestLineLength`: bytes of the request line, without CRLF (8192); longer is 414.
 * - `maxHeaderBytes`: bytes of all header lines together, without their CRLFs (16384); longer is
 *   431, as soon as the limit is passed (the reader never holds more).
 * - `maxHeaderCount`: header lines (100); more is 431.
 * - `maxBodySize`: bytes of a `Content-Length` body (1048576); more is 413, before any of the body
 *   is read.
 * - `readTimeout`: milliseconds from the moment the server waits for a request (an idle
 *   keep-alive connection included) to the end of its body (10000; 0: none). When it passes, the
 *   connection closes without a response.
 */
export interface Options {
  readonly maxRequestLineLength?: number | undefined
  readonly maxHeaderBytes?: number | undefined
  readonly maxHeaderCount?: number | undefined
  readonly maxBodySize?: number | undefined
  readonly readTimeout?: number | undefined
}

/** A request handler: each request of a connection in turn, in the order they were sent. */
export type Handler<E, R> = (request: Request) => Effect.Effect<Response, E, R>

/**
 * Why a request was refused: the `status` the server answers with (400, 413, 414, 431, 501, 505)
 * and a `reason`, sent as the response's body.
 */
export class HttpRequestError extends Data.TaggedError("HttpRequestError")<{
  readonly status: number
  readonly reason: string
}> {
  override get message(): string {
    return `${this.status} ${statusText(this.status)}: ${this.reason}`
  }
}

const reasons: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  204: "No Content",
  304: "Not Modified",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  505: "HTTP Version Not Supported"
}

/** The reason phrase of a status code (`"OK"` for 200), or `""` for one this server does not name. */
export const statusText = (status: number): string => reasons[status] ?? ""

const encoder = new TextEncoder()
/** A line's bytes as a string of the same length, one char per byte (HTTP's fields are bytes). */
const latin1 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1")
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const TARGET = /^[\x21-\x7e]+$/
// a field value: visible ASCII, obs-text, space and tab; no CR, LF or NUL
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/
const CONTENT_LENGTH = /^[0-9]{1,15}$/

const refuse = (status: number, reason: string) => Effect.fail(new HttpRequestError({ status, reason }))

/** Whether a comma-separated header value lists `token` (case-insensitive). */
const hasToken = (value: string | undefined, token: string): boolean =>
  value !== undefined && value.split(",").some((part) => part.trim().toLowerCase() === token)

/**
 * Reads one request. `None` at a clean EOF between requests. Fails with `HttpRequestError` for
 * a request to refuse, or with the reader's `NetError` / `UnexpectedEof`.
 */
const readRequest = (
  reader: BufferedReader.BufferedReader,
  remoteAddress: string,
  progress: { inHeaders: boolean },
  limits: { readonly [K in Exclude<keyof Options, "readTimeout">]-?: number }
): Effect.Effect<Option.Option<Request>, HttpRequestError | NetError.NetError | FrameError.FrameError> =>
  Effect.gen(function*() {
    // the request line; RFC 9112 §2.2: ignore empty lines before it (a few, not forever)
    let line: string | undefined
    for (let empty = 0; line === undefined; empty++) {
      const read = yield* reader.readLine({ maxLength: limits.maxRequestLineLength })
      if (Option.isNone(read)) return Option.none()
      if (read.value.length > 0) line = latin1(read.value)
      else if (empty >= 4) return yield* refuse(400, "empty lines instead of a request line")
    }
    const parts = line.split(" ")
    if (parts.length !== 3) return yield* refuse(400, "malformed request line")
    const [method, target, version] = parts as [string, string, string]
    if (!TOKEN.test(method)) return yield* refuse(400, "malformed method")
    if (!TARGET.test(target)) return yield* refuse(400, "malformed request target")
    if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
      return yield* /^HTTP\/[0-9]\.[0-9]$/.test(version)
        ? refuse(505, `${version} is not supported`)
        : refuse(400, "malformed HTTP version")
    }

    // the header lines, up to the empty line: the byte budget bounds what the reader holds
    progress.inHeaders = true
    const headers = new Map<string, string>()
    let budget = limits.maxHeaderBytes
    let count = 0
    while (true) {
      const read = yield* reader.readLine({ maxLength: budget })
      if (Option.isNone(read)) {
        return yield* new FrameError.UnexpectedEof({ frame: "line", received: 0 })
      }
      const field = latin1(read.value)
      if (field === "") break
      budget -= field.length
      if (++count > limits.maxHeaderCount) return yield* refuse(431, `more than ${limits.maxHeaderCount} header fields`)
      const colon = field.indexOf(":")
      const name = colon > 0 ? field.slice(0, colon) : ""
      // no space before the colon (RFC 9112 §5.1), no obs-fold (a line starting with SP or HT)
      if (!TOKEN.test(name)) return yield* refuse(400, "malformed header field")
      const value = field.slice(colon + 1).trim()
      if (!FIELD_VALUE.test(value)) return yield* refuse(400, "malformed header field value")
      const key = name.toLowerCase()
      const previous = headers.get(key)
      headers.set(key, previous === undefined ? value : `${previous}, ${value}`)
    }

    // RFC 9112 §3.2: exactly one Host in HTTP/1.1
    const host = headers.get("host")
    if (version === "HTTP/1.1" && (host === undefined || host.includes(","))) {
      return yield* refuse(400, "HTTP/1.1 needs exactly one Host header")
    }
    if (headers.has("transfer-encoding")) return yield* refuse(501, "Transfer-Encoding is not supported")

    // the body: Content-Length bytes, refused from the header when over the limit
    let body: Uint8Array = new Uint8Array(0)
    const lengthField = headers.get("content-length")
    if (lengthField !== undefined) {
      const values = new Set(lengthField.split(",").map((v) => v.trim()))
      const [single] = values
      if (values.size !== 1 || single === undefined || !CONTENT_LENGTH.test(single)) {
        return yield* refuse(400, "malformed Content-Length")
      }
      const length = Number(single)
      if (length > limits.maxBodySize) {
        const tooLarge = new FrameError.FrameTooLarge({ frame: "fixed", maxLength: limits.maxBodySize, length })
        return yield* refuse(413, tooLarge.message)
      }
      if (length > 0) {
        const expect = headers.get("expect")
        if (expect !== undefined && expect.toLowerCase() === "100-continue" && (yield* reader.buffered) === 0) {
          yield* reader.conn.write("HTTP/1.1 100 Continue\r\n\r\n")
        }
        const read = yield* reader.readExactly(length)
        if (Option.isNone(read)) return yield* new FrameError.UnexpectedEof({ frame: "fixed", received: 0 })
        body = read.value
      }
    }
    return Option.some({ method, target, version, headers, body, remoteAddress })
  })

/** The `Date` header's value, made at most once a second. */
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

/** The response's bytes: status line, headers, body, in one array (one write). */
const encodeResponse = (response: Response, close: boolean, head: boolean, version: string): Uint8Array => {
  const status = response.status
  const noBody = (status >= 100 && status < 200) || status === 204 || status === 304
  const body = noBody || response.body === undefined
    ? new Uint8Array(0)
    : typeof response.body === "string"
    ? encoder.encode(response.body)
    : response.body
  let text = `HTTP/1.1 ${status} ${statusText(status)}\r\nDate: ${httpDate()}\r\n`
  if (response.headers !== undefined) {
    for (const name in response.headers) {
      const lower = name.toLowerCase()
      if (lower === "content-length" || lower === "transfer-encoding" || lower === "connection") continue
      text += `${name}: ${response.headers[name]}\r\n`
    }
  }
  if (!noBody) text += `Content-Length: ${body.length}\r\n`
  if (close) text += "Connection: close\r\n"
  else if (version === "HTTP/1.0") text += "Connection: keep-alive\r\n"
  text += "\r\n"
  // the head is ASCII (header values from a handler are sent as latin1, one byte per char)
  const withBody = !head && body.length > 0
  const out = Buffer.allocUnsafe(text.length + (withBody ? body.length : 0))
  out.write(text, 0, "latin1")
  if (withBody) out.set(body, text.length)
  return out
}

/**
 * Serves HTTP/1.1 on one connection: reads requests one after another (pipelined ones included)
 * and writes each response before reading on, until the client closes, asks to close, or sends
 * a request to refuse (answered with its status and `Connection: close`), or `readTimeout`
 * passes. A handler that fails or dies gets the client a 500 and closes the connection; the
 * cause is logged. Fails only with the connection's `NetError` (a peer's reset, say).
 */
export const handleConnection = <E, R>(
  conn: Conn.Conn,
  handler: Handler<E, R>,
  options?: Options
): Effect.Effect<void, NetError.NetError, R> =>
  Effect.gen(function*() {
    const limits = {
      maxRequestLineLength: options?.maxRequestLineLength ?? 8192,
      maxHeaderBytes: options?.maxHeaderBytes ?? 16384,
      maxHeaderCount: options?.maxHeaderCount ?? 100,
      maxBodySize: options?.maxBodySize ?? 1024 * 1024
    }
    const readTimeout = options?.readTimeout ?? 10_000
    const reader = yield* BufferedReader.make(conn)
    const remoteAddress = conn.remoteAddress
    // where a FrameTooLarge came from: the request line (414) or the header lines (431)
    const progress = { inHeaders: false }
    while (true) {
      progress.inHeaders = false
      if (readTimeout > 0) yield* conn.setReadTimeout(readTimeout)
      const read = yield* Effect.either(readRequest(reader, remoteAddress, progress, limits))
      if (Either.isLeft(read)) {
        const error = read.left
        switch (error._tag) {
          case "HttpRequestError":
          case "FrameTooLarge": {
            // the reader's FrameTooLarge: a line over its limit, found before its end
            const refusal = error._tag === "HttpRequestError"
              ? error
              : progress.inHeaders
              ? new HttpRequestError({ status: 431, reason: `header fields over ${limits.maxHeaderBytes} bytes` })
              : new HttpRequestError({ status: 414, reason: "request line too long" })
            const response = { status: refusal.status, body: `${refusal.reason}\n` }
            yield* conn.write(encodeResponse(response, true, false, "HTTP/1.1"))
            return
          }
          case "UnexpectedEof": // the client left in the middle of a request
          case "Timeout": // too slow, or idle too long
            return
          default:
            return yield* error
        }
      }
      if (Option.isNone(read.right)) return // the client closed between requests
      const request = read.right.value
      const response: Response = yield* handler(request).pipe(
        Effect.catchAllCause((cause) =>
          Effect.as(
            Effect.logError(`http: handler failed on ${request.method} ${request.target}`, cause),
            { status: 500, headers: { connection: "close" }, body: "internal server error\n" } satisfies Response
          )
        )
      )
      const connection = request.headers.get("connection")
      const close = request.version === "HTTP/1.1"
        ? hasToken(connection, "close")
        : !hasToken(connection, "keep-alive")
      const responseHeaders = response.headers
      const handlerCloses = responseHeaders !== undefined &&
        Object.keys(responseHeaders).some((name) =>
          name.toLowerCase() === "connection" && hasToken(responseHeaders[name], "close")
        )
      yield* conn.write(
        encodeResponse(response, close || handlerCloses, request.method === "HEAD", request.version)
      )
      if (close || handlerCloses) return
    }
  })

/**
 * Serves HTTP/1.1 on `listener` with `Net.serve`: one fiber per connection running
 * `handleConnection`. Returns at once; closing the Scope stops the server (see `Net.serve`).
 */
export const serve = <E, R>(
  listener: Listener.Listener,
  handler: Handler<E, R>,
  options?: Options & Net.ServeOptions
): Effect.Effect<void, NetError.InvalidArgument, R | Scope.Scope> =>
  Net.serve(listener, (conn) => handleConnection(conn, handler, options), options)

/**
 * The example's application: `GET /` (and `HEAD /`) answer "hello, world", `POST /echo` answers
 * with the request's body; other paths are 404, other methods 405.
 */
export const app: Handler<never, never> = (request) => {
  const path = request.target.split("?")[0]
  if (path === "/") {
    return request.method === "GET" || request.method === "HEAD"
      ? Effect.succeed({ status: 200, headers: { "Content-Type": "text/plain" }, body: "hello, world\n" })
      : Effect.succeed({ status: 405, headers: { Allow: "GET, HEAD" }, body: "method not allowed\n" })
  }
  if (path === "/echo") {
    return request.method === "POST"
      ? Effect.succeed({
        status: 200,
        headers: { "Content-Type": request.headers.get("content-type") ?? "application/octet-stream" },
        body: request.body
      })
      : Effect.succeed({ status: 405, headers: { Allow: "POST" }, body: "method not allowed\n" })
  }
  return Effect.succeed({ status: 404, body: `not found: ${path}\n` })
}

/** `tsx src/http-server.ts [ADDRESS]`: the example app until Ctrl-C. */
const main = (address: string) =>
  Effect.gen(function*() {
    const network = address.includes("/") ? "unix" : "tcp"
    const listener = yield* Net.listen(network, address)
    yield* serve(listener, app)
    yield* Console.log(`http server on ${network} ${listener.address}; Ctrl-C stops it`)
    if (process.send !== undefined) process.send({ address: listener.address })
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.catchAll((error) => Console.error(error.message)),
    Effect.provide(NodeNet.layer)
  )

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === Url.fileURLToPath(import.meta.url)) {
  NodeRuntime.runMain(main(process.argv[2] ?? "127.0.0.1:8080"))
}
