#!/usr/bin/env node
// Every export of a public module (packages/*/src/**/*.ts outside internal/) carries a JSDoc
// with `@since` and, unless it is a namespace re-export (`export * as X from`), `@category`:
// the generated API reference (docgen) groups itself by them. docgen checks `@since` only.
//
// usage: node scripts/check-jsdoc.mjs [package-dir…]   (default: every published package, not
// the "private" ones such as packages/testkit)
import * as Fs from "node:fs"
import * as Path from "node:path"
import ts from "typescript"

const root = Path.resolve(import.meta.dirname, "..")
const packageDirs = process.argv.length > 2
  ? process.argv.slice(2).map((dir) => Path.resolve(dir))
  : Fs.readdirSync(Path.join(root, "packages"))
    .map((name) => Path.join(root, "packages", name))
    .filter((dir) => JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8")).private !== true)

const sourceFiles = (dir) =>
  Fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => Path.join(e.parentPath, e.name))
    .filter((file) => !file.split(Path.sep).includes("internal"))
    .sort()

// The tags of the comment right before the declaration (a module's leading comment is not its
// first export's). As docgen's parser (doctrine) reads them: a tag starts a line, with a value.
const tagsOf = (node) => {
  const source = node.getSourceFile()
  const text = ts.isExportSpecifier(node)
    ? (ts.getLeadingCommentRanges(source.text, node.pos) ?? []).map((r) => source.text.slice(r.pos, r.end)).at(-1) ?? ""
    : node.jsDoc?.at(-1)?.getText() ?? ""
  const tags = new Set()
  for (const line of text.split("\n")) {
    const match = /^\s*(?:\/\*\*|\*)?\s*@(\w+)\s+\S/.exec(line)
    if (match !== null) tags.add(match[1])
  }
  return tags
}

const isExported = (node) =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)

const problems = []
for (const dir of packageDirs) {
  for (const file of sourceFiles(Path.join(dir, "src"))) {
    const text = Fs.readFileSync(file, "utf8")
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
    const where = (node) => {
      const { line } = source.getLineAndCharacterOfPosition(node.getStart(source))
      return `${Path.relative(root, file)}:${line + 1}`
    }
    const check = (node, name, needCategory) => {
      const tags = tagsOf(node)
      const missing = ["since", ...(needCategory ? ["category"] : [])].filter((t) => !tags.has(t))
      if (missing.length > 0) {
        problems.push(`${where(node)}: ${name}: missing ${missing.map((t) => "@" + t).join(", ")}`)
      }
    }
    let previous
    for (const statement of source.statements) {
      const overloaded = ts.isFunctionDeclaration(statement) && previous !== undefined &&
        ts.isFunctionDeclaration(previous) && previous.name?.text === statement.name?.text
      previous = statement
      if (overloaded) continue // the first signature of an overloaded function carries the doc
      if (ts.isExportDeclaration(statement)) {
        const clause = statement.exportClause
        if (clause === undefined || ts.isNamespaceExport(clause)) {
          check(statement, clause ? `export * as ${clause.name.text}` : "export *", false)
        } else {
          // docgen reads the comment of each specifier: export { /** … */ A, /** … */ B } from
          for (const specifier of clause.elements) check(specifier, `export { ${specifier.name.text} }`, true)
        }
      } else if (ts.isVariableStatement(statement) && isExported(statement)) {
        check(statement, statement.declarationList.declarations.map((d) => d.name.getText(source)).join(", "), true)
      } else if (isExported(statement) && "name" in statement && statement.name) {
        check(statement, statement.name.text, true)
        // members of exported namespaces are exports too
        if (ts.isModuleDeclaration(statement) && statement.body && ts.isModuleBlock(statement.body)) {
          for (const inner of statement.body.statements) {
            if (isExported(inner) && "name" in inner && inner.name) {
              check(inner, `${statement.name.text}.${inner.name.text}`, true)
            }
          }
        }
      } else if (ts.isExportAssignment(statement)) {
        check(statement, "export default", true)
      }
    }
  }
}

if (problems.length > 0) {
  process.stderr.write(problems.join("\n") + `\n${problems.length} export(s) without @since/@category\n`)
  process.exit(1)
}
process.stdout.write("check-jsdoc: every export has @since and @category\n")
