/**
 * The parser's cursor over the tokens: look ahead, consume, expect, and fail with a
 * `VvSyntaxError` naming `file:line:column`.
 */
import type { SourceFile } from "../Ast.js"
import { VvSyntaxError } from "../Errors.js"
import type { Token } from "../Lexer.js"

/** A token as messages name it: `'end'`, `string "x"`, `end of file`. */
export const describe = (token: Token): string =>
  token.kind === "eof" ? "end of file" : token.kind === "string" ? `string ${token.text}` : `'${token.text}'`

export class TokenCursor {
  protected pos = 0

  constructor(readonly source: SourceFile, protected readonly tokens: ReadonlyArray<Token>) {}

  protected peek(ahead = 0): Token {
    return this.tokens[Math.min(this.pos + ahead, this.tokens.length - 1)]!
  }

  protected next(): Token {
    const token = this.peek()
    if (this.pos < this.tokens.length - 1) this.pos++
    return token
  }

  protected is(text: string, ahead = 0): boolean {
    const token = this.peek(ahead)
    return (token.kind === "punct" || token.kind === "keyword") && token.text === text
  }

  protected isWord(word: string, ahead = 0): boolean {
    const token = this.peek(ahead)
    return token.kind === "ident" && token.text === word
  }

  protected eat(text: string): boolean {
    if (this.is(text)) {
      this.pos++
      return true
    }
    return false
  }

  fail(offset: number, message: string): never {
    throw new VvSyntaxError(this.source, offset, message)
  }

  protected expect(text: string, context?: string): Token {
    if (this.is(text)) return this.next()
    const token = this.peek()
    return this.fail(
      token.at,
      `expected '${text}'${context === undefined ? "" : ` ${context}`}, found ${describe(token)}`
    )
  }

  protected ident(what: string): Token {
    const token = this.peek()
    if (token.kind === "ident") return this.next()
    return this.fail(
      token.at,
      token.kind === "keyword"
        ? `expected ${what}, found keyword '${token.text}'`
        : `expected ${what}, found ${describe(token)}`
    )
  }

  protected string(what: string): Token & { kind: "string" } {
    const token = this.peek()
    if (token.kind === "string") {
      this.next()
      if (token.parts.some((p) => typeof p !== "string")) this.fail(token.at, `${what} cannot interpolate`)
      return token
    }
    return this.fail(token.at, `expected ${what}, found ${describe(token)}`)
  }

  protected where(offset: number): string {
    const { column, line } = this.source.position(offset)
    return `${line}:${column}`
  }
}
