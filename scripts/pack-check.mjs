#!/usr/bin/env node
// `pnpm pack:check`: what a user who installs vvnet from the registry gets, checked before it
// is published.
//
// 1. A clean build (`tsc -b tsconfig.build.json`) of every package into build/esm.
// 2. `pnpm pack` of every publishable package into a temporary directory. pnpm applies
//    `publishConfig.exports` (compiled JavaScript and declarations instead of the workspace's
//    TypeScript sources) and rewrites `workspace:^` to the real versions.
// 3. The packed manifests: every export target is in the tarball, every public module has an
//    export, no `workspace:` range is left, LICENSE and README are there, and vv-runtime ships
//    its bin and its std `.vv` modules.
// 4. publint (--strict) and @arethetypeswrong/cli on every tarball. attw runs with
//    `--profile esm-only`: the packages are ESM only ("type": "module", no CommonJS build, as
//    `effect` itself is used here), so `require` from CommonJS (node16-cjs) and the pre-exports
//    `node10` resolution are out of scope by design; node16 (from ESM) and bundler must be clean.
// 5. A smoke test outside the workspace: a fresh npm project under the temp directory installs
//    the tarballs plus effect and @effect/platform from the registry, type-checks a consumer
//    under NodeNext and Bundler resolution (declarations included: skipLibCheck off), runs a
//    dial/listen round trip on 127.0.0.1 through @vvnet/core and @vvnet/node-adapter, and runs
//    a vv program through the installed `vv` bin (compiled JavaScript; tsx is not installed).
//
// Set VVNET_KEEP_PACK=1 to keep the temporary directory; it is kept on failure.
import { execFileSync, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const bin = (name) => Path.join(root, "node_modules", ".bin", name)
const PNPM = ["npx", "-y", "pnpm@12.4.2"]
/** Versions the smoke project installs from the registry (pinned, as in the workspace). */
const registryDeps = { "effect": "3.22.4", "@effect/platform": "0.97.2" }
const registryDevDeps = { "typescript": "5.9.3", "@types/node": "20.19.43" }

const log = (message) => process.stdout.write(`pack-check: ${message}\n`)
const problems = []
const problem = (message) => {
  problems.push(message)
  process.stderr.write(`pack-check: FAIL ${message}\n`)
}

/** Runs a command, its output shown; false when it fails. */
const run = (command, args, options = {}) => {
  const result = spawnSync(command, args, { stdio: "inherit", timeout: 300_000, ...options })
  if (result.error !== undefined) process.stderr.write(`${command}: ${result.error.message}\n`)
  return result.status === 0
}

/** Runs a command and returns its stdout (throws when it fails). */
const output = (command, args, options = {}) =>
  execFileSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 300_000, ...options })

const temp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "vvnet-pack-"))
const tarballs = Path.join(temp, "tarballs")
const project = Path.join(temp, "project")
Fs.mkdirSync(tarballs)
Fs.mkdirSync(project)
log(`working in ${temp}`)

// ---- 1. clean build ----------------------------------------------------------------------------

