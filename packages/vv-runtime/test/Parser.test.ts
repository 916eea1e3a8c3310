import { describe, expect, it } from "vitest"
import type * as Ast from "../src/Ast.js"
import { SourceFile } from "../src/Ast.js"
import { VvSyntaxError } from "../src/Errors.js"
import { tokenize } from "../src/Lexer.js"
import { parseExpression, parseText } from "../src/Parser.js"

const timeout = 10_000

/** An expression as an S-expression, to check shape and precedence at a glance. */
const sx = (e: Ast.Expr): string => {
  switch (e._tag) {
    case "Int":
    case "Float":
    case "Bool":
      return String(e.value)
    case "Char":
      return `'${String.fromCodePoint(e.codePoint)}'`
    case "String":
      return `"${e.parts.map((p) => typeof p === "string" ? p : `{${sx(p)}}`).join("")}"`
    case "Ident":
      return e.name
    case "Fun":
      return `(fun ${e.name} (${e.params.join(" ")}) ${e.body.length})`
    case "List":
      return `[${e.items.map(sx).join(" ")}]`
    case "Record":
      return `{${e.fields.map((f) => `${f.name}=${sx(f.value)}`).join(" ")}}`
    case "Not":
      return `(not ${sx(e.expr)})`
    case "Len":
      return `(len ${sx(e.expr)})`
    case "Neg":
      return `(- ${sx(e.expr)})`
    case "Try":
      return `(try ${sx(e.expr)})`
    case "Binary":
      return `(${e.op} ${sx(e.left)} ${sx(e.right)})`
    case "Call":
      return `(call ${sx(e.callee)}${e.args.map((a) => " " + sx(a)).join("")})`
    case "Field":
      return `(. ${sx(e.object)} ${e.name})`
    case "Index":
      return `(idx ${sx(e.object)} ${sx(e.index)})`
    case "Slice":
      return `(slice ${sx(e.object)} ${e.start ? sx(e.start) : "_"} ${e.stop ? sx(e.stop) : "_"})`
  }
}

const expr = (text: string) => sx(parseExpression(new SourceFile("e.vv", text)))
const module = (text: string) => parseText("m.vv", text)
const stmts = (text: string) => module(text).items.map((i) => i.node as Ast.Stmt)

/** The message of the syntax error `text` raises (fails when it parses). */
const syntaxError = (text: string): string => {
  try {
    parseText("bad.vv", text)
  } catch (error) {
    expect(error).toBeInstanceOf(VvSyntaxError)
    return (error as VvSyntaxError).message
  }
  throw new Error(`expected a syntax error for ${JSON.stringify(text)}`)
}

describe("lexer", () => {
  const kinds = (text: string) =>
    tokenize(new SourceFile("t.vv", text)).map((t) =>
      `${t.kind}:${t.kind === "string" ? JSON.stringify(t.parts) : t.text}`
    )

  it("reads numbers, names, keywords and operators; newlines mean nothing", { timeout }, () => {
    expect(kinds("let x1 = 42 +\n 1.5 /: 2e3 <= y")).toEqual([
      "keyword:let",
      "ident:x1",
      "punct:=",
      "int:42",
      "punct:+",
      "float:1.5",
      "punct:/:",
      "float:2e3",
      "punct:<=",
      "ident:y",
      "eof:"
    ])
    expect(kinds("a += b -= c % d ! . : [ ] ( ) { } ,").filter((k) => k.startsWith("punct")).length).toBe(13)
  })

  it("skips line, block and doc comments", { timeout }, () => {
    expect(kinds("/// doc\na // line\n/* block\n */ b")).toEqual(["ident:a", "ident:b", "eof:"])
  })

  it("processes escapes: \\n \\t \\r \\b, and \\x means x", { timeout }, () => {
    const [token] = tokenize(new SourceFile("t.vv", String.raw`"a\nb\tc\rd\be\"f\\g\qh\{i"`))
    expect(token!.kind === "string" && token.parts).toEqual(["a\nb\tc\rd\be\"f\\gqh{i"])
  })

  it("keeps interpolations as source ranges; {{ and }} are literal braces", { timeout }, () => {
    const text = `"x {a + 1} {{lit}} {f("}")}"`
    const [token] = tokenize(new SourceFile("t.vv", text))
    if (token!.kind !== "string") throw new Error("not a string")
    const parts = token.parts.map((p) => typeof p === "string" ? p : `<${text.slice(p.start, p.end)}>`)
    expect(parts).toEqual(["x ", "<a + 1>", " {lit} ", `<f("}")>`])
  })

  it("reports bad input with its location", { timeout }, () => {
    expect(syntaxError(`let s = "abc`)).toBe("bad.vv:1:9: syntax error: unterminated string")
    expect(syntaxError("a\n/* open")).toBe("bad.vv:2:1: syntax error: unterminated comment")
    expect(syntaxError("let a = 1\nlet b = #")).toBe("bad.vv:2:9: syntax error: unexpected character '#'")
    expect(syntaxError("if a != b end")).toBe("bad.vv:1:6: syntax error: there is no '!=' in vv: write not(a == b)")
    expect(syntaxError("if b > a end")).toBe("bad.vv:1:6: syntax error: there is no '>' in vv: write b < a")
    expect(syntaxError("let x = 12ab")).toBe("bad.vv:1:11: syntax error: unexpected 'a' after a number")
    expect(syntaxError(`let s = "a {} b"`)).toBe("bad.vv:1:12: syntax error: empty interpolation {} in a string")
    expect(syntaxError(`let s = "a {b"`)).toBe(
      "bad.vv:1:12: syntax error: unterminated interpolation in a string (missing '}')"
    )
  })

  it("counts columns in code points", { timeout }, () => {
    expect(syntaxError(`let s = "€😀" #`)).toBe("bad.vv:1:14: syntax error: unexpected character '#'")
  })
})

