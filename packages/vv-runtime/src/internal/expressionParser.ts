/**
 * Expressions, by precedence climbing. Precedence, lowest first, all left-associative: `or`,
 * `and`, `==`, `< <=`, `+ -`, `* / /: %`, prefix `- try`, then call, field, index, slice and
 * postfix `!`. Function literals and interpolations are parsed by the statement parser that
 * extends this one (`Parser.ts`).
 */
import type * as Ast from "../Ast.js"
import type { Token } from "../Lexer.js"
import { describe, TokenCursor } from "./tokenCursor.js"

const maxInt = (1n << 63n) - 1n
const minIntMagnitude = 1n << 63n

export abstract class ExpressionParser extends TokenCursor {
  /** Parameters and body of a function whose `fun` (and name) are already consumed. */
  protected abstract parseFunRest(at: number, name: string): Ast.FunLit

  /** The expression of an interpolation `{…}` between offsets `start` and `end`. */
  protected abstract parseInterpolation(start: number, end: number): Ast.Expr

  parseExpr(): Ast.Expr {
    return this.parseBinary(0)
  }

  private static readonly levels: ReadonlyArray<ReadonlyArray<Ast.BinaryOp>> = [
    ["or"],
    ["and"],
    ["=="],
    ["<", "<="],
    ["+", "-"],
    ["*", "/", "/:", "%"]
  ]

  protected parseBinary(level: number): Ast.Expr {
    if (level === ExpressionParser.levels.length) return this.parseUnary()
    const ops = ExpressionParser.levels[level]!
    let left = this.parseBinary(level + 1)
    for (;;) {
      const token = this.peek()
      if ((token.kind !== "punct" && token.kind !== "keyword") || !ops.includes(token.text as Ast.BinaryOp)) return left
      this.next()
      const right = this.parseBinary(level + 1)
      left = { _tag: "Binary", at: left.at, end: right.end, op: token.text as Ast.BinaryOp, left, right }
    }
  }

  protected parseUnary(): Ast.Expr {
    const token = this.peek()
    if (this.is("-")) {
      this.next()
      const literal = this.peek()
      // fold a negative int literal, so -9223372036854775808 is in range
      if (literal.kind === "int" && !this.isPostfixStart(1)) {
        this.next()
        if (literal.value > minIntMagnitude) {
          this.fail(literal.at, `integer literal ${literal.text} is out of the 64-bit range`)
        }
        return { _tag: "Int", at: token.at, end: literal.end, value: -literal.value }
      }
      const expr = this.parseUnary()
      return { _tag: "Neg", at: token.at, end: expr.end, expr }
    }
    if (this.is("try")) {
      this.next()
      const expr = this.parseUnary()
      return { _tag: "Try", at: token.at, end: expr.end, expr }
    }
    return this.parsePostfix()
  }

  protected isPostfixStart(ahead: number): boolean {
    return this.is("(", ahead) || this.is(".", ahead) || this.is("[", ahead) || this.is("!", ahead)
  }

  protected parsePostfix(): Ast.Expr {
    let expr = this.parsePrimary()
    for (;;) {
      if (this.is("(")) {
        this.next()
        const args = this.parseArgs(")")
        const close = this.expect(")", "to close the argument list")
        expr = { _tag: "Call", at: expr.at, end: close.end, callee: expr, args }
      } else if (this.is(".")) {
        this.next()
        const token = this.peek()
        if (token.kind !== "ident" && token.kind !== "keyword") {
          this.fail(token.at, `expected a field name after '.', found ${describe(token)}`)
        }
        this.next()
        expr = { _tag: "Field", at: expr.at, end: token.end, object: expr, name: token.text }
      } else if (this.is("[")) {
        this.next()
        let start: Ast.Expr | undefined
        if (!this.is(":")) start = this.parseExpr()
        if (this.eat(":")) {
          const stop = this.is("]") ? undefined : this.parseExpr()
          const close = this.expect("]", "to close the slice")
          expr = { _tag: "Slice", at: expr.at, end: close.end, object: expr, start, stop }
        } else {
          const close = this.expect("]", "to close the index")
          expr = { _tag: "Index", at: expr.at, end: close.end, object: expr, index: start! }
        }
      } else if (this.is("!")) {
        const bang = this.next()
        expr = { _tag: "Try", at: expr.at, end: bang.end, expr }
      } else {
        return expr
      }
    }
  }

