/**
 * Behaviours taken from the reference vv runtime (fj68/vvlang), written from what its language
 * reference documents and what its code does: mutual recursion (`fun rec … also … end`), a
 * `return` outside every function, comparisons of different kinds, and the result shapes of
 * `std/net.vv` (`reader`/`writer` return ok(record), the timeouts ok(none)).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { VvSyntaxError } from "../src/Errors.js"
import { cleanup, cli, errorOf, output, packageDir, run, runTests } from "./support/vv.js"

const timeout = 15_000
afterAll(cleanup)

const print = (body: string) => output(`import console from "std/console.vv"\n${body}`)
const fails = async (body: string) => errorOf(await run(`import console from "std/console.vv"\n${body}`))

describe("fun rec … also … end (mutual recursion)", () => {
  it("declares functions that call each other, in tail position without growing the stack", { timeout }, async () => {
    expect(
      await print(`
      fun rec is_even(n)
          if n == 0
              return true
          end
          return is_odd(n - 1)
      also is_odd(n)
          if n == 0
              return false
          end
          return is_even(n - 1)
      end
      console.print(is_even(10), is_odd(7), is_even(7), is_odd(100001))
    `)
    ).toBe("true true false true\n")
  })

  it("a group of three; each function sees the group even after its name is redeclared", { timeout }, async () => {
    expect(
      await print(`
      fun rec a(n) if n == 0 return "a" end return b(n - 1)
      also b(n) if n == 0 return "b" end return c(n - 1)
      also c(n) if n == 0 return "c" end return a(n - 1)
      end
      let keep = b
      let b = 0
      let c = "shadowed"
      console.print(a(0), a(1), a(2), a(3), keep(1), b, c)
    `)
    ).toBe("a b c a c 0 shadowed\n")
  })

  it("works inside a function, and a single fun rec recurses", { timeout }, async () => {
    expect(
      await print(`
      fun parity(n)
        fun rec ev(k) if k == 0 return "even" end return od(k - 1)
        also od(k) if k == 0 return "odd" end return ev(k - 1) end
        return ev(n)
      end
      fun rec fact(n) if n <= 1 return 1 end return n * fact(n - 1) end
      console.print(parity(4), parity(5), fact(10))
    `)
    ).toBe("even odd 3628800\n")
  })

  it("`also` is a name like any other outside a fun rec group", { timeout }, async () => {
    expect(await print(`let also = 3\nfun f(also) return also + 1 end\nconsole.print(also, f(also))`)).toBe("3 4\n")
  })

  it("pub fun rec exports every function of the group; vv test declares them", { timeout }, async () => {
    const report = await runTests({
      "lib.vv": `pub fun rec ev(n) if n == 0 return true end return od(n - 1)
also od(n) if n == 0 return false end return ev(n - 1) end
test "declared in test mode" assert ev(4) and od(3) end
`,
      "main.vv": `import lib from "./lib.vv"
test "imported" assert lib.ev(2) and lib.od(1) end
`
    })
    expect(report.outcomes.map((o) => [o.test, o.passed, o.error])).toEqual([
      ["declared in test mode", true, undefined],
      ["imported", true, undefined]
    ])
  })

  it("syntax errors: a block of the group left open, a group left open", { timeout }, async () => {
    expect(await fails(`fun rec f(x)\n  if x return 1\nalso g(y) return 2 end`)).toBe(
      "main.vv:4:1: syntax error: expected 'end' to close 'if' at 3:3, found 'also'"
    )
    expect(await fails(`fun rec f(x) return 1\nalso g(y) return 2\n`)).toBe(
      "main.vv:4:1: syntax error: expected 'also' or 'end' to close 'fun rec' at 2:1, found end of file"
    )
  })
})

describe("return outside every function", () => {
  const message = "syntax error: return statement is not allowed here (must be inside a function)"

  it("is a syntax error at the top level of a module, before anything runs", { timeout }, async () => {
    const outcome = await run(`import console from "std/console.vv"\nconsole.print("never")\nreturn 1\n`)
    expect(outcome.error).toBeInstanceOf(VvSyntaxError)
    expect(errorOf(outcome)).toBe(`main.vv:3:1: ${message}`)
    expect(outcome.stdout).toBe("")
    expect(await fails(`return`)).toBe(`main.vv:2:1: ${message}`)
  })

  it("also inside a top-level block, if or while, and in a test body", { timeout }, async () => {
    expect(await fails(`begin return 1 end`)).toBe(`main.vv:2:7: ${message}`)
    expect(await fails(`if true\n  return\nend`)).toBe(`main.vv:3:3: ${message}`)
    expect(await fails(`while true return 0 end`)).toBe(`main.vv:2:12: ${message}`)
    const report = await runTests({ "t.vv": `test "early" return end\n` })
    expect((report.outcomes[0]!.error as Error).message).toBe(`t.vv:1:14: ${message}`)
  })

  it("is allowed in any function, also one declared in a test or a top-level block", { timeout }, async () => {
    expect(await print(`begin fun f() return 1 end console.print(f()) end`)).toBe("1\n")
    const report = await runTests({ "t.vv": `test "ok" fun f() return 2 end assert f() == 2 end\n` })
    expect(report.outcomes.map((o) => o.passed)).toEqual([true])
  })
})

describe("comparing values of different kinds", () => {
  it("is a runtime error for <, <= and == (no conversion between int, float and char)", { timeout }, async () => {
    expect(await fails(`let b = 'a' < 1`)).toBe("main.vv:2:9: cannot compare a char with an int using '<'")
    expect(await fails(`let b = 1 < 'a'`)).toBe("main.vv:2:9: cannot compare an int with a char using '<'")
    expect(await fails(`let b = 'a' <= 1`)).toBe("main.vv:2:9: cannot compare a char with an int using '<='")
    expect(await fails(`let b = 1.5 < 2`)).toBe("main.vv:2:9: cannot compare a float with an int using '<'")
    expect(await fails(`let b = true < false`)).toBe("main.vv:2:9: cannot compare a bool with a bool using '<'")
    expect(await fails(`let b = 'a' == 97`)).toBe("main.vv:2:9: cannot compare a char with an int")
    expect(await fails(`let b = [1] == ['a']`)).toBe("main.vv:2:9: cannot compare an int with a char")
  })

  it("a list or record compared with another kind is false, as on the reference", { timeout }, async () => {
    expect(await print(`console.print([1] == 1, { a = 1 } == [1], "a" == 'a')`)).toBe("false false false\n")
  })
})

describe("std/net.vv result shapes", () => {
  const prelude = `
import net from "std/net.vv"
import sys from "std/sys.vv"
import console from "std/console.vv"
let listener = try net.listen("tcp", "127.0.0.1:7100")
fun echo(conn)
  defer net.close(conn)
  let data = try net.read(conn, 100)
  try net.write(conn, data)
end
net.accept(listener, echo)
let c = try net.dial("tcp", "127.0.0.1:7100")
`

  it("reader(conn) and writer(conn) return ok(record), as the reference's std/net.vv", { timeout }, async () => {
    expect(
      await output(`${prelude}
let rr = net.reader(c)
let ww = net.writer(c)
console.print(rr.type, sys.type(rr.value), sys.type(rr.value.read), rr.value.conn == c)
console.print(ww.type, sys.type(ww.value.write), sys.type(ww.value.close))
let w = try net.writer(c)
let r = try net.reader(c)
try w.write(w, "hi")
console.print(try r.read(r, 10))
console.print(r.close(r))
`)
    ).toBe("ok record fun true\nok fun fun\n[104, 105]\n{ type = ok, value = { type = none } }\n")
  })

  it("set_read_timeout and set_write_timeout return ok(none), not a bare none", { timeout }, async () => {
    expect(
      await output(`${prelude}
console.print(net.set_read_timeout(c, 1000), net.set_write_timeout(c, 0))
console.print(net.set_read_timeout(c, 0).value == { type = "none" })
`)
    ).toBe("{ type = ok, value = { type = none } } { type = ok, value = { type = none } }\ntrue\n")
  })
})

describe("one printer: console.print, interpolation, unhandled errors and the bridge's log lines", () => {
  it(
    "prints as the reference: {  } for the empty record, <function>, Go's %g, quoted elements",
    { timeout },
    async () => {
      expect(
        await print(`
      let f = fun(x) return x end
      console.print({}, { e = {} }, f, [f], 1.0, 2.5e-7, [1.0, 'c', "s", [], {}], { s = "text", c = 'c', l = [] })
      console.print("{ {} } {f} {0.5}")
    `)
      ).toBe(
        `{  } { e = {  } } <function> [<function>] 1 2.5e-07 [1, 'c', "s", [], {  }] { c = c, l = , s = text }\n` +
          "{  } <function> 0.5\n"
      )
      expect(await fails(`let v = try { type = "error", value = { code = 1.0, why = "x", f = fun() end } }`)).toBe(
        "unhandled error: { code = 1, f = <function>, why = x }"
      )
    }
  )

  it("a handler's error result is logged by the bridge with the same printer", { timeout }, async () => {
    const outcome = await run(`
import net from "std/net.vv"
import channel from "std/channel.vv"
let listener = try net.listen("tcp", "127.0.0.1:7101")
let done = channel.make()
fun handler(conn)
  defer channel.send(done, true)
  return { type = "error", value = { code = 1.0, empty = {}, f = handler, why = "bad" } }
end
net.accept(listener, handler)
let c = try net.dial("tcp", "127.0.0.1:7101")
let ok = try channel.recv(done, 5000)
let pause = channel.recv(channel.make(), 200) // the bridge logs once the handler has returned
`)
    expect(outcome.error).toBeUndefined()
    expect(outcome.logs).toHaveLength(1)
    expect(outcome.logs[0]).toMatch(
      /^error: net\.accept: handler returned an error for \S+: \{ code = 1, empty = \{ {2}\}, f = <function>, why = bad \}$/
    )
  })
})

describe("the reference's example program (examples/echo_server.vv), in this suite's own words", () => {
  // test/programs/accept_channel.vv does what the reference's only example does: net.accept
  // with a background handler that echoes one read and hands the bytes to the main task over
  // a channel, a channel.recv with a timeout, and output built with string `+` and sys.str.
  it("runs through `vv run` and prints exactly what its header says", { timeout: 60_000 }, async () => {
    const dir = Path.join(packageDir, "test", "programs")
    const file = Path.join(dir, "accept_channel.vv")
    const expected = Fs.readFileSync(file, "utf8").split("\n")
      .filter((line) => line.startsWith("// ")).slice(1, 5).map((line) => line.slice(3) + "\n").join("")
    expect(expected).toMatch(/^serving 127\.0\.0\.1:18185\n/)
    const result = await cli(["run", "accept_channel.vv"], { cwd: dir })
    expect(result.stderr).toBe("")
    expect(result.stdout).toBe(expected)
    expect(result.code).toBe(0)
  })
})
