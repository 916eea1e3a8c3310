/**
 * The std modules the reference vv runtime (fj68/vvlang) has, checked against what it documents
 * and what its own test blocks expect (re-stated here in our own words): each module's own
 * `test` blocks, programs run through the `vv test` machinery, the errors bad arguments give,
 * and the file system in a fresh temporary directory per test.
 */
import * as MemoryNet from "@vvnet/core/MemoryNet"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { testFiles } from "../src/Program.js"
import { stdDirectory } from "../src/Runtime.js"
import { cleanup, errorOf, output, run, runTests, tempDir } from "./support/vv.js"

const timeout = 20_000

afterEach(cleanup)

/** Runs the tests of `text` (one file) and returns the names of the passed and failed tests. */
const vvTest = async (text: string) => {
  const report = await runTests({ "t.vv": text })
  return {
    passed: report.outcomes.filter((o) => o.passed).map((o) => o.test),
    failed: report.outcomes.filter((o) => !o.passed).map((o) => `${o.test}: ${String(o.error)}`),
    stdout: report.stdout
  }
}

describe("each std module passes its own test blocks", () => {
  const modules: ReadonlyArray<readonly [string, number]> = [
    ["string.vv", 1],
    ["bool.vv", 1],
    ["int.vv", 2],
    ["float.vv", 4],
    ["char.vv", 3],
    ["math.vv", 3],
    ["record.vv", 2],
    ["random.vv", 3],
    ["list.vv", 11],
    ["option.vv", 2],
    ["sys.vv", 4],
    ["encoding/sjis.vv", 3],
    ["fs/file.vv", 2],
    ["fs/dir.vv", 2]
  ]
  for (const [file, count] of modules) {
    it(`std/${file}: ${count} tests`, { timeout }, async () => {
      const report = await testFiles([Path.join(stdDirectory, file)], { layer: MemoryNet.layer, cwd: stdDirectory })
      expect(report.outcomes.filter((o) => !o.passed).map((o) => `${o.test}: ${String(o.error)}`)).toEqual([])
      expect(report.passed).toBe(count)
    })
  }
})

describe("std/list.vv as the reference has it", () => {
  it("every function of the reference, with its results", { timeout }, async () => {
    const r = await vvTest(`
import list from "std/list.vv"
import option from "std/option.vv"

test "replace is a new list, sub-lists replaced left to right"
    let xs = [1, 2, 3, 2, 4]
    assert list.replace(xs, [2], [9, 9]) == [1, 9, 9, 3, 9, 9, 4]
    assert list.replace([1, 2, 3, 1, 2, 3], [1, 2], [0]) == [0, 3, 0, 3]
    assert xs == [1, 2, 3, 2, 4]
    assert list.replace("banana", "an", "AN") == "bANANa"
end

test "head and tail answer options"
    assert list.head([7, 8]) == option.some(7)
    assert list.head([]) == option.none
    assert list.tail([7, 8, 9]) == option.some([8, 9])
    assert list.tail([]) == option.none
end

test "zip pairs up to the longer list, padding with none"
    assert list.zip([1, 2], ["a", "b"]) == [[1, "a"], [2, "b"]]
    assert list.zip([1, 2, 3], ["x"]) == [[1, "x"], [2, option.none], [3, option.none]]
end

test "every, some, find, find_index, find_pattern"
    assert list.every([2, 4], fun(i, x) return x % 2 == 0 end)
    assert list.some([1, 2], fun(i, x) return x % 2 == 0 end)
    assert list.find([1, 2, 3, 4], fun(i, x) return x % 2 == 0 end) == 2
    assert list.find([1, 3], fun(i, x) return x % 2 == 0 end) == option.none
    assert list.find_index([1, 2, 3], fun(i, x) return x % 2 == 0 end) == 1
    assert list.find_index([1, 3], fun(i, x) return x % 2 == 0 end) == option.none
    assert list.find_pattern([1, 2, 3, 4], [2, 3]) == 1
    assert list.find_pattern([1, 2, 3, 4], [5]) == -1
end

test "take_while, drop_while, partition, flat, flat_map, init, max, min, fold_right"
    assert list.take_while([1, 2, 3, 4], fun(i, x) return x < 3 end) == [1, 2]
    assert list.drop_while([1, 2, 3, 4], fun(i, x) return x < 3 end) == [3, 4]
    assert list.partition([1, 2, 3, 4], fun(i, x) return x % 2 == 0 end) == [[2, 4], [1, 3]]
    assert list.flat([[1, 2], [3, 4]]) == [1, 2, 3, 4]
    assert list.flat_map([1, 2], fun(i, x) return [x, x * 2] end) == [1, 2, 2, 4]
    assert list.init(3, fun(i) return i * 2 end) == [0, 2, 4]
    assert list.max([1, 5, 2], fun(x) return x end) == 5
    assert list.min([1, 5, 2], fun(x) return x end) == 1
    assert list.fold_right(["a", "b", "c"], "", fun(acc, i, x) return acc + x end) == "cba"
end

test "push, pop, shift, unshift"
    let l = [2, 3]
    list.unshift(l, 1)
    list.push(l, 4)
    assert l == [1, 2, 3, 4]
    assert list.pop(l) == 4
    assert list.shift(l) == 1
    assert l == [2, 3]
end
`)
    expect(r.failed).toEqual([])
    expect(r.passed).toHaveLength(6)
  })

  it("replace needs three lists", { timeout }, async () => {
    const outcome = await run(`import list from "std/list.vv"\nlist.replace([1], 1, [2])\n`)
    expect(errorOf(outcome)).toBe("main.vv:2:1: replace: expects from_pattern to be a list, got an int")
  })
})

