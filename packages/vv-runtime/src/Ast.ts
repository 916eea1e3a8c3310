/**
 * The syntax tree of a vv module, as the parser builds it and the evaluator walks it.
 *
 * Every node carries `at`, the offset in its source text where it starts; `SourceFile.position`
 * turns an offset into the line and column an error message names. Expressions also carry
 * `end` (one past their last character), so `assert` can quote the failing expression.
 *
 * @since 0.1.0
 */

/**
 * A vv source text and the name messages give it (the path as the user wrote it, or
 * `std/x.vv` for a bundled module).
 *
 * @since 0.1.0
 * @category models
 */
export class SourceFile {
  private lineStarts: Array<number> | undefined

  constructor(readonly name: string, readonly text: string) {}

  /**
   * The 1-based line and column (in code points) of an offset.
   *
   * @since 0.1.0
   */
  position(offset: number): { readonly line: number; readonly column: number } {
    const starts = this.lineStarts ??= computeLineStarts(this.text)
    let lo = 0
    let hi = starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (starts[mid]! <= offset) lo = mid
      else hi = mid - 1
    }
    const start = starts[lo]!
    let column = 1
    for (let i = start; i < offset && i < this.text.length; i++) {
      const code = this.text.charCodeAt(i)
      // the second half of a surrogate pair is not a column of its own
      if (!(code >= 0xdc00 && code <= 0xdfff && i > start && isHighSurrogate(this.text.charCodeAt(i - 1)))) column++
    }
    return { line: lo + 1, column }
  }

  /**
   * `name:line:column` of an offset.
   *
   * @since 0.1.0
   */
  location(offset: number): string {
    const { column, line } = this.position(offset)
    return `${this.name}:${line}:${column}`
  }
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff

const computeLineStarts = (text: string): Array<number> => {
  const starts = [0]
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 10) starts.push(i + 1)
    else if (c === 13) {
      if (text.charCodeAt(i + 1) === 10) i++
      starts.push(i + 1)
    }
  }
  return starts
}

// ---- expressions ------------------------------------------------------------------------------

/**
 * A part of a double-quoted string: literal text, or an interpolated expression.
 *
 * @since 0.1.0
 * @category models
 */
export type StringPart = string | Expr

/**
 * The binary operators, lowest precedence first: `or`; `and`; `==`; `<` `<=`; `+` `-`;
 * `*` `/` `/:` `%`.
 *
 * @since 0.1.0
 * @category models
 */
export type BinaryOp = "or" | "and" | "==" | "<" | "<=" | "+" | "-" | "*" | "/" | "/:" | "%"

/**
 * An expression.
 *
 * @since 0.1.0
 * @category models
 */
export type Expr =
  | IntLit
  | FloatLit
  | BoolLit
  | CharLit
  | StringLit
  | Ident
  | FunLit
  | ListLit
  | RecordLit
  | Not
  | Len
  | Neg
  | Try
  | Binary
  | Call
  | Field
  | Index
  | Slice

