/**
 * The vv parser: tokens to a `Module` (see `Ast.ts`), by recursive descent. This module parses
 * modules and statements; `internal/expressionParser.ts` parses expressions (precedence, lowest
 * first, all left-associative: `or`, `and`, `==`, `< <=`, `+ -`, `* / /: %`, prefix `- try`,
 * then call, field, index, slice and postfix `!`) and `internal/tokenCursor.ts` walks the tokens.
 *
 * @since 0.1.0
 */
import type * as Ast from "./Ast.js"
import { SourceFile } from "./Ast.js"
import { ExpressionParser } from "./internal/expressionParser.js"
import { describe } from "./internal/tokenCursor.js"
import { tokenize } from "./Lexer.js"

/** Keywords after which a bare `return` has no value (they start a statement or close a block). */
const statementStarts = new Set([
  "end",
  "else",
  "let",
  "begin",
  "while",
  "if",
  "defer",
  "assert",
  "break",
  "continue",
  "return",
  "import"
])

class Parser extends ExpressionParser {
  /** Enclosing `while` loops in the current function (break/continue are checked statically). */
  private loops = 0
  /** Enclosing function bodies (a `return` outside every function is a syntax error). */
  private functions = 0
  /** Whether the current block is the body of a `fun rec` group, which `also` ends. */
  private inRecGroup = false

  protected parseInterpolation(start: number, end: number): Ast.Expr {
    return parseExpression(this.source, start, end)
  }

  // ---- modules ----

  parseModule(): Ast.Module {
    const imports: Array<Ast.Import> = []
    while (this.is("import")) imports.push(this.parseImport())
    const items: Array<Ast.Item> = []
    while (this.peek().kind !== "eof") {
      const token = this.peek()
      if (this.is("import")) this.fail(token.at, "imports must come before every other statement of a module")
      if (this.isWord("test") && this.peek(1).kind === "string") {
        items.push({ pub: false, node: this.parseTest() })
        continue
      }
      let pub = false
      if (this.isWord("pub") && (this.is("let", 1) || this.is("fun", 1) || this.isWord("extern", 1))) {
        pub = true
        this.next()
      }
      if (this.isWord("extern") && this.peek(1).kind === "string") {
        items.push({ pub, node: this.parseExtern() })
        continue
      }
      const stmt = this.parseStmt()
      if (pub && stmt._tag !== "Let" && stmt._tag !== "LetRecord" && stmt._tag !== "LetRec") {
        this.fail(stmt.at, "'pub' applies to 'let', 'fun' and 'extern' declarations only")
      }
      items.push({ pub, node: stmt })
    }
    return { source: this.source, imports, items }
  }

  private parseImport(): Ast.Import {
    const at = this.expect("import").at
    const alias = this.ident("a module name after 'import'").text
    if (!this.isWord("from")) {
      this.fail(this.peek().at, `expected 'from' after 'import ${alias}', found ${describe(this.peek())}`)
    }
    this.next()
    const path = this.string("a module path (a string)").parts.join("")
    return { _tag: "Import", at, alias, path }
  }

  private parseExtern(): Ast.Extern {
    const at = this.next().at
    const abi = this.string("an extern kind such as \"native\"").parts.join("")
    if (this.eat("fun")) {
      const name = this.ident("a function name").text
      const params = this.parseParams()
      return { _tag: "Extern", at, abi, kind: "fun", name, params }
    }
    if (this.eat("let")) {
      const name = this.ident("a name").text
      return { _tag: "Extern", at, abi, kind: "let", name, params: [] }
    }
    return this.fail(
      this.peek().at,
      `expected 'fun' or 'let' after extern ${JSON.stringify(abi)}, found ${describe(this.peek())}`
    )
  }

  private parseTest(): Ast.Test {
    const at = this.next().at
    const name = this.string("a test name").parts.join("")
    const body = this.parseBody("test", at)
    return { _tag: "Test", at, name, body }
  }

  // ---- statements ----

  /** Statements up to (and consuming) the `end` that closes the construct opened at `at`. */
  private parseBody(construct: string, at: number): Array<Ast.Stmt> {
    const body = this.parseBlock()
    if (!this.is("end")) {
      this.fail(
        this.peek().at,
        `expected 'end' to close '${construct}' at ${this.where(at)}, found ${describe(this.peek())}`
      )
    }
    this.next()
    return body
  }

