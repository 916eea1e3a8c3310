import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { VvError, VvUnhandledError } from "../src/Errors.js"
import { nativeFunction } from "../src/Evaluator.js"
import { chars, type VvValue } from "../src/Values.js"
import { cleanup, errorOf, output, run, runTests, writeFiles } from "./support/vv.js"

const timeout = 15_000
afterAll(cleanup)

/** Runs `body` after importing console (as `console`), returning stdout. */
const print = (body: string) => output(`import console from "std/console.vv"\n${body}`)
const fails = async (body: string) => errorOf(await run(`import console from "std/console.vv"\n${body}`))

describe("values and operators", () => {
  it("ints are 64-bit and wrap; / gives a float, /: divides ints, % is the remainder", { timeout }, async () => {
    expect(
      await print(`
      console.print(7 / 2, 7 /: 2, -7 /: 2, 7 % 3, -7 % 3, 2 * 3 - 1)
      console.print(9223372036854775807 + 1, -9223372036854775808 - 1)
      console.print(1 + 0.5, 0.5 * 2, 3 - 1.5, 7.5 % 2)
    `)
    ).toBe("3.5 3 -3 1 -1 5\n-9223372036854775808 9223372036854775807\n1.5 1 1.5 1.5\n")
  })

  it("floats print as Go's %g", { timeout }, async () => {
    expect(await print(`console.print(1.0, 0.1 + 0.2, 1000000.0, 123456.0, 0.0001, 0.00001, 1.5e300, -2.5)`)).toBe(
      "1 0.30000000000000004 1e+06 123456 0.0001 1e-05 1.5e+300 -2.5\n"
    )
  })

  it("division by zero is a runtime error", { timeout }, async () => {
    expect(await fails(`let x = 1 /: 0`)).toBe("main.vv:2:9: division by zero")
    expect(await fails(`let x = 1.0 / 0`)).toBe("main.vv:2:9: division by zero")
  })

  it("== compares same kinds; lists element-wise, records deeply, strings are char lists", { timeout }, async () => {
    expect(
      await print(`
      console.print("hi" == ['h', 'i'], [1, [2]] == [1, [2]], [1] == [1, 2], [1] == 1)
      console.print({ a = 1, b = "x" } == { b = "x", a = 1 }, { a = 1 } == { a = 2 }, { a = 1 } == 1)
      console.print('a' == 'a', 1.5 == 1.5, true == true, "" == [])
      let f = fun() return 1 end
      console.print(f == f)
    `)
    ).toBe("true true false false\ntrue false false\ntrue true true true\ntrue\n")
  })

  it("== between different kinds is a runtime error (int vs char, int vs float)", { timeout }, async () => {
    expect(await fails(`assert 104 == 'h'`)).toBe("main.vv:2:8: cannot compare an int with a char")
    expect(await fails(`let b = 1 == 1.0`)).toBe("main.vv:2:9: cannot compare an int with a float")
  })

  it("< and <= take two ints, two floats or two chars", { timeout }, async () => {
    expect(await print(`console.print(1 < 2, 2 <= 2, 2.5 < 1.5, 'a' < 'b', 'b' <= 'a')`)).toBe(
      "true true false true false\n"
    )
    expect(await fails(`let b = 1 < 2.0`)).toBe("main.vv:2:9: cannot compare an int with a float using '<'")
    expect(await fails(`let b = "a" <= "b"`)).toBe("main.vv:2:9: cannot compare a list with a list using '<='")
  })

  it("and / or take bools and evaluate both sides", { timeout }, async () => {
    expect(
      await print(`
      let n = 0
      fun side() n += 1 return true end
      console.print(false and side(), true or side(), n)
    `)
    ).toBe("false true 2\n")
    expect(await fails(`let b = true and 1`)).toBe("main.vv:2:9: 'and' expects two bools, got a bool and an int")
  })

  it("+ concatenates lists into a new list", { timeout }, async () => {
    expect(await print(`let a = [1] let b = a + [2] + "" console.print(a, b, "ab" + "cd")`)).toBe("[1] [1, 2] abcd\n")
    expect(await fails(`let x = [1] + 1`)).toBe("main.vv:2:9: cannot add a list and an int with '+'")
  })

  it("unary minus, not and len", { timeout }, async () => {
    expect(await print(`let x = 3 console.print(-x, -1.5, not(false), len("héllo"), len([]))`)).toBe(
      "-3 -1.5 true 5 0\n"
    )
    expect(await fails(`let x = not(1)`)).toBe("main.vv:2:9: not expects a bool, got an int")
    expect(await fails(`let x = len(1)`)).toBe("main.vv:2:9: len expects a list, got an int")
    expect(await fails(`let x = -"a"`)).toBe("main.vv:2:9: cannot negate a list")
  })

  it(
    "strings interpolate with {expr}; {{ and }} are literal braces; quotes make chars or char lists",
    { timeout },
    async () => {
      expect(
        await print(`
      let n = 2
      let r = { k = [1, 2] }
      console.print("n = {n}, n+1 = {n + 1}, {{n}}, {"in{n}ner"}, {r}, {r.k}, {'c'}")
      console.print('a', 'ab', '', "a", "\\t|\\x|\\"")
    `)
      ).toBe("n = 2, n+1 = 3, {n}, in2ner, { k = [1, 2] }, [1, 2], c\na ab  a \t|x|\"\n")
    }
  )

  it("a string literal makes a fresh list each time", { timeout }, async () => {
    expect(
      await print(`
      import list from "std/list.vv"
      fun make() return "ab" end
      let a = make()
      list.push(a, 'c')
      console.print(a, make())
    `)
    ).toBe("abc ab\n")
  })

  it("prints lists, records, chars, functions and userdata as the reference runtime", { timeout }, async () => {
    expect(
      await print(`
      import channel from "std/channel.vv"
      console.print([1, 'a', "bc", [], [2.5, true]], { b = "x", a = [1, 'c'], c = { d = "e" } })
      console.print("", [], {}, 'x', fun() end, channel.make())
      console.print({ type = "error", value = "timeout" })
    `)
    ).toBe(
      `[1, 'a', "bc", [], [2.5, true]] { a = [1, 'c'], b = x, c = { d = e } }\n  {  } x <function> <userdata>\n{ type = error, value = timeout }\n`
    )
  })

  it(
    "lists: index (negative from the end), slices, assignment; lists are shared by reference",
    { timeout },
    async () => {
      expect(
        await print(`
      let xs = [1, 2, 3, 4]
      let ys = xs
      ys[0] = 10
      xs[-1] += 5
      console.print(xs, xs[1], xs[-2], xs[1:3], xs[:1], xs[2:], xs[-2:], xs[3:1], xs[0:100])
      let s = xs[1:3]
      s[0] = 0
      console.print(xs)
    `)
      ).toBe("[10, 2, 3, 9] 2 3 [2, 3] [10] [3, 9] [3, 9]  [10, 2, 3, 9]\n[10, 2, 3, 9]\n")
      expect(await fails(`let xs = [1] let y = xs[1]`)).toBe("main.vv:2:25: list index out of range: 1 (length 1)")
      expect(await fails(`let xs = [1] let y = xs['a']`)).toBe("main.vv:2:25: list index must be an int, got a char")
      expect(await fails(`let r = {} let y = r[0]`)).toBe("main.vv:2:20: cannot index a record: a list was expected")
    }
  )

  it("records: fields read, set, added; shorthand; destructuring with as", { timeout }, async () => {
    expect(
      await print(`
      let a = 1
      let r = { a, b = 2 }
      r.b += 1
      r.c = "new"
      let { a as x, c } = r
      console.print(r, x, c)
    `)
    ).toBe("{ a = 1, b = 3, c = new } 1 new\n")
    expect(await fails(`let r = { a = 1 } let y = r.b`)).toBe("main.vv:2:27: field 'b' not found in record")
    expect(await fails(`let y = 1 let z = y.b`)).toBe("main.vv:2:19: cannot read field 'b' of an int")
    expect(await fails(`let { a } = { b = 1 }`)).toBe("main.vv:2:7: field 'a' not found in record")
    expect(await fails(`let { a } = 5`)).toBe("main.vv:2:13: cannot destructure an int: a record was expected")
  })
})

