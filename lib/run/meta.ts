/**
 * The meta dir of a run: scalars and JSON written atomically, the runner log,
 * and reading them back. Layout and formats are those of docs/run-format.md.
 */
import process from "node:process";
import {
  appendFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { localIsoTime, timestampMicros } from "./clock.ts";
import { RunstageError } from "../errors.ts";
import type { Run } from "./identity.ts";

export const SCHEMA_VERSION = "1";

/** A command: an argv list run directly, or a string for the system shell. */
export type ExecCommand = string | string[];

/** What meta records of an op's definition: its name and its table as read. */
export interface RecordedOpDef {
  name: string;
  raw: Record<string, unknown>;
}

/** `2 <namespace> <op-name>[ <version>]`: which op of which project a run ran. */
export interface OpRef {
  namespace: string;
  name: string;
  version?: string;
}

export function formatOpRef(ref: OpRef): string {
  return ["2", ref.namespace, ref.name, ...(ref.version ? [ref.version] : [])].join(" ");
}

export function parseOpRef(text: string): OpRef | undefined {
  const [schema, namespace, name, version] = text.trim().split(" ");
  if (schema !== "2" || !namespace || !name) return undefined;
  return { namespace, name, ...(version ? { version } : {}) };
}

/** Config values are flat dotted keys to scalars. */
export type RunConfig = Record<string, string | number | boolean | null>;

export interface RunInit {
  opref: OpRef;
  opdef: RecordedOpDef;
  config: RunConfig;
  /** The `run` command, or undefined when the op has none (stage-only ops). */
  cmd: ExecCommand | undefined;
  /** Only the variables the op itself sets; never the inherited environment. */
  env: Record<string, string>;
}

/**
 * Checks what `initRunMeta` would write, so a bad request fails before the runs
 * home is touched.
 */
export function validateRunInit(init: RunInit): void {
  if (init.opref.name !== init.opdef.name) {
    throw new RunstageError(
      `mismatched names in opref ('${init.opref.name}') and opdef ('${init.opdef.name}')`,
    );
  }
}

/**
 * Creates the run: meta files in the format's order, each logged, then the run
 * dir and the `.project` link back to the project.
 */
export function initRunMeta(run: Run, init: RunInit, projectDir: string): void {
  validateRunInit(init);
  writeMeta(run, "__schema__", SCHEMA_VERSION);
  logAndWriteMeta(run, "id", run.id);
  logAndWriteMeta(run, "name", run.name);
  logAndWriteMeta(run, "opdef.json", metaJson(init.opdef.raw));
  logAndWriteMeta(run, "config.json", metaJson(init.config));
  logAndWriteMeta(run, "proc/cmd", metaJson(init.cmd ?? []));
  logAndWriteMeta(run, "proc/env", metaJson(init.env));
  logAndWriteMeta(run, "opref", formatOpRef(init.opref));
  logAndWriteMeta(run, "initialized", String(timestampMicros()));
  mkdirSync(run.runDir, { recursive: true });
  writeAtomic(run.projectRef, projectRefText(run.runsHome, projectDir));
}

/** `file:<path>`: relative to the runs home when it lies inside the project. */
export function projectRefText(runsHome: string, projectDir: string): string {
  const rel = relativeWithin(projectDir, runsHome);
  return `file:${rel === undefined ? projectDir : rel}`;
}

/** `../..` from `inner` up to `outer` when inner is inside outer, else undefined. */
function relativeWithin(outer: string, inner: string): string | undefined {
  const o = outer.endsWith("/") ? outer : outer + "/";
  if (inner !== outer && !inner.startsWith(o)) return undefined;
  const depth = inner === outer ? 0 : inner.slice(o.length).split("/").filter(Boolean).length;
  return depth === 0 ? "." : Array(depth).fill("..").join("/");
}

/** Writes a meta file and records it in the runner log. */
export function logAndWriteMeta(run: Run, name: string, content: string | Uint8Array): void {
  logRunner(run, `Writing meta ${name}`);
  writeMeta(run, name, content);
}

export function writeMeta(run: Run, name: string, content: string | Uint8Array): void {
  writeAtomic(join(run.metaDir, name), content);
}

export function removeMeta(run: Run, name: string): void {
  rmSync(join(run.metaDir, name), { force: true });
}

/**
 * Temp file + rename: a reader (or a crash) sees the old file or the new one,
 * never half of one.
 */
export function writeAtomic(path: string, content: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

/** JSON as meta stores it: keys sorted at every level, 2-space indent, no trailing newline. */
export function metaJson(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 2);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, sortKeys(obj[k])]));
  }
  return value;
}

/** Appends one event to log/runner. Multi-line messages become one line each. */
export function logRunner(run: Run, message: string): void {
  const stamp = localIsoTime();
  const lines = message.split("\n").map((line) => `${stamp} ${line}\n`).join("");
  const path = join(run.metaDir, "log", "runner");
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, lines);
}

/** A meta scalar, or undefined when the file is absent (a run being written). */
export function readMeta(run: Run, name: string): string | undefined {
  try {
    return readFileSync(join(run.metaDir, name), "utf8");
  } catch {
    return undefined;
  }
}

/** A meta file's bytes (a patch, say, which need not be UTF-8), or undefined when absent. */
export function readMetaBytes(run: Run, name: string): Uint8Array | undefined {
  try {
    return readFileSync(join(run.metaDir, name));
  } catch {
    return undefined;
  }
}

/** Parsed meta JSON, or undefined when absent or not yet whole. */
export function readMetaJson<T = unknown>(run: Run, name: string): T | undefined {
  const text = readMeta(run, name);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** A meta timestamp file as a number of microseconds. */
export function readMetaTimestamp(run: Run, name: string): number | undefined {
  const text = readMeta(run, name);
  const n = text === undefined ? NaN : Number(text.trim());
  return Number.isFinite(n) ? n : undefined;
}

/** Python's repr of a string or list of strings, the way the runner log shows commands. */
export function pyRepr(value: ExecCommand | string[]): string {
  return Array.isArray(value) ? `[${value.map(pyStr).join(", ")}]` : pyStr(value);
}

function pyStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = "";
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch !== " " && NOT_PRINTABLE.test(ch)) out += pyEscape(code);
    else out += ch;
  }
  return quote + out + quote;
}

/** What Python's `str.isprintable` rejects: controls, format, separators, unassigned. */
const NOT_PRINTABLE = /^[\p{C}\p{Z}]$/u;

function pyEscape(code: number): string {
  const [prefix, width] = code < 0x100 ? ["x", 2] : code < 0x10000 ? ["u", 4] : ["U", 8];
  return "\\" + prefix + code.toString(16).padStart(width, "0");
}