describe("parser: expressions", () => {
  it("literals: ints, floats, bools, chars, strings, lists, records", { timeout }, () => {
    expect(expr("42")).toBe("42")
    expect(expr("-9223372036854775808")).toBe("-9223372036854775808")
    expect(expr("2.5")).toBe("2.5")
    expect(expr("true")).toBe("true")
    expect(expr("'a'")).toBe("'a'")
    expect(expr("'€'")).toBe("'€'")
    expect(expr("'ab'")).toBe(`"ab"`)
    expect(expr("''")).toBe(`""`)
    expect(expr(`"a"`)).toBe(`"a"`)
    expect(expr(`"n = {n + 1}!"`)).toBe(`"n = {(+ n 1)}!"`)
    expect(expr("[1, 'x', [],]")).toBe(`[1 'x' []]`)
    expect(expr("{ a = 1, b, }")).toBe("{a=1 b=b}")
    expect(expr("{}")).toBe("{}")
    expect(expr("fun(a, b) return a end")).toBe("(fun <anonymous> (a b) 1)")
    expect(expr("not(x)")).toBe("(not x)")
    expect(expr("len(xs)")).toBe("(len xs)")
    expect(expr("(1)")).toBe("1")
  })

  it("precedence, lowest first: or, and, ==, < <=, + -, * / /: %, prefix, postfix", { timeout }, () => {
    expect(expr("a or b and c == d < e + f * g")).toBe("(or a (and b (== c (< d (+ e (* f g))))))")
    expect(expr("a * b + c < d == e and f or g")).toBe("(or (and (== (< (+ (* a b) c) d) e) f) g)")
    expect(expr("a <= b")).toBe("(<= a b)")
    expect(expr("a / b /: c % d")).toBe("(% (/: (/ a b) c) d)")
    expect(expr("-a * b")).toBe("(* (- a) b)")
    expect(expr("-a.b")).toBe("(- (. a b))")
    expect(expr("try r.read(r, 2)")).toBe("(try (call (. r read) r 2))")
    expect(expr("try a + b")).toBe("(+ (try a) b)")
    expect(expr("(a + b) * c")).toBe("(* (+ a b) c)")
  })

  it("binary operators are left-associative", { timeout }, () => {
    expect(expr("a - b - c")).toBe("(- (- a b) c)")
    expect(expr("a == b == c")).toBe("(== (== a b) c)")
    expect(expr("a or b or c")).toBe("(or (or a b) c)")
  })

  it("postfix: calls, fields, indexes, slices and ! chain", { timeout }, () => {
    expect(expr("f(1)(2).x[0]")).toBe("(idx (. (call (call f 1) 2) x) 0)")
    expect(expr("xs[1:]")).toBe("(slice xs 1 _)")
    expect(expr("xs[:2]")).toBe("(slice xs _ 2)")
    expect(expr("xs[:]")).toBe("(slice xs _ _)")
    expect(expr("xs[a:b]")).toBe("(slice xs a b)")
    expect(expr("f(x)!.value")).toBe("(. (try (call f x)) value)")
    expect(expr("r.end")).toBe("(. r end)")
  })
})