describe("scopes, functions and closures", () => {
  it(
    "let declares in the current scope (redeclaring allowed, _ discards); = updates the nearest binding",
    { timeout },
    async () => {
      expect(
        await print(`
      let x = 1
      let x = 2
      let _ = 99
      begin
        let x = 3
        console.print(x)
      end
      begin
        x = 4
      end
      if true let y = 5 end
      console.print(x)
    `)
      ).toBe("3\n4\n")
      expect(await fails(`x = 1`)).toBe("main.vv:2:1: variable named 'x' is not defined")
      expect(await fails(`begin let y = 1 end console.print(y)`)).toBe(
        "main.vv:2:35: variable named 'y' is not defined"
      )
      expect(await fails(`let a = _`)).toBe("main.vv:2:9: variable named '_' is not defined")
      expect(await fails(`let i = 0 while i < 1 let z = i i += 1 end z += 1`)).toBe(
        "main.vv:2:44: variable named 'z' is not defined"
      )
    }
  )

  it("closures capture scopes by reference", { timeout }, async () => {
    expect(
      await print(`
      fun counter()
        let n = 0
        return { inc = fun() n += 1 return n end, get = fun() return n end }
      end
      let c = counter()
      c.inc()
      c.inc()
      let d = counter()
      d.inc()
      console.print(c.get(), d.get())
      let shared = 1
      let read = fun() return shared end
      shared = 42
      console.print(read())
    `)
    ).toBe("2 1\n42\n")
  })

  it("if / else if / else and while with break and continue; each iteration is a scope", { timeout }, async () => {
    expect(
      await print(`
      fun classify(n)
        if n < 0 return "neg" else if n == 0 return "zero" else return "pos" end
      end
      console.print(classify(-1), classify(0), classify(5))
      let i = 0
      let out = []
      while true
        i += 1
        if i == 2 continue end
        if 5 < i break end
        let sq = i * i
        out = out + [sq]
      end
      console.print(out)
    `)
    ).toBe("neg zero pos\n[1, 9, 16, 25]\n")
    expect(await fails(`if 1 end`)).toBe("main.vv:2:4: if condition must be a bool, got an int")
    expect(await fails(`while "x" end`)).toBe("main.vv:2:7: while condition must be a bool, got a list")
  })

  it("calls check arity exactly", { timeout }, async () => {
    expect(await fails(`fun f(a, b) return a end let x = f(1)`)).toBe(
      "main.vv:2:34: f expects 2 arguments (a, b), got 1"
    )
    expect(await fails(`let g = fun() return 1 end let x = g(1)`)).toBe(
      "main.vv:2:36: function expects 0 arguments, got 1"
    )
    expect(await fails(`import list from "std/list.vv" list.push([])`)).toBe(
      "main.vv:2:32: push expects 2 arguments (l, v), got 1"
    )
    expect(await fails(`let x = 1 x(2)`)).toBe("main.vv:2:11: cannot call an int")
  })

  it("a bare return returns none; using the result of a function without return is an error", { timeout }, async () => {
    expect(
      await print(`
      fun nothing() return end
      fun effect() let a = 1 end
      effect()
      console.print(nothing())
    `)
    ).toBe("{ type = none }\n")
    expect(await fails(`fun effect() let a = 1 end let x = effect()`)).toBe(
      "main.vv:2:36: effect ended without 'return': its result cannot be used"
    )
    expect(await fails(`fun effect() end console.print(effect())`)).toBe(
      "main.vv:2:32: effect ended without 'return': its result cannot be used"
    )
  })

  it("fun rec and nested function declarations", { timeout }, async () => {
    expect(
      await print(`
      fun rec down(n) if n == 0 return "done" end return down(n - 1) end
      fun outer()
        fun inner(x) return x + 1 end
        return inner(1)
      end
      console.print(down(3), outer())
    `)
    ).toBe("done 2\n")
    expect(await fails(`fun outer() fun inner() return 1 end return 0 end outer() inner()`)).toBe(
      "main.vv:2:59: variable named 'inner' is not defined"
    )
  })

  it("recursion, and tail calls that do not grow the stack", { timeout }, async () => {
    expect(
      await print(`
      fun fact(n) if n == 0 return 1 end return n * fact(n - 1) end
      fun loop(n, acc) if n == 0 return acc end return loop(n - 1, acc + n) end
      fun even(n) if n == 0 return true end return odd(n - 1) end
      fun odd(n) if n == 0 return false end return even(n - 1) end
      console.print(fact(20), loop(300000, 0), even(100001))
    `)
    ).toBe("2432902008176640000 45000150000 false\n")
  })

  it("deep recursion ends with a runtime error, not a crash", { timeout }, async () => {
    expect(await fails(`fun down(n) return 1 + down(n + 1) end let x = down(0)`)).toMatch(
      /^main\.vv:2:24: call stack size overflow \(max depth \d+\)$/
    )
  })
})

