/**
 * @since 0.1.0
 */

/**
 * Addresses in Go's forms: parse, format, split and join host and port.
 *
 * @since 0.1.0
 */
export * as Address from "./Address.js"

/**
 * Buffered reading over a connection (Go's `bufio.Reader`): lines, delimited and exact reads,
 * length-prefixed frames, peeking, mixed freely.
 *
 * @since 0.2.0
 */
export * as BufferedReader from "./BufferedReader.js"

/**
 * Connections: the `Conn` interface and combinators (`abort`, `readFull`, `readAll`).
 *
 * @since 0.1.0
 */
export * as Conn from "./Conn.js"

/**
 * The typed errors of buffered reading and framing: `UnexpectedEof`, `FrameTooLarge`.
 *
 * @since 0.2.0
 */
export * as FrameError from "./FrameError.js"

/**
 * Framing on Effect's Stream and Channel: line and length-prefixed decoders and encoders.
 *
 * @since 0.2.0
 */
export * as Framing from "./Framing.js"

/**
 * Listeners: the `Listener` interface.
 *
 * @since 0.1.0
 */
export * as Listener from "./Listener.js"

/**
 * The in-process network for tests.
 *
 * @since 0.1.0
 */
export * as MemoryNet from "./MemoryNet.js"

/**
 * The `Net` service and `dial`, `listen`, `serve`.
 *
 * @since 0.1.0
 */
export * as Net from "./Net.js"

/**
 * The typed errors.
 *
 * @since 0.1.0
 */
export * as NetError from "./NetError.js"

/**
 * The seam for adapters: build `Conn` and `Listener` around a transport.
 *
 * @since 0.1.0
 */
export * as Transport from "./Transport.js"
