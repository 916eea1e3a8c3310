/**
 * The typed errors of buffered reading and framing (`BufferedReader`, `Framing`): a peer that
 * ends in the middle of a frame, and a frame longer than the limit the reader set. They are
 * `Schema.TaggedError` classes, discriminated by `_tag`, kept apart from `NetError` (which
 * stays the errors of the connection itself): a read that fails at the connection still fails
 * with its `NetError`.
 *
 * ```text
 * unexpected EOF: 5 bytes of a line without its end
 * unexpected EOF: 3 of 10 bytes of a length-prefixed frame
 * line longer than 8192 bytes
 * length-prefixed frame of 70000 bytes exceeds the maximum of 65536 bytes
 * ```
 *
 * @since 0.2.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * The kinds of frame, named in every `FrameError`:
 *
 * - `"line"`: ends at LF, an optional CR before it dropped (`readLine`, `Framing.decodeLines`);
 * - `"delimited"`: ends at a caller's delimiter (`readUntil`);
 * - `"fixed"`: a byte count the caller asked for (`readExactly`);
 * - `"length-prefixed"`: a big-endian length header, then that many bytes
 *   (`readLengthPrefixed`, `Framing.decodeLengthPrefixed`, `Framing.encodeLengthPrefixed`).
 *
 * @since 0.2.0
 * @category models
 */
export const FrameKind = Schema.Literal("line", "delimited", "fixed", "length-prefixed")

/**
 * @since 0.2.0
 * @category models
 */
export type FrameKind = typeof FrameKind.Type

/**
 * The peer's EOF came after part of a frame (Go's `io.ErrUnexpectedEOF`): `received` bytes of
 * a `frame` arrived, then EOF; `expected` is the frame's full length in bytes where it was
 * known (`readExactly`, a length-prefixed frame's body or header). An EOF at a frame boundary is
 * not an error: it is the clean end (`Option.none()` from a reader, the end of a decoded stream).
 *
 * @since 0.2.0
 * @category errors
 */
export class UnexpectedEof extends Schema.TaggedError<UnexpectedEof>("@vvnet/core/UnexpectedEof")(
  "UnexpectedEof",
  {
    frame: FrameKind,
    received: Schema.Number,
    expected: Schema.optional(Schema.Number)
  }
) {
  /**
   * @since 0.2.0
   */
  override get message(): string {
    const article = this.frame === "line" ? "a line without its end" : `a ${this.frame} frame`
    return this.expected === undefined
      ? `unexpected EOF: ${this.received} bytes of ${article}`
      : `unexpected EOF: ${this.received} of ${this.expected} bytes of ${article}`
  }
}

/**
 * A frame longer than its limit: `maxLength` is the limit in bytes (the frame without its
 * delimiter or header); `length` is the frame's length in bytes where it is known without
 * reading it (a length-prefixed frame's header, a frame given to an encoder). Raised as soon as
 * the limit is certainly passed, so memory stays bounded by the limit, never by the peer.
 *
 * @since 0.2.0
 * @category errors
 */
export class FrameTooLarge extends Schema.TaggedError<FrameTooLarge>("@vvnet/core/FrameTooLarge")(
  "FrameTooLarge",
  {
    frame: FrameKind,
    maxLength: Schema.Number,
    length: Schema.optional(Schema.Number)
  }
) {
  /**
   * @since 0.2.0
   */
  override get message(): string {
    const name = this.frame === "line" ? "line" : `${this.frame} frame`
    return this.length === undefined
      ? `${name} longer than ${this.maxLength} bytes`
      : `${name} of ${this.length} bytes exceeds the maximum of ${this.maxLength} bytes`
  }
}

/**
 * The union of the framing errors.
 *
 * @since 0.2.0
 * @category models
 */
export type FrameError = UnexpectedEof | FrameTooLarge

/**
 * The schema of the union, for encoding errors across process boundaries.
 *
 * @since 0.2.0
 * @category schemas
 */
export const FrameError: Schema.Union<[typeof UnexpectedEof, typeof FrameTooLarge]> = Schema.Union(
  UnexpectedEof,
  FrameTooLarge
)

/**
 * Whether a value is a `FrameError`.
 *
 * @since 0.2.0
 * @category guards
 */
export const isFrameError = (u: unknown): u is FrameError =>
  Predicate.hasProperty(u, "_tag") && (u instanceof UnexpectedEof || u instanceof FrameTooLarge)
