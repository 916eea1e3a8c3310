/**
 * Summaries and the markdown table.
 */
import { designReference, type ScenarioDef, type Target, targets } from "./scenarios.js"
import type { Sample, ScenarioId } from "./types.js"
import { labels } from "./variants/index.js"

export interface Stats {
  readonly n: number
  readonly median: number
  readonly min: number
  readonly max: number
}

export const stats = (values: ReadonlyArray<number>): Stats | undefined => {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { n: sorted.length, median, min: sorted[0]!, max: sorted[sorted.length - 1]! }
}

export interface Failure {
  readonly scenario: ScenarioId
  readonly variant: string
  readonly rep: number
  readonly message: string
}

export interface Row {
  readonly scenario: ScenarioId
  readonly variant: string
  readonly label: string
  readonly stats: Stats | undefined
  /** Extra figures' medians (idle: rssPerConn, …). */
  readonly extra: Record<string, Stats>
  /** median / raw median, when both exist. */
  readonly ratio: number | undefined
  /** Median CPU time per unit of work / raw's (lower is better); timed scenarios only. */
  readonly cpuRatio: number | undefined
  readonly target: string
  readonly status: "met" | "short" | ""
  readonly failures: number
}

const targetText = (t: Target): string =>
  t.kind === "max"
    ? t.text
    : t.cpuMax === undefined
    ? `≥ ${t.min.toFixed(2)}×`
    : `CPU ≤ ${t.cpuMax.toFixed(2)}× (rate ≥ ${t.min.toFixed(2)}×)`

/** With a CPU bound, judged on CPU alone (the rate is for a quiet machine); else on the rate. */
const judge = (
  t: Target | undefined,
  s: Stats | undefined,
  ratio: number | undefined,
  cpuRatio: number | undefined
): Row["status"] => {
  if (t === undefined || s === undefined) return ""
  if (t.kind === "ratio" && t.cpuMax !== undefined) {
    return cpuRatio === undefined ? "" : cpuRatio <= t.cpuMax ? "met" : "short"
  }
  if (t.kind === "ratio") return ratio === undefined ? "" : ratio >= t.min ? "met" : "short"
  return s.median <= t.value ? "met" : "short"
}

export const summarize = (
  defs: ReadonlyArray<ScenarioDef>,
  variants: ReadonlyArray<string>,
  samples: ReadonlyArray<Sample>,
  failures: ReadonlyArray<Failure>
): Array<Row> => {
  const rows: Array<Row> = []
  for (const def of defs) {
    const good = (v: string) => samples.filter((s) => s.scenario === def.id && s.variant === v && s.verified)
    const raw = stats(good("raw").map((s) => s.value))
    const rawCpu = stats(good("raw").flatMap((s) => (s.extra.cpuMsPerUnit === undefined ? [] : [s.extra.cpuMsPerUnit])))
    for (const v of variants) {
      const mine = good(v)
      const st = stats(mine.map((s) => s.value))
      const extra: Record<string, Stats> = {}
      for (const key of new Set(mine.flatMap((s) => Object.keys(s.extra)))) {
        const e = stats(mine.map((s) => s.extra[key]).filter((x): x is number => x !== undefined))
        if (e !== undefined) extra[key] = e
      }
      const ratio = st !== undefined && raw !== undefined && raw.median !== 0 ? st.median / raw.median : undefined
      const cpu = extra.cpuMsPerUnit
      const cpuRatio = cpu !== undefined && rawCpu !== undefined && rawCpu.median > 0
        ? cpu.median / rawCpu.median
        : undefined
      const target = targets[def.id]?.[v]
      rows.push({
        scenario: def.id,
        variant: v,
        label: labels[v] ?? v,
        stats: st,
        extra,
        ratio,
        cpuRatio,
        target: target === undefined ? "" : targetText(target),
        status: judge(target, st, ratio, cpuRatio),
        failures: samples.filter((s) => s.scenario === def.id && s.variant === v && !s.verified).length +
          failures.filter((f) => f.scenario === def.id && f.variant === v).length
      })
    }
  }
  return rows
}

const ratioText = (r: number | undefined) => r === undefined ? "—" : `${r.toFixed(2)}×`

export const markdown = (defs: ReadonlyArray<ScenarioDef>, rows: ReadonlyArray<Row>): string => {
  const out: Array<string> = []
  out.push("| scenario | variant | median | min–max | ratio to raw | target | status | CPU/unit vs raw |")
  out.push("|---|---|--:|--:|--:|---|---|--:|")
  for (const def of defs) {
    const mine = rows.filter((r) => r.scenario === def.id)
    mine.forEach((r, i) => {
      const name = i === 0 ? `${def.title} (${def.unit}${def.higherIsBetter ? "" : ", lower is better"})` : ""
      const failed = r.failures > 0 ? ` **${r.failures} FAILED**` : ""
      const median = r.stats === undefined ? "—" : def.format(r.stats.median)
      const range = r.stats === undefined ? "—" : `${def.format(r.stats.min)}–${def.format(r.stats.max)}`
      const status = r.status === "met" ? "met" : r.status === "short" ? "**short**" : ""
      const cpu = r.cpuRatio === undefined ? "" : `${r.cpuRatio.toFixed(2)}×`
      out.push(
        `| ${name} | ${r.label}${failed} | ${median} | ${range} | ${
          r.variant === "raw" ? "1.00×" : ratioText(r.ratio)
        } | ${r.target} | ${status} | ${cpu} |`
      )
    })
  }
  const idle = rows.filter((r) => r.scenario === "idle" && r.stats !== undefined)
  if (idle.length > 0) {
    out.push("")
    out.push("| idle server connection | heap KiB/conn | RSS KiB/conn | external KiB/conn |")
    out.push("|---|--:|--:|--:|")
    const k = (s: Stats | undefined) =>
      s === undefined
        ? "—"
        : `${(s.median / 1024).toFixed(2)} (${(s.min / 1024).toFixed(2)}–${(s.max / 1024).toFixed(2)})`
    for (const r of idle) {
      out.push(`| ${r.label} | ${k(r.extra.heapPerConn)} | ${k(r.extra.rssPerConn)} | ${k(r.extra.externalPerConn)} |`)
    }
  }
  out.push("")
  out.push(
    "design.md §5 reference (2026-11-29, context only): " +
      defs.map((d) => `${d.title}: ${designReference[d.id]}`).join("; ") + "."
  )
  return out.join("\n")
}