describe("defer", () => {
  it("runs last in first out when the scope exits, evaluated at exit time", { timeout }, async () => {
    expect(
      await print(`
      fun f()
        let x = "first"
        defer console.print("defer 1 sees", x)
        defer console.print("defer 2")
        x = "final"
        console.print("body")
        return x
      end
      console.print("f returned", f())
    `)
    ).toBe("body\ndefer 2\ndefer 1 sees final\nf returned final\n")
  })

  it("each scope has its own defers: begin, if branches, while iterations", { timeout }, async () => {
    expect(
      await print(`
      defer console.print("module end")
      begin
        defer console.print("begin end")
        console.print("in begin")
      end
      if true
        defer console.print("branch end")
      end
      let i = 0
      while i < 2
        defer console.print("iteration end, i =", i)
        i += 1
      end
      console.print("last statement")
    `)
    ).toBe(
      "in begin\nbegin end\nbranch end\niteration end, i = 1\niteration end, i = 2\nlast statement\nmodule end\n"
    )
  })

  it("runs on every exit: return, break, continue, try and runtime errors", { timeout }, async () => {
    const outcome = await run(`
      import console from "std/console.vv"
      fun early() defer console.print("early") return 1 end
      fun failing() defer console.print("failing") let v = try { type = "error", value = "e" } return v end
      early()
      failing()
      let i = 0
      while i < 2
        defer console.print("loop", i)
        i += 1
        if i == 1 continue end
        break
      end
      fun crash() defer console.print("crash unwinds") let x = 1 + true end
      defer console.print("module defer after the error")
      crash()
    `)
    expect(outcome.stdout).toBe("early\nfailing\nloop 1\nloop 2\ncrash unwinds\nmodule defer after the error\n")
    expect(errorOf(outcome)).toBe("main.vv:14:64: cannot add an int and a bool with '+'")
  })

  it("waits for a deferred call that waits (a native returning a promise)", { timeout }, async () => {
    expect(
      await print(`
      import channel from "std/channel.vv"
      fun f()
        let ch = channel.make()
        defer console.print("after the wait:", channel.recv(ch, 50))
        return "returned"
      end
      console.print(f())
    `)
    ).toBe("after the wait: { type = error, value = timeout }\nreturned\n")
  })

  it("an error in a deferred statement is reported once the other defers ran", { timeout }, async () => {
    const outcome = await run(`
      import console from "std/console.vv"
      fun f()
        defer console.print("still runs")
        defer undefined_name
        return 1
      end
      f()
    `)
    expect(outcome.stdout).toBe("still runs\n")
    expect(errorOf(outcome)).toBe("main.vv:5:15: variable named 'undefined_name' is not defined")
  })
})

