/**
 * Scenario definitions: parameters (full and `--quick`), units, and the design.md §5 targets.
 */
import type { ScenarioId } from "./types.js"

const KiB = 1024
const MiB = 1024 * KiB

export interface ScenarioDef {
  readonly id: ScenarioId
  readonly title: string
  /** Unit of the headline value. */
  readonly unit: string
  /** Whether a bigger value is better (false for memory). */
  readonly higherIsBetter: boolean
  /**
   * Parameters: the size of one run, `warmupRuns` untimed runs, then `runs` timed runs in the
   * same child process (it reports their median).
   */
  readonly full: Record<string, number>
  readonly quick: Record<string, number>
  /** Needs `--expose-gc` in its child process. */
  readonly exposeGc: boolean
  /** Formats the headline value for the table. */
  readonly format: (value: number) => string
  /** Run only when asked for (`--scenarios`), not in the default set. */
  readonly optional?: boolean
}

const int = (v: number) => Math.round(v).toLocaleString("en-US")
const kib = (bytes: number) => (bytes / KiB).toFixed(2)

export const scenarios: ReadonlyArray<ScenarioDef> = [
  {
    id: "bulk64k",
    title: "bulk, 64 KiB writes",
    unit: "MB/s",
    higherIsBetter: true,
    full: { bytes: 128 * MiB, writeSize: 64 * KiB, readSize: 64 * KiB, warmupRuns: 3, runs: 3 },
    quick: { bytes: 16 * MiB, writeSize: 64 * KiB, readSize: 64 * KiB, warmupRuns: 1, runs: 1 },
    exposeGc: false,
    format: int
  },
  {
    id: "tlsbulk64k",
    title: "bulk over TLS 1.3, 64 KiB writes",
    unit: "MB/s",
    higherIsBetter: true,
    full: { bytes: 64 * MiB, writeSize: 64 * KiB, readSize: 64 * KiB, warmupRuns: 3, runs: 3 },
    quick: { bytes: 8 * MiB, writeSize: 64 * KiB, readSize: 64 * KiB, warmupRuns: 1, runs: 1 },
    exposeGc: false,
    format: int
  },
  {
    id: "bulk4k",
    title: "bulk, 4 KiB writes",
    unit: "MB/s",
    higherIsBetter: true,
    full: { bytes: 128 * MiB, writeSize: 4 * KiB, readSize: 64 * KiB, warmupRuns: 2, runs: 3 },
    quick: { bytes: 8 * MiB, writeSize: 4 * KiB, readSize: 64 * KiB, warmupRuns: 1, runs: 1 },
    exposeGc: false,
    format: int
  },
  {
    id: "pingpong",
    title: "ping-pong, 100 B",
    unit: "round trips/s",
    higherIsBetter: true,
    full: { roundTrips: 10_000, size: 100, warmupRuns: 4, runs: 3 },
    quick: { roundTrips: 1_000, size: 100, warmupRuns: 2, runs: 1 },
    exposeGc: false,
    format: int
  },
  {
    id: "accept",
    title: "accept, sequential",
    unit: "conn/s",
    higherIsBetter: true,
    full: { connections: 1_000, warmupRuns: 4, runs: 3 },
    quick: { connections: 100, warmupRuns: 2, runs: 1 },
    exposeGc: false,
    format: int
  },
  {
    id: "idle",
    title: "idle server connection",
    unit: "KiB heap/conn",
    higherIsBetter: false,
    full: { connections: 2_000, warmupConnections: 100 },
    quick: { connections: 300, warmupConnections: 30 },
    exposeGc: true,
    format: kib
  },
  {
    id: "server-load",
    title: "server under load, 64 conns × 100 B req/resp",
    unit: "requests/s",
    higherIsBetter: true,
    // One run: drive for durationMs (at most maxRequests requests in total) on `connections`
    // connections opened before it; CPU is the server process's alone.
    full: { connections: 64, size: 100, durationMs: 2_000, maxRequests: 2_000_000, warmupRuns: 2, runs: 3 },
    quick: { connections: 64, size: 100, durationMs: 1_000, maxRequests: 1_000_000, warmupRuns: 1, runs: 1 },
    exposeGc: false,
    format: int
  },
  // server-load with the server in node:cluster worker processes sharing one port (the measured
  // child is the cluster's primary): 1 worker, then 2, to show what a second process adds. Not in
  // the default set (`--scenarios server-load-workers` asks for both).
  {
    id: "server-load-w1",
    title: "server under load, 1 cluster worker, 64 conns × 100 B req/resp",
    unit: "requests/s",
    higherIsBetter: true,
    full: {
      workers: 1,
      connections: 64,
      size: 100,
      durationMs: 2_000,
      maxRequests: 2_000_000,
      warmupRuns: 2,
      runs: 3
    },
    quick: {
      workers: 1,
      connections: 64,
      size: 100,
      durationMs: 1_000,
      maxRequests: 1_000_000,
      warmupRuns: 1,
      runs: 1
    },
    exposeGc: false,
    format: int,
    optional: true
  },
  {
    id: "server-load-w2",
    title: "server under load, 2 cluster workers, 64 conns × 100 B req/resp",
    unit: "requests/s",
    higherIsBetter: true,
    full: {
      workers: 2,
      connections: 64,
      size: 100,
      durationMs: 2_000,
      maxRequests: 2_000_000,
      warmupRuns: 2,
      runs: 3
    },
    quick: {
      workers: 2,
      connections: 64,
      size: 100,
      durationMs: 1_000,
      maxRequests: 1_000_000,
      warmupRuns: 1,
      runs: 1
    },
    exposeGc: false,
    format: int,
    optional: true
  }
]

