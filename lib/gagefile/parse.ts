/**
 * Gage files: finding one in a directory, parsing it (TOML, YAML or JSON) and
 * validating its ops into `OpDef`s. Every problem with the file is a
 * `RunstageError` whose one-line message names the file, and the op and
 * attribute when there is one, so the user can go straight to the fix.
 *
 * This module is the file as a whole: where it is, its `$` settings, and the
 * rule that one op at most is the default. `checkGageFile` reads a file the
 * same way but collects every problem, each with its `FILE:LINE:COL`, for
 * `runstage check`; `parseGageFile` throws the first error and keeps the
 * unknown attributes as notes for `run`. Turning its text into a document
 * (syntax.ts) and one op's table into an OpDef (optable.ts) are modules of
 * their own; `readOpDef` is re-exported here for the callers that rebuild ops.
 */
import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describeValue, type Table } from "./attributes.ts";
import { RunstageError } from "../errors.ts";
import type { OpDef } from "./opdef.ts";
import { readOpTable } from "./optable.ts";
import type { KeyPositions } from "./positions.ts";
import { didYouMean, type KeyPath, type Problem, Problems } from "./problems.ts";
import { readDocument } from "./syntax.ts";
import { quotePath } from "../fs/quote.ts";

export { OP_ATTRIBUTES, readOpDef } from "./optable.ts";

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
  /** Unknown attributes and settings: read past, noted at `run`. */
  notes: FileProblem[];
}

/** A problem with its place in the file. */
export interface FileProblem extends Problem {
  /** `FILE:LINE:COL: message` (`FILE: message` when the place is not known). */
  text: string;
  line?: number;
  column?: number;
}

/** The `$` settings runstage knows; `$schema` is an editor's, read past. */
const SETTINGS = ["$runs-dir", "$schema", "$slurm", "$container-engine"];

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
      `cannot read Gage file ${quotePath(path)}: ${reason}; check that it exists and is readable`,
    );
  }
  return parseGageFile(path, text);
}

/**
 * Parses and validates Gage file text; `path` picks the format and names the
 * file in errors. Throws the first error.
 */
export function parseGageFile(path: string, text: string): GageFile {
  const { gagefile, problems } = readGageText(path, text);
  const first = problems.find((p) => p.kind === "error");
  if (first !== undefined) throw new RunstageError(`${path}: ${first.message}`);
  return gagefile;
}

/** Every problem of Gage file text, in file order, with its place: what `runstage check` shows. */
export function checkGageFile(
  path: string,
  text: string,
): { gagefile?: GageFile; problems: FileProblem[]; locate: KeyPositions } {
  try {
    const { gagefile, problems, locate } = readGageText(path, text);
    return { gagefile, problems, locate };
  } catch (err) {
    // A syntax error: the document cannot be read at all, and the message has its place.
    if (!(err instanceof RunstageError)) throw err;
    return { problems: [syntaxProblem(path, err.message)], locate: () => undefined };
  }
}

/** A parser's `FILE[:LINE:COL]: reason` as a problem with its place. */
function syntaxProblem(path: string, text: string): FileProblem {
  const rest = text.startsWith(path) ? text.slice(path.length) : "";
  const place = /^(?::(\d+):(\d+))?: (.*)$/s.exec(rest);
  const problem: FileProblem = { at: [], message: place?.[3] ?? text, kind: "error", text };
  return place?.[1] === undefined
    ? problem
    : { ...problem, line: Number(place[1]), column: Number(place[2]) };
}

function readGageText(path: string, text: string) {
  const { doc, locate } = readDocument(path, text);
  const problems = new Problems();
  const settings: Table = {};
  const ops: OpDef[] = [];
  for (const [key, value] of Object.entries(doc)) {
    if (key.startsWith("$")) {
      settings[key] = value;
      if (!SETTINGS.includes(key)) {
        problems.unknown([key], `unknown setting "${key}"${didYouMean(key, SETTINGS)}`);
      }
    } else {
      const op = readOpTable(key, value, problems);
      if (op !== undefined) ops.push(op);
    }
  }
  const runsDir = problems.attempt(["$runs-dir"], () => readRunsDir(settings));
  problems.attempt([], () => checkSingleDefault(ops), undefined);
  const located = problems.list.map((p) => locateProblem(path, p, locate));
  const gagefile: GageFile = {
    path,
    ops,
    settings,
    runsDir,
    notes: located.filter((p) => p.kind === "unknown"),
  };
  return { gagefile, problems: located, locate };
}

/** The problem with its `FILE:LINE:COL`. */
export function locateProblem(path: string, problem: Problem, locate: KeyPositions): FileProblem {
  const at = locate(problem.at);
  if (at === undefined) return { ...problem, text: `${path}: ${problem.message}` };
  return { ...problem, text: `${path}:${at.line}:${at.column}: ${problem.message}`, ...at };
}

/** The unknown attributes of `op` and the unknown settings: the notes `run` shows. */
export function notesFor(gagefile: GageFile, op: OpDef): FileProblem[] {
  const about = (at: KeyPath) => at[0] === op.name || String(at[0]).startsWith("$");
  return gagefile.notes.filter((note) => about(note.at));
}

function readRunsDir(settings: Table): string | undefined {
  const value = settings["$runs-dir"];
  if (value === undefined) return undefined;
  // An empty path would resolve to the project dir itself and mix runs with sources.
  if (typeof value !== "string" || value === "") {
    throw new RunstageError(
      `"$runs-dir" must be a non-empty string naming a directory (got ${describeValue(value)})`,
    );
  }
  return value;
}

function checkSingleDefault(ops: OpDef[]): void {
  const defaults = ops.filter((op) => op.default);
  if (defaults.length > 1) {
    throw new RunstageError(
      `ops "${defaults[0].name}" and "${defaults[1].name}" both have default = true; ` +
        `keep it on one`,
    );
  }
}
