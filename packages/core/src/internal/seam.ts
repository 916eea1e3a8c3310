/**
 * @internal
 * The shapes of the seam between the engine and an adapter, in a leaf module (types only, no
 * imports of the engine or of `Transport.ts`), so the engine and the public `Transport` module
 * both depend on it and never on each other. Each is documented where `Transport.ts` exports it.
 */
import type { Network } from "../Address.js"
import type { Conn } from "../Conn.js"
import type { TlsKind } from "../NetError.js"

/** @internal See `Transport.OsError`. */
export interface OsError {
  readonly code?: string | undefined
  readonly syscall?: string | undefined
  readonly message?: string | undefined
  readonly kind?: TlsKind | undefined
}

/** @internal See `Transport.ConnTransport`. */
export interface ConnTransport {
  readonly network: Network
  readonly localAddress: string
  readonly remoteAddress: string
  readonly write: (data: Uint8Array, done: (error?: OsError) => void) => boolean
  readonly closeWrite: (done: (error?: OsError) => void) => void
  readonly pause: () => void
  readonly resume: () => void
  readonly close: (abort: boolean) => void
}

/** @internal See `Transport.Inbound`. */
export interface Inbound {
  readonly push: (chunk: Uint8Array) => boolean
  readonly end: () => void
  readonly fail: (error: OsError) => void
}

/** @internal See `Transport.ListenerTransport`. */
export interface ListenerTransport {
  readonly network: Network
  readonly address: string
  readonly close: () => void
}

/** @internal See `Transport.Acceptor`. */
export interface Acceptor {
  readonly push: (conn: Conn) => boolean
  readonly fail: (error: OsError) => void
}
