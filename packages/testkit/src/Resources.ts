/**
 * Resource accounting for tests that check nothing leaks: the process's open fds
 * (/proc/self/fd) and active handles (sockets, servers, pipes, timers), a baseline taken over a
 * short window, and polls until the counts are back (closes in node:net are asynchronous).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import { expect } from "vitest"

/** The handle kinds a socket, server, pipe or timer shows up as in `getActiveResourcesInfo`. */
export const trackedKinds = ["TCPSocketWrap", "TCPServerWrap", "PipeWrap", "PipeServerWrap", "Timeout"] as const

export interface Resources {
  readonly fds: number
  readonly handles: Readonly<Record<(typeof trackedKinds)[number], number>>
}

export const resources = (): Resources => {
  const handles = { TCPSocketWrap: 0, TCPServerWrap: 0, PipeWrap: 0, PipeServerWrap: 0, Timeout: 0 }
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind in handles) handles[kind as keyof typeof handles]++
  }
  return { fds: Fs.readdirSync("/proc/self/fd").length, handles }
}

const within = (now: Resources, baseline: Resources): boolean =>
  now.fds <= baseline.fds && trackedKinds.every((kind) => now.handles[kind] <= baseline.handles[kind])

/**
 * The baseline: the least of each count over a short window (~300 ms). The test runner keeps
 * short-lived timers of its own (RPC, report throttling) that come and go at any time; taking
 * the minimum keeps them out of the baseline, and `expectBackTo` polls past them.
 */
export const baseline: Effect.Effect<Resources> = Effect.gen(function*() {
  let fds = Number.POSITIVE_INFINITY
  const handles = {
    TCPSocketWrap: Infinity,
    TCPServerWrap: Infinity,
    PipeWrap: Infinity,
    PipeServerWrap: Infinity,
    Timeout: Infinity
  }
  for (let i = 0; i < 12; i++) {
    if (i > 0) yield* Effect.sleep(Duration.millis(25))
    const now = resources()
    fds = Math.min(fds, now.fds)
    for (const kind of trackedKinds) handles[kind] = Math.min(handles[kind], now.handles[kind])
  }
  return { fds, handles }
})

/**
 * Polls (every 25 ms, for up to `seconds`) until the fd count and every tracked handle kind
 * are back at or below `base`, then asserts it: closes in node:net are asynchronous.
 */
export const expectBackTo = (base: Resources, seconds = 10): Effect.Effect<Resources> =>
  Effect.gen(function*() {
    let now = resources()
    for (let i = 0; i < seconds * 40 && !within(now, base); i++) {
      yield* Effect.sleep(Duration.millis(25))
      now = resources()
    }
    // at or below the baseline (a transient timer counted in the baseline may be gone)
    if (!within(now, base)) expect(now).toEqual(base)
    return now
  })

/** Polls (for up to `seconds`) until `predicate` holds on the current resources; returns them. */
export const awaitResources = (predicate: (now: Resources) => boolean, seconds = 5): Effect.Effect<Resources> =>
  Effect.gen(function*() {
    let now = resources()
    for (let i = 0; i < seconds * 40 && !predicate(now); i++) {
      yield* Effect.sleep(Duration.millis(25))
      now = resources()
    }
    expect(predicate(now), JSON.stringify(now)).toBe(true)
    return now
  })