describe("parser: statements and modules", () => {
  it("let, record patterns, fun declarations (fun rec too)", { timeout }, () => {
    const [a, b, c, d] = stmts("let x = 1 let { a, b as c } = r fun f(x) return x end fun rec g() return g() end")
    expect(a).toMatchObject({ _tag: "Let", name: "x" })
    expect(b).toMatchObject({ _tag: "LetRecord", fields: [{ field: "a", name: "a" }, { field: "b", name: "c" }] })
    expect(c).toMatchObject({ _tag: "Let", name: "f", value: { _tag: "Fun", name: "f", params: ["x"] } })
    expect(d).toMatchObject({ _tag: "LetRec", funs: [{ _tag: "Fun", name: "g", params: [] }] })
  })

  it("fun rec … also … end: one statement declaring the group", { timeout }, () => {
    const [group] = stmts("fun rec f(a) return g(a) also g(b) return f(b) also h() return 1 end")
    expect(group).toMatchObject({
      _tag: "LetRec",
      funs: [
        { _tag: "Fun", name: "f", params: ["a"], body: [{ _tag: "Return" }] },
        { _tag: "Fun", name: "g", params: ["b"], body: [{ _tag: "Return" }] },
        { _tag: "Fun", name: "h", params: [], body: [{ _tag: "Return" }] }
      ]
    })
  })

  it("begin, while, if / else if / else, defer, assert, break, continue, return", { timeout }, () => {
    const [b, w, i, f] = stmts(`
      begin let y = 2 end
      while i < 3 if i == 1 continue end break end
      if a x() else if b y() else if c else z() end
      fun h() defer close(x) assert a == b return end
    `)
    expect(b).toMatchObject({ _tag: "Begin", body: [{ _tag: "Let" }] })
    expect(w).toMatchObject({
      _tag: "While",
      body: [{ _tag: "If", branches: [{ body: [{ _tag: "Continue" }] }] }, { _tag: "Break" }]
    })
    expect(i).toMatchObject({ _tag: "If", branches: [{ body: [{}] }, { body: [{}] }, { body: [] }], otherwise: [{}] })
    const body = ((f as Ast.Let).value as Ast.FunLit).body
    expect(body.map((s) => s._tag)).toEqual(["Defer", "Assert", "Return"])
    expect((body[2] as Ast.Return).value).toBeUndefined()
  })

  it("return takes a value unless a statement or 'end' follows", { timeout }, () => {
    const ret = (text: string) => (((stmts(text)[0] as Ast.Let).value as Ast.FunLit).body[0] as Ast.Return).value
    expect(ret("fun f() return 1 end")).toMatchObject({ _tag: "Int" })
    expect(ret("fun f() return end")).toBeUndefined()
    expect(ret("fun f() return let x = 1 end")).toBeUndefined()
    expect(ret("fun f() return fun() return 1 end end")).toMatchObject({ _tag: "Fun" })
  })

  it("assignments: =, += and -= to names, fields and indexes", { timeout }, () => {
    const [a, b, c, d] = stmts("x = 1 r.f += 2 xs[0] -= 3 f(x)")
    expect(a).toMatchObject({ _tag: "Assign", op: "=", target: { _tag: "Ident", name: "x" } })
    expect(b).toMatchObject({ _tag: "Assign", op: "+=", target: { _tag: "Field", name: "f" } })
    expect(c).toMatchObject({ _tag: "Assign", op: "-=", target: { _tag: "Index" } })
    expect(d).toMatchObject({ _tag: "ExprStmt", expr: { _tag: "Call" } })
  })

  it("modules: imports first, then pub, extern and test declarations", { timeout }, () => {
    const m = module(`
      import net from "std/net.vv"
      import local from "./local.vv"
      pub extern "native" fun dial(network, address)
      extern "native" let version
      pub let x = 1
      pub fun f() return x end
      test "a test" assert f() == 1 end
      let pub = 3
      pub = 4
    `)
    expect(m.imports).toMatchObject([{ alias: "net", path: "std/net.vv" }, { alias: "local", path: "./local.vv" }])
    expect(m.items.map((i) => [i.pub, i.node._tag])).toEqual([
      [true, "Extern"],
      [false, "Extern"],
      [true, "Let"],
      [true, "Let"],
      [false, "Test"],
      [false, "Let"],
      [false, "Assign"]
    ])
    expect(m.items[0]!.node).toMatchObject({ abi: "native", kind: "fun", name: "dial", params: ["network", "address"] })
    expect(m.items[1]!.node).toMatchObject({ kind: "let", name: "version" })
    expect(m.items[4]!.node).toMatchObject({ name: "a test", body: [{ _tag: "Assert" }] })
  })

  it("records where every node starts", { timeout }, () => {
    const source = new SourceFile("p.vv", "let a = 1\n  let b = f(a)")
    const [, b] = parseText("p.vv", source.text).items.map((i) => i.node as Ast.Let)
    expect(source.position(b!.at)).toEqual({ line: 2, column: 3 })
    expect(source.position(b!.value.at)).toEqual({ line: 2, column: 11 })
  })
})

