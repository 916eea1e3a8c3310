/** @internal Where a dial or listen goes, once parsed and resolved. */
export interface Target {
  readonly kind: "inet" | "unix"
  readonly hosts: ReadonlyArray<string>
  readonly port: number
  readonly path: string
}