describe("std/option.vv and std/sys.vv", () => {
  it("flat_map_none, str, phys_eq, type and the recursion limit", { timeout }, async () => {
    const r = await vvTest(`
import option from "std/option.vv"
import sys from "std/sys.vv"

test "flat_map_none calls its fallback with no argument, only for none"
    assert option.flat_map_none(option.none, fun() return option.some(1) end) == option.some(1)
    assert option.flat_map_none(option.some(2), fun() return option.some(1) end) == option.some(2)
end

test "str is the printed text"
    assert sys.str(123) == "123"
    assert sys.str([1, 2, 3]) == "[1, 2, 3]"
    assert sys.str(true) == "true"
    assert sys.str(2.5) == "2.5"
    assert sys.str("already text") == "already text"
end

test "phys_eq is identity for lists and records"
    let a = [1]
    let b = [1]
    assert sys.phys_eq(a, a)
    assert not(sys.phys_eq(a, b))
end

test "type names kinds"
    assert sys.type(123) == "int"
    assert sys.type("hello") == "list"
    assert sys.type({ a = 1 }) == "record"
end

test "the recursion limit starts at the reference's 1000"
    assert sys.get_max_recursion_depth() == 1000
    sys.set_max_recursion_depth(100)
    assert sys.get_max_recursion_depth() == 100
end
`)
    expect(r.failed).toEqual([])
    expect(r.passed).toHaveLength(5)
  })

  it("help prints a module's names, or a value's type", { timeout }, async () => {
    const stdout = await output(
      `import sys from "std/sys.vv"\nimport int from "std/int.vv"\nsys.help(int)\nsys.help(1.5)\n`
    )
    expect(stdout).toBe("- abs\n- max\n- min\n- to_string\ntype: float\n")
  })

  it("nested calls stop at the limit, 1000 by default, with the reference's error", { timeout }, async () => {
    const down = `import console from "std/console.vv"
import sys from "std/sys.vv"
fun down(n)
    if n == 0
        return 0
    end
    return 1 + down(n - 1)
end
fun loop(n)
    if n == 0
        return "done"
    end
    return loop(n - 1)
end
`
    // 1000 nested calls are allowed (down(999) is 1000 calls deep), the 1001st is not
    expect(await output(down + "console.print(down(999), loop(100000))\n")).toBe("999 done\n")
    expect(errorOf(await run(down + "down(1000)\n"))).toBe("main.vv:7:16: call stack size overflow (max depth 1000)")
    const lowered = down + "sys.set_max_recursion_depth(20)\nconsole.print(down(19))\ndown(20)\n"
    const outcome = await run(lowered)
    expect(outcome.stdout).toBe("19\n")
    expect(errorOf(outcome)).toBe("main.vv:7:16: call stack size overflow (max depth 20)")
    const raised = down + "sys.set_max_recursion_depth(5000)\nconsole.print(down(4999))\n"
    expect(await output(raised)).toBe("4999\n")
  })

  it("handlers started by net.accept follow the program's limit", { timeout }, async () => {
    const outcome = await run(`import console from "std/console.vv"
import sys from "std/sys.vv"
import net from "std/net.vv"
import channel from "std/channel.vv"
fun down(n)
    if n == 0
        return 0
    end
    return 1 + down(n - 1)
end
let done = channel.make()
fun handler(conn)
    defer net.close(conn)
    channel.send(done, down(20))
    down(40)
end
sys.set_max_recursion_depth(30)
let listener = try net.listen("tcp", "127.0.0.1:7301")
net.accept(listener, handler)
let c = try net.dial("tcp", "127.0.0.1:7301")
console.print(try channel.recv(done, 5000))
console.print(try net.read(c, 10))
`)
    expect(outcome.error).toBeUndefined()
    expect(outcome.stdout).toBe("20\n\n")
    expect(outcome.logs).toHaveLength(1)
    expect(outcome.logs[0]).toMatch(/handler failed for .*: main\.vv:9:16: call stack size overflow \(max depth 30\)$/)
  })

  it("a bad recursion depth is a runtime error", { timeout }, async () => {
    const outcome = await run(`import sys from "std/sys.vv"\nsys.set_max_recursion_depth("deep")\n`)
    expect(errorOf(outcome)).toBe("main.vv:2:1: set_max_recursion_depth: expects depth to be an int, got a list")
  })
})