describe("parser: errors name file:line:column", () => {
  it("a block left open says which construct and where it opened", { timeout }, () => {
    expect(syntaxError("while x\n  y()\n")).toBe(
      "bad.vv:3:1: syntax error: expected 'end' to close 'while' at 1:1, found end of file"
    )
    expect(syntaxError("fun f()\n  if x\n  end\n")).toBe(
      "bad.vv:4:1: syntax error: expected 'end' to close 'fun' at 1:1, found end of file"
    )
    expect(syntaxError("test \"t\"\n  let x = 1")).toBe(
      "bad.vv:2:12: syntax error: expected 'end' to close 'test' at 1:1, found end of file"
    )
  })

  it("misplaced imports, declarations, break and continue", { timeout }, () => {
    expect(syntaxError("let a = 1\nimport b from \"b.vv\"")).toBe(
      "bad.vv:2:1: syntax error: imports must come before every other statement of a module"
    )
    expect(syntaxError("fun f()\n  import b from \"b.vv\"\nend")).toBe(
      "bad.vv:2:3: syntax error: imports are only allowed at the top of a module"
    )
    expect(syntaxError("fun f()\n  test \"t\" end\nend")).toBe(
      "bad.vv:2:3: syntax error: 'test' declarations are only allowed at the top level of a module"
    )
    expect(syntaxError("break")).toBe("bad.vv:1:1: syntax error: 'break' outside a loop")
    expect(syntaxError("while true\n  fun f()\n    continue\n  end\nend")).toBe(
      "bad.vv:3:5: syntax error: 'continue' outside a loop"
    )
    expect(syntaxError("pub fun(x) return x end")).toBe(
      "bad.vv:1:5: syntax error: 'pub' applies to 'let', 'fun' and 'extern' declarations only"
    )
  })

  it("bad expressions and declarations", { timeout }, () => {
    expect(syntaxError("let = 1")).toBe("bad.vv:1:5: syntax error: expected a name after 'let', found '='")
    expect(syntaxError("let x 1")).toBe("bad.vv:1:7: syntax error: expected '=' after 'let x', found '1'")
    expect(syntaxError("let x = (1 +\n")).toBe("bad.vv:2:1: syntax error: expected an expression, found end of file")
    expect(syntaxError("f(1) = 2")).toBe(
      "bad.vv:1:1: syntax error: cannot assign to this expression (a name, a field or an index can be assigned)"
    )
    expect(syntaxError("fun f(a, a) end")).toBe("bad.vv:1:10: syntax error: duplicate parameter 'a'")
    expect(syntaxError("let r = { a = 1, a = 2 }")).toBe("bad.vv:1:18: syntax error: duplicate field 'a' in a record")
    expect(syntaxError("let x = 9223372036854775808")).toBe(
      "bad.vv:1:9: syntax error: integer literal 9223372036854775808 is out of the 64-bit range"
    )
    expect(syntaxError("if a else else end")).toBe(
      "bad.vv:1:11: syntax error: 'else' after the final 'else' of an 'if'"
    )
    expect(syntaxError("let x = [1, 2")).toBe(
      "bad.vv:1:14: syntax error: expected ']' to close the list, found end of file"
    )
    expect(syntaxError("import x \"a.vv\"")).toBe(
      "bad.vv:1:10: syntax error: expected 'from' after 'import x', found string \"a.vv\""
    )
    expect(syntaxError("extern \"native\" var x")).toBe(
      "bad.vv:1:17: syntax error: expected 'fun' or 'let' after extern \"native\", found 'var'"
    )
    expect(syntaxError("end")).toBe("bad.vv:1:1: syntax error: unexpected 'end'")
    expect(syntaxError(`let s = "{1 +}"`)).toBe("bad.vv:1:14: syntax error: expected an expression, found end of file")
  })
})