  /** Statements up to `end`, `else`, `also` in a `fun rec` group, or the end of the text (not consumed). */
  private parseBlock(): Array<Ast.Stmt> {
    const body: Array<Ast.Stmt> = []
    while (!this.is("end") && !this.is("else") && !this.atAlso() && this.peek().kind !== "eof") {
      body.push(this.parseStmt())
    }
    return body
  }

  /**
   * `also g(` inside a `fun rec` group: the next function of the group. `also` is a word, not
   * a keyword: elsewhere it stays an ordinary name.
   */
  private atAlso(): boolean {
    return this.inRecGroup && this.isWord("also") && this.peek(1).kind === "ident" && this.is("(", 2)
  }

  parseStmt(): Ast.Stmt {
    const token = this.peek()
    const at = token.at
    if (token.kind === "keyword") {
      switch (token.text) {
        case "let":
          return this.parseLet()
        case "fun":
          if (this.peek(1).kind === "ident") return this.parseFunDecl()
          break
        case "begin": {
          this.next()
          return { _tag: "Begin", at, body: this.parseBody("begin", at) }
        }
        case "while": {
          this.next()
          const cond = this.parseExpr()
          this.loops++
          try {
            return { _tag: "While", at, cond, body: this.parseBody("while", at) }
          } finally {
            this.loops--
          }
        }
        case "if":
          return this.parseIf()
        case "defer": {
          this.next()
          if (this.is("end") || this.is("else") || this.peek().kind === "eof") {
            this.fail(this.peek().at, `expected a statement after 'defer', found ${describe(this.peek())}`)
          }
          return { _tag: "Defer", at, stmt: this.parseStmt() }
        }
        case "assert": {
          this.next()
          return { _tag: "Assert", at, expr: this.parseExpr() }
        }
        case "break":
        case "continue": {
          this.next()
          if (this.loops === 0) this.fail(at, `'${token.text}' outside a loop`)
          return token.text === "break" ? { _tag: "Break", at } : { _tag: "Continue", at }
        }
        case "return": {
          this.next()
          // as the reference runtime: a `return` outside every function is an error
          if (this.functions === 0) this.fail(at, "return statement is not allowed here (must be inside a function)")
          const following = this.peek()
          const bare = following.kind === "eof" ||
            (following.kind === "keyword" && statementStarts.has(following.text)) ||
            (following.kind === "keyword" && following.text === "fun" && this.peek(1).kind === "ident")
          return { _tag: "Return", at, value: bare ? undefined : this.parseExpr() }
        }
        case "import":
          return this.fail(at, "imports are only allowed at the top of a module")
        case "end":
        case "else":
          return this.fail(at, `unexpected '${token.text}'`)
      }
    }
    if (
      token.kind === "ident" && (token.text === "test" || token.text === "extern") && this.peek(1).kind === "string"
    ) {
      this.fail(at, `'${token.text}' declarations are only allowed at the top level of a module`)
    }
    const expr = this.parseExpr()
    if (this.is("=") || this.is("+=") || this.is("-=")) {
      const op = this.next().text as "=" | "+=" | "-="
      if (expr._tag !== "Ident" && expr._tag !== "Field" && expr._tag !== "Index") {
        this.fail(expr.at, `cannot assign to this expression (a name, a field or an index can be assigned)`)
      }
      return { _tag: "Assign", at, target: expr, op, value: this.parseExpr() }
    }
    return { _tag: "ExprStmt", at, expr }
  }

  private parseLet(): Ast.Stmt {
    const at = this.next().at
    if (this.is("{")) {
      this.next()
      const fields: Array<{ field: string; name: string; at: number }> = []
      for (;;) {
        const field = this.ident("a field name")
        let name = field.text
        if (this.isWord("as")) {
          this.next()
          name = this.ident("a name after 'as'").text
        }
        fields.push({ field: field.text, name, at: field.at })
        if (this.eat(",")) {
          if (this.is("}")) break
          continue
        }
        break
      }
      this.expect("}", "to close the record pattern")
      this.expect("=", "after the record pattern")
      return { _tag: "LetRecord", at, fields, value: this.parseExpr() }
    }
    const name = this.ident("a name after 'let'").text
    this.expect("=", `after 'let ${name}'`)
    return { _tag: "Let", at, name, value: this.parseExpr() }
  }

