/**
 * `deno task check` runs this after fmt, lint and types: the architecture of
 * lib/ (docs/architecture.md), checked rather than hoped for. It fails, naming
 * each offence and its fix, on
 *
 * - an import against the layer order: a module may import its own folder and
 *   folders of lower layers only (`cli` > `stage` > `source`, `config`,
 *   `depends`, `archive` > `gagefile`, `git`, `copy` > `run` > `fs` > the few
 *   modules loose at the top of lib/, such as errors.ts);
 * - an import cycle between modules, type-only imports included (a cycle of
 *   types still ties two modules into one);
 * - any use of the `Deno` global in lib/ or main.ts, which must also build with
 *   `bun build --compile`;
 * - a lib/ module longer than {@link MAX_LINES} lines.
 *
 * Usage: `deno run --allow-read scripts/check_layers.ts [ROOT]`, ROOT being a
 * checkout (default: this one). Imports are read as text: `import`/`export ...
 * from "..."` and `import("...")` with a relative specifier.
 *
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** Folders of lib/ by layer, lowest first. "" holds the modules loose at the top of lib/. */
export const LAYERS: readonly (readonly string[])[] = [
  [""],
  ["fs"],
  ["run"],
  ["gagefile", "git", "copy", "container"],
  ["source", "config", "depends", "archive"],
  ["stage"],
  ["sweep", "slurm", "board"],
  ["cli"],
];

/** Modules at most this long: past it a module holds two ideas. */
export const MAX_LINES = 450;

export interface Offence {
  file: string;
  message: string;
}

/** Every offence in the checkout at `root`, in a stable order. */
export function checkLayers(root: string): Offence[] {
  const modules = listModules(root);
  const graph = new Map<string, string[]>();
  const offences: Offence[] = [];
  for (const file of modules) {
    const text = readFileSync(join(root, file), "utf8");
    graph.set(file, importsOf(file, text).filter((target) => modules.includes(target)));
    offences.push(...denoUses(file, text), ...lengthOffence(file, text));
    for (const target of graph.get(file)!) {
      const wrong = wrongWay(file, target);
      if (wrong) offences.push({ file, message: wrong });
    }
  }
  for (const cycle of findCycles(graph)) {
    offences.push({
      file: cycle[0],
      message: `import cycle ${[...cycle, cycle[0]].join(" -> ")}: ` +
        "move what both need into one module, or into a lower layer",
    });
  }
  return offences;
}

/** main.ts and the .ts modules under lib/, relative to root, `/`-separated. */
function listModules(root: string): string[] {
  const found = ["main.ts"];
  const walk = (dir: string) => {
    for (const d of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${d.name}`;
      if (d.isDirectory()) walk(rel);
      else if (d.name.endsWith(".ts")) found.push(rel);
    }
  };
  walk("lib");
  return found.sort();
}

const IMPORT_PATTERNS = [
  /(?:^|\n)\s*(?:import|export)\b[^;"'`]*?from\s*["'](\.{1,2}\/[^"']+)["']/g,
  /(?:^|\n)\s*import\s*["'](\.{1,2}\/[^"']+)["']/g,
  /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g,
];

/** The modules `file` imports, relative to the root. */
function importsOf(file: string, text: string): string[] {
  const code = stripComments(text);
  const targets = new Set<string>();
  for (const pattern of IMPORT_PATTERNS) {
    for (const match of code.matchAll(pattern)) {
      targets.add(join(dirname(file), match[1]).split("\\").join("/"));
    }
  }
  return [...targets];
}

/** Comments blanked out, strings kept: a comment may name `Deno.` or an import freely. */
function stripComments(text: string): string {
  return text.replace(
    /("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g,
    (match, literal) => literal ?? match.replace(/[^\n]/g, " "),
  );
}

function denoUses(file: string, text: string): Offence[] {
  const lines = stripComments(text).split("\n");
  const found: Offence[] = [];
  lines.forEach((line, i) => {
    if (/(?<![\w$.])Deno\s*[.[]/.test(line)) {
      found.push({
        file: `${file}:${i + 1}`,
        message: "uses the Deno global: lib/ and main.ts build with bun too; " +
          "use a Web API or a node: module",
      });
    }
  });
  return found;
}

function lengthOffence(file: string, text: string): Offence[] {
  const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  if (lines <= MAX_LINES || !file.startsWith("lib/")) return [];
  return [{
    file,
    message: `${lines} lines, over ${MAX_LINES}: split it by what its parts are about`,
  }];
}

/** The folder of lib/ that owns `file`: "cli", "config" for lib/config/formats/x.ts, "" if loose. */
export function folderOf(file: string): string | undefined {
  if (file === "main.ts") return undefined;
  const parts = file.split("/");
  return parts.length > 2 ? parts[1] : "";
}

function layerOf(folder: string): number {
  return LAYERS.findIndex((layer) => layer.includes(folder));
}

/** Why `from` may not import `to`, or undefined when it may. */
function wrongWay(from: string, to: string): string | undefined {
  const source = folderOf(from);
  const target = folderOf(to);
  if (source === undefined) return undefined; // main.ts wires everything.
  if (target === undefined) return `imports main.ts: nothing in lib/ may`;
  for (const folder of [source, target]) {
    if (layerOf(folder) < 0) {
      return `lib/${folder}/ is in no layer: add it to LAYERS in scripts/check_layers.ts ` +
        "and to docs/architecture.md";
    }
  }
  if (source === target || layerOf(source) > layerOf(target)) return undefined;
  const name = (folder: string) => folder === "" ? "lib/ (top)" : `lib/${folder}/`;
  return `imports ${to} against the layer order (${name(source)} may not import ` +
    `${name(target)}): move the shared part down, or pass it in from above`;
}

/** Each cycle once, as the modules on it, starting from its least path. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles = new Map<string, string[]>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") {
        const cycle = stack.slice(stack.indexOf(next));
        const start = cycle.indexOf([...cycle].sort()[0]);
        const turned = [...cycle.slice(start), ...cycle.slice(0, start)];
        cycles.set(turned.join(" "), turned);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return [...cycles.values()];
}

if (import.meta.main) {
  const root = resolve(process.argv[2] ?? fileURLToPath(new URL("..", import.meta.url)));
  const offences = checkLayers(root);
  for (const { file, message } of offences) console.error(`${file}: ${message}`);
  if (offences.length > 0) {
    console.error(
      `check_layers: ${offences.length} offence(s) in ${relative(process.cwd(), root) || "."}; ` +
        "docs/architecture.md has the rules",
    );
    process.exit(1);
  }
  console.log("check_layers: lib/ keeps its layers, has no cycles and no Deno global");
}
