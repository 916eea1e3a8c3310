/**
 * The `vv` command through its real entry point (`node bin/vv.js`): exit statuses, messages
 * on stderr with no JavaScript stack, `vv test` reports, relative paths, and the process
 * ending with the main module. Network only on 127.0.0.1 (ports 18190–18192).
 */
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { cleanup, cli, packageDir, writeFiles } from "./support/vv.js"

const timeout = 60_000
afterAll(cleanup)

const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at |\.ts:\d+:\d+\)/)

describe.concurrent("vv run", () => {
  it("prints usage for bad arguments (exit 2) and for --help (exit 0)", { timeout }, async () => {
    const bad = await cli([])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^usage:/)
    const help = await cli(["--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/vv run FILE/)
  })

  it("runs a program: stdout, exit 0; `vv FILE` is `vv run FILE`", { timeout }, async () => {
    const dir = writeFiles({ "hello.vv": `import console from "std/console.vv"\nconsole.print("hello", 1 + 1)\n` })
    for (const args of [["run", "hello.vv"], ["hello.vv"]]) {
      const result = await cli(args, { cwd: dir })
      expect(result).toEqual({ code: 0, stdout: "hello 2\n", stderr: "" })
    }
  })

  it("a syntax error names file:line:column, exit 1, no stack", { timeout }, async () => {
    const dir = writeFiles({ "bad.vv": "let x = 1\nwhile x\n" })
    const result = await cli(["run", "bad.vv"], { cwd: dir })
    expect(result.code).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.stderr).toBe("bad.vv:3:1: syntax error: expected 'end' to close 'while' at 2:1, found end of file\n")
  })

  it("a runtime error names file:line:column after the defers ran, exit 1, no stack", { timeout }, async () => {
    const dir = writeFiles({
      "sub/err.vv": `import console from "std/console.vv"\ndefer console.print("deferred")\nlet x = 104 == 'h'\n`
    })
    const result = await cli(["run", "sub/err.vv"], { cwd: dir })
    expect(result).toEqual({
      code: 1,
      stdout: "deferred\n",
      stderr: "sub/err.vv:3:9: cannot compare an int with a char\n"
    })
  })

  it("an unhandled error prints `unhandled error: <message>`, exit 1", { timeout }, async () => {
    const dir = writeFiles({ "u.vv": `let r = try { type = "error", value = "went wrong" }\n` })
    const result = await cli(["run", "u.vv"], { cwd: dir })
    expect(result).toEqual({ code: 1, stdout: "", stderr: "unhandled error: went wrong\n" })
  })

  it("a missing file is reported plainly", { timeout }, async () => {
    const result = await cli(["run", "nope.vv"], { cwd: writeFiles({}) })
    expect(result).toEqual({ code: 1, stdout: "", stderr: "cannot read nope.vv: no such file\n" })
  })

  it("resolves FILE against INIT_CWD when run as the `vv` package script", { timeout }, async () => {
    const dir = writeFiles({ "here.vv": `import console from "std/console.vv"\nconsole.print("found")\n` })
    const result = await cli(["run", "here.vv"], { cwd: packageDir, env: { npm_lifecycle_event: "vv", INIT_CWD: dir } })
    expect(result).toEqual({ code: 0, stdout: "found\n", stderr: "" })
  })

  it("reports a deadlock (every task waits, nothing can wake one) instead of hanging", { timeout }, async () => {
    const dir = writeFiles({
      "dl.vv": `import channel from "std/channel.vv"\nlet v = channel.recv(channel.make(), 0)\n`
    })
    const result = await cli(["run", "dl.vv"], { cwd: dir })
    expect(result).toEqual({ code: 1, stdout: "", stderr: "fatal error: all tasks are asleep - deadlock!\n" })
  })

  it("exits when the main module ends: listeners closed, handlers stopped", { timeout }, async () => {
    const dir = writeFiles({
      "server.vv": `
        import net from "std/net.vv"
        import console from "std/console.vv"
        let listener = try net.listen("tcp", "127.0.0.1:18190")
        fun handler(conn)
          while true
            let data = try net.read(conn, 100)
          end
        end
        net.accept(listener, handler)
        let client = try net.dial("tcp", "127.0.0.1:18190")
        try net.write(client, "x")
        console.print("main done")
      `
    })
    const started = Date.now()
    const result = await cli(["run", "server.vv"], { cwd: dir, timeoutMs: 15_000 })
    expect(result).toEqual({ code: 0, stdout: "main done\n", stderr: "" })
    expect(Date.now() - started).toBeLessThan(15_000)
    // the port is free again
    const again = await cli(["run", "server.vv"], { cwd: dir, timeoutMs: 15_000 })
    expect(again.code).toBe(0)
  })
})