describe("std/int.vv, std/float.vv, std/bool.vv, std/char.vv, std/string.vv, std/math.vv", () => {
  it("conversions and arithmetic helpers", { timeout }, async () => {
    const r = await vvTest(`
import int from "std/int.vv"
import float from "std/float.vv"
import bool from "std/bool.vv"
import char from "std/char.vv"
import string from "std/string.vv"
import math from "std/math.vv"

test "int"
    assert int.to_string(42) == "42"
    assert int.to_string(-7) == "-7"
    assert int.abs(-5) == 5
    assert int.min(10, 5) == 5
    assert int.max(10, 5) == 10
end

test "float"
    assert float.to_string(3.14) == "3.14"
    assert float.to_string(0.0) == "0"
    assert float.floor(-3.2) == -4.0
    assert float.ceil(-3.7) == -3.0
    assert float.round(3.5) == 4.0
    assert float.round(-3.5) == -4.0
    assert float.round(3.4) == 3.0
    assert float.abs(-5.5) == 5.5
    assert float.min(10.5, 5.2) == 5.2
    assert float.max(10.5, 5.2) == 10.5
    assert float.from_int(42) == 42.0
end

test "bool"
    assert bool.to_string(true) == "true"
    assert bool.to_string(false) == "false"
end

test "char"
    assert char.to_upper('a') == 'A'
    assert char.to_upper('1') == '1'
    assert char.to_lower('A') == 'a'
    assert char.to_lower('!') == '!'
    assert char.is_digit('5')
    assert not(char.is_digit('a'))
    assert char.is_space(' ')
    assert char.is_space('\\n')
    assert not(char.is_space('a'))
end

test "string"
    assert string.length("hello") == 5
    assert string.length("") == 0
    assert string.length("ありがとう") == 5
end

test "math"
    assert math.sin(math.pi / 2.0) == 1.0
    assert math.sqrt(16.0) == 4.0
    assert math.pow(2.0, 3.0) == 8.0
    assert math.atan2(0.0, -1.0) == math.pi
    assert math.acos(-1.0) == math.pi
    assert math.asin(0.0) == 0.0
    assert math.tan(0.0) == 0.0
    assert math.atan(0.0) == 0.0
    assert math.cos(math.pi) == -1.0
    assert 2.71828 < math.e
end
`)
    expect(r.failed).toEqual([])
    expect(r.passed).toHaveLength(6)
  })

  it("bad arguments are vv runtime errors at the call", { timeout }, async () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      [`import int from "std/int.vv"\nint.abs(1.5)`, "abs: expects n to be an int, got a float"],
      [`import float from "std/float.vv"\nfloat.floor(3)`, "floor: expects f to be a float, got an int"],
      [`import math from "std/math.vv"\nmath.sqrt(4)`, "sqrt: expects x to be a float, got an int"],
      [`import char from "std/char.vv"\nchar.to_upper("ab")`, "to_upper: expects c to be a char, got a list"],
      [`import bool from "std/bool.vv"\nbool.to_string(0)`, "to_string: expects b to be a bool, got an int"],
      [`import string from "std/string.vv"\nstring.length([1])`, "length: expects s to be a string (a list of chars)"],
      [`import record from "std/record.vv"\nrecord.get([], "a")`, "get: expects r to be a record, got a list"],
      [
        `import random from "std/random.vv"\nrandom.int(5, 5)`,
        "int: max must be greater than min, got min = 5, max = 5"
      ],
      [`import int from "std/int.vv"\nint.min(1)`, "min expects 2 arguments (a, b), got 1"]
    ]
    for (const [program, message] of cases) {
      expect(errorOf(await run(program + "\n"))).toBe(`main.vv:2:1: ${message}`)
    }
  })
})