describe("try and postfix !", () => {
  it(
    "takes the value of ok, returns an error from the function, passes other values through",
    { timeout },
    async () => {
      expect(
        await print(`
      fun get(r) let v = try r return { got = v } end
      fun bang(r) return r! end
      console.print(get({ type = "ok", value = 1 }), get({ type = "error", value = "bad" }), get(7), get({ a = 1 }))
      console.print(bang({ type = "ok", value = 2 }), bang({ type = "error", value = "e" }))
    `)
      ).toBe(
        "{ got = 1 } { type = error, value = bad } { got = 7 } { got = { a = 1 } }\n2 { type = error, value = e }\n"
      )
    }
  )

  it("inside nested blocks and loops, returns from the enclosing function at once", { timeout }, async () => {
    expect(
      await print(`
      fun find(xs)
        let i = 0
        while i < len(xs)
          if true
            let v = try xs[i]
            console.print("ok", v)
          end
          i += 1
        end
        return "done"
      end
      console.print(find([{ type = "ok", value = 1 }, { type = "error", value = "stop" }, { type = "ok", value = 3 }]))
    `)
    ).toBe("ok 1\n{ type = error, value = stop }\n")
  })

  it("at top level stops the program with an unhandled error after the module's defers", { timeout }, async () => {
    const outcome = await run(`
      import console from "std/console.vv"
      defer console.print("defer ran")
      console.print("before")
      let x = try { type = "error", value = "it broke" }
      console.print("unreachable")
    `)
    expect(outcome.stdout).toBe("before\ndefer ran\n")
    expect(outcome.error).toBeInstanceOf(VvUnhandledError)
    expect(errorOf(outcome)).toBe("unhandled error: it broke")
  })

  it("a closure's try returns from the closure, not from its caller", { timeout }, async () => {
    expect(
      await print(`
      fun each(xs, f) let i = 0 while i < len(xs) f(xs[i]) i += 1 end end
      fun run()
        each([{ type = "error", value = "a" }], fun(r) let v = try r console.print("no") end)
        return "run continued"
      end
      console.print(run())
    `)
    ).toBe("run continued\n")
  })
})

