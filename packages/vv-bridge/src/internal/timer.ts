/** setTimeout's upper bound; longer delays are chained. */
const maxDelay = 2 ** 31 - 1

/** @internal Calls `f` after `ms` milliseconds on the host's timers; the result cancels it. */
export const schedule = (ms: number, f: () => void): () => void => {
  let handle: ReturnType<typeof setTimeout>
  const arm = (remaining: number) => {
    handle = setTimeout(() => remaining > maxDelay ? arm(remaining - maxDelay) : f(), Math.min(remaining, maxDelay))
  }
  arm(ms)
  return () => clearTimeout(handle)
}
