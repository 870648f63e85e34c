/**
 * Gage files: finding one in a directory, parsing it (TOML, YAML or JSON) and
 * validating its ops into `OpDef`s. Every problem with the file is a
 * `RunstageError` whose one-line message names the file, and the op and
 * attribute when there is one, so the user can go straight to the fix.
 *
 * This module is the file as a whole: where it is, its `$` settings, and the
 * rule that one op at most is the default. Turning its text into a document
 * (syntax.ts) and one op's table into an OpDef (optable.ts) are modules of
 * their own; `readOpDef` is re-exported here for the callers that rebuild ops.
 */
import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describeValue, type Table } from "./attributes.ts";
import { RunstageError } from "../errors.ts";
import type { OpDef } from "./opdef.ts";
import { readOpDef } from "./optable.ts";
import { parseDocument } from "./syntax.ts";

export { readOpDef } from "./optable.ts";

/** Where a project keeps its Gage file, in order of precedence: first found wins. */
export const GAGE_FILE_NAMES = [
  ".gage/gage.toml",
  ".gage/gage.yaml",
  ".gage/gage.yml",
  ".gage/gage.json",
  "gage.toml",
  "gage.yaml",
  "gage.yml",
  "gage.json",
];

export interface GageFile {
  path: string;
  /** In file order. */
  ops: OpDef[];
  /** Top-level keys starting with `$`, keys kept as written (`"$runs-dir"`). */
  settings: Record<string, unknown>;
  /** `"$runs-dir"` as written, not yet resolved against the project dir. */
  runsDir?: string;
}

/** The Gage file in `dir`, or undefined when it holds none. */
export function findGageFile(dir: string): string | undefined {
  for (const name of GAGE_FILE_NAMES) {
    const path = join(dir, name);
    // A directory that happens to be called gage.toml is not a Gage file.
    if (existsSync(path) && statSync(path).isFile()) return path;
  }
  return undefined;
}

export async function readGageFile(path: string): Promise<GageFile> {
  let text: string;
  try {
    text = await readFile(path, "utf-8");
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new RunstageError(
      `cannot read Gage file ${path}: ${reason}; check that it exists and is readable`,
    );
  }
  return parseGageFile(path, text);
}

/** Parses and validates Gage file text; `path` picks the format and names the file in errors. */
export function parseGageFile(path: string, text: string): GageFile {
  const doc = parseDocument(path, text);
  const settings: Table = {};
  const ops: OpDef[] = [];
  for (const [key, value] of Object.entries(doc)) {
    if (key.startsWith("$")) settings[key] = value;
    else ops.push(readOpDef(path, key, value));
  }
  checkSingleDefault(path, ops);
  return { path, ops, settings, runsDir: readRunsDir(path, settings) };
}

function readRunsDir(path: string, settings: Table): string | undefined {
  const value = settings["$runs-dir"];
  if (value === undefined) return undefined;
  // An empty path would resolve to the project dir itself and mix runs with sources.
  if (typeof value !== "string" || value === "") {
    throw new RunstageError(
      `${path}: "$runs-dir" must be a non-empty string naming a directory (got ${
        describeValue(value)
      })`,
    );
  }
  return value;
}

function checkSingleDefault(path: string, ops: OpDef[]): void {
  const defaults = ops.filter((op) => op.default);
  if (defaults.length > 1) {
    throw new RunstageError(
      `${path}: ops "${defaults[0].name}" and "${defaults[1].name}" both have default = true; ` +
        `keep it on one`,
    );
  }
}
