import * as MemoryNet from "@vvnet/core/MemoryNet"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { formatFloat } from "../src/Printer.js"
import { testFiles } from "../src/Program.js"
import { bundledStdModules, stdDirectory } from "../src/Runtime.js"
import { decodeUtf8 } from "../src/std/natives.js"

const timeout = 20_000

describe("the bundled std modules", () => {
  it("pass their own test blocks (vv test on src/std/*.vv)", { timeout }, async () => {
    const files = bundledStdModules.map((id) => Path.join(stdDirectory, id.slice("std/".length)))
    let stdout = ""
    const report = await testFiles(files, { layer: MemoryNet.layer, cwd: stdDirectory, stdout: (s) => (stdout += s) })
    const failures = report.outcomes.filter((o) => !o.passed).map((o) => `${o.file}: ${o.test}: ${String(o.error)}`)
    expect(failures).toEqual([])
    expect(report.passed).toBeGreaterThanOrEqual(10)
    expect(stdout).toBe("")
  })
})

describe("utf8.decode", () => {
  it("decodes 1 to 4 byte characters and tells incomplete from invalid input", { timeout }, () => {
    expect(decodeUtf8([97, 98])).toEqual({ codePoint: 97, size: 1 })
    expect(decodeUtf8([0xc3, 0xa9])).toEqual({ codePoint: 0xe9, size: 2 })
    expect(decodeUtf8([226, 130, 172])).toEqual({ codePoint: 0x20ac, size: 3 })
    expect(decodeUtf8([240, 160, 174, 183])).toEqual({ codePoint: 0x20bb7, size: 4 })
    expect(decodeUtf8([])).toBe("empty")
    expect(decodeUtf8([226])).toBe("incomplete")
    expect(decodeUtf8([240, 160, 174])).toBe("incomplete")
    expect(decodeUtf8([0x80])).toBe("invalid")
    expect(decodeUtf8([0xc0, 0x80])).toBe("invalid") // overlong
    expect(decodeUtf8([0xed, 0xa0, 0x80])).toBe("invalid") // a surrogate
    expect(decodeUtf8([0xf4, 0x90, 0x80, 0x80])).toBe("invalid") // above U+10FFFF
    expect(decodeUtf8([226, 40])).toBe("invalid")
  })
})

describe("float printing", () => {
  it("follows Go's %g", { timeout }, () => {
    const cases: ReadonlyArray<readonly [number, string]> = [
      [0, "0"],
      [-0, "-0"],
      [1, "1"],
      [0.5, "0.5"],
      [100000, "100000"],
      [999999, "999999"],
      [1e6, "1e+06"],
      [1234567, "1.234567e+06"],
      [1e21, "1e+21"],
      [1e100, "1e+100"],
      [0.0001, "0.0001"],
      [0.00012, "0.00012"],
      [0.00001, "1e-05"],
      [1.5e-7, "1.5e-07"],
      [NaN, "NaN"],
      [Infinity, "+Inf"],
      [-Infinity, "-Inf"]
    ]
    for (const [value, text] of cases) expect(formatFloat(value)).toBe(text)
  })
})
