/**
 * Helper process for the idle scenario: opens and holds plain node:net client connections so
 * that the measured process holds only the server side. Driven over IPC:
 *   { type: "open", port, count }  → { type: "opened", total }   (in batches of 100)
 *   { type: "closeAll" }           → { type: "closed" }
 *   { type: "exit" }
 */
import { once } from "node:events"
import * as Net from "node:net"

const HOST = "127.0.0.1"
const BATCH = 100
const sockets: Array<Net.Socket> = []

const open = async (port: number, count: number) => {
  for (let done = 0; done < count; done += BATCH) {
    const batch: Array<Promise<unknown>> = []
    for (let i = 0; i < Math.min(BATCH, count - done); i++) {
      const socket = Net.connect({ host: HOST, port, noDelay: true })
      socket.on("error", () => {})
      sockets.push(socket)
      batch.push(once(socket, "connect"))
    }
    await Promise.all(batch)
  }
}

process.on("message", async (message: { type: string; port?: number; count?: number }) => {
  try {
    if (message.type === "open") {
      await open(message.port!, message.count!)
      process.send!({ type: "opened", total: sockets.length })
    } else if (message.type === "closeAll") {
      const closed = sockets.splice(0).map((s) =>
        new Promise<void>((resolve) => s.destroy().once("close", () => resolve()))
      )
      await Promise.all(closed)
      process.send!({ type: "closed" })
    } else if (message.type === "exit") {
      process.exit(0)
    }
  } catch (error) {
    process.send!({ type: "error", message: String(error) })
  }
})
process.on("disconnect", () => process.exit(0))
