/**
 * An op's `depends`, read: each entry as a project-files or run-files
 * dependency, Gage's shapes included (one table, `files` as one string,
 * `run-select = "op = NAME"`, a type implied by its attributes), every
 * attribute checked with an error naming the op, the entry and the attribute.
 */
// @ts-types="@types/picomatch"
import picomatch from "picomatch";
import { posix } from "node:path";
import {
  attributeError,
  isStringList,
  isTable,
  readFlag,
  readOptionalString,
  type Table,
  typeName,
} from "../gagefile/attributes.ts";
import { RunstageError } from "../errors.ts";
import type { OpDef } from "../gagefile/opdef.ts";

export type DependencyType = "project-files" | "run-files";

interface DependencyBase {
  type: DependencyType;
  /** 1-based position in the op's `depends`, as messages name it. */
  entry: number;
  /** For run-files, also the flag `NAME=RUN` that picks the run. */
  name: string;
  description?: string;
  /** `GLOB` includes, `-GLOB` excludes; the last pattern that matches a path decides. */
  files: string[];
  /** Symlink to the source instead of copying it. */
  link: boolean;
  /** The run-dir dir the files go under, '/'-separated and normalized; "" for the run dir. */
  target: string;
}

export interface ProjectFilesDependency extends DependencyBase {
  type: "project-files";
}

export interface RunFilesDependency extends DependencyBase {
  type: "run-files";
  /** The ops whose runs can provide the files. */
  ops: string[];
}

export type Dependency = ProjectFilesDependency | RunFilesDependency;

const COMMON_ATTRIBUTES = ["type", "name", "description", "files", "link", "target"];
const ATTRIBUTES: Record<DependencyType, string[]> = {
  "project-files": COMMON_ATTRIBUTES,
  "run-files": [...COMMON_ATTRIBUTES, "op", "run-select"],
};

/**
 * A run-files dependency without `files`: every file of the run but its own
 * summary, which would otherwise read as this run's summary.
 */
const ALL_RUN_FILES = ["**", "-summary.json"];

/** The op's `depends` as dependencies. Throws a RunstageError naming the op, entry and attribute. */
export function readDepends(op: OpDef): Dependency[] {
  const value = op.raw.depends;
  if (value === undefined) return [];
  const where = `op "${op.name}"`;
  // Gage allows one dependency as a bare table.
  const entries = Array.isArray(value) ? value : [value];
  const deps = entries.map((entry, i) =>
    readEntry(`${where}: depends entry ${i + 1}`, i + 1, entry)
  );
  checkSharedNames(where, deps);
  return deps;
}

function readEntry(at: string, entry: number, value: unknown): Dependency {
  // `depends = ["prepare"]`: the files of the latest prepare run.
  if (typeof value === "string") {
    if (value === "" || /\s/.test(value)) {
      throw new RunstageError(
        `${at} must be an op name without whitespace (got ${quote(value)})`,
      );
    }
    const op = value;
    return runFiles({ entry, name: op, files: [...ALL_RUN_FILES], link: false, target: "" }, [op]);
  }
  if (!isTable(value)) {
    throw new RunstageError(
      `${at} must be a table of attributes or an op name (got ${typeName(value)})`,
    );
  }
  const type = entryType(at, value);
  const unknown = Object.keys(value).find((key) => !ATTRIBUTES[type].includes(key));
  if (unknown !== undefined) {
    throw new RunstageError(
      `${at}: unknown attribute "${unknown}" for a ${type} dependency; valid attributes are: ` +
        ATTRIBUTES[type].join(", "),
    );
  }
  const base = {
    entry,
    description: readOptionalString(at, "description", value.description),
    link: readFlag(at, "link", value.link),
    target: readTarget(at, value.target),
  };
  if (type === "project-files") {
    const files = readFiles(at, value.files, true)!;
    const name = readName(at, value.name) ?? files.find((p) => !p.startsWith("-"))!;
    return { type, name, files, ...base };
  }
  const ops = readOps(at, value);
  const files = readFiles(at, value.files, false) ?? [...ALL_RUN_FILES];
  return runFiles({ name: readName(at, value.name) ?? ops[0], files, ...base }, ops);
}

function runFiles(base: Omit<RunFilesDependency, "type" | "ops">, ops: string[]) {
  return { type: "run-files" as const, ...base, ops };
}

/** `type`, or as Gage infers it: run-selecting attributes mean run-files, else project-files. */
function entryType(at: string, value: Table): DependencyType {
  const type = value.type;
  if (type === "project-files" || type === "run-files") return type;
  if (type === undefined) {
    if (value.op !== undefined || value["run-select"] !== undefined) return "run-files";
    if (value.files !== undefined) return "project-files";
    throw new RunstageError(
      `${at}: give it a type: type = "project-files" with files, or type = "run-files" with op`,
    );
  }
  const why = type === "runs-summary" ? " (runstage does not read runs-summary)" : "";
  throw new RunstageError(
    `${at}: attribute "type" must be "project-files" or "run-files" (got ${
      typeof type === "string" ? quote(type) : typeName(type)
    })${why}`,
  );
}

/** The name is a flag name for run-files (`NAME=RUN`): no `=`, no whitespace. */
function readName(at: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "" || /[\s=]/.test(value)) {
    throw attributeError(at, "name", "a non-empty string without spaces or =", value);
  }
  return value;
}

