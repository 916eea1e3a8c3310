import * as Effect from "effect/Effect"

/**
 * Run counts for seeded-fault property tests, written once for two uses: the normal suite
 * (`pnpm test`, CI) runs each property a few times, and the soak command (`pnpm test:soak`,
 * `vitest.soak.config.ts`) reruns the same properties many times. The count comes from
 * `VVNET_SOAK_RUNS` in the environment, when set; the soak config sets it (default 1000), and
 * `VVNET_SOAK_RUNS=10000 pnpm test:soak` asks for more.
 */

const parseRuns = (raw: string | undefined): number | undefined => {
  if (raw === undefined || raw === "") return undefined
  const runs = Number(raw)
  if (!Number.isSafeInteger(runs) || runs < 1) {
    throw new Error(`VVNET_SOAK_RUNS must be a positive integer, got ${JSON.stringify(raw)}`)
  }
  return runs
}

/** The runs `VVNET_SOAK_RUNS` asks for, or undefined outside a soak. */
export const soakRuns: number | undefined = parseRuns(process.env.VVNET_SOAK_RUNS)

/** The number of runs of one property: `VVNET_SOAK_RUNS` when set, else `ciRuns` (default 25). */
export const propertyRuns = (ciRuns = 25): number => soakRuns ?? ciRuns

/**
 * The options of `it.effect.prop` / `it.scoped.prop` for a seeded-fault property: its runs,
 * and its timeout in ms (`ciTimeout` in the normal suite; none in a soak, whose length grows
 * with the runs asked for).
 */
export const propertyOptions = (ciRuns = 25, ciTimeout = 60_000) => ({
  timeout: soakTimeout(ciTimeout),
  fastCheck: { numRuns: propertyRuns(ciRuns) }
})

/** A test's timeout in ms: `ciTimeout` in the normal suite, none (0) in a soak run. */
export const soakTimeout = (ciTimeout: number): number => soakRuns === undefined ? ciTimeout : 0

/**
 * One turn of the event loop (a `setImmediate`). Every run of a seeded-fault property ends
 * with one: a run that needs no timer settles in microtasks alone, and thousands of them in a
 * row keep the vitest worker from reading its runner's reply to `onTaskUpdate` for over 60 s
 * (vitest's fixed worker RPC timeout), so a soak run whose tests all pass would exit 1.
 */
export const eventLoopTurn: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})
