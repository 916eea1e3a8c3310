/**
 * The vv lexer: source text to tokens. Newlines carry no meaning; `// …`, `/* … *\/` and `///`
 * doc comments are skipped. A double-quoted string is one token whose interpolated parts are
 * kept as source ranges, which the parser parses as expressions.
 *
 * @since 0.1.0
 */
import type { SourceFile } from "./Ast.js"
import { VvSyntaxError } from "./Errors.js"

/**
 * The words that can never be names. `from`, `as`, `rec`, `pub`, `extern` and `test` are
 * keywords only where the grammar expects them.
 *
 * @since 0.1.0
 * @category models
 */
export const keywords: ReadonlySet<string> = new Set([
  "and",
  "assert",
  "begin",
  "break",
  "continue",
  "defer",
  "else",
  "end",
  "false",
  "fun",
  "if",
  "import",
  "len",
  "let",
  "not",
  "or",
  "return",
  "true",
  "try",
  "while"
])

/**
 * A part of a double-quoted string token: literal text, or the source range of an
 * interpolated expression (between its braces).
 *
 * @since 0.1.0
 * @category models
 */
export type StringTokenPart = string | { readonly start: number; readonly end: number }

/**
 * A token. `at`/`end` are offsets into the source text.
 *
 * @since 0.1.0
 * @category models
 */
export type Token =
  | { readonly kind: "ident" | "keyword" | "punct"; readonly text: string; readonly at: number; readonly end: number }
  | { readonly kind: "int"; readonly text: string; readonly value: bigint; readonly at: number; readonly end: number }
  | { readonly kind: "float"; readonly text: string; readonly value: number; readonly at: number; readonly end: number }
  | {
    readonly kind: "string"
    readonly text: string
    /** The parts; for a single-quoted literal, one text part (no interpolation). */
    readonly parts: ReadonlyArray<StringTokenPart>
    readonly quote: "'" | "\""
    readonly at: number
    readonly end: number
  }
  | { readonly kind: "eof"; readonly text: ""; readonly at: number; readonly end: number }

const puncts2 = new Set(["/:", "==", "<=", "+=", "-="])
const puncts1 = new Set(["+", "-", "*", "/", "%", "<", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "!"])

const isIdentStart = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_"
const isDigit = (c: string) => c >= "0" && c <= "9"
const isIdentPart = (c: string) => isIdentStart(c) || isDigit(c)

const escapes: Readonly<Record<string, string>> = { n: "\n", t: "\t", r: "\r", b: "\b" }

