/**
 * @since 0.1.0
 */

/**
 * The syntax tree and `SourceFile`.
 *
 * @since 0.1.0
 */
export * as Ast from "./Ast.js"

/**
 * The `vv` command line (`main`).
 *
 * @since 0.1.0
 */
export * as Cli from "./cli.js"

/**
 * `VvSyntaxError`, `VvError`, `VvUnhandledError`.
 *
 * @since 0.1.0
 */
export * as Errors from "./Errors.js"

/**
 * The asynchronous tree-walking evaluator.
 *
 * @since 0.1.0
 */
export * as Evaluator from "./Evaluator.js"

/**
 * The lexer.
 *
 * @since 0.1.0
 */
export * as Lexer from "./Lexer.js"

/**
 * The parser.
 *
 * @since 0.1.0
 */
export * as Parser from "./Parser.js"

/**
 * How values print.
 *
 * @since 0.1.0
 */
export * as Printer from "./Printer.js"

/**
 * Running programs and tests end to end: `runFile`, `runText`, `testFiles`.
 *
 * @since 0.1.0
 */
export * as Program from "./Program.js"

/**
 * One program run: module loading, std modules, the bridge.
 *
 * @since 0.1.0
 */
export * as Runtime from "./Runtime.js"

/**
 * vv values (the bridge's default representation).
 *
 * @since 0.1.0
 */
export * as Values from "./Values.js"
