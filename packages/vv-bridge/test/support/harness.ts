/**
 * A minimal test host: calls the bridge's natives the way a vv runtime does (look the native up
 * by module path and name, pass the argument list, await a promise), with the default value
 * representation, and records the bridge's log lines.
 */
import * as MemoryNet from "@vvnet/core/MemoryNet"
import type * as Net from "@vvnet/core/Net"
import { NodeNet } from "@vvnet/node-adapter"
import type * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { VvValue } from "../../src/DefaultHost.js"
import { VvList, VvRecord, VvUserdata } from "../../src/DefaultHost.js"
import type { LogLevel } from "../../src/Host.js"
import { Bridge, DefaultHost, StdNet } from "../../src/index.js"

export const { chars, error, fun, int, ints, none, ok, record, show } = DefaultHost

/** An unhandled error result, as vv's `try` at top level reports it. */
export class TryError extends Error {}

export interface LogLine {
  readonly level: LogLevel
  readonly message: string
}

export interface Harness {
  readonly bridge: Bridge.Bridge<VvValue>
  readonly logs: Array<LogLine>
  /** Calls a native as a vv call does; a runtime error rejects. */
  readonly call: (modulePath: string, name: string, ...args: Array<VvValue>) => Promise<VvValue>
  /** Calls a native and returns what it returned, unawaited (a sync throw throws). */
  readonly callRaw: (modulePath: string, name: string, ...args: Array<VvValue>) => VvValue | Promise<VvValue>
  readonly net: (name: string, ...args: Array<VvValue>) => Promise<VvValue>
  readonly channel: (name: string, ...args: Array<VvValue>) => Promise<VvValue>
  readonly sync: (name: string, ...args: Array<VvValue>) => Promise<VvValue>
  readonly dispose: () => Promise<void>
}

export const makeHarness = (layer: Layer.Layer<Net.Net, unknown> = MemoryNet.layer): Harness => {
  const logs: Array<LogLine> = []
  const host = DefaultHost.make({ log: (level, message) => logs.push({ level, message }) })
  const bridge = Bridge.make(host, { layer })
  const callRaw = (modulePath: string, name: string, ...args: Array<VvValue>) => {
    const native = bridge.natives(modulePath).get(name)
    if (native === undefined) throw new Error(`extern native: ${name} not registered`)
    return native.call(args)
  }
  const call = async (modulePath: string, name: string, ...args: Array<VvValue>) => callRaw(modulePath, name, ...args)
  return {
    bridge,
    logs,
    call,
    callRaw,
    net: (name, ...args) => call("std/net.vv", name, ...args),
    channel: (name, ...args) => call("std/channel.vv", name, ...args),
    sync: (name, ...args) => call("std/sync.vv", name, ...args),
    dispose: () => bridge.dispose()
  }
}

/** vv's `try`: the value of an ok result; an error result throws `TryError` with its message. */
export const tryOk = (value: VvValue): VvValue => {
  const result = DefaultHost.toResult(value)
  if (result === undefined) return value
  if (!result.ok) throw new TryError(`unhandled error: ${show(result.value)}`)
  return result.value
}

/** The message of an error result (throws when it is not one). */
export const errorMessage = (value: VvValue): string => {
  const result = DefaultHost.toResult(value)
  if (result === undefined || result.ok) throw new Error(`expected an error result, got ${show(value)}`)
  return show(result.value)
}

/** The bytes of a list of ints (for assertions). */
export const bytesOf = (value: VvValue): Array<number> => {
  if (!(value instanceof VvList)) throw new Error(`expected a list, got ${show(value)}`)
  return Array.from(value, (v) => {
    if (typeof v !== "bigint") throw new Error(`expected ints, got ${show(value)}`)
    return Number(v)
  })
}

export const isNone = (value: VvValue): boolean => DefaultHost.isNone(value)

/**
 * Whether `value` is exactly ok(none): the shape, not what `try` makes of it (`tryOk` passes a
 * non-result through, so it cannot tell ok(none) from a bare none).
 */
