/**
 * The baseline: plain node:net, written as a careful Node programmer would (write until
 * `write()` returns false, then wait for 'drain'; 'data' listeners). It runs in a child process
 * that has loaded effect like the others (see child.ts), so ratios compare libraries, not the
 * cost of loading one. Same socket options as vvnet: TCP_NODELAY on, allowHalfOpen.
 */
import { once } from "node:events"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { HOST, type LoadTally, type Variant } from "../types.js"
import { echoPieceOk, messages, pattern, PatternCounter, replies, RequestParser } from "../verify.js"

const listen = (onConnection: (socket: Net.Socket) => void): Promise<Net.Server> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer({ allowHalfOpen: true, noDelay: true }, onConnection)
    server.once("error", reject)
    server.listen(0, HOST, () => {
      server.off("error", reject)
      resolve(server)
    })
  })

const portOf = (server: Net.Server) => (server.address() as Net.AddressInfo).port

const closeServer = (server: Net.Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()))

const connect = async (port: number): Promise<Net.Socket> => {
  const socket = Net.connect({ host: HOST, port, noDelay: true, allowHalfOpen: true })
  await once(socket, "connect")
  return socket
}

export const variant: Variant = {
  id: "raw",
  label: "raw node:net",

  async bulk({ bytes, writeSize }) {
    const counter = new PatternCounter()
    let serverDone!: () => void
    let serverFailed!: (error: Error) => void
    const received = new Promise<void>((resolve, reject) => {
      serverDone = resolve
      serverFailed = reject
    })
    const server = await listen((socket) => {
      socket.on("data", (chunk: Buffer) => counter.add(chunk))
      socket.on("end", () => {
        socket.destroy()
        serverDone()
      })
      socket.on("error", serverFailed)
    })
    const client = await connect(portOf(server))
    const buf = pattern(writeSize)
    await new Promise<void>((resolve, reject) => {
      client.on("error", reject)
      let sent = 0
      const pump = () => {
        while (sent < bytes) {
          sent += writeSize
          if (!client.write(buf)) {
            client.once("drain", pump)
            return
          }
        }
        client.end(resolve)
      }
      pump()
    })
    await received
    client.destroy()
    await closeServer(server)
    return { received: counter.bytes, errors: counter.errors }
  },

  // the same as bulk, over node:tls (TLS 1.3, the server's certificate verified against the CA)
  async tlsBulk({ bytes, writeSize }, tls) {
    const counter = new PatternCounter()
    let serverDone!: () => void
    let serverFailed!: (error: Error) => void
    const received = new Promise<void>((resolve, reject) => {
      serverDone = resolve
      serverFailed = reject
    })
    const server = Tls.createServer({ cert: tls.cert, key: tls.key, allowHalfOpen: true }, (socket) => {
      socket.setNoDelay(true)
      socket.on("data", (chunk: Buffer) => counter.add(chunk))
      socket.on("end", () => {
        socket.destroy()
        serverDone()
      })
      socket.on("error", serverFailed)
    })
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(0, HOST, () => resolve())
    })
    const client = Tls.connect({
      host: HOST,
      port: (server.address() as Net.AddressInfo).port,
      ca: tls.ca,
      noDelay: true,
      allowHalfOpen: true
    } as Tls.ConnectionOptions)
    await once(client, "secureConnect")
    const buf = pattern(writeSize)
    await new Promise<void>((resolve, reject) => {
      client.on("error", reject)
      let sent = 0
      const pump = () => {
        while (sent < bytes) {
          sent += writeSize
          if (!client.write(buf)) {
            client.once("drain", pump)
            return
          }
        }
        client.end(resolve)
      }
      pump()
    })
    await received
    client.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    return { received: counter.bytes, errors: counter.errors }
  },

  async pingPong({ roundTrips, size }) {
    const server = await listen((socket) => {
      socket.on("data", (chunk: Buffer) => socket.write(chunk))
      socket.on("end", () => socket.end())
      socket.on("error", () => socket.destroy())
    })
    const client = await connect(portOf(server))
    const msgs = messages(size)
    let round = 0
    let got = 0
    let bytes = 0
    let errors = 0
    await new Promise<void>((resolve, reject) => {
      client.on("error", reject)
      client.on("data", (chunk: Buffer) => {
        if (!echoPieceOk(chunk, round)) errors++
        got += chunk.length
        bytes += chunk.length
        if (got >= size) {
          got = 0
          round++
          if (round === roundTrips) resolve()
          else client.write(msgs[round & 0xff]!)
        }
      })
      client.write(msgs[0]!)
    })
    client.destroy()
    await closeServer(server)
    return { roundTrips: round, bytes, errors }
  },

  async accept({ connections }) {
    let accepted = 0
    let wake: (() => void) | undefined
    const server = await listen((socket) => {
      accepted++
      socket.on("error", () => {})
      socket.destroy()
      wake?.()
    })
    const port = portOf(server)
    const acceptedAtLeast = (k: number) =>
      accepted >= k ? undefined : new Promise<void>((resolve) => {
        wake = () => {
          if (accepted >= k) {
            wake = undefined
            resolve()
          }
        }
      })
    for (let i = 1; i <= connections; i++) {
      const client = Net.connect({ host: HOST, port, noDelay: true })
      client.on("error", () => {})
      await once(client, "connect")
      await acceptedAtLeast(i)
      client.destroy()
    }
    await closeServer(server)
    return { accepted }
  },

  async idleServer() {
    let live = 0
    const server = await listen((socket) => {
      live++
      socket.on("data", (chunk: Buffer) => socket.write(chunk))
      socket.on("end", () => socket.end())
      socket.on("error", () => socket.destroy())
      socket.on("close", () => live--)
    })
    return { port: portOf(server), live: () => live, close: () => closeServer(server) }
  },

  async loadServer({ size }) {
    const tally: LoadTally = { requests: 0, errors: 0 }
    const answers = replies(size)
    let live = 0
    const server = await listen((socket) => {
      live++
      const parser = new RequestParser(size, answers, tally)
      socket.on("data", (chunk: Buffer) => {
        const reply = parser.feed(chunk)
        if (reply !== undefined) socket.write(reply)
      })
      socket.on("end", () => socket.end())
      socket.on("error", () => socket.destroy())
      socket.on("close", () => live--)
    })
    return { port: portOf(server), live: () => live, tally, close: () => closeServer(server) }
  }
}