describe("runtime errors", () => {
  it("name the file, line and column and are VvErrors", { timeout }, async () => {
    const outcome = await run(`let a = 1\nlet b = a + "x"`)
    expect(outcome.error).toBeInstanceOf(VvError)
    expect(errorOf(outcome)).toBe("main.vv:2:9: cannot add an int and a list with '+'")
  })

  it("assert failures quote the expression", { timeout }, async () => {
    expect(await fails(`let r = [1, 2]\nassert r == [104, 105]`)).toBe("main.vv:3:1: assertion failed: r == [104, 105]")
    expect(await fails(`assert 1`)).toBe("main.vv:2:8: assert expects a bool, got an int")
  })

  it(
    "a value that contains itself cannot be compared or printed: a runtime error, not a crash",
    { timeout },
    async () => {
      const cyclic = `import list from "std/list.vv"\nlet l = [1]\nlist.push(l, l)\n`
      expect(await fails(`${cyclic}let b = l == l`)).toBe(
        "main.vv:5:9: cannot compare: stack overflow: a value nested too deeply, or one that contains itself"
      )
      expect(await fails(`${cyclic}console.print(l)`)).toBe(
        "main.vv:5:1: print: stack overflow: a value nested too deeply, or one that contains itself"
      )
      expect(await fails(`${cyclic}let s = "{l}"`)).toBe(
        "main.vv:5:11: cannot print: stack overflow: a value nested too deeply, or one that contains itself"
      )
    }
  )

  it("an error in an imported module names that module", { timeout }, async () => {
    const dir = writeFiles({ "lib/util.vv": "pub fun boom()\n  return 1 + true\nend\n" })
    const outcome = await run(`import util from "./lib/util.vv"\nutil.boom()`, { dir })
    expect(errorOf(outcome)).toBe("lib/util.vv:2:10: cannot add an int and a bool with '+'")
  })
})

