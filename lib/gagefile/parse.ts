/**
 * Gage files: finding one in a directory, parsing it (TOML, YAML or JSON) and
 * validating its ops into `OpDef`s. Every problem with the file is a
 * `RunstageError` whose one-line message names the file, and the op and
 * attribute when there is one, so the user can go straight to the fix.
 */
import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { type ParseError, parseTree } from "jsonc-parser";
import { parse as parseToml, TomlError } from "smol-toml";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { parseConfigEntry } from "./configentry.ts";
import {
  attributeError,
  describeValue,
  isStringList,
  isTable,
  readFlag,
  readOptionalString,
  type Table,
  typeName,
} from "./attributes.ts";
import { RunstageError } from "../errors.ts";
import {
  type ConfigGroup,
  type ExecCommand,
  isSourceOrigin,
  type OpDef,
  type PhaseName,
  PHASES,
  type SourcecodeSpec,
} from "./opdef.ts";
import { parsePathMap, type PathMap } from "./pathmap.ts";

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

type Format = "TOML" | "YAML" | "JSON";

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
  const doc = parseDocument(path, stripBom(text));
  const settings: Table = {};
  const ops: OpDef[] = [];
  for (const [key, value] of Object.entries(doc)) {
    if (key.startsWith("$")) settings[key] = value;
    else ops.push(readOpDef(path, key, value));
  }
  checkSingleDefault(path, ops);
  return { path, ops, settings, runsDir: readRunsDir(path, settings) };
}

// --- Parsing -------------------------------------------------------------------

function formatOf(path: string): Format {
  const ext = extname(path).toLowerCase();
  if (ext === ".toml") return "TOML";
  if (ext === ".yaml" || ext === ".yml") return "YAML";
  if (ext === ".json") return "JSON";
  throw new RunstageError(
    `${path}: unknown Gage file format "${ext}"; name it gage.toml, gage.yaml or gage.json`,
  );
}

// Editors on Windows like to start UTF-8 files with a BOM, which no parser here accepts.
function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function parseDocument(path: string, text: string): Table {
  const format = formatOf(path);
  const doc = format === "TOML"
    ? parseTomlText(path, text)
    : format === "YAML"
    ? parseYamlText(path, text)
    : parseJsonText(path, text);
  // An empty or all-comment YAML file is null: read it like an empty TOML file, no ops.
  if (doc === null && format === "YAML") return {};
  if (!isTable(doc)) {
    throw new RunstageError(
      `${path}: the top level must be a table of ops (got ${typeName(doc)}); ` +
        `write each op as a named table`,
    );
  }
  return doc;
}

function parseTomlText(path: string, text: string): unknown {
  try {
    return parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = firstLine(err.message).replace(/^Invalid TOML document:\s*/, "");
      throw syntaxError(path, "TOML", reason, err.line, err.column);
    }
    throw syntaxError(path, "TOML", errorReason(err));
  }
}

function parseYamlText(path: string, text: string): unknown {
  try {
    // Merge keys (`<<: *base`) are how YAML Gage files share attributes between ops.
    return parseYaml(text, { merge: true });
  } catch (err) {
    if (err instanceof YAMLParseError && err.linePos) {
      const reason = firstLine(err.message).replace(/ at line \d+, column \d+:?$/, "");
      throw syntaxError(path, "YAML", reason, err.linePos[0].line, err.linePos[0].col);
    }
    // Not all of yaml's errors are YAMLParseErrors (an unresolved alias is a ReferenceError).
    throw syntaxError(path, "YAML", errorReason(err));
  }
}

