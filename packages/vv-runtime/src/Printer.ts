/**
 * How vv prints values (`console.print`, string interpolation, `unhandled error: …`), as the
 * reference runtime does. There is one printer for the runtime and the bridge's log lines: it
 * lives with the values it prints, in `@vvnet/vv-bridge`'s `DefaultHost` (the runtime depends
 * on the bridge, never the other way), and this module re-exports it:
 *
 * - a char list prints as its text (an empty list prints nothing: it is the empty string);
 * - other lists as `[1, 2]`, where a char list element is quoted (`["ab", 'c']`) and a char is
 *   quoted with single quotes;
 * - records as `{ k = v }` with sorted keys, each value printed as at top level
 *   (`{ type = error, value = timeout }`); the empty record as `{  }`;
 * - ints in decimal, floats as Go's `%g` (`0.5`, `1e+06`), bools as `true`/`false`;
 * - functions as `<function>`, userdata as `<userdata>`.
 *
 * @since 0.1.0
 */
import { DefaultHost } from "@vvnet/vv-bridge"
import type { VvValue } from "./Values.js"

/**
 * A float as Go's `fmt.Sprintf("%g", f)`: the shortest digits that read back as `f`, in
 * exponent form (`1e+06`, `1.5e-05`) when the exponent is below -4 or at least 6.
 *
 * @since 0.1.0
 * @category printing
 */
export const formatFloat: (f: number) => string = DefaultHost.formatFloat

/**
 * A value as `console.print` prints it (see the module comment): `DefaultHost.show`.
 *
 * @since 0.1.0
 * @category printing
 */
export const show: (value: VvValue) => string = DefaultHost.show
