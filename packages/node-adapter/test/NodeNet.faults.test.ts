/**
 * A seeded-fault property on real sockets (issue 10): a raw node:net peer sends a random
 * payload and then either resets the connection (RST) after a random number of bytes or ends
 * it (FIN), while the vvnet reader is sometimes slow (a small receive buffer that pauses
 * reading, so the reset meets bytes still waiting in the kernel: the state in which Node 20's
 * libuv can report a reset as EOF). The reader must see a prefix of the payload and then
 * `ConnectionReset`, or, after a FIN, every byte and then EOF: never a short stream then EOF.
 *
 * Part of the soak run (`pnpm test:soak`, file name `*.faults.test.ts`): `VVNET_SOAK_RUNS` sets
 * the number of runs; the normal suite runs a few.
 */
import { describe, expect, it } from "@effect/vitest"
import { Net } from "@vvnet/core"
import { NodeNet } from "@vvnet/node-adapter"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as NodeNetModule from "node:net"

const soakRuns = process.env.VVNET_SOAK_RUNS !== undefined ? Number(process.env.VVNET_SOAK_RUNS) : undefined
const runs = soakRuns ?? 15

const pattern = (size: number, seed: number) => {
  const bytes = Buffer.alloc(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 17 + seed) % 253
  return bytes
}

/**
 * A raw server that sends `payload` to its first client, then, `delay` ms after the kernel
 * took the last byte, resets or ends; closed with the Scope.
 */
const rawServer = (payload: Buffer, reset: boolean, delay: number) =>
  Effect.acquireRelease(
    Effect.async<NodeNetModule.Server>((resume) => {
      const server = NodeNetModule.createServer((socket) => {
        socket.on("error", () => {})
        socket.write(payload, () => {
          const finish = () => (reset ? socket.resetAndDestroy() : socket.end())
          if (delay === 0) finish()
          else setTimeout(finish, delay)
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.sync(() => server.close())
  )

describe("NodeNet faults", () => {
  it.scopedLive.prop(
    "a reset at any byte, against a fast or a slow reader, gives a prefix then ConnectionReset; a FIN gives every byte then EOF",
    [FastCheck.record({
      size: FastCheck.integer({ min: 0, max: 3 * 1024 * 1024 }),
      seed: FastCheck.integer({ min: 0, max: 252 }),
      reset: FastCheck.boolean(),
      slowReader: FastCheck.boolean(),
      readBufferSize: FastCheck.constantFrom(1024, 4096, 65536, 131072),
      delay: FastCheck.constantFrom(0, 20, 60)
    })],
    ([{ delay, readBufferSize, reset, seed, size, slowReader }]) =>
      Effect.gen(function*() {
        const payload = pattern(size, seed)
        const server = yield* rawServer(payload, reset, delay)
        const port = (server.address() as NodeNetModule.AddressInfo).port
        const dialled = yield* Effect.exit(
          Net.dial("tcp", `127.0.0.1:${port}`, { readBufferSize })
        )
        if (Exit.isFailure(dialled)) {
          // a reset that beats the connect callback fails the dial itself: still a reset, never EOF
          expect(reset && dialled.cause._tag === "Fail" ? dialled.cause.error._tag : "unexpected").toBe(
            "ConnectionReset"
          )
          return
        }
        const conn = dialled.value
        if (slowReader) yield* Effect.sleep("100 millis") // the peer's bytes pile up in the kernel
        let received = 0
        let end = "EOF"
        for (let i = 0; i < 1_000_000; i++) {
          const exit = yield* Effect.exit(conn.read(slowReader ? 4096 : 65536))
          if (Exit.isFailure(exit)) {
            end = exit.cause._tag === "Fail" ? exit.cause.error._tag : exit.cause._tag
            break
          }
          const chunk = exit.value
          if (chunk.length === 0) break
          // every byte in place: a prefix of the payload
          expect(received + chunk.length).toBeLessThanOrEqual(size)
          expect(Buffer.from(chunk).equals(payload.subarray(received, received + chunk.length))).toBe(true)
          received += chunk.length
        }
        if (reset) {
          expect(end).toBe("ConnectionReset")
        } else {
          expect(end).toBe("EOF")
          expect(received).toBe(size)
        }
      }).pipe(Effect.scoped, Effect.provide(NodeNet.layer)),
    { timeout: soakRuns === undefined ? 120_000 : 0, fastCheck: { numRuns: runs } }
  )
})
