/** @internal The reason a byte count is invalid, or undefined when it is a non-negative integer. */
export const invalidCount = (n: unknown): string | undefined =>
  typeof n === "number" && Number.isSafeInteger(n) && n >= 0
    ? undefined
    : `invalid argument: byte count must be a non-negative integer, got ${describe(n)}`

/** @internal The reason a timeout is invalid, or undefined when it is finite and non-negative (ms). */
export const invalidTimeout = (ms: unknown): string | undefined =>
  typeof ms === "number" && Number.isFinite(ms) && ms >= 0
    ? undefined
    : `invalid argument: timeout must be a finite, non-negative number of milliseconds, got ${describe(ms)}`

/**
 * @internal The reason a size or count option is invalid, or undefined when it is a positive
 * integer (or, with `unbounded`, positive infinity).
 */
export const invalidPositive = (name: string, n: unknown, unbounded = false): string | undefined =>
  typeof n === "number" && (Number.isSafeInteger(n) || (unbounded && n === Number.POSITIVE_INFINITY)) && n > 0
    ? undefined
    : `invalid argument: ${name} must be a positive integer, got ${describe(n)}`

/** @internal The reason a count option is invalid, or undefined when it is a non-negative integer. */
export const invalidNonNegative = (name: string, n: unknown): string | undefined =>
  typeof n === "number" && Number.isSafeInteger(n) && n >= 0
    ? undefined
    : `invalid argument: ${name} must be a non-negative integer, got ${describe(n)}`

const describe = (u: unknown): string => typeof u === "number" ? String(u) : typeof u