/**
 * Splits `source.text` between `start` and `end` (the whole text by default) into tokens,
 * ending with one `eof` token. Throws `VvSyntaxError` at the first bad character, unterminated
 * string or comment.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tokenize = (source: SourceFile, start = 0, end = source.text.length): Array<Token> => {
  const text = source.text
  const tokens: Array<Token> = []
  const fail = (offset: number, message: string): never => {
    throw new VvSyntaxError(source, offset, message)
  }
  let i = start

  /** Scans a quoted literal starting at `open` (the quote); returns its token. */
  const scanString = (open: number): Token & { kind: "string" } => {
    const quote = text[open] as "'" | "\""
    const parts: Array<StringTokenPart> = []
    let buf = ""
    let j = open + 1
    for (;;) {
      if (j >= end) return fail(open, "unterminated string")
      const c = text[j]!
      if (c === quote) {
        j++
        break
      }
      if (c === "\\") {
        if (j + 1 >= end) return fail(open, "unterminated string")
        const cp = text.codePointAt(j + 1)!
        const e = String.fromCodePoint(cp)
        buf += escapes[e] ?? e
        j += 1 + e.length
        continue
      }
      if (quote === "\"" && c === "{") {
        if (text[j + 1] === "{") {
          buf += "{"
          j += 2
          continue
        }
        const exprStart = j + 1
        const exprEnd = skipInterpolation(exprStart)
        if (text.slice(exprStart, exprEnd).trim() === "") fail(j, "empty interpolation {} in a string")
        if (buf !== "") parts.push(buf)
        buf = ""
        parts.push({ start: exprStart, end: exprEnd })
        j = exprEnd + 1
        continue
      }
      if (quote === "\"" && c === "}" && text[j + 1] === "}") {
        buf += "}"
        j += 2
        continue
      }
      buf += c
      j++
    }
    if (buf !== "" || parts.length === 0) parts.push(buf)
    return { kind: "string", text: text.slice(open, j), parts, quote, at: open, end: j }
  }

  /** From just after an interpolation's `{`, the offset of its matching `}`. */
  const skipInterpolation = (from: number): number => {
    let depth = 1
    let j = from
    while (j < end) {
      const c = text[j]!
      if (c === "\"" || c === "'") {
        try {
          j = scanString(j).end
        } catch (error) {
          // a quote inside an unclosed interpolation: report the interpolation
          if (error instanceof VvSyntaxError && error.detail === "unterminated string") break
          throw error
        }
        continue
      }
      if (c === "{") depth++
      else if (c === "}") {
        depth--
        if (depth === 0) return j
      }
      j++
    }
    return fail(from - 1, "unterminated interpolation in a string (missing '}')")
  }

  while (i < end) {
    const c = text[i]!
    // whitespace, including newlines: no meaning
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v" || c === "\uFEFF") {
      i++
      continue
    }
    if (c === "/" && text[i + 1] === "/") {
      while (i < end && text[i] !== "\n" && text[i] !== "\r") i++
      continue
    }
    if (c === "/" && text[i + 1] === "*") {
      const close = text.indexOf("*/", i + 2)
      if (close < 0 || close + 2 > end) fail(i, "unterminated comment")
      i = close + 2
      continue
    }
    const at = i
    if (isIdentStart(c)) {
      while (i < end && isIdentPart(text[i]!)) i++
      const word = text.slice(at, i)
      tokens.push({ kind: keywords.has(word) ? "keyword" : "ident", text: word, at, end: i })
      continue
    }
    if (isDigit(c)) {
      while (i < end && isDigit(text[i]!)) i++
      let isFloat = false
      if (text[i] === "." && isDigit(text[i + 1] ?? "")) {
        isFloat = true
        i++
        while (i < end && isDigit(text[i]!)) i++
      }
      if ((text[i] === "e" || text[i] === "E")) {
        let k = i + 1
        if (text[k] === "+" || text[k] === "-") k++
        if (isDigit(text[k] ?? "")) {
          isFloat = true
          i = k
          while (i < end && isDigit(text[i]!)) i++
        }
      }
      if (i < end && isIdentStart(text[i]!)) fail(i, `unexpected '${text[i]}' after a number`)
      const lexeme = text.slice(at, i)
      tokens.push(
        isFloat
          ? { kind: "float", text: lexeme, value: Number(lexeme), at, end: i }
          : { kind: "int", text: lexeme, value: BigInt(lexeme), at, end: i }
      )
      continue
    }
    if (c === "\"" || c === "'") {
      const token = scanString(i)
      tokens.push(token)
      i = token.end
      continue
    }
    const two = text.slice(i, i + 2)
    if (two === "!=") fail(i, "there is no '!=' in vv: write not(a == b)")
    if (two === ">=") fail(i, "there is no '>=' in vv: write b <= a")
    if (c === ">") fail(i, "there is no '>' in vv: write b < a")
    if (puncts2.has(two)) {
      tokens.push({ kind: "punct", text: two, at, end: i + 2 })
      i += 2
      continue
    }
    if (puncts1.has(c)) {
      tokens.push({ kind: "punct", text: c, at, end: i + 1 })
      i++
      continue
    }
    const cp = text.codePointAt(i)!
    fail(i, `unexpected character '${String.fromCodePoint(cp)}'`)
  }
  tokens.push({ kind: "eof", text: "", at: end, end })
  return tokens
}
