/**
 * Summarises V8 CPU profiles (`node --cpu-prof`): the functions with the most self time, and
 * self time by package. With a time window (microseconds on the profile's clock, as child.ts
 * reports for each timed run), only samples inside it count, so module loading and warm-up are
 * left out.
 *
 *   tsx src/profile.ts FILE.cpuprofile [--top N] [--window START_US END_US] [--callers FUNCTION]
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
    readonly columnNumber: number
  }
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export interface FunctionTime {
  readonly name: string
  readonly location: string
  readonly selfMs: number
  readonly percent: number
}

export interface Summary {
  readonly totalMs: number
  readonly windowed: boolean
  readonly top: ReadonlyArray<FunctionTime>
  readonly byPackage: ReadonlyArray<{ readonly pkg: string; readonly selfMs: number; readonly percent: number }>
  /** vvnet's own functions by inclusive time (self + callees): where the library's time goes. */
  readonly vvnetInclusive: ReadonlyArray<FunctionTime>
}

const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** A decoded source map: per generated line, segments [genCol, source, line, col]. */
interface SourceMap {
  readonly sources: ReadonlyArray<string>
  readonly lines: ReadonlyArray<ReadonlyArray<readonly [number, number, number, number]>>
}

const decodeMappings = (mappings: string): SourceMap["lines"] => {
  const lines: Array<Array<readonly [number, number, number, number]>> = []
  let source = 0
  let srcLine = 0
  let srcCol = 0
  for (const line of mappings.split(";")) {
    const segments: Array<readonly [number, number, number, number]> = []
    let genCol = 0
    for (const seg of line.split(",")) {
      if (seg === "") continue
      const fields: Array<number> = []
      let value = 0
      let shift = 0
      for (const ch of seg) {
        const digit = b64.indexOf(ch)
        value += (digit & 31) << shift
        if (digit & 32) shift += 5
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1)
          value = 0
          shift = 0
        }
      }
      genCol += fields[0]!
      if (fields.length >= 4) {
        source += fields[1]!
        srcLine += fields[2]!
        srcCol += fields[3]!
        segments.push([genCol, source, srcLine, srcCol])
      }
    }
    lines.push(segments)
  }
  return lines
}

const maps = new Map<string, SourceMap | undefined>()

/** The source map next to a generated file (`file.mjs.map`), if any. */
const mapFor = (url: string): SourceMap | undefined => {
  if (!url.startsWith("file://") || !url.endsWith(".mjs")) return undefined
  if (maps.has(url)) return maps.get(url)
  let map: SourceMap | undefined
  try {
    const file = fileURLToPath(url)
    const raw = JSON.parse(Fs.readFileSync(`${file}.map`, "utf8")) as { sources: Array<string>; mappings: string }
    map = {
      sources: raw.sources.map((s) => pathToFileURL(Path.resolve(Path.dirname(file), s)).href),
      lines: decodeMappings(raw.mappings)
    }
  } catch {
    map = undefined
  }
  maps.set(url, map)
  return map
}

/** Maps a generated position (0-based) to its source, via the file's source map. */
const original = (url: string, line: number, column: number): { url: string; line: number; column: number } => {
  const map = mapFor(url)
  if (map === undefined) return { url, line, column }
  for (let l = line; l >= 0; l--) {
    const segments = map.lines[l] ?? []
    let best: readonly [number, number, number, number] | undefined
    for (const seg of segments) {
      if (l === line && seg[0] > column) break
      best = seg
    }
    if (best !== undefined) return { url: map.sources[best[1]]!, line: best[2], column: best[3] }
  }
  return { url, line, column }
}