  protected parseArgs(close: string): Array<Ast.Expr> {
    const args: Array<Ast.Expr> = []
    while (!this.is(close)) {
      args.push(this.parseExpr())
      if (!this.eat(",")) break
    }
    return args
  }

  protected parsePrimary(): Ast.Expr {
    const token = this.peek()
    const at = token.at
    switch (token.kind) {
      case "int":
        this.next()
        if (token.value > maxInt) this.fail(at, `integer literal ${token.text} is out of the 64-bit range`)
        return { _tag: "Int", at, end: token.end, value: token.value }
      case "float":
        this.next()
        return { _tag: "Float", at, end: token.end, value: token.value }
      case "string": {
        this.next()
        return this.stringLiteral(token)
      }
      case "ident":
        this.next()
        return { _tag: "Ident", at, end: token.end, name: token.text }
      case "keyword":
        switch (token.text) {
          case "true":
          case "false":
            this.next()
            return { _tag: "Bool", at, end: token.end, value: token.text === "true" }
          case "fun":
            this.next()
            return this.parseFunRest(at, "<anonymous>")
          case "not":
          case "len": {
            this.next()
            this.expect("(", `after '${token.text}'`)
            const expr = this.parseExpr()
            const close = this.expect(")", `to close '${token.text}('`)
            return token.text === "not"
              ? { _tag: "Not", at, end: close.end, expr }
              : { _tag: "Len", at, end: close.end, expr }
          }
        }
        break
      case "punct":
        switch (token.text) {
          case "(": {
            this.next()
            const expr = this.parseExpr()
            this.expect(")", "to close '('")
            return expr
          }
          case "[": {
            this.next()
            const items = this.parseArgs("]")
            const close = this.expect("]", "to close the list")
            return { _tag: "List", at, end: close.end, items }
          }
          case "{":
            return this.parseRecord()
        }
        break
    }
    return this.fail(at, `expected an expression, found ${describe(token)}`)
  }

  protected parseRecord(): Ast.Expr {
    const at = this.next().at
    const fields: Array<{ name: string; value: Ast.Expr }> = []
    const seen = new Set<string>()
    while (!this.is("}")) {
      const token = this.peek()
      if (token.kind !== "ident" && token.kind !== "keyword") {
        this.fail(token.at, `expected a field name, found ${describe(token)}`)
      }
      this.next()
      if (seen.has(token.text)) this.fail(token.at, `duplicate field '${token.text}' in a record`)
      seen.add(token.text)
      if (this.eat("=")) {
        fields.push({ name: token.text, value: this.parseExpr() })
      } else {
        if (token.kind === "keyword") this.fail(token.at, `expected '=' after field '${token.text}'`)
        fields.push({ name: token.text, value: { _tag: "Ident", at: token.at, end: token.end, name: token.text } })
      }
      if (!this.eat(",")) break
    }
    const close = this.expect("}", "to close the record")
    return { _tag: "Record", at, end: close.end, fields }
  }

  protected stringLiteral(token: Token & { kind: "string" }): Ast.Expr {
    const { at, end } = token
    if (token.quote === "'" && token.parts.length === 1) {
      const text = token.parts[0] as string
      const cp = text.codePointAt(0)
      if (cp !== undefined && String.fromCodePoint(cp).length === text.length) {
        return { _tag: "Char", at, end, codePoint: cp }
      }
    }
    const parts = token.parts.map((part) =>
      typeof part === "string" ? part : this.parseInterpolation(part.start, part.end)
    )
    return { _tag: "String", at, end, parts }
  }

  expectEnd(): void {
    const token = this.peek()
    if (token.kind !== "eof") this.fail(token.at, `unexpected ${describe(token)}`)
  }
}