function parseJsonText(path: string, text: string): unknown {
  const json = blankJsonComments(text);
  try {
    return JSON.parse(json);
  } catch (err) {
    const message = errorReason(err);
    // V8 says "at position N"; JavaScriptCore (a bun-built binary) gives no position.
    const offset = /at position (\d+)/.exec(message)?.[1] ?? firstJsonErrorOffset(json);
    // V8 quotes the whole document in some messages; keep only the reason.
    const reason = message
      .replace(/ in JSON at position \d+.*$/s, "")
      .replace(/, (?:\.\.\.)?".*is not valid JSON$/s, "");
    if (offset === undefined) throw syntaxError(path, "JSON", firstLine(reason));
    const { line, column } = lineColumn(json, Number(offset));
    throw syntaxError(path, "JSON", firstLine(reason), line, column);
  }
}

/** Where a strict JSON parser first fails, by jsonc-parser (comments already blanked). */
function firstJsonErrorOffset(json: string): number | undefined {
  const errors: ParseError[] = [];
  parseTree(json, errors, { allowTrailingComma: false, disallowComments: true });
  return errors[0]?.offset;
}

/**
 * Blanks whole-line `//` comments, leaving the line breaks so parser positions
 * still point at the right line. A JSON string cannot span lines, so a line
 * starting with `//` is always a comment.
 */
function blankJsonComments(text: string): string {
  return text.split("\n").map((line) => /^\s*\/\//.test(line) ? "" : line).join("\n");
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return { line, column };
}

function syntaxError(
  path: string,
  format: Format,
  reason: string,
  line?: number,
  column?: number,
): RunstageError {
  const where = line !== undefined && column !== undefined ? `${path}:${line}:${column}` : path;
  return new RunstageError(
    `${where}: invalid ${format}: ${reason}; fix the syntax and run again`,
  );
}

function errorReason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// Parsers append a code frame after the first line; messages must stay on one line.
function firstLine(message: string): string {
  return message.split("\n")[0].trim();
}

// --- Validation ----------------------------------------------------------------

/** Names a value's type the way a Gage file author thinks of it. */

/** What an error says it got: the type, made precise where the type alone would mislead. */

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

/**
 * Validates one op's table into an OpDef; `path` names the file in errors. Also
 * rebuilds the OpDef of a run from its meta `opdef.json`.
 */
export function readOpDef(path: string, name: string, value: unknown): OpDef {
  // The op name is written into the space-separated meta `opref` line.
  if (name === "" || /\s/.test(name)) {
    throw new RunstageError(
      `${path}: op name "${name}" must be non-empty and hold no whitespace; rename the op`,
    );
  }
  if (!isTable(value)) {
    throw new RunstageError(
      `${path}: op "${name}" must be a table of attributes (got ${describeValue(value)})`,
    );
  }
  const where = `${path}: op "${name}"`;
  return {
    name,
    description: readOptionalString(where, "description", value.description),
    default: readFlag(where, "default", value.default),
    exec: readExec(where, value.exec),
    sourcecode: readSourcecode(where, value.sourcecode),
    env: readEnv(where, value.env),
    // Set only when written, so an op without flags reads as it did before flags.
    ...optional("config", readConfig(where, value.config)),
    ...optional("freeFlags", readFreeFlags(where, value["free-flags"])),
    ...optional("source", readSource(where, value.source)),
    ...optional("pathMap", readPathMap(where, value["path-map"])),
    raw: value,
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : { [key]: value } as Record<K, V>;
}

/** Canonical phase names by every name a Gage file may use for them. */
const PHASE_KEYS: ReadonlyMap<string, PhaseName> = new Map(
  PHASES.flatMap((p): [string, PhaseName][] =>
    p.alias ? [[p.name, p.name], [p.alias, p.name]] : [[p.name, p.name]]
  ),
);

function validPhaseKeys(): string {
  return PHASES.map((p) => p.alias ? `${p.name} (or ${p.alias})` : p.name).join(", ");
}

function readExec(where: string, value: unknown): OpDef["exec"] {
  if (value === undefined) return {};
  if (typeof value === "string" || Array.isArray(value)) {
    return { run: readCommand(where, "exec", value) };
  }
  if (!isTable(value)) {
    throw attributeError(
      where,
      "exec",
      "a string, a list of strings or a table of phases",
      value,
    );
  }
  const exec: OpDef["exec"] = {};
  const keyUsed: Partial<Record<PhaseName, string>> = {};
  for (const [key, command] of Object.entries(value)) {
    const phase = PHASE_KEYS.get(key);
    if (phase === undefined) {
      throw new RunstageError(
        `${where}: unknown phase "${key}" in attribute "exec"; valid phases are: ${validPhaseKeys()}`,
      );
    }
    // A phase and its alias in one table would otherwise silently drop a command.
    if (keyUsed[phase] !== undefined) {
      throw new RunstageError(
        `${where}: attribute "exec" names phase ${phase} twice ("${keyUsed[phase]}" and ` +
          `"${key}"); keep one`,
      );
    }
    keyUsed[phase] = key;
    exec[phase] = readCommand(where, `exec.${key}`, command);
  }
  return exec;
}

function readCommand(where: string, attr: string, value: unknown): ExecCommand {
  if (typeof value === "string") return value;
  if (isStringList(value)) {
    if (value.length === 0) {
      throw new RunstageError(
        `${where}: attribute "${attr}" is an empty list; give the command and its arguments`,
      );
    }
    return value;
  }
  const expected = attr === "exec"
    ? "a string, a list of strings or a table of phases"
    : "a string or a list of strings";
  throw attributeError(where, attr, expected, value);
}

function readSourcecode(where: string, value: unknown): SourcecodeSpec {
  if (value === undefined || typeof value === "string" || typeof value === "boolean") {
    return value;
  }
  if (isStringList(value)) return value;
  throw attributeError(where, "sourcecode", "a string, a list of strings or true/false", value);
}

function readEnv(where: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (!isTable(value)) throw attributeError(where, "env", "a table of variables", value);
  const env: Record<string, string> = {};
  for (const [name, setting] of Object.entries(value)) {
    // Environment values are strings; TOML authors write `EPOCHS = 10` and mean "10".
    if (["string", "number", "boolean"].includes(typeof setting)) {
      env[name] = String(setting);
    } else {
      throw attributeError(where, `env.${name}`, "a string, number or boolean", setting);
    }
  }
  return env;
}

const CONFIG_EXPECTED = "an entry, a list of entries or a table with keys";

/**
 * `config`: entries `[-]GLOB[#KEYPATTERN]` as a string or a list, or Gage's
 * `{ keys = ENTRIES, description = "..." }` tables. Consecutive strings of a
 * list form one group; each table is a group of its own.
 */
function readConfig(where: string, value: unknown): ConfigGroup[] | undefined {
  if (value === undefined) return undefined;
  const items = Array.isArray(value) ? value : [value];
  const groups: ConfigGroup[] = [];
  let loose: string[] | undefined;
  for (const item of items) {
    if (typeof item === "string") {
      if (loose === undefined) {
        loose = [];
        groups.push({ keys: loose });
      }
      loose.push(checkConfigEntry(where, "config", item));
    } else if (isTable(item)) {
      loose = undefined;
      groups.push(readConfigTable(where, item));
    } else if (Array.isArray(value)) {
      // A list may hold tables, so "list with a table item" would not say what is wrong.
      throw new RunstageError(
        `${where}: attribute "config" must be ${CONFIG_EXPECTED} (got list with a ` +
          `${typeName(item)} item)`,
      );
    } else throw attributeError(where, "config", CONFIG_EXPECTED, item);
  }
  return groups;
}

function readConfigTable(where: string, table: Table): ConfigGroup {
  const unknown = Object.keys(table).find((key) => key !== "keys" && key !== "description");
  if (unknown !== undefined) {
    throw new RunstageError(
      `${where}: attribute "config" has unknown key "${unknown}" in a table; ` +
        `a config table takes keys and description`,
    );
  }
  const keys = typeof table.keys === "string" ? [table.keys] : table.keys;
  if (!isStringList(keys)) {
    throw attributeError(where, "config.keys", "an entry or a list of entries", table.keys);
  }
  return {
    keys: keys.map((entry) => checkConfigEntry(where, "config.keys", entry)),
    ...optional("description", readOptionalString(where, "config.description", table.description)),
  };
}

function checkConfigEntry(where: string, attr: string, entry: string): string {
  try {
    parseConfigEntry(entry);
  } catch (err) {
    if (err instanceof RunstageError) {
      throw new RunstageError(`${where}: attribute "${attr}": ${err.message}`);
    }
    throw err;
  }
  return entry;
}

function readFreeFlags(where: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw attributeError(where, "free-flags", "true or false", value);
}

function readSource(where: string, value: unknown): string | undefined {
  if (value === undefined || (typeof value === "string" && isSourceOrigin(value))) return value;
  // The type alone ("got string") would not say which spelling was wrong.
  const got = typeof value === "string" ? JSON.stringify(value) : describeValue(value);
  throw new RunstageError(
    `${where}: attribute "source" must be worktree, auto or git:REF (got ${got})`,
  );
}

/** `path-map`: a table of project paths to run-dir paths, in any of the three formats. */
function readPathMap(where: string, value: unknown): PathMap | undefined {
  if (value === undefined) return undefined;
  if (!isTable(value)) {
    throw attributeError(where, "path-map", "a table of project paths to run-dir paths", value);
  }
  const table: Record<string, string> = {};
  for (const [key, to] of Object.entries(value)) {
    if (typeof to !== "string") {
      // TOML reads an unquoted `src.app = "x"` as a nested table.
      const nested = isTable(to) ? Object.keys(to)[0] : undefined;
      const fix = nested === undefined
        ? ""
        : `; quote keys that hold dots, as in ${JSON.stringify(`${key}.${nested}`)} = "..."`;
      throw new RunstageError(
        `${where}: attribute "path-map": ${JSON.stringify(key)} must map to a run-dir path ` +
          `string (got ${describeValue(to)})${fix}`,
      );
    }
    table[key] = to;
  }
  return parsePathMap(where, table);
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
