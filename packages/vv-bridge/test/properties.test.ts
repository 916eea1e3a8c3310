import * as fc from "effect/FastCheck"
import { afterEach, describe, expect, it } from "vitest"
import { DefaultHost } from "../src/index.js"
import {
  addressOf,
  bytesOf,
  chars,
  fun,
  type Harness,
  int,
  makeHarness,
  memoryTcp,
  nodeTcp,
  tryOk,
  type VvValue
} from "./support/harness.js"

const { VvChar, VvList } = DefaultHost

const harnesses: Array<Harness> = []
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.dispose()))
})

describe.each([memoryTcp, nodeTcp])("properties over $name", (network) => {
  /** One connection pair for all runs of a property. */
  const connect = async () => {
    const h = makeHarness(network.layer())
    harnesses.push(h)
    const listener = tryOk(await h.net("listen", chars(network.network), chars(network.listenAddress())))
    const conns = await h.channel("make")
    await h.net("accept", listener, fun("handler", 1, ([conn]) => h.channel("send", conns, conn!)))
    const client = tryOk(await h.net("dial", chars(network.network), chars(addressOf(listener))))
    const server = tryOk(await h.channel("recv", conns, int(5000)))
    /** Writes `data` on the client and reads exactly `n` bytes on the server (bounded). */
    const roundTrip = async (data: VvValue, n: number): Promise<Array<number>> => {
      const writing = h.net("write", client, data)
      const out: Array<number> = []
      for (let i = 0; i <= n && out.length < n; i++) {
        out.push(...bytesOf(tryOk(await h.net("read", server, int(n - out.length)))))
      }
      expect(tryOk(await writing)).toBe(BigInt(n))
      return out
    }
    return { roundTrip }
  }

  it("arbitrary byte lists written through the bridge are read back exactly", async () => {
    const { roundTrip } = await connect()
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 3000 }), async (values) => {
        const got = await roundTrip(DefaultHost.ints(values), values.length)
        expect(got).toEqual(values)
      }),
      { numRuns: 60 }
    )
  }, 30_000)

  it("byte lists made by read are written back exactly (the bytes-backed path)", async () => {
    const { roundTrip } = await connect()
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 70_000 }), async (data) => {
        const got = await roundTrip(VvList.fromBytes(data.slice()), data.length)
        expect(got).toEqual(Array.from(data))
      }),
      { numRuns: 25 }
    )
  }, 30_000)

  it("arbitrary 64-bit integers are sent as their low 8 bits", async () => {
    const { roundTrip } = await connect()
    const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
    await fc.assert(
      fc.asyncProperty(fc.array(int64, { maxLength: 500 }), async (values) => {
        const got = await roundTrip(VvList.of(...values), values.length)
        expect(got).toEqual(values.map((v) => Number(BigInt.asUintN(8, v))))
      }),
      { numRuns: 60 }
    )
  }, 30_000)

  it("arbitrary chars are sent as the low 8 bits of their code point", async () => {
    const { roundTrip } = await connect()
    const codePoint = fc.integer({ min: 0, max: 0x10ffff })
    await fc.assert(
      fc.asyncProperty(fc.array(codePoint, { maxLength: 500 }), async (points) => {
        const got = await roundTrip(VvList.of(...points.map((p) => VvChar.of(p))), points.length)
        expect(got).toEqual(points.map((p) => p & 0xff))
      }),
      { numRuns: 60 }
    )
  }, 30_000)
})