  private parseFunDecl(): Ast.Stmt {
    const at = this.next().at
    if (this.isWord("rec") && this.peek(1).kind === "ident") return this.parseFunRec(at)
    const name = this.ident("a function name").text
    const fn = this.parseFunRest(at, name)
    return { _tag: "Let", at, name, value: fn }
  }

  /** `fun rec f(…) … also g(…) … end`, its `fun` consumed. */
  private parseFunRec(at: number): Ast.LetRec {
    this.next() // rec
    const funs: Array<Ast.FunLit> = []
    let fnAt = at
    for (;;) {
      const name = this.ident("a function name").text
      const params = this.parseParams()
      const body = this.inFunction(true, () => this.parseBlock())
      funs.push({ _tag: "Fun", at: fnAt, end: this.tokens[this.pos - 1]!.end, name, params, body })
      if (this.isWord("also")) {
        fnAt = this.next().at
        continue
      }
      if (!this.is("end")) {
        this.fail(
          this.peek().at,
          `expected 'also' or 'end' to close 'fun rec' at ${this.where(at)}, found ${describe(this.peek())}`
        )
      }
      this.next()
      return { _tag: "LetRec", at, funs }
    }
  }

  /** Parses a function body: loops, `return` and `also` as they are inside a new function. */
  private inFunction<A>(recGroup: boolean, parse: () => A): A {
    const { inRecGroup, loops } = this
    this.loops = 0
    this.functions++
    this.inRecGroup = recGroup
    try {
      return parse()
    } finally {
      this.loops = loops
      this.functions--
      this.inRecGroup = inRecGroup
    }
  }

  private parseIf(): Ast.Stmt {
    const at = this.next().at
    const branches: Array<{ cond: Ast.Expr; body: Array<Ast.Stmt> }> = []
    let otherwise: Array<Ast.Stmt> | undefined
    branches.push({ cond: this.parseExpr(), body: this.parseBlock() })
    while (this.is("else")) {
      this.next()
      if (this.is("if")) {
        this.next()
        branches.push({ cond: this.parseExpr(), body: this.parseBlock() })
        continue
      }
      otherwise = this.parseBlock()
      if (this.is("else")) this.fail(this.peek().at, "'else' after the final 'else' of an 'if'")
      break
    }
    if (!this.is("end")) {
      this.fail(this.peek().at, `expected 'end' to close 'if' at ${this.where(at)}, found ${describe(this.peek())}`)
    }
    this.next()
    return { _tag: "If", at, branches, otherwise }
  }

  private parseParams(): Array<string> {
    this.expect("(", "to open the parameter list")
    const params: Array<string> = []
    if (!this.is(")")) {
      for (;;) {
        const token = this.ident("a parameter name")
        if (token.text !== "_" && params.includes(token.text)) {
          this.fail(token.at, `duplicate parameter '${token.text}'`)
        }
        params.push(token.text)
        if (!this.eat(",")) break
      }
    }
    this.expect(")", "to close the parameter list")
    return params
  }

  /** Parameters and body of a function whose `fun` (and name) are already consumed. */
  protected parseFunRest(at: number, name: string): Ast.FunLit {
    const params = this.parseParams()
    const body = this.inFunction(false, () => this.parseBody("fun", at))
    return { _tag: "Fun", at, end: this.tokens[this.pos - 1]!.end, name, params, body }
  }
}

/**
 * Parses a module. Throws `VvSyntaxError` (naming `file:line:column`) on the first error.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (source: SourceFile): Ast.Module => new Parser(source, tokenize(source)).parseModule()

/**
 * Parses a module from text, naming it `name` in messages.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseText = (name: string, text: string): Ast.Module => parse(new SourceFile(name, text))

/**
 * Parses one expression from `source.text` between `start` and `end` (an interpolation).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseExpression = (source: SourceFile, start = 0, end = source.text.length): Ast.Expr => {
  const parser = new Parser(source, tokenize(source, start, end))
  const expr = parser.parseExpr()
  parser.expectEnd()
  return expr
}
