/**
 * The shared vv cases (../shared/cases/vv, copied into test/cases so the repository stands
 * alone) behave exactly as their headers say, run through the real CLI entry point
 * (`node bin/vv.js`). They use fixed ports 18181–18184: they run one after another.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { cli, packageDir } from "./support/vv.js"

const timeout = 60_000

/** What a case's header comment promises. */
type Expectation =
  | { readonly kind: "test-passes" }
  | { readonly kind: "stdout"; readonly stdout: string }
  | { readonly kind: "unhandled"; readonly contains: string; readonly stdout: string }

const headerLines = (text: string): Array<string> => {
  const lines: Array<string> = []
  for (const line of text.split("\n")) {
    if (!line.startsWith("//")) break
    lines.push(line.replace(/^\/\/ ?/, ""))
  }
  return lines
}

/** Reads the header; throws on a header this runner does not understand (so none is skipped). */
export const expectationOf = (text: string): Expectation => {
  const lines = headerLines(text)
  const header = lines.join("\n")
  if (/Expect: `vv test` passes/.test(header)) return { kind: "test-passes" }
  const exactly = lines.findIndex((l) => /Expect stdout exactly:/.test(l))
  if (exactly >= 0) return { kind: "stdout", stdout: lines.slice(exactly + 1).map((l) => l + "\n").join("") }
  const unhandled = /unhandled error whose message contains\s+"([^"]+)"/.exec(header)
  if (unhandled !== null) {
    const after = lines.findIndex((l) => /after printing:/.test(l))
    const end = lines.findIndex((l, i) => i > after && /exits with a non-zero status/.test(l))
    const printed = after >= 0 ? lines.slice(after + 1, end >= 0 ? end : undefined) : []
    return { kind: "unhandled", contains: unhandled[1]!, stdout: printed.map((l) => l + "\n").join("") }
  }
  throw new Error(`no expectation understood in the header:\n${header}`)
}

const check = async (file: string) => {
  const expectation = expectationOf(Fs.readFileSync(file, "utf8"))
  const dir = Path.dirname(file)
  const name = Path.basename(file)
  switch (expectation.kind) {
    case "test-passes": {
      const result = await cli(["test", name], { cwd: dir })
      expect(result.stdout).toBe(`PASS: ${name}\n`)
      expect(result.code).toBe(0)
      return
    }
    case "stdout": {
      const result = await cli(["run", name], { cwd: dir })
      expect(result.stderr).toBe("")
      expect(result.stdout).toBe(expectation.stdout)
      expect(result.code).toBe(0)
      return
    }
    case "unhandled": {
      const result = await cli(["run", name], { cwd: dir })
      expect(result.stdout).toBe(expectation.stdout)
      expect(result.stderr).toMatch(/^unhandled error: /)
      expect(result.stderr).toContain(expectation.contains)
      expect(result.stderr).not.toMatch(/\n\s+at /) // no JavaScript stack
      expect(result.code).not.toBe(0)
      return
    }
  }
}

const casesIn = (dir: string): Array<string> =>
  Fs.readdirSync(dir).filter((f) => f.endsWith(".vv")).sort().map((f) => Path.join(dir, f))

describe("header parsing", () => {
  it("understands the three forms of expectation", { timeout }, () => {
    expect(expectationOf("// Expect: `vv test` passes this test.\nimport x from \"y\"")).toEqual({
      kind: "test-passes"
    })
    expect(expectationOf("// Some words.\n// Expect stdout exactly:\n// a b\n// c\nlet x = 1")).toEqual({
      kind: "stdout",
      stdout: "a b\nc\n"
    })
    expect(
      expectationOf(
        "// Expect: the program stops with an unhandled error whose message contains\n// \"refused\", after printing:\n// before\n// and exits with a non-zero status.\n"
      )
    ).toEqual({ kind: "unhandled", contains: "refused", stdout: "before\n" })
    expect(() => expectationOf("// nothing here\n")).toThrow(/no expectation understood/)
  })
})

describe("test/cases (copied from ../shared/cases/vv)", () => {
  const files = casesIn(Path.join(packageDir, "test", "cases"))
  it("holds the six shared cases", { timeout }, () => {
    expect(files.map((f) => Path.basename(f))).toEqual([
      "client_server.vv",
      "counter.vv",
      "echo.vv",
      "line_reader.vv",
      "refused.vv",
      "sync_chan.vv"
    ])
  })
  for (const file of files) {
    it(`${Path.basename(file)} behaves as its header says`, { timeout }, () => check(file))
  }
})

const shared = Path.resolve(packageDir, "../../../shared/cases/vv")
const sharedFiles = Fs.existsSync(shared) ? casesIn(shared) : []

describe("../shared/cases/vv, run in place", () => {
  if (sharedFiles.length === 0) {
    it.skip(`skipped: ${shared} is absent (the shared cases live beside the repository)`, () => {})
    return
  }
  for (const file of sharedFiles) {
    it(`${Path.basename(file)} behaves as its header says`, { timeout }, () => check(file))
  }
  it("test/cases holds the same text as the shared cases", { timeout }, () => {
    for (const file of sharedFiles) {
      const copy = Path.join(packageDir, "test", "cases", Path.basename(file))
      expect(Fs.existsSync(copy), `${Path.basename(file)} is copied into test/cases`).toBe(true)
      expect(Fs.readFileSync(copy, "utf8")).toBe(Fs.readFileSync(file, "utf8"))
    }
  })
})