/** Names that stand for several scenarios on the command line. */
export const scenarioGroups: Record<string, ReadonlyArray<ScenarioId>> = {
  "server-load-workers": ["server-load-w1", "server-load-w2"]
}

export const scenarioById = (id: string): ScenarioDef | undefined => scenarios.find((s) => s.id === id)

/**
 * design.md §5 and issue "Engine v2", as ratios to raw node:net measured in the same run
 * (`ratio`: the rate's `min`, and `cpuMax`, the most CPU per unit relative to raw), or as an
 * absolute bound on the headline value (`max`, for memory). With `cpuMax`, the status is judged
 * on CPU, the figure a busy machine disturbs least; the rate target is shown beside it, for a
 * quiet run. Keyed by scenario, then variant.
 */
export type Target =
  | { readonly kind: "ratio"; readonly min: number; readonly cpuMax?: number | undefined }
  | { readonly kind: "max"; readonly value: number; readonly text: string }

export const targets: Partial<Record<ScenarioId, Record<string, Target>>> = {
  bulk64k: { vvnet: { kind: "ratio", min: 0.95, cpuMax: 1.1 }, "vv-bridge": { kind: "ratio", min: 0.8 } },
  tlsbulk64k: { vvnet: { kind: "ratio", min: 0.9 } },
  bulk4k: { vvnet: { kind: "ratio", min: 0.8, cpuMax: 1.4 } },
  pingpong: { vvnet: { kind: "ratio", min: 0.85, cpuMax: 1.3 }, "vv-bridge": { kind: "ratio", min: 0.5 } },
  accept: { vvnet: { kind: "ratio", min: 0.7, cpuMax: 1.5 }, "vv-bridge": { kind: "ratio", min: 0.5 } },
  idle: { vvnet: { kind: "max", value: 4 * KiB, text: "≤ 4 KiB heap" } }
}

/**
 * The design's 2026-11-29 reference figures (design.md §5), printed under the table for
 * context only; the targets are the same-run ratios above.
 */
export const designReference: Record<ScenarioId, string> = {
  bulk64k: "raw 1,665 MB/s; platform 0.65×",
  tlsbulk64k: "not in design.md §5 (issue 14: vvnet's NodeTls against raw node:tls, target ≥ 0.9×)",
  bulk4k: "raw 747 MB/s; platform 0.34×",
  pingpong: "raw 13,556 round trips/s; platform 0.86–0.92×",
  accept: "raw 4,911 conn/s; platform 0.50×",
  idle: "raw 1.0 KB heap; platform 21.9 KB heap",
  "server-load":
    "not measured then (issue 11: wrk, 20 keep-alive connections, a minimal HTTP/1.1 server: vvnet 0.53× raw)",
  "server-load-w1": "not in design.md §5 (issue 14: how throughput grows with processes)",
  "server-load-w2": "not in design.md §5 (issue 14: how throughput grows with processes)"
}
