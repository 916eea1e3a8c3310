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
 * A `Conn` as an @effect/platform `Socket.Socket`.
 *
 * @since 0.1.0
 */
export * as PlatformSocket from "./PlatformSocket.js"