describe.concurrent("vv test", () => {
  const files = {
    "ok.vv": `test "one" assert 1 + 1 == 2 end\ntest "two" assert [1] == [1] end\n`,
    "mixed.vv": `import console from "std/console.vv"
fun id(x) return x end
test "good" assert id(1) == 1 end
test "bad" assert id(1) == 2 end
test "after the failure" console.print("not run") end
`,
    "broken.vv": "test \"never\"\n",
    "unhandled.vv": `test "try" let v = try { type = "error", value = "went wrong" } end\n`
  }

  it("reports as the reference runtime: one PASS line per file, exit 0", { timeout }, async () => {
    const dir = writeFiles(files)
    const result = await cli(["test", "ok.vv"], { cwd: dir })
    expect(result).toEqual({ code: 0, stdout: "PASS: ok.vv\n", stderr: "" })
  })

  it(
    "a failing file: FAIL: FILE [TEST] and the message indented by two; its later tests do not run; exit 1",
    { timeout },
    async () => {
      const dir = writeFiles(files)
      const result = await cli(["test", "ok.vv", "mixed.vv", "broken.vv", "unhandled.vv"], { cwd: dir })
      expect(result.code).toBe(1)
      expect(result.stdout).toBe(
        "PASS: ok.vv\n" +
          "FAIL: mixed.vv [bad]\n  mixed.vv:4:12: assertion failed: id(1) == 2\n" +
          "FAIL: broken.vv\n  broken.vv:2:1: syntax error: expected 'end' to close 'test' at 1:1, found end of file\n" +
          "FAIL: unhandled.vv [try]\n  unhandled.vv:1:20: unhandled error: went wrong\n"
      )
      expect(result.stderr).toBe("")
      noStack(result.stdout)
    }
  )

  it("without a path tests the current directory; no .vv file found is said, exit 0", { timeout }, async () => {
    const dir = writeFiles({ "only.vv": `test "t" assert true end\n` })
    expect(await cli(["test"], { cwd: dir })).toEqual({ code: 0, stdout: "PASS: only.vv\n", stderr: "" })
    const empty = writeFiles({ "notes.txt": "no vv here" })
    expect(await cli(["test"], { cwd: empty })).toEqual({ code: 0, stdout: "no .vv files found\n", stderr: "" })
  })
})

describe("vv test DIRECTORY", () => {
  it("runs the .vv files of a directory, recursively, in order", { timeout }, async () => {
    const dir = writeFiles({
      "suite/b.vv": `test "b" assert true end\n`,
      "suite/a.vv": `test "a" assert true end\n`,
      "suite/nested/c.vv": `test "c" assert true end\n`,
      "suite/notes.txt": "not vv"
    })
    const result = await cli(["test", "suite"], { cwd: dir })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("PASS: suite/a.vv\nPASS: suite/b.vv\nPASS: suite/nested/c.vv\n")
  })
})

describe("the repository root script", () => {
  it("`pnpm vv run FILE` runs FILE relative to the caller's directory", { timeout: 120_000 }, async () => {
    const root = Path.resolve(packageDir, "../..")
    const dir = writeFiles({ "rel.vv": `import console from "std/console.vv"\nconsole.print("via pnpm")\n` })
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const env = { ...process.env }
      delete env["npm_lifecycle_event"]
      delete env["INIT_CWD"]
      const child = spawn("npx", [
        "-y",
        "pnpm@12.4.2",
        "--dir",
        root,
        "vv",
        "run",
        Path.relative(dir, Path.join(dir, "rel.vv"))
      ], {
        cwd: dir,
        env
      })
      let stdout = ""
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, stdout }))
    })
    expect(result).toEqual({ code: 0, stdout: "via pnpm\n" })
  })
})
