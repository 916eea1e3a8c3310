/**
 * Environments: a scope's variables (`Env`), and a running scope with its deferred statements
 * (`Scope`).
 */
import type * as Ast from "../Ast.js"
import type { VvValue } from "../Values.js"

/**
 * A scope's variables, linked to the enclosing scope. Closures keep a reference to the Env they
 * were made in, so a change to a captured variable is seen by everyone who shares it.
 *
 * @since 0.1.0
 * @category models
 */
export class Env {
  private readonly vars = new Map<string, VvValue>()

  constructor(readonly parent: Env | undefined) {}

  /**
   * `let name = value` in this scope (`_` discards).
   *
   * @since 0.1.0
   */
  declare(name: string, value: VvValue): void {
    if (name !== "_") this.vars.set(name, value)
  }

  /**
   * The value of the nearest binding, or `undefined`.
   *
   * @since 0.1.0
   */
  lookup(name: string): VvValue | undefined {
    for (let env: Env | undefined = this; env !== undefined; env = env.parent) {
      const value = env.vars.get(name)
      if (value !== undefined) return value
    }
    return undefined
  }

  /**
   * Updates the nearest binding; false when there is none.
   *
   * @since 0.1.0
   */
  assign(name: string, value: VvValue): boolean {
    for (let env: Env | undefined = this; env !== undefined; env = env.parent) {
      if (env.vars.has(name)) {
        env.vars.set(name, value)
        return true
      }
    }
    return false
  }
}

/** A running scope: its variables and the statements deferred to its exit. */
export class Scope {
  defers: Array<Ast.Stmt> | undefined = undefined
  constructor(readonly env: Env) {}
}