/** A short location: package-relative path for node_modules and workspace files. */
const shortUrl = (url: string): string => {
  if (url === "") return ""
  const path = url.replace(/^file:\/\//, "")
  const nm = path.lastIndexOf("/node_modules/")
  if (nm >= 0) return path.slice(nm + "/node_modules/".length)
  const ws = path.indexOf("/packages/")
  if (ws >= 0) return path.slice(ws + 1)
  const bench = path.indexOf("/bench/")
  if (bench >= 0) return path.slice(bench + 1)
  return path
}

const packageOf = (url: string): string => {
  if (url === "") return "(native / V8 / GC)"
  if (url.startsWith("node:")) return "node: internals"
  const s = shortUrl(url)
  if (s.startsWith("packages/core/")) return "@vvnet/core"
  if (s.startsWith("packages/node-adapter/")) return "@vvnet/node-adapter"
  if (s.startsWith("packages/")) return `@vvnet/${s.split("/")[1]}`
  if (s.startsWith("bench/src/variants/")) return "bench variant code"
  if (s.startsWith("bench/")) return "bench harness"
  const parts = s.split("/")
  return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!
}

export const summarize = (
  profile: Profile,
  window?: { readonly startUs: number; readonly endUs: number },
  topN = 25
): Summary => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  let t = profile.startTime
  let inWindow = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0
    t += dt
    if (window !== undefined && (t < window.startUs || t > window.endUs)) continue
    inWindow++
    // Each sample stands for the interval since the previous one.
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + dt)
  }
  const windowed = window !== undefined && inWindow > 0
  if (window !== undefined && inWindow === 0) {
    // The window did not match the profile's clock: fall back to the whole profile.
    return summarize(profile, undefined, topN)
  }
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const described = new Map<number, { name: string; location: string; key: string; url: string }>()
  const describe = (node: ProfileNode) => {
    const cached = described.get(node.id)
    if (cached !== undefined) return cached
    const { functionName } = node.callFrame
    const { column, line, url } = original(node.callFrame.url, node.callFrame.lineNumber, node.callFrame.columnNumber)
    const name = functionName === "" ? "(anonymous)" : functionName
    const location = url === "" ? "" : `${shortUrl(url)}:${line + 1}:${column + 1}`
    const d = { name, location, key: `${name}@${location}`, url }
    described.set(node.id, d)
    return d
  }
  const inclusive = new Map<string, { name: string; location: string; us: number }>()
  const byFunction = new Map<string, { name: string; location: string; us: number }>()
  const byPkg = new Map<string, number>()
  let sum = 0
  for (const [id, us] of self) {
    const node = byId.get(id)!
    const { key, location, name, url } = describe(node)
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const d = describe(byId.get(at)!)
      if (seen.has(d.key)) continue
      seen.add(d.key)
      const pkg = packageOf(d.url)
      if (pkg !== "@vvnet/core" && pkg !== "@vvnet/node-adapter") continue
      const entry = inclusive.get(d.key) ?? { name: d.name, location: d.location, us: 0 }
      entry.us += us
      inclusive.set(d.key, entry)
    }
    const entry = byFunction.get(key) ?? { name, location, us: 0 }
    entry.us += us
    byFunction.set(key, entry)
    const pkg = packageOf(url)
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us)
    sum += us
  }
  const pct = (us: number) => (sum === 0 ? 0 : (100 * us) / sum)
  return {
    totalMs: sum / 1000,
    windowed,
    top: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((f) => ({ name: f.name, location: f.location, selfMs: f.us / 1000, percent: pct(f.us) })),
    byPackage: [...byPkg.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([pkg, us]) => ({ pkg, selfMs: us / 1000, percent: pct(us) })),
    vvnetInclusive: [...inclusive.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((f) => ({ name: f.name, location: f.location, selfMs: f.us / 1000, percent: pct(f.us) }))
  }
}

/**
 * Who spends the self time of the functions named `name`: their samples grouped by the nearest
 * frame on the stack that belongs to vvnet (or the harness), with the frames in between.
 */
