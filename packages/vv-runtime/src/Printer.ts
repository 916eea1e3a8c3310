/**
 * How vv prints values (`console.print`, string interpolation), as the reference runtime does:
 *
 * - a char list prints as its text (an empty list prints nothing: it is the empty string);
 * - other lists as `[1, 2]`, where a char list element is quoted (`["ab", 'c']`) and a char is
 *   quoted with single quotes;
 * - records as `{ k = v }` with sorted keys, each value printed as at top level
 *   (`{ type = error, value = timeout }`); the empty record as `{}`;
 * - ints in decimal, floats as Go's `%g` (`0.5`, `1e+06`), bools as `true`/`false`;
 * - functions as `<function>`, userdata as `<userdata>`.
 *
 * @since 0.1.0
 */
import { VvChar, VvFunction, VvList, VvRecord, type VvValue } from "./Values.js"

/**
 * A float as Go's `fmt.Sprintf("%g", f)`: the shortest digits that read back as `f`, in
 * exponent form (`1e+06`, `1.5e-05`) when the exponent is below -4 or at least 6.
 *
 * @since 0.1.0
 * @category printing
 */
export const formatFloat = (f: number): string => {
  if (Number.isNaN(f)) return "NaN"
  if (f === Infinity) return "+Inf"
  if (f === -Infinity) return "-Inf"
  if (f === 0) return Object.is(f, -0) ? "-0" : "0"
  const [mantissa, exponent] = f.toExponential().split("e") as [string, string]
  const exp = Number(exponent)
  if (exp < -4 || exp >= 6) {
    const abs = Math.abs(exp)
    return `${mantissa}e${exp < 0 ? "-" : "+"}${abs < 10 ? "0" : ""}${abs}`
  }
  return String(f)
}

/**
 * A value as `console.print` prints it (see the module comment).
 *
 * @since 0.1.0
 * @category printing
 */
export const show = (value: VvValue): string => {
  if (value instanceof VvList) {
    if (value.length === 0) return ""
    const text = value.text()
    if (text !== undefined) return text
    return showList(value)
  }
  if (value instanceof VvChar) return value.toString()
  return showScalar(value)
}

const showList = (list: VvList): string => {
  const parts: Array<string> = []
  for (const item of list) parts.push(showNested(item))
  return `[${parts.join(", ")}]`
}

const showNested = (value: VvValue): string => {
  if (value instanceof VvList) {
    const text = value.length > 0 ? value.text() : undefined
    return text !== undefined ? `"${text}"` : showList(value)
  }
  if (value instanceof VvChar) return `'${value.toString()}'`
  return showScalar(value)
}

const showScalar = (value: VvValue): string => {
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false"
    case "bigint":
      return value.toString()
    case "number":
      return formatFloat(value)
  }
  if (value instanceof VvRecord) {
    if (value.fields.size === 0) return "{}"
    const names = Array.from(value.fields.keys()).sort()
    return `{ ${names.map((name) => `${name} = ${show(value.fields.get(name)!)}`).join(", ")} }`
  }
  if (value instanceof VvFunction) return "<function>"
  return "<userdata>"
}