describe("std/record.vv and std/random.vv", () => {
  it("record get, set, to_list, keys, values, has; random ranges and seeds", { timeout }, async () => {
    const r = await vvTest(`
import record from "std/record.vv"
import random from "std/random.vv"
import option from "std/option.vv"

test "record"
    let r = { a = 1, b = 2 }
    assert record.get(r, "a") == 1
    assert record.get(r, "c") == option.none
    record.set(r, "c", 3)
    assert record.get(r, "c") == 3
    assert record.to_list({ a = 1 }) == [["a", 1]]
    assert record.keys({ foo = 1, bar = 2 }) == ["bar", "foo"]
    assert record.values({ x = 10 }) == [10]
    assert record.has(r, "b")
    assert not(record.has(r, "z"))
end

test "random"
    random.seed(42)
    let first = random.int(1, 10)
    assert 1 <= first
    assert first < 10
    random.seed(42)
    assert random.int(1, 10) == first
    let f = random.float()
    assert 0.0 <= f
    assert f < 1.0
    assert random.choice([]) == option.none
    assert random.choice(["only"]) == "only"
end
`)
    expect(r.failed).toEqual([])
    expect(r.passed).toHaveLength(2)
  })
})

describe("std/fs/file.vv and std/fs/dir.vv (a fresh temporary directory each)", () => {
  /** Runs `program` with `dir` as the program's directory; `{dir}` is the dir's path. */
  const fsTest = async (dir: string, body: string) => {
    const text = `import file from "std/fs/file.vv"\nimport dir from "std/fs/dir.vv"\nlet root = ${
      JSON.stringify(dir)
    }\n${body}`
    return vvTest(text)
  }

  it("create, write, read back, append, exists, close", { timeout }, async () => {
    const dir = tempDir()
    const r = await fsTest(
      dir,
      `
test "a file round trip"
    let path = root + "/notes.txt"
    assert file.exists(path) == { type = "ok", value = false }
    let f = try file.create(path)
    assert file.write(f, "héllo") == { type = "ok", value = 6 }
    assert file.write(f, [10, 321]) == { type = "ok", value = 2 }
    assert file.close(f) == { type = "ok", value = { type = "none" } }
    assert file.exists(path) == { type = "ok", value = true }
    let g = try file.open_read(path)
    assert file.read(g, 2) == { type = "ok", value = [104, 195] }
    assert file.read(g, 100) == { type = "ok", value = [169, 108, 108, 111, 10, 65] }
    assert file.read(g, 100) == { type = "ok", value = [] }
    try file.close(g)
    let w = file.open_write(path, true)
    try file.write(w, "!")
    try file.close(w)
    let t = try file.open_read(path)
    assert len(try file.read(t, 100)) == 9
    try file.close(t)
    let o = file.open_write(path, false)
    try file.write(o, "new")
    try file.close(o)
    let n = try file.open_read(path)
    assert file.read(n, 100) == { type = "ok", value = [110, 101, 119] }
    try file.close(n)
end

test "closing twice is an error result"
    let f = try file.create(root + "/twice")
    try file.close(f)
    assert file.close(f) == { type = "error", value = "close " + root + "/twice: file already closed" }
    assert file.read(f, 1) == { type = "error", value = "read " + root + "/twice: file already closed" }
end

test "open_read of a missing file is an error result in Go's words"
    assert file.open_read(root + "/nope") == { type = "error", value = "open " + root + "/nope: no such file or directory" }
    assert file.create(root + "/no/such/dir") == { type = "error", value = "open " + root + "/no/such/dir: no such file or directory" }
end

test "reader and writer records"
    let w = try file.writer(root + "/twice", false)
    try w.write(w, "abc")
    try w.close(w)
    let r = try file.reader(root + "/twice")
    assert r.read(r, 10) == { type = "ok", value = [97, 98, 99] }
    try r.close(r)
    assert file.reader(root + "/missing").type == "error"
end
`
    )
    expect(r.failed).toEqual([])
    expect(r.passed).toHaveLength(4)
    expect(Fs.readFileSync(Path.join(dir, "twice"), "utf8")).toBe("abc")
  })

  it("open and open_write of a missing file stop the program, as on the reference", { timeout }, async () => {
    const dir = tempDir()
    const missing = Path.join(dir, "missing")
    const outcome = await run(`import file from "std/fs/file.vv"\nfile.open(${JSON.stringify(missing)}, false)\n`)
    expect(errorOf(outcome)).toBe(`main.vv:2:1: open: open ${missing}: no such file or directory`)
    const outcome2 = await run(`import file from "std/fs/file.vv"\nfile.open_write(${JSON.stringify(missing)}, true)\n`)
    expect(errorOf(outcome2)).toBe(`main.vv:2:1: open_write: open ${missing}: no such file or directory`)
    const outcome3 = await run(`import file from "std/fs/file.vv"\nfile.read(1, 2)\n`)
    expect(errorOf(outcome3)).toBe(`main.vv:2:1: read: expects fd to be userdata, got an int`)
  })

  it("dir create (with parents), read (sorted), exists, remove (with contents)", { timeout }, async () => {
    const dir = tempDir()
    const r = await fsTest(
      dir,
      `
test "directories"
    let d = root + "/a/b"
    assert dir.exists(d) == { type = "ok", value = false }
    assert dir.create(d) == { type = "ok", value = { type = "none" } }
    assert dir.exists(d) == { type = "ok", value = true }
    try file.close(try file.create(d + "/z.txt"))
    try file.close(try file.create(d + "/m.txt"))
    try dir.create(d + "/sub")
    assert dir.read(d) == { type = "ok", value = ["m.txt", "sub", "z.txt"] }
    assert dir.exists(d + "/z.txt") == { type = "ok", value = false }
    assert file.exists(d + "/z.txt") == { type = "ok", value = true }
    assert dir.remove(root + "/a") == { type = "ok", value = { type = "none" } }
    assert dir.exists(root + "/a") == { type = "ok", value = false }
    assert dir.remove(root + "/a") == { type = "ok", value = { type = "none" } }
    assert dir.read(root + "/a") == { type = "error", value = "open " + root + "/a: no such file or directory" }
end
`
    )
    expect(r.failed).toEqual([])
    expect(r.passed).toHaveLength(1)
    expect(Fs.readdirSync(dir)).toEqual([])
  })
})

