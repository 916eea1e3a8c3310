/**
 * The engine's list of waiting fibers (`internal/waitList.ts`, issue "Engine v2"): waiters have
 * no canceler, so the list sweeps the stale ones of interrupted fibers itself. What it promises,
 * with counting callbacks in place of fibers.
 */
import { describe, expect, it } from "@effect/vitest"
import { WaitList } from "../src/internal/waitList.js"

const counters = (n: number) => {
  const calls = Array.from({ length: n }, () => 0)
  const resumes = calls.map((_, i) => () => {
    calls[i]!++
  })
  return { calls, resumes }
}

describe("WaitList", () => {
  it("wakeAll calls every waiter once and empties the list", () => {
    const list = new WaitList()
    const { calls, resumes } = counters(3)
    for (const r of resumes) list.add(r)
    list.wakeAll()
    list.wakeAll()
    expect(calls).toEqual([1, 1, 1])
  })

  it("64 waiters stay; the 65th add first wakes those 64 (a sweep), then waits itself", () => {
    const list = new WaitList()
    const { calls, resumes } = counters(65)
    for (const r of resumes.slice(0, 64)) list.add(r)
    expect(calls.every((c) => c === 0)).toBe(true)
    list.add(resumes[64]!)
    expect(calls.slice(0, 64).every((c) => c === 1)).toBe(true)
    expect(calls[64]).toBe(0)
    list.wakeAll()
    expect(calls[64]).toBe(1)
  })

  it("no sweep while the list is under twice the waiters that re-checked: many live waiters are not woken over and over", () => {
    const list = new WaitList()
    const { calls, resumes } = counters(65)
    list.rechecked = 40
    for (const r of resumes) list.add(r)
    expect(calls.every((c) => c === 0)).toBe(true)
  })

  it("wakeAll resets the count of re-checked waiters, so stale ones are swept at 64 again", () => {
    const list = new WaitList()
    list.add(() => {})
    list.rechecked = 1000
    list.wakeAll()
    expect(list.rechecked).toBe(0)
    const { calls, resumes } = counters(65)
    for (const r of resumes) list.add(r)
    expect(calls[0]).toBe(1)
  })
})