export const isOkNone = (value: VvValue): boolean => {
  const result = DefaultHost.toResult(value)
  return result !== undefined && result.ok && DefaultHost.isNone(result.value)
}

/** The bound address of a listener value (vv code uses fixed ports; tests use port 0). */
export const addressOf = (listener: VvValue): string => {
  if (!(listener instanceof VvUserdata) || !(listener.handle instanceof StdNet.ListenerHandle)) {
    throw new Error(`not a listener: ${show(listener)}`)
  }
  return listener.handle.listener.address
}

export const field = (value: VvValue, name: string): VvValue => {
  if (!(value instanceof VvRecord)) throw new Error(`not a record: ${show(value)}`)
  const v = value.get(name)
  if (v === undefined) throw new Error(`no field ${name} in ${show(value)}`)
  return v
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Whether a promise settles within `ms` milliseconds. */
export const settlesWithin = async (promise: Promise<unknown>, ms: number): Promise<boolean> => {
  let settled = false
  promise.then(() => (settled = true), () => (settled = true))
  await sleep(ms)
  return settled
}

/** Waits (bounded) until `predicate` holds. */
export const eventually = async (predicate: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time")
    await sleep(5)
  }
}

/** A network to run the net tests over. */
export interface Network {
  readonly name: string
  readonly layer: () => Layer.Layer<Net.Net, unknown>
  readonly network: string
  readonly listenAddress: () => string
  readonly real: boolean
}

let tmp: string | undefined = undefined
let sockets = 0
const tempSocket = () => {
  tmp ??= Fs.mkdtempSync(Path.join(Os.tmpdir(), "vv-bridge-"))
  return Path.join(tmp, `s${++sockets}.sock`)
}

/** Removes the temp dir of unix sockets (call in afterAll). */
export const cleanupSockets = () => {
  if (tmp !== undefined) Fs.rmSync(tmp, { recursive: true, force: true })
  tmp = undefined
}

let memoryPaths = 0

export const memoryTcp: Network = {
  name: "MemoryNet tcp",
  layer: () => MemoryNet.layer,
  network: "tcp",
  listenAddress: () => "127.0.0.1:0",
  real: false
}

export const memoryUnix: Network = {
  name: "MemoryNet unix",
  layer: () => MemoryNet.layer,
  network: "unix",
  listenAddress: () => `/vv-bridge-memory/s${++memoryPaths}.sock`,
  real: false
}

export const nodeTcp: Network = {
  name: "NodeNet tcp",
  layer: () => NodeNet.layer,
  network: "tcp",
  listenAddress: () => "127.0.0.1:0",
  real: true
}

export const nodeUnix: Network = {
  name: "NodeNet unix",
  layer: () => NodeNet.layer,
  network: "unix",
  listenAddress: tempSocket,
  real: true
}

export const networks: ReadonlyArray<Network> = [memoryTcp, memoryUnix, nodeTcp, nodeUnix]

/** Open file descriptors of this process. */
export const fdCount = (): number => Fs.readdirSync("/proc/self/fd").length

/** Active libuv resources (sockets, servers, pipes, timers, …) by type. */
export const activeResources = (): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1
  return counts
}

/**
 * The resource types of which more are active than in `baseline` (the test runner's own timers
 * come and go, so fewer is fine), with their counts.
 */
export const resourcesAbove = (baseline: Record<string, number>): Record<string, number> => {
  const above: Record<string, number> = {}
  for (const [type, n] of Object.entries(activeResources())) if (n > (baseline[type] ?? 0)) above[type] = n
  return above
}

export type { VvValue }
export const list = (...items: Array<VvValue>): VvList => VvList.of(...items)
export const char = (s: string): VvValue => DefaultHost.VvChar.of(s.codePointAt(0)!)
export const bytes = (values: ReadonlyArray<number>): VvValue => VvList.fromBytes(Uint8Array.from(values))