interface Node {
  readonly at: number
  readonly end: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface IntLit extends Node {
  readonly _tag: "Int"
  readonly value: bigint
}
/**
 * @since 0.1.0
 * @category models
 */
export interface FloatLit extends Node {
  readonly _tag: "Float"
  readonly value: number
}
/**
 * @since 0.1.0
 * @category models
 */
export interface BoolLit extends Node {
  readonly _tag: "Bool"
  readonly value: boolean
}
/**
 * A single-quoted literal of exactly one code point.
 *
 * @since 0.1.0
 * @category models
 */
export interface CharLit extends Node {
  readonly _tag: "Char"
  readonly codePoint: number
}
/**
 * Any other quoted literal: a fresh char list each time it is evaluated. Single-quoted
 * literals have one text part; double-quoted ones interpolate.
 *
 * @since 0.1.0
 * @category models
 */
export interface StringLit extends Node {
  readonly _tag: "String"
  readonly parts: ReadonlyArray<StringPart>
}
/**
 * @since 0.1.0
 * @category models
 */
export interface Ident extends Node {
  readonly _tag: "Ident"
  readonly name: string
}
/**
 * @since 0.1.0
 * @category models
 */
export interface FunLit extends Node {
  readonly _tag: "Fun"
  /** The declared name for `fun f() … end`, `"<anonymous>"` for a function literal. */
  readonly name: string
  readonly params: ReadonlyArray<string>
  readonly body: ReadonlyArray<Stmt>
}
/**
 * @since 0.1.0
 * @category models
 */
export interface ListLit extends Node {
  readonly _tag: "List"
  readonly items: ReadonlyArray<Expr>
}
/**
 * @since 0.1.0
 * @category models
 */
export interface RecordLit extends Node {
  readonly _tag: "Record"
  readonly fields: ReadonlyArray<{ readonly name: string; readonly value: Expr }>
}
/**
 * `not(e)`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Not extends Node {
  readonly _tag: "Not"
  readonly expr: Expr
}
/**
 * `len(e)`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Len extends Node {
  readonly _tag: "Len"
  readonly expr: Expr
}
/**
 * Prefix `-`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Neg extends Node {
  readonly _tag: "Neg"
  readonly expr: Expr
}
/**
 * Prefix `try e`, or the older postfix `e!`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Try extends Node {
  readonly _tag: "Try"
  readonly expr: Expr
}
/**
 * @since 0.1.0
 * @category models
 */
export interface Binary extends Node {
  readonly _tag: "Binary"
  readonly op: BinaryOp
  readonly left: Expr
  readonly right: Expr
}
/**
 * @since 0.1.0
 * @category models
 */
export interface Call extends Node {
  readonly _tag: "Call"
  readonly callee: Expr
  readonly args: ReadonlyArray<Expr>
}
/**
 * `e.name`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Field extends Node {
  readonly _tag: "Field"
  readonly object: Expr
  readonly name: string
}
/**
 * `e[i]`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Index extends Node {
  readonly _tag: "Index"
  readonly object: Expr
  readonly index: Expr
}
/**
 * `e[a:b]`, either bound optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface Slice extends Node {
  readonly _tag: "Slice"
  readonly object: Expr
  readonly start: Expr | undefined
  readonly stop: Expr | undefined
}

// ---- statements -------------------------------------------------------------------------------

/**
 * A statement.
 *
 * @since 0.1.0
 * @category models
 */
export type Stmt =
  | Let
  | LetRecord
  | LetRec
  | Begin
  | While
  | If
  | Defer
  | Assert
  | Break
  | Continue
  | Return
  | ExprStmt
  | Assign

interface StmtNode {
  readonly at: number
}

/**
 * `let name = value`; `fun name(…) … end` is `let name = fun(…) … end`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Let extends StmtNode {
  readonly _tag: "Let"
  readonly name: string
  readonly value: Expr
}
/**
 * `fun rec f(…) … also g(…) … end`: functions declared together, each of which sees every one
 * of them (mutual recursion), as the reference runtime does: they close over a scope of their
 * own holding all of them, and each is then declared in the current scope.
 *
 * @since 0.2.0
 * @category models
 */
export interface LetRec extends StmtNode {
  readonly _tag: "LetRec"
  readonly funs: ReadonlyArray<FunLit>
}
/**
 * `let { a, b as c } = value`.
 *
 * @since 0.1.0
 * @category models
 */
export interface LetRecord extends StmtNode {
  readonly _tag: "LetRecord"
  readonly fields: ReadonlyArray<{ readonly field: string; readonly name: string; readonly at: number }>
  readonly value: Expr
}
/**
 * @since 0.1.0
 * @category models
 */
export interface Begin extends StmtNode {
  readonly _tag: "Begin"
  readonly body: ReadonlyArray<Stmt>
}
/**
 * @since 0.1.0
 * @category models
 */
export interface While extends StmtNode {
  readonly _tag: "While"
  readonly cond: Expr
  readonly body: ReadonlyArray<Stmt>
}
/**
 * `if`, its `else if`s as further branches, and an optional `else`.
 *
 * @since 0.1.0
 * @category models
 */
export interface If extends StmtNode {
  readonly _tag: "If"
  readonly branches: ReadonlyArray<{ readonly cond: Expr; readonly body: ReadonlyArray<Stmt> }>
  readonly otherwise: ReadonlyArray<Stmt> | undefined
}
/**
 * @since 0.1.0
 * @category models
 */
export interface Defer extends StmtNode {
  readonly _tag: "Defer"
  readonly stmt: Stmt
}
/**
 * @since 0.1.0
 * @category models
 */
export interface Assert extends StmtNode {
  readonly _tag: "Assert"
  readonly expr: Expr
}
/**
 * @since 0.1.0
 * @category models
 */
export interface Break extends StmtNode {
  readonly _tag: "Break"
}
/**
 * @since 0.1.0
 * @category models
 */
export interface Continue extends StmtNode {
  readonly _tag: "Continue"
}
/**
 * @since 0.1.0
 * @category models
 */
export interface Return extends StmtNode {
  readonly _tag: "Return"
  readonly value: Expr | undefined
}
/**
 * @since 0.1.0
 * @category models
 */
export interface ExprStmt extends StmtNode {
  readonly _tag: "ExprStmt"
  readonly expr: Expr
}
/**
 * `target = value`, `target += value`, `target -= value`; the target is a name, field or index.
 *
 * @since 0.1.0
 * @category models
 */
export interface Assign extends StmtNode {
  readonly _tag: "Assign"
  readonly target: Ident | Field | Index
  readonly op: "=" | "+=" | "-="
  readonly value: Expr
}

// ---- modules ----------------------------------------------------------------------------------

/**
 * `import alias from "path"`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Import {
  readonly _tag: "Import"
  readonly at: number
  readonly alias: string
  readonly path: string
}

/**
 * `extern "native" fun name(params)` or `extern "native" let name`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Extern {
  readonly _tag: "Extern"
  readonly at: number
  readonly abi: string
  readonly kind: "fun" | "let"
  readonly name: string
  readonly params: ReadonlyArray<string>
}

/**
 * `test "name" … end`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Test {
  readonly _tag: "Test"
  readonly at: number
  readonly name: string
  readonly body: ReadonlyArray<Stmt>
}

/**
 * A top-level item after the imports, with its `pub` flag (always false for a test).
 *
 * @since 0.1.0
 * @category models
 */
export interface Item {
  readonly pub: boolean
  readonly node: Extern | Test | Stmt
}

/**
 * A parsed module.
 *
 * @since 0.1.0
 * @category models
 */
export interface Module {
  readonly source: SourceFile
  readonly imports: ReadonlyArray<Import>
  readonly items: ReadonlyArray<Item>
}