describe("std/encoding/sjis.vv", () => {
  it("decodes a Shift_JIS file through std/io/text.vv and encodes back", { timeout }, async () => {
    const dir = tempDir()
    const path = Path.join(dir, "sjis.txt")
    // "日本語\nｶﾅ\n" in Shift_JIS
    Fs.writeFileSync(path, Uint8Array.from([0x93, 0xfa, 0x96, 0x7b, 0x8c, 0xea, 0x0a, 0xb6, 0xc5, 0x0a]))
    const r = await vvTest(`
import file from "std/fs/file.vv"
import bytes from "std/io/bytes.vv"
import text from "std/io/text.vv"
import sjis from "std/encoding/sjis.vv"

test "read lines of a Shift_JIS file"
    let source = try file.reader(${JSON.stringify(path)})
    let b = try bytes.reader(source, 3)
    let t = try text.reader(b, sjis)
    assert text.read_line(t) == { type = "ok", value = "日本語" }
    assert text.read_line(t) == { type = "ok", value = "ｶﾅ" }
    assert text.read_line(t).type == "error"
    text.close(t)
end

test "encode"
    assert sjis.encode('日') == [147, 250]
    assert sjis.encode('ｶ') == [182]
end
`)
    expect(r.failed).toEqual([])
    expect(r.passed).toHaveLength(2)
  })

  it("a char Shift_JIS cannot encode is a runtime error", { timeout }, async () => {
    const outcome = await run(`import sjis from "std/encoding/sjis.vv"\nsjis.encode('😀')\n`)
    expect(errorOf(outcome)).toBe("main.vv:2:1: encode: '😀' (U+1F600) has no Shift_JIS encoding")
  })
})
