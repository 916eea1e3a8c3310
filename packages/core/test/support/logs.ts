import type * as Cause from "effect/Cause"
import * as Logger from "effect/Logger"

/** One captured log line. */
export interface LogLine {
  readonly level: string
  readonly message: string
  readonly cause: Cause.Cause<unknown>
  readonly annotations: object
}

/**
 * Log lines whose message starts with `prefix`, captured from a test Logger: provide `layer`,
 * then read `logged`.
 */
export const captureLogs = (prefix: string) => {
  const logged: Array<LogLine> = []
  const logger = Logger.make<unknown, void>((entry) => {
    const message = (Array.isArray(entry.message) ? entry.message : [entry.message]).map(String).join(" ")
    if (message.startsWith(prefix)) {
      logged.push({
        level: entry.logLevel._tag,
        message,
        cause: entry.cause,
        annotations: Object.fromEntries(entry.annotations)
      })
    }
  })
  return { layer: Logger.replace(Logger.defaultLogger, logger), logged }
}