export const callers = (
  profile: Profile,
  name: string,
  window?: { readonly startUs: number; readonly endUs: number },
  topN = 15
): Array<{ readonly via: string; readonly ms: number }> => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const label = (n: ProfileNode) => {
    const o = original(n.callFrame.url, n.callFrame.lineNumber, n.callFrame.columnNumber)
    return {
      text: `${n.callFrame.functionName || "(anonymous)"} ${shortUrl(o.url)}:${o.line + 1}`,
      pkg: packageOf(o.url)
    }
  }
  const out = new Map<string, number>()
  let t = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0
    t += dt
    if (window !== undefined && (t < window.startUs || t > window.endUs)) continue
    const leaf = byId.get(profile.samples[i]!)!
    if (leaf.callFrame.functionName !== name) continue
    const chain: Array<string> = []
    let via: string | undefined
    for (let at = parent.get(leaf.id); at !== undefined; at = parent.get(at)) {
      const l = label(byId.get(at)!)
      if (
        l.pkg === "@vvnet/core" || l.pkg === "@vvnet/node-adapter" || l.pkg === "bench harness" ||
        l.pkg === "bench variant code"
      ) {
        via = `${l.text}${chain.length > 0 ? ` → ${chain.slice(-3).join(" → ")}` : ""}`
        break
      }
      chain.unshift(l.text)
    }
    via ??= `(no vvnet frame) ${chain.slice(-3).join(" → ")}`
    out.set(via, (out.get(via) ?? 0) + dt)
  }
  return [...out.entries()].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([via, us]) => ({ via, ms: us / 1000 }))
}

export const render = (title: string, s: Summary): string => {
  const out: Array<string> = []
  out.push(`### ${title}`)
  out.push("")
  out.push(
    `${s.totalMs.toFixed(0)} ms of samples${
      s.windowed ? " in the timed run (warm-up and loading left out)" : " (whole process)"
    }.`
  )
  out.push("")
  out.push("| self % | self ms | function | location |")
  out.push("|--:|--:|---|---|")
  for (const f of s.top) out.push(`| ${f.percent.toFixed(1)} | ${f.selfMs.toFixed(1)} | ${f.name} | ${f.location} |`)
  out.push("")
  out.push("| self % | self ms | package |")
  out.push("|--:|--:|---|")
  for (const p of s.byPackage.slice(0, 12)) out.push(`| ${p.percent.toFixed(1)} | ${p.selfMs.toFixed(1)} | ${p.pkg} |`)
  if (s.vvnetInclusive.length > 0) {
    out.push("")
    out.push("vvnet functions by inclusive time (self + everything they call):")
    out.push("")
    out.push("| total % | total ms | function | location |")
    out.push("|--:|--:|---|---|")
    for (const f of s.vvnetInclusive) {
      out.push(`| ${f.percent.toFixed(1)} | ${f.selfMs.toFixed(1)} | ${f.name} | ${f.location} |`)
    }
  }
  return out.join("\n")
}

export const readProfile = (file: string): Profile => JSON.parse(Fs.readFileSync(file, "utf8")) as Profile

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2)
  const file = args.find((a) => a.endsWith(".cpuprofile"))
  if (file === undefined) {
    console.error("usage: tsx src/profile.ts FILE.cpuprofile [--top N] [--window START_US END_US] [--callers FUNCTION]")
    process.exit(2)
  }
  const topAt = args.indexOf("--top")
  const windowAt = args.indexOf("--window")
  const window = windowAt >= 0 ? { startUs: Number(args[windowAt + 1]), endUs: Number(args[windowAt + 2]) } : undefined
  const callersAt = args.indexOf("--callers")
  if (callersAt >= 0) {
    const name = args[callersAt + 1]!
    console.log(`self time of ${name}, by the nearest vvnet or harness frame on the stack:`)
    for (const c of callers(readProfile(file), name, window)) console.log(`${c.ms.toFixed(1).padStart(8)} ms  ${c.via}`)
  } else {
    console.log(render(file, summarize(readProfile(file), window, topAt >= 0 ? Number(args[topAt + 1]) : 25)))
  }
}