function readOpName(at: string, attr: string, value: unknown): string {
  // Op names are what the Gage file allows: non-empty, no whitespace.
  if (typeof value !== "string" || value === "" || /\s/.test(value)) {
    throw attributeError(at, attr, "an op name (non-empty, no whitespace)", value);
  }
  return value;
}

/** A dir inside the run dir, normalized: "" is the run dir itself. */
function readTarget(at: string, value: unknown): string {
  if (value === undefined) return "";
  if (typeof value !== "string" || value === "") {
    throw attributeError(at, "target", "a non-empty path", value);
  }
  const normal = posix.normalize(value.replaceAll("\\", "/")).replace(/\/+$/, "");
  if (value.startsWith("/") || normal === ".." || normal.startsWith("../")) {
    throw new RunstageError(
      `${at}: attribute "target" ${
        quote(value)
      } leaves the run dir; give a path inside it, as in inputs/`,
    );
  }
  return normal === "." ? "" : normal;
}

function readFiles(at: string, value: unknown, required: boolean): string[] | undefined {
  if (value === undefined && !required) return undefined;
  const patterns = typeof value === "string" ? [value] : value;
  if (!isStringList(patterns) || patterns.length === 0) {
    throw attributeError(at, "files", "a glob or a non-empty list of globs", value);
  }
  for (const pattern of patterns) checkPattern(at, pattern);
  if (patterns.every((p) => p.startsWith("-"))) {
    throw new RunstageError(
      `${at}: attribute "files" only excludes; add a glob that includes files, as in data/**`,
    );
  }
  return patterns;
}

function checkPattern(at: string, pattern: string): void {
  const invalid = (why: string) =>
    new RunstageError(`${at}: pattern ${quote(pattern)} in "files" ${why}`);
  const glob = pattern.startsWith("-") ? pattern.slice(1) : pattern;
  if (glob === "") throw invalid("is empty; give a glob, as in data/*.csv");
  if (glob.startsWith("!")) {
    throw invalid(`excludes with !; exclude with -, as in -${glob.slice(1)}`);
  }
  if (glob.startsWith("/")) {
    throw invalid(`is absolute; globs are relative, as in ${glob.replace(/^\/+/, "")}`);
  }
  const normal = posix.normalize(glob);
  if (normal === ".." || normal.startsWith("../")) {
    throw invalid("climbs out with ..; name files inside the project or run dir");
  }
  try {
    picomatch(glob, { dot: true });
  } catch (err) {
    throw invalid(`is not a valid glob (${(err as Error).message})`);
  }
}

/** `op` (a name or a list), or Gage's `run-select` in its simple forms. */
function readOps(at: string, value: Table): string[] {
  if (value.op !== undefined && value["run-select"] !== undefined) {
    throw new RunstageError(`${at}: give op or run-select, not both`);
  }
  if (value["run-select"] !== undefined) return parseRunSelect(at, value["run-select"]);
  if (value.op === undefined) {
    throw new RunstageError(`${at}: a run-files dependency needs op, the op whose runs it reads`);
  }
  if (Array.isArray(value.op) && value.op.length > 0) {
    return value.op.map((op) => readOpName(at, "op", op));
  }
  return [readOpName(at, "op", value.op)];
}

/** `op = NAME` and `op in [A, B]`: what Gage's run-select means for a single run. */
function parseRunSelect(at: string, value: unknown): string[] {
  if (typeof value !== "string") throw attributeError(at, "run-select", "a string", value);
  const one = /^\s*op\s*=\s*(\S+)\s*$/.exec(value);
  const many = /^\s*op\s+in\s+\[([^\]]*)\]\s*$/.exec(value);
  const names = one ? [one[1]] : many ? many[1].split(",") : undefined;
  const ops = names?.map((n) => n.trim().replace(/^(["'])(.*)\1$/, "$2")).filter((n) => n !== "");
  if (!ops || ops.length === 0 || ops.some((op) => /\s/.test(op))) {
    throw new RunstageError(
      `${at}: run-select ${
        quote(value)
      } is not supported; write op = "NAME" (or run-select = "op = NAME" or "op in [A, B]")`,
    );
  }
  return ops;
}

/**
 * run-files dependencies sharing a name share the run a flag picks, so they
 * must read the same ops.
 */
function checkSharedNames(where: string, deps: Dependency[]): void {
  const byName = new Map<string, RunFilesDependency>();
  for (const dep of deps) {
    if (dep.type !== "run-files") continue;
    const first = byName.get(dep.name);
    if (!first) byName.set(dep.name, dep);
    else if (opsKey(first.ops) !== opsKey(dep.ops)) {
      throw new RunstageError(
        `${where}: depends entries ${first.entry} and ${dep.entry} are both named "${dep.name}" ` +
          `but read runs of different ops; give each its own name`,
      );
    }
  }
}

const opsKey = (ops: string[]) => [...ops].sort().join(" ");

/** The names that pick a run: `NAME=RUN`. */
export function dependencyFlagNames(deps: Dependency[]): string[] {
  return [...new Set(deps.filter((d) => d.type === "run-files").map((d) => d.name))];
}

/** Quoted as written: JSON would double every backslash. */
export function quote(value: unknown): string {
  return `"${String(value).replace(/\r?\n/g, "\\n")}"`;
}
