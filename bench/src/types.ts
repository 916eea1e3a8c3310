/**
 * The contract between the harness and a variant. A variant implements the network operations
 * of each scenario it supports; the harness does warm-up, timing, verification and memory
 * measurement, so every variant is measured the same way.
 *
 * Every operation runs server and client in the same process, on 127.0.0.1, except the idle and
 * server-load scenarios, whose clients live in a separate helper process (only the server is
 * measured).
 */
/** Where the server listens and the client dials. Loopback only. */
export const HOST = "127.0.0.1"

export interface BulkParams {
  /** Total bytes the client sends (a multiple of `writeSize`). */
  readonly bytes: number
  /** Size of each client write. A multiple of 256 (the pattern's period). */
  readonly writeSize: number
  /** Read size the server asks for, where the API has one (vvnet `read(n)`). */
  readonly readSize: number
}

export interface BulkOutcome {
  /**
   * Bytes the server received before EOF, counted and pattern-checked by a `PatternCounter`.
   * The operation resolves once the server saw EOF.
   */
  readonly received: number
  /** Pattern violations the counter saw (must be 0). */
  readonly errors: number
}

export interface PingPongParams {
  readonly roundTrips: number
  /** Message size in bytes. */
  readonly size: number
}

export interface PingPongOutcome {
  /** Round trips completed, each checked (the echo carried the message's tag byte). */
  readonly roundTrips: number
  /** Bytes the client received back in total (must be roundTrips × size). */
  readonly bytes: number
  readonly errors: number
}

export interface AcceptParams {
  readonly connections: number
}

export interface AcceptOutcome {
  /** Connections the server accepted (must equal `connections`). */
  readonly accepted: number
}

/**
 * A server for the idle-connection scenario: it echoes what it receives (so each accepted
 * connection holds a pending read, as an idle echo server does) and counts live connections.
 */
export interface IdleServer {
  readonly port: number
  /** Connections accepted whose handler is running (not yet closed). */
  readonly live: () => number
  readonly close: () => Promise<void>
}

export interface LoadParams {
  /** Request and reply size in bytes. */
  readonly size: number
}

/**
 * A server for the server-load scenario. Each connection carries requests of `size` bytes, one
 * at a time (the client sends the next only after the reply): the server parses them with a
 * `RequestParser` (verify.ts), which checks every piece, and writes the reply it returns.
 */
export interface LoadServer {
  readonly port: number
  /** Connections accepted whose handler is running (not yet closed). */
  readonly live: () => number
  /** The tally the connections' `RequestParser`s add to: requests answered, bad pieces. */
  readonly tally: LoadTally
  readonly close: () => Promise<void>
}

/** Server-side counts of the server-load scenario, shared by all of a server's connections. */
export interface LoadTally {
  /** Requests completed (each answered with a reply). */
  requests: number
  /** Pieces of a request that did not carry its tag, or ran past its end (must stay 0). */
  errors: number
}

/**
 * A variant: one way of doing networking. Leave out the scenarios it does not support; the
 * table shows "—" there. To add one (e.g. the later `vv-bridge` bulk path), write a module
 * exporting `variant: Variant` under `src/variants/` and add it to `src/variants/index.ts`.
 */
export interface Variant {
  /** Short id used on the command line and in JSON (`raw`, `platform`, `vvnet`, …). */
  readonly id: string
  /** Row label in the table. */
  readonly label: string
  readonly bulk?: (params: BulkParams) => Promise<BulkOutcome>
  /** `bulk` over TLS (`tlsbulk64k`): the server has `tls.cert`/`tls.key`, the client trusts `tls.ca`. */
  readonly tlsBulk?: (params: BulkParams, tls: TlsMaterial) => Promise<BulkOutcome>
  readonly pingPong?: (params: PingPongParams) => Promise<PingPongOutcome>
  readonly accept?: (params: AcceptParams) => Promise<AcceptOutcome>
  readonly idleServer?: () => Promise<IdleServer>
  readonly loadServer?: (params: LoadParams) => Promise<LoadServer>
}

/** PEM certificates for the TLS scenario (from `@vvnet/testkit/TlsCerts`, as the demo's). */
export interface TlsMaterial {
  readonly ca: string
  readonly cert: string
  readonly key: string
}

export type ScenarioId =
  | "bulk64k"
  | "tlsbulk64k"
  | "bulk4k"
  | "pingpong"
  | "accept"
  | "idle"
  | "server-load"
  | "server-load-w1"
  | "server-load-w2"

/** One measurement, as the child process reports it. */
export interface Sample {
  readonly scenario: ScenarioId
  readonly variant: string
  readonly rep: number
  /** The headline value: MB/s, round trips/s, conn/s, requests/s, or heap bytes per connection. */
  readonly value: number
  /** Extra figures (e.g. `rssPerConn`, `elapsedMs`). */
  readonly extra: Record<string, number>
  readonly verified: boolean
  readonly detail: string
}

/** A message from a child process to the harness. */
export type ChildMessage =
  | { readonly type: "sample"; readonly sample: Sample }
  | {
    readonly type: "error"
    readonly scenario: ScenarioId
    readonly variant: string
    readonly rep: number
    readonly message: string
  }

/** What the harness asks a child process to do. */
export interface ChildJob {
  readonly variant: string
  readonly rep: number
  readonly scenarios: ReadonlyArray<{ readonly id: ScenarioId; readonly params: Record<string, number> }>
}
