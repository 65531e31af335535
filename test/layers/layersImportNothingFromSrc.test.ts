import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"

const root = Path.resolve(import.meta.dirname, "../..")
const layersDir = Path.join(root, "layers")
const srcDir = Path.join(root, "src")

/** Every specifier a file imports or re-exports: `from "x"`, `import "x"`, `import("x")`. */
const specifiersOf = (text: string): ReadonlyArray<string> =>
  [...text.matchAll(/\bfrom\s*["']([^"']+)["']|\bimport\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)/g)]
    .map((match) => match[1] ?? match[2] ?? match[3] ?? "")

const filesUnder = (directory: string): ReadonlyArray<string> =>
  Fs.readdirSync(directory, { recursive: true, encoding: "utf8" })
    .filter((name) => /\.[cm]?[jt]sx?$/.test(name))
    .map((name) => Path.join(directory, name))

describe("layers/, the services' implementations, import nothing from src/, the driver that uses them", () => {
  it("finds the import specifiers it looks for", () => {
    expect(specifiersOf(`import { a } from "../../src/x.js"\nexport * from './y.js'\nimport "z"\nawait import("w")`))
      .toEqual(["../../src/x.js", "./y.js", "z", "w"])
  })

  it("no file under layers/ names a module under src/", () => {
    const files = filesUnder(layersDir)
    expect(files.length).toBeGreaterThan(10)
    const offending = files.flatMap((file) =>
      specifiersOf(Fs.readFileSync(file, "utf8"))
        .filter((specifier) => specifier.startsWith("."))
        .filter((specifier) => {
          const target = Path.resolve(Path.dirname(file), specifier)
          return target === srcDir || target.startsWith(srcDir + Path.sep)
        })
        .map((specifier) => `${Path.relative(root, file)} imports ${specifier}`)
    )
    expect(offending).toEqual([])
  })
})
