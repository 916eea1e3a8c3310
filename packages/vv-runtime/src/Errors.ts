/**
 * The errors a vv program can end with. Both carry a message that names the source location
 * (`file:line:column`), so the CLI prints `error.message` and no JavaScript stack.
 *
 * @since 0.1.0
 */
import type { SourceFile } from "./Ast.js"

/**
 * A syntax error: the lexer or parser rejected the text at `file:line:column`.
 *
 * @since 0.1.0
 * @category errors
 */
export class VvSyntaxError extends Error {
  /**
   * The 1-based line of `offset`.
   *
   * @since 0.1.0
   */
  readonly line: number
  /**
   * The 1-based column (in code points) of `offset`.
   *
   * @since 0.1.0
   */
  readonly column: number

  constructor(readonly source: SourceFile, readonly offset: number, readonly detail: string) {
    const { column, line } = source.position(offset)
    super(`${source.name}:${line}:${column}: syntax error: ${detail}`)
    this.line = line
    this.column = column
  }

  override get name(): string {
    return "VvSyntaxError"
  }
}

/**
 * A vv runtime error: a type error, a failed `assert`, a bad argument to a native, an unbound
 * name. vv code cannot catch it; it unwinds through defers and ends the run (or the test).
 * `location` is `file:line:column` of the expression or statement that failed, when known.
 *
 * @since 0.1.0
 * @category errors
 */
export class VvError extends Error {
  constructor(readonly detail: string, readonly location: string | undefined) {
    super(location === undefined ? detail : `${location}: ${detail}`)
  }

  override get name(): string {
    return "VvError"
  }
}

/**
 * The program stopped on `try` of an error result outside any function: at the top level of a
 * module, or in a test body. `message` is `unhandled error: <the error value, printed>`.
 *
 * @since 0.1.0
 * @category errors
 */
export class VvUnhandledError extends Error {
  constructor(readonly value: string, readonly location: string | undefined) {
    super(`unhandled error: ${value}`)
  }

  override get name(): string {
    return "VvUnhandledError"
  }
}

/**
 * Whether an error is one of vv's own (a syntax, runtime or unhandled error), which the CLI
 * reports by message alone.
 *
 * @since 0.1.0
 * @category guards
 */
export const isVvError = (u: unknown): u is VvSyntaxError | VvError | VvUnhandledError =>
  u instanceof VvSyntaxError || u instanceof VvError || u instanceof VvUnhandledError