describe("modules", () => {
  it("import runs a module once and binds the record of its pub names", { timeout }, async () => {
    const dir = writeFiles({
      "m.vv":
        `import console from "std/console.vv"\nconsole.print("loading m")\npub let x = 42\nlet hidden = 1\npub fun f(n) return n * x end\npub let { a, b as c } = { a = 1, b = 2 }\n`,
      "n.vv": `import m from "./m.vv"\npub let y = m.x + 1\n`
    })
    expect(
      await output(
        `
      import console from "std/console.vv"
      import m from "./m.vv"
      import n from "./n.vv"
      import again from "./m.vv"
      console.print(m, n.y, m.f(2), again == m)
    `,
        { dir }
      )
    ).toBe("loading m\n{ a = 1, c = 2, f = <function>, x = 42 } 43 84 true\n")
  })

  it("an unknown std module, a missing file and an import cycle are errors at the import", { timeout }, async () => {
    expect(await fails(`import x from "std/nope.vv"`)).toBe(
      "main.vv:2:1: cannot import \"std/nope.vv\": no such std module"
    )
    const missing = await run(`import x from "./missing.vv"`)
    expect(errorOf(missing)).toMatch(/^main\.vv:1:1: cannot import "\.\/missing\.vv": no such file \(.*missing\.vv\)$/)
    const dir = writeFiles({ "a.vv": `import b from "./b.vv"\n`, "b.vv": `import a from "./a.vv"\n` })
    expect(errorOf(await run(`import a from "./a.vv"`, { dir }))).toBe("b.vv:1:1: import cycle: a.vv -> b.vv -> a.vv")
    const syntax = writeFiles({ "bad.vv": "let = 1\n" })
    expect(errorOf(await run(`import bad from "./bad.vv"`, { dir: syntax }))).toBe(
      "bad.vv:1:5: syntax error: expected a name after 'let', found '='"
    )
  })

  it("extern \"native\" binds the native registered for the module path", { timeout }, async () => {
    expect(await fails(`extern "native" fun nope()`)).toBe("main.vv:2:1: extern native: nope not registered")
    expect(await fails(`extern "wasm" fun f()`)).toBe(
      "main.vv:2:1: extern: unsupported kind \"wasm\" (only \"native\")"
    )
    const dir = writeFiles({ "fake.vv": `pub extern "native" fun print(x)\n` })
    expect(errorOf(await run(`import f from "./fake.vv"`, { dir }))).toBe(
      "fake.vv:1:5: extern native: print not registered"
    )
  })

  it("a host's own natives: extern \"native\" fun and let, per module path", { timeout }, async () => {
    const dir = writeFiles({ "host.vv": `pub extern "native" let version\npub extern "native" fun twice(x)\n` })
    const natives = new Map([[
      Path.join(dir, "host.vv"),
      new Map<string, VvValue>([
        ["version", chars("1.2")],
        ["twice", nativeFunction("twice", ["x"], ([x]) => (x as bigint) * 2n)]
      ])
    ]])
    const outcome = await run(
      `import console from "std/console.vv"\nimport host from "./host.vv"\nconsole.print(host.version, host.twice(21))\nhost.twice()`,
      { dir, natives }
    )
    expect(outcome.stdout).toBe("1.2 42\n")
    expect(errorOf(outcome)).toBe("main.vv:4:1: twice expects 1 argument (x), got 0")
  })

  it("std modules: result, option, list, sys, utf8", { timeout }, async () => {
    expect(
      await print(`
      import result from "std/result.vv"
      import option from "std/option.vv"
      import list from "std/list.vv"
      import sys from "std/sys.vv"
      import utf8 from "std/encoding/utf8.vv"
      console.print(result.ok(1), result.is_error(result.error("e")), result.get_or(result.error(1), 0))
      console.print(option.some(1), option.none, option.is_none(option.none))
      let l = [3, 1]
      list.push(l, 2)
      console.print(list.length(l), list.map(l, fun(i, x) return x * 10 end), list.join([1, 2], 0))
      list.each(l, fun(i, x) console.print(i, x) end)
      console.print(sys.type(1), sys.type('c'), sys.type(l), sys.type(list), sys.type(list.push))
      console.print(utf8.encode('€'), try utf8.decode([226, 130, 172]), utf8.decode([226]))
    `)
    ).toBe(
      "{ type = ok, value = 1 } true 0\n{ type = some, value = 1 } { type = none } true\n3 [30, 10, 20] [1, 0, 2]\n0 3\n1 1\n2 2\nint char list record fun\n[226, 130, 172] { char = €, size = 3 } { type = error, value = unexpected end of input }\n"
    )
  })
})

describe("vv test", () => {
  it("runs imports, externs, let/fun and test blocks only, and reports each test", { timeout }, async () => {
    const report = await runTests({
      "t.vv": `
        import console from "std/console.vv"
        let base = 10
        fun add(n) return base + n end
        console.print("skipped top-level statement")
        base = 0
        test "passes" assert add(1) == 11 end
        test "fails" assert add(1) == 12 end
        test "try fails the test" let v = try { type = "error", value = "nope" } end
        test "defers run" defer console.print("test defer") end
      `,
      "bad.vv": "let = 1"
    })
    expect(report.stdout).toBe("test defer\n")
    expect(report.outcomes.map((o) => [o.test, o.passed])).toEqual([
      ["passes", true],
      ["fails", false],
      ["try fails the test", false],
      ["defers run", true],
      [undefined, false]
    ])
    expect((report.outcomes[1]!.error as Error).message).toBe("t.vv:8:22: assertion failed: add(1) == 12")
    expect((report.outcomes[2]!.error as Error).message).toBe("unhandled error: nope")
    expect((report.outcomes[4]!.error as Error).message).toBe(
      "bad.vv:1:5: syntax error: expected a name after 'let', found '='"
    )
    expect([report.passed, report.failed]).toEqual([2, 3])
  })

  it("vv run skips test blocks", { timeout }, async () => {
    expect(await print(`test "never" console.print("in test") end console.print("main")`)).toBe("main\n")
  })
})