const packages = Fs.readdirSync(Path.join(root, "packages"))
  .map((name) => ({ dir: Path.join(root, "packages", name) }))
  .filter(({ dir }) => Fs.existsSync(Path.join(dir, "package.json")))
  .map(({ dir }) => ({ dir, manifest: JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8")) }))
  .filter(({ manifest }) => manifest.private !== true)
const versions = new Map(packages.map(({ manifest }) => [manifest.name, manifest.version]))

for (const { dir } of packages) {
  // files of deleted sources must not linger in build/esm and ship
  Fs.rmSync(Path.join(dir, "build", "esm"), { recursive: true, force: true })
  Fs.rmSync(Path.join(dir, "build", "tsbuildinfo", "src.tsbuildinfo"), { force: true })
}
log("build: tsc -b tsconfig.build.json")
if (!run(bin("tsc"), ["-b", "tsconfig.build.json"], { cwd: root })) {
  problem("the build failed")
  finish()
}

// ---- 2. pack -----------------------------------------------------------------------------------

for (const pkg of packages) {
  log(`pack ${pkg.manifest.name}`)
  const before = new Set(Fs.readdirSync(tarballs))
  if (
    !run(PNPM[0], [...PNPM.slice(1), "pack", "--pack-destination", tarballs], {
      cwd: pkg.dir,
      stdio: ["ignore", "ignore", "inherit"]
    })
  ) {
    problem(`pnpm pack failed for ${pkg.manifest.name}`)
    continue
  }
  const added = Fs.readdirSync(tarballs).filter((f) => !before.has(f) && f.endsWith(".tgz"))
  if (added.length !== 1) {
    problem(`pnpm pack of ${pkg.manifest.name} made ${added.length} tarballs`)
    continue
  }
  pkg.tarball = Path.join(tarballs, added[0])
}
const packed = packages.filter((pkg) => pkg.tarball !== undefined)

// ---- 3. the packed manifests -------------------------------------------------------------------

/** The export targets of an `exports` map, by subpath. */
const targetsOf = (exports) => {
  const targets = []
  const walk = (subpath, value) => {
    if (typeof value === "string") targets.push([subpath, value])
    else if (value !== null && typeof value === "object") {
      for (const v of Object.values(value)) walk(subpath, v)
    }
  }
  for (const [subpath, value] of Object.entries(exports)) walk(subpath, value)
  return targets
}

for (const pkg of packed) {
  const name = pkg.manifest.name
  const files = new Set(
    output("tar", ["-tzf", pkg.tarball]).split("\n").filter(Boolean).map((f) => f.replace(/^package\//, ""))
  )
  const manifest = JSON.parse(output("tar", ["-xzOf", pkg.tarball, "package/package.json"]))
  log(`${name}: ${files.size} files, exports ${Object.keys(manifest.exports).join(" ")}`)

  if (JSON.stringify(manifest).includes("workspace:")) {
    problem(`${name}: a workspace: range is left in the packed package.json`)
  }
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (versions.has(dep) && range !== `^${versions.get(dep)}`) {
        problem(`${name}: ${field}.${dep} is ${range}, expected ^${versions.get(dep)}`)
      }
    }
  }
  for (const [subpath, target] of targetsOf(manifest.exports)) {
    if (target.endsWith(".ts") && !target.endsWith(".d.ts")) {
      problem(`${name}: export ${subpath} points at TypeScript source ${target}`)
    }
    if (!files.has(target.replace(/^\.\//, ""))) problem(`${name}: export ${subpath} → ${target} is not in the tarball`)
  }
  // every public module (src/*.ts) has its own export; internal/ modules have none
  const modules = Fs.readdirSync(Path.join(pkg.dir, "src"))
    .filter((f) => f.endsWith(".ts") && f !== "index.ts")
    .map((f) => `./${f.slice(0, -3)}`)
  for (const subpath of modules) {
    if (!(subpath in manifest.exports)) {
      problem(`${name}: src/${subpath.slice(2)}.ts has no "${subpath}" in publishConfig.exports`)
    }
  }
  for (const subpath of Object.keys(manifest.exports)) {
    if (subpath.includes("internal")) problem(`${name}: exports ${subpath}`)
  }
  for (const file of ["LICENSE", "README.md", "package.json"]) {
    if (!files.has(file)) problem(`${name}: ${file} is not in the tarball`)
  }
  if (manifest.license !== "MIT") problem(`${name}: license is ${manifest.license}`)
  for (const file of files) {
    if (file.startsWith("build/") && !file.startsWith("build/esm/")) problem(`${name}: ships ${file}`)
    if (file.startsWith("test/")) problem(`${name}: ships ${file}`)
  }
  for (const target of Object.values(manifest.bin ?? {})) {
    if (!files.has(target.replace(/^\.\//, ""))) problem(`${name}: bin ${target} is not in the tarball`)
  }
  if (name === "@vvnet/vv-runtime") {
    const std = Fs.readdirSync(Path.join(pkg.dir, "src", "std"), { recursive: true })
      .filter((f) => f.endsWith(".vv"))
      .map((f) => `src/std/${f.split(Path.sep).join("/")}`)
    if (std.length === 0) problem(`${name}: no std .vv modules found in src/std`)
    for (const file of std) if (!files.has(file)) problem(`${name}: ${file} is not in the tarball`)
  }
}

// ---- 4. publint and attw -----------------------------------------------------------------------

for (const pkg of packed) {
  log(`publint ${Path.basename(pkg.tarball)}`)
  if (!run(bin("publint"), ["--strict", pkg.tarball], { cwd: temp })) {
    problem(`publint reported problems in ${pkg.manifest.name}`)
  }
  log(`attw ${Path.basename(pkg.tarball)} (node16 from ESM, bundler)`)
  if (
    !run(bin("attw"), [pkg.tarball, "--profile", "esm-only", "--format", "table-flipped", "--no-color", "--no-emoji"], {
      cwd: temp
    })
  ) {
    problem(`attw reported problems in ${pkg.manifest.name}`)
  }
}

// ---- 5. smoke test outside the workspace -------------------------------------------------------

const tarballOf = (name) => packed.find((pkg) => pkg.manifest.name === name)?.tarball
if (
  ["@vvnet/core", "@vvnet/node-adapter", "@vvnet/vv-bridge", "@vvnet/vv-runtime"].some((n) =>
    tarballOf(n) === undefined
  )
) {
  problem("smoke test skipped: a package did not pack")
  finish()
}

Fs.writeFileSync(
  Path.join(project, "package.json"),
  JSON.stringify(
    {
      name: "vvnet-pack-smoke",
      private: true,
      type: "module",
      dependencies: {
        ...Object.fromEntries(packed.map((pkg) => [pkg.manifest.name, `file:${pkg.tarball}`])),
        ...registryDeps
      },
      devDependencies: registryDevDeps
    },
    null,
    2
  ) + "\n"
)
log("smoke: npm install (the tarballs, effect and @effect/platform)")
if (!run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], { cwd: project })) {
  problem("npm install of the tarballs failed")
  finish()
}

// the consumer, as a user writes it: the barrels and the module subpaths
const consumer = `import * as Effect from "effect/Effect"
import { Conn, Net } from "@vvnet/core"
import * as Address from "@vvnet/core/Address"
import { NodeNet } from "@vvnet/node-adapter"
import * as PlatformSocket from "@vvnet/node-adapter/PlatformSocket"
import * as PlatformSocketServer from "@vvnet/node-adapter/PlatformSocketServer"
import { Bridge, DefaultHost } from "@vvnet/vv-bridge"
import * as Program from "@vvnet/vv-runtime/Program"

const message = "ping through the packed packages"

const program = Effect.gen(function*() {
  const listener = yield* Net.listen("tcp", "127.0.0.1:0")
  yield* Net.serve(listener, (conn) => Effect.flatMap(Conn.readAll(conn), (data) => conn.write(data)))
  const conn = yield* Net.dial("tcp", listener.address)
  yield* conn.write(message)
  yield* conn.closeWrite
  const reply = new TextDecoder().decode(yield* Conn.readAll(conn))
  return { address: listener.address, reply }
}).pipe(Effect.scoped, Effect.provide(NodeNet.layer))

const { address, reply } = await Effect.runPromise(program)
if (reply !== message) throw new Error(\`echo mismatch: \${JSON.stringify(reply)}\`)
if (Address.ipVersion("127.0.0.1") !== 4) throw new Error("Address.ipVersion")
if (typeof PlatformSocket.fromConn !== "function") throw new Error("PlatformSocket.fromConn")
if (typeof PlatformSocket.makeNet !== "function") throw new Error("PlatformSocket.makeNet")
const serverAddress = PlatformSocketServer.toAddress({ network: "tcp", address: address })
if (serverAddress._tag !== "TcpAddress" || serverAddress.hostname !== "127.0.0.1") throw new Error("PlatformSocketServer")
if (typeof Bridge.make !== "function" || DefaultHost.show(DefaultHost.chars("vv")) !== "vv") throw new Error("vv-bridge")
if (typeof Program.runFile !== "function") throw new Error("vv-runtime")
console.log(\`smoke: dial/listen round trip on \${address} through the packed @vvnet/core and @vvnet/node-adapter: ok\`)
`
Fs.writeFileSync(Path.join(project, "smoke.ts"), consumer)
Fs.writeFileSync(Path.join(project, "smoke.mjs"), consumer)
const compilerOptions = {
  target: "ES2022",
  lib: ["ES2022"],
  types: ["node"],
  strict: true,
  noEmit: true,
  skipLibCheck: false,
  verbatimModuleSyntax: true
}
for (
  const [label, resolution] of [["node16", { module: "NodeNext", moduleResolution: "NodeNext" }], ["bundler", {
    module: "ESNext",
    moduleResolution: "Bundler"
  }]]
) {
  const config = `tsconfig.${label}.json`
  Fs.writeFileSync(
    Path.join(project, config),
    JSON.stringify({ compilerOptions: { ...compilerOptions, ...resolution }, files: ["smoke.ts"] }, null, 2)
  )
  log(`smoke: type-check the consumer (${resolution.moduleResolution} resolution)`)
  if (!run(Path.join(project, "node_modules", ".bin", "tsc"), ["-p", config], { cwd: project })) {
    problem(`the consumer does not type-check under ${resolution.moduleResolution} resolution`)
  }
}

log("smoke: node smoke.mjs")
if (!run(process.execPath, ["smoke.mjs"], { cwd: project, timeout: 60_000 })) {
  problem("the round trip through the tarballs failed")
}

/** A free loopback port for the vv program (vv has no way to read a listener's port). */
const freePort = () =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

const port = await freePort()
Fs.writeFileSync(
  Path.join(project, "smoke.vv"),
  `// A listener, a client and one echoing handler, through the installed vv runtime.
import net from "std/net.vv"
import channel from "std/channel.vv"
import console from "std/console.vv"
import list from "std/list.vv"

let address = "127.0.0.1:${port}"
let listener = try net.listen("tcp", address)
defer net.close(listener)
let done = channel.make()

fun echo(conn)
    defer net.close(conn)
    let data = try net.read(conn, 64)
    try net.write(conn, data)
    channel.send(done, len(data))
end
net.accept(listener, echo)

let conn = try net.dial("tcp", address)
defer net.close(conn)
let sent = try net.write(conn, "hello vv")
let got = []
while len(got) < sent
    let chunk = try net.read(conn, 64)
    if len(chunk) == 0
        break
    end
    got = got + chunk
end
let echoed = try channel.recv(done, 5000)
assert got == [104, 101, 108, 108, 111, 32, 118, 118]
console.print("vv smoke: {list.length(got)} bytes echoed on {address}")
`
)
if (Fs.existsSync(Path.join(project, "node_modules", "tsx"))) {
  problem("tsx is installed in the smoke project: the vv bin must not need it")
}
log("smoke: vv run smoke.vv (the installed bin)")
const vv = spawnSync(Path.join(project, "node_modules", ".bin", "vv"), ["run", "smoke.vv"], {
  cwd: project,
  encoding: "utf8",
  timeout: 60_000
})
process.stdout.write(vv.stdout ?? "")
process.stderr.write(vv.stderr ?? "")
if (vv.status !== 0 || !(vv.stdout ?? "").includes(`vv smoke: 8 bytes echoed on 127.0.0.1:${port}`)) {
  problem(`vv run through the installed bin failed (exit ${vv.status}${vv.error ? `, ${vv.error.message}` : ""})`)
}

finish()

function finish() {
  if (problems.length > 0) {
    process.stderr.write(`pack-check: ${problems.length} problem(s); the work directory is kept: ${temp}\n`)
    process.exit(1)
  }
  if (process.env["VVNET_KEEP_PACK"] === "1") log(`kept ${temp}`)
  else Fs.rmSync(temp, { recursive: true, force: true })
  log(`ok: ${packed.map((pkg) => pkg.manifest.name).join(", ")}`)
  process.exit(0)
}
