/**
 * @since 0.1.0
 */

/**
 * `Net` over node:net: `NodeNet.layer`.
 *
 * @since 0.1.0
 */
export * as NodeNet from "./NodeNet.js"

/**
 * vvnet connections as @effect/platform `Socket.Socket`s: one `Conn`, or a fresh connection dialed
 * each time the socket runs.
 *
 * @since 0.1.0
 */
export * as PlatformSocket from "./PlatformSocket.js"

/**
 * `@effect/platform`'s `SocketServer` over a vvnet `Listener`.
 *
 * @since 0.2.0
 */
export * as PlatformSocketServer from "./PlatformSocketServer.js"

/**
 * Serving from several processes on one port: `NodeCluster.run` forks node:cluster workers that
 * each run a program (their `NodeNet` listeners share the port) and stops them all on interrupt.
 *
 * @since 0.2.0
 */
export * as NodeCluster from "./NodeCluster.js"

/**
 * TLS over node:tls with vvnet's contract: `NodeTls.dial`, `NodeTls.listen`, `NodeTls.layer`.
 *
 * @since 0.3.0
 */
export * as NodeTls from "./NodeTls.js"
