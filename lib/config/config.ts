/**
 * Config flags: `runstage run train lr=0.1 epochs=5`. The full rules, with
 * examples, are in docs/config.md; this is the short form.
 *
 * ## Flags
 *
 * Each flag is `NAME=VALUE` (split at the first `=`; no `=` is an error). The
 * value is typed: `1` and `-3` are ints; `1.5`, `.5`, `1e-3` floats; `true`,
 * `false` (also `True`, `TRUE`, ...) booleans; `null` (`Null`, `NULL`) null;
 * `'x'` and `"x"` the string inside the quotes; anything else, the empty value
 * included, a string. Ints with leading zeros (`007`) or too big for a double to
 * hold exactly, and numbers that overflow (`1e999`), stay strings. There is one
 * number type, as in JSON: `5.0` is the number 5. A flag given twice: the last
 * one counts.
 *
 * ## The `config` attribute
 *
 * A string or a list of entries `[-]GLOB[#KEYPATTERN]`; Gage's tables
 * `{ keys = ENTRIES, description = "..." }` are accepted too, each a group of
 * its own (the consecutive strings of a list form one group).
 *
 * - GLOB is a picomatch glob over project-relative `/` paths, as in sourcecode
 *   rules, except that wildcards never match a name starting with `.` (so the
 *   runs home in `.gage/` is never read; write `.config/*.yaml` to look in a
 *   hidden dir) and the search never enters `node_modules` or `__pycache__`
 *   unless a glob names them. A glob without wildcards names one file, which
 *   must exist and be of a known format; files a wildcard glob matches whose
 *   format is unknown are passed over.
 * - Formats by extension: `.json` JSON, `.yaml`/`.yml` YAML, `.toml` TOML, `.py`
 *   Python (module-level assignments). See lib/configfile_*.ts for each.
 * - KEYPATTERN is a glob over dotted keys: `*` within a segment, `**` any number
 *   of segments, `?` one character. A pattern that matches a table matches
 *   every key inside it: `#model` and `#model.*` both select `model.opt.lr`.
 * - A leading `-` excludes. An entry without GLOB (`-#*.password`, `#seed`)
 *   applies to every file of its group. An entry without `#` applies to every
 *   key of the files it matches.
 * - A file is a config file when an include entry's GLOB matches it. Each of its
 *   keys is decided by the last entry of the group that matches both the file
 *   and the key: include makes the key a flag, exclude does not, and a key no
 *   entry matches is no flag. Later entries win.
 *
 * ## Keys and values
 *
 * A key is the flat dotted path of a scalar leaf through nested tables:
 * `model.lr`. Lists are leaves but not flags; only strings, numbers, booleans
 * and null are. A key segment holding a `.` or `=` cannot be named and is left
 * out. A key that two config files both provide is an error naming both, so a
 * flag always writes exactly one place; exclude it from one of them.
 *
 * ## Resolving and applying
 *
 * `planConfig` reads the defaults from the project's files. `resolveConfig`
 * merges the flags over them: a flag that names no key is an error that lists
 * the keys, unless the op has `free-flags = true` (then it is recorded in the
 * run's config.json and written to no file) or its name is reserved by the
 * caller (then it is copied through as given). `applyConfig` writes the values
 * into the run dir's copies of the files: only values that differ from the copy
 * are replaced, in place, as the format writes the flag's value (a float default
 * given an int flag is written as an int), and each rewrite is read back to
 * check it holds exactly the new values. It returns a unified diff per file.
 */
import { existsSync, type Stats } from "node:fs";
import { chmod, lstat, readdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { extname, join, resolve } from "node:path";
// @ts-types="@types/picomatch"
import picomatch from "picomatch";
import {
  type ConfigFormat,
  type ConfigFormatName,
  type ConfigSource,
  FileSyntaxError,
  type FlagValue,
} from "./formats/format.ts";
import { RunstageError } from "../errors.ts";
import { type ConfigEntry, parseConfigEntry } from "../gagefile/configentry.ts";
import type { RunConfig } from "../run/meta.ts";
import type { ConfigGroup, OpDef } from "../gagefile/opdef.ts";
import { comparePaths } from "../fs/pathorder.ts";

export type { ConfigFormatName, FlagValue };

/** One config file of an op: where it is, its format, and the flags it provides. */
export interface ConfigFileInfo {
  /** Relative to the project dir (and so to the run dir), `/`-separated. */
  path: string;
  format: ConfigFormatName;
  /** Flag keys, in file order. */
  keys: string[];
}

/** An op's config files and their flags' defaults. */
export interface ConfigPlan {
  /** In path order; only files that provide at least one flag. */
  files: ConfigFileInfo[];
  /** Every flag's default, flat dotted keys in file order. */
  defaults: RunConfig;
}

/**
 * Each format's module, loaded when a file of that format is read: every command
 * reads the Gage file, which checks `config` entries with this module, and most
 * never read a config file, so they should not pay for loading the parsers.
 */
const FORMATS: Record<ConfigFormatName, () => Promise<ConfigFormat>> = {
  JSON: async () => (await import("./formats/json.ts")).JSON_FORMAT,
  YAML: async () => (await import("./formats/yaml.ts")).YAML_FORMAT,
  TOML: async () => (await import("./formats/toml.ts")).TOML_FORMAT,
  Python: async () => (await import("./formats/python.ts")).PYTHON_FORMAT,
};

/** Why a format cannot hold a value, known without loading the format's parser. */
function cannotHold(format: ConfigFormatName, value: FlagValue): string | undefined {
  return format === "TOML" && value === null ? "TOML has no null" : undefined;
}

const FORMAT_BY_EXTENSION: Record<string, ConfigFormatName> = {
  ".json": "JSON",
  ".yaml": "YAML",
  ".yml": "YAML",
  ".toml": "TOML",
  ".py": "Python",
};

/** The config format of a path by its extension, or undefined for an unknown one. */
export function configFormatOf(path: string): ConfigFormatName | undefined {
  return FORMAT_BY_EXTENSION[extname(path).toLowerCase()];
}

// --- Flags -----------------------------------------------------------------------------

/** `NAME=VALUE` arguments as typed flag values. Throws on an argument without `=`. */
export function parseFlags(args: string[]): RunConfig {
  const flags: RunConfig = {};
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq < 0) {
      throw new RunstageError(
        `flag "${arg}" has no value; write it as ${arg}=VALUE (${arg}= for an empty string)`,
      );
    }
    if (eq === 0) throw new RunstageError(`flag "${arg}" has no name; write it as NAME=VALUE`);
    const name = arg.slice(0, eq);
    // The last one counts, as with repeated options: scripts append overrides.
    delete flags[name];
    flags[name] = parseFlagValue(arg.slice(eq + 1));
  }
  return flags;
}

const INT = /^[-+]?(?:0|[1-9][0-9]*)$/;
// A point or an exponent makes a float: `007` stays a string, `007.5` and `1e3` do not.
const FLOAT = /^[-+]?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)$/;
const WORDS: Record<string, boolean | null> = {
  true: true,
  True: true,
  TRUE: true,
  false: false,
  False: false,
  FALSE: false,
  null: null,
  Null: null,
  NULL: null,
};

/** A flag's text as a typed value; see the rules at the top of this file. */
export function parseFlagValue(text: string): FlagValue {
  if (text.length >= 2 && (text[0] === "'" || text[0] === '"') && text.endsWith(text[0])) {
    return text.slice(1, -1);
  }
  if (INT.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : text;
  }
  if (FLOAT.test(text)) {
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  }
  return text in WORDS ? WORDS[text] : text;
}

/** A value as flag text that `parseFlagValue` reads back as the same value. */
export function formatFlagValue(value: FlagValue): string {
  if (typeof value !== "string") return String(value);
  if (parseFlagValue(value) === value && value.trim() === value && value !== "") return value;
  // Quotes are stripped, never unescaped: any text between them reads back as it is.
  return value.includes("'") ? `"${value}"` : `'${value}'`;
}

// --- The config attribute ------------------------------------------------------------

interface CompiledEntry extends ConfigEntry {
  matchesFile?: (path: string) => boolean;
  /** A glob with no wildcards: it names one file. */
  literal?: string;
}

function compileGroup(group: ConfigGroup): CompiledEntry[] {
  return group.keys.map((source) => {
    const entry: CompiledEntry = parseConfigEntry(source);
    if (entry.fileGlob !== undefined) {
      entry.matchesFile = picomatch(entry.fileGlob, { dot: false });
      if (!picomatch.scan(entry.fileGlob).isGlob) entry.literal = entry.fileGlob;
    }
    return entry;
  });
}

function groupSelectsFile(group: CompiledEntry[], path: string): boolean {
  return group.some((e) => !e.exclude && e.matchesFile?.(path) === true);
}

/** The last entry matching both decides; none matching: not selected. */
function groupSelectsKey(group: CompiledEntry[], path: string, key: string): boolean {
  for (let i = group.length - 1; i >= 0; i--) {
    const e = group[i];
    const fileMatches = e.matchesFile === undefined || e.matchesFile(path);
    if (fileMatches && (e.keyPattern === undefined || keyMatches(e.keyPattern, key))) {
      return !e.exclude;
    }
  }
  return false;
}

/** Whether the pattern matches the key or one of the tables it is in. */
export function keyMatches(pattern: string[], key: string): boolean {
  const segments = key.split(".");
  for (let n = 1; n <= segments.length; n++) {
    if (matchSegments(pattern, segments.slice(0, n))) return true;
  }
  return false;
}

function matchSegments(pattern: string[], segments: string[]): boolean {
  if (pattern.length === 0) return segments.length === 0;
  const [first, ...rest] = pattern;
  if (first === "**") {
    return matchSegments(rest, segments) ||
      (segments.length > 0 && matchSegments(pattern, segments.slice(1)));
  }
  return segments.length > 0 && segmentMatches(first, segments[0]) &&
    matchSegments(rest, segments.slice(1));
}

function segmentMatches(pattern: string, segment: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === segment;
  const source = [...pattern].map((ch) =>
    ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[\\^$.|+()[\]{}]/g, "\\$&")
  ).join("");
  return new RegExp(`^${source}$`, "su").test(segment);
}

// --- Finding config files -------------------------------------------------------------

/** Dirs that wildcards never enter: installed packages and bytecode, never config. */
const SKIPPED_DIRS = new Set(["node_modules", "__pycache__"]);

interface GlobSearch {
  /** The glob's leading part without wildcards, a dir: the search starts there. */
  base: string;
  /** The rest of the glob, by segment, to tell which dirs can hold a match. */
  segments: ((name: string) => boolean)[];
  /** Index of the first segment holding `**`: from there any dir may hold a match. */
  deep: number;
  matches: (path: string) => boolean;
}

function globSearch(glob: string): GlobSearch {
  const scan = picomatch.scan(glob);
  const rest = scan.glob.split("/");
  // A brace holding a `/` spans segments: no telling dirs apart, search all below base.
  const spans = /\{[^}]*\/[^}]*\}/.test(scan.glob);
  const deep = spans ? 0 : rest.findIndex((segment) => segment.includes("**"));
  return {
    base: scan.base,
    segments: rest.map((segment) => picomatch(segment, { dot: false })),
    deep: deep < 0 ? Infinity : deep,
    matches: picomatch(glob, { dot: false }),
  };
}

/** Whether the dir at `rel` (below the search's base) can hold a path the glob matches. */
function canHoldMatch(search: GlobSearch, rel: string[]): boolean {
  for (let i = 0; i < rel.length; i++) {
    if (i >= search.deep) return rel.slice(i).every((name) => !name.startsWith("."));
    if (i >= search.segments.length - 1 || !search.segments[i](rel[i])) return false;
  }
  return true;
}

/** `rel` as segments below `base`, or undefined when it is not `base` or below it. */
function below(base: string, rel: string): string[] | undefined {
  if (base === "") return rel === "" ? [] : rel.split("/");
  if (rel === base) return [];
  return rel.startsWith(base + "/") ? rel.slice(base.length + 1).split("/") : undefined;
}

function isOnPathTo(rel: string, base: string): boolean {
  return rel === "" || base === rel || base.startsWith(rel + "/");
}

/** Project-relative paths of the files the globs match, in path order. */
async function findFiles(
  projectDir: string,
  globs: string[],
  excludeDirs: string[],
): Promise<string[]> {
  const found = new Set<string>();
  const searches: GlobSearch[] = [];
  for (const glob of new Set(globs)) {
    if (picomatch.scan(glob).isGlob) searches.push(globSearch(glob));
    else if (await isFile(join(projectDir, glob))) found.add(glob);
  }
  if (searches.length > 0) {
    const excluded = new Set(await Promise.all(excludeDirs.map(realPathOrResolved)));
    const wanted = (rel: string) => {
      const name = rel.slice(rel.lastIndexOf("/") + 1);
      return searches.some((s) => {
        if (isOnPathTo(rel, s.base)) return true;
        const inside = below(s.base, rel);
        return inside !== undefined && !SKIPPED_DIRS.has(name) && canHoldMatch(s, inside);
      });
    };
    const walk = async (rel: string, ancestors: string[]) => {
      const abs = join(projectDir, rel);
      const real = await realpath(abs).catch(() => undefined);
      // A symlink back to a dir we are in would loop forever.
      if (real === undefined || excluded.has(real) || ancestors.includes(real)) return;
      const entries = await readdir(abs, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
        const stats = entry.isSymbolicLink() ? await statOrUndefined(join(abs, entry.name)) : entry;
        if (stats?.isDirectory()) {
          if (wanted(path)) await walk(path, [...ancestors, real]);
        } else if (stats?.isFile() && searches.some((s) => s.matches(path))) found.add(path);
      }
    };
    await walk("", []);
  }
  return [...found].sort(comparePaths);
}

async function isFile(path: string): Promise<boolean> {
  return (await statOrUndefined(path))?.isFile() === true;
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  return await stat(path).catch(() => undefined);
}

async function realPathOrResolved(path: string): Promise<string> {
  return await realpath(path).catch(() => resolve(path));
}

// --- Planning ------------------------------------------------------------------------

export interface PlanOptions {
  /** Dirs never searched, such as the runs home when it lies inside the project. */
  exclude?: string[];
}

/**
 * The op's config files and flags, with defaults read from the project's files.
 * Throws a RunstageError for a file that does not parse, a named file that is
 * missing, or a key two files provide.
 */
export async function planConfig(
  projectDir: string,
  op: OpDef,
  options: PlanOptions = {},
): Promise<ConfigPlan> {
  const groups = (op.config ?? []).map(compileGroup);
  const plan: ConfigPlan = { files: [], defaults: {} };
  if (groups.length === 0) return plan;
  const includes = groups.flat().filter((e) => !e.exclude && e.fileGlob !== undefined);
  const paths = await findFiles(
    projectDir,
    includes.map((e) => e.fileGlob!),
    options.exclude ?? [],
  );
  checkNamedFiles(op, includes, paths);
  const providedBy = new Map<string, string>();
  for (const path of paths) {
    const format = configFormatOf(path);
    const inGroups = groups.filter((group) => groupSelectsFile(group, path));
    if (format === undefined || inGroups.length === 0) continue;
    const source = await readConfigSource(path, format, await readConfigFile(projectDir, path));
    const keys: string[] = [];
    for (const leaf of source.leaves) {
      if (!inGroups.some((group) => groupSelectsKey(group, path, leaf.key))) continue;
      const other = providedBy.get(leaf.key);
      if (other !== undefined) throw keyInTwoFiles(op, leaf.key, other, path);
      providedBy.set(leaf.key, path);
      keys.push(leaf.key);
      plan.defaults[leaf.key] = leaf.value;
    }
    if (keys.length > 0) plan.files.push({ path, format, keys });
  }
  return plan;
}

/** A file named without wildcards is meant to be there: its absence is a mistake. */
function checkNamedFiles(op: OpDef, includes: CompiledEntry[], found: string[]): void {
  for (const entry of includes) {
    if (entry.literal === undefined) continue;
    if (!found.includes(entry.literal)) {
      throw new RunstageError(
        `op "${op.name}": config file ${entry.literal} is not a file in the project dir; ` +
          `fix entry ${JSON.stringify(entry.source)} of attribute "config"`,
      );
    }
    if (configFormatOf(entry.literal) === undefined) {
      throw new RunstageError(
        `op "${op.name}": config file ${entry.literal} has no known format; ` +
          `config files end in ${Object.keys(FORMAT_BY_EXTENSION).join(", ")}`,
      );
    }
  }
}

function keyInTwoFiles(op: OpDef, key: string, first: string, second: string): RunstageError {
  return new RunstageError(
    `op "${op.name}": config key "${key}" is in both ${first} and ${second}, so a flag ` +
      `could not say which to set; exclude it from one in attribute "config", ` +
      `as in "-${second}#${key}"`,
  );
}

async function readConfigFile(dir: string, path: string): Promise<string> {
  try {
    return await readFile(join(dir, path), "utf-8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new RunstageError(`cannot read config file ${path} (${reason}); check its permissions`);
  }
}

/** Parses a config file's text; a syntax error names the file, line and column. */
async function readConfigSource(
  path: string,
  format: ConfigFormatName,
  text: string,
): Promise<ConfigSource> {
  const reader = await FORMATS[format]();
  try {
    return reader.read(withoutBom(text));
  } catch (err) {
    if (!(err instanceof FileSyntaxError)) throw err;
    const where = err.line === undefined ? path : `${path}:${err.line}:${err.column ?? 1}`;
    const reason = err.reason.split("\n")[0].trim();
    throw new RunstageError(
      `${where}: invalid ${format}: ${reason}; fix the file or leave it out of attribute "config"`,
    );
  }
}

// Editors on Windows start UTF-8 files with a BOM; no parser here wants it, and it must stay.
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

// --- Resolving -----------------------------------------------------------------------

/**
 * The run's config: the defaults with the flags over them. `reserved` names
 * (dependency flags, say) pass through as given, checked against nothing.
 */
export function resolveConfig(
  plan: ConfigPlan,
  flags: RunConfig,
  op: OpDef,
  reserved: string[] = [],
): RunConfig {
  const fileOf = new Map(plan.files.flatMap((f) => f.keys.map((key) => [key, f] as const)));
  const config: RunConfig = { ...plan.defaults };
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(flags)) {
    const file = fileOf.get(name);
    if (file !== undefined && !reserved.includes(name)) {
      const why = cannotHold(file.format, value);
      if (why !== undefined) {
        throw new RunstageError(
          `flag ${name}=${formatFlagValue(value)}: ${why} (${file.path}); give another value`,
        );
      }
    } else if (file === undefined && !reserved.includes(name) && !op.freeFlags) {
      unknown.push(name);
    }
    config[name] = value;
  }
  if (unknown.length > 0) throw unknownFlags(op, unknown, [...fileOf.keys()]);
  return config;
}

function unknownFlags(op: OpDef, unknown: string[], keys: string[]): RunstageError {
  const names = unknown.map((name) => `"${name}"`).join(", ");
  const what = unknown.length === 1 ? `unknown flag ${names}` : `unknown flags ${names}`;
  if (keys.length === 0) {
    return new RunstageError(
      `${what} for op "${op.name}", which has no flags; name its config files in attribute ` +
        `"config", or set free-flags = true to record any flag`,
    );
  }
  const hints = unknown.flatMap((name) => keys.filter((k) => k.endsWith("." + name)));
  const hint = hints.length > 0 ? ` (did you mean ${hints.join(" or ")}?)` : "";
  return new RunstageError(
    `${what} for op "${op.name}"${hint}; its flags are: ${keys.join(", ")}`,
  );
}

// --- Applying ------------------------------------------------------------------------

export interface AppliedConfig {
  /** Relative to the run dir. */
  path: string;
  /** Unified diff, `--- a/PATH` / `+++ b/PATH`, ending with a newline. */
  diff: string;
}

/**
 * Writes `config`'s values into the run dir's copies of the plan's files,
 * replacing only values that differ. Files absent from the run dir are passed
 * over. Returns one diff per file changed, in path order.
 */
export async function applyConfig(
  runDir: string,
  plan: ConfigPlan,
  config: RunConfig,
): Promise<AppliedConfig[]> {
  const applied: AppliedConfig[] = [];
  for (const file of plan.files) {
    const abs = join(runDir, file.path);
    if (!existsSync(abs)) continue;
    const before = await readConfigFile(runDir, file.path);
    const values = Object.fromEntries(
      file.keys.filter((key) => key in config).map((key) => [key, config[key]]),
    );
    const after = await patchConfigText(file, before, values);
    if (after === before) continue;
    await writeRunFile(abs, after);
    applied.push({ path: file.path, diff: await unifiedDiff(file.path, before, after) });
  }
  return applied;
}

/**
 * `text` with `values` written in place of the old ones. Throws when a key is
 * gone from the file, or when the result would not read back as `values`.
 */
export async function patchConfigText(
  file: ConfigFileInfo,
  text: string,
  values: Record<string, FlagValue>,
): Promise<string> {
  const bom = text.charCodeAt(0) === 0xfeff ? text[0] : "";
  const body = text.slice(bom.length);
  const source = await readConfigSource(file.path, file.format, body);
  const leaves = new Map(source.leaves.map((leaf) => [leaf.key, leaf]));
  const edits = [];
  for (const [key, value] of Object.entries(values)) {
    const leaf = leaves.get(key);
    if (leaf === undefined) {
      throw new RunstageError(
        `the run's copy of ${file.path} has no flag "${key}" (did copy-sourcecode change it?); ` +
          `keep the key in the file, or leave it out of attribute "config"`,
      );
    }
    if (leaf.value !== value) edits.push({ leaf, text: source.render(leaf, value) });
  }
  if (edits.length === 0) return text;
  let patched = body;
  for (const { leaf, text } of edits.sort((a, b) => b.leaf.start - a.leaf.start)) {
    patched = patched.slice(0, leaf.start) + text + patched.slice(leaf.end);
  }
  await checkReadsBack(file, patched, values);
  return bom + patched;
}

/** A guard against writing a config that means something else than the flags say. */
async function checkReadsBack(
  file: ConfigFileInfo,
  text: string,
  values: Record<string, FlagValue>,
): Promise<void> {
  const source = await readConfigSource(file.path, file.format, text);
  const leaves = new Map(source.leaves.map((l) => [l.key, l.value]));
  for (const [key, value] of Object.entries(values)) {
    if (leaves.get(key) !== value) {
      const got = leaves.has(key) ? formatFlagValue(leaves.get(key)!) : "nothing";
      throw new RunstageError(
        `writing ${key}=${formatFlagValue(value)} into ${file.path} would read back as ${got}; ` +
          `this is a runstage bug, please report it with the file`,
      );
    }
  }
}

/**
 * Writes a run dir file. A symlink is replaced by a file rather than written
 * through, so the project it may point into is never changed; a read-only copy
 * is made writable for the write and keeps its mode.
 */
async function writeRunFile(path: string, text: string): Promise<void> {
  const link = await lstat(path);
  const { mode } = await stat(path);
  if (link.isSymbolicLink()) await rm(path);
  const readOnly = (mode & 0o200) === 0;
  if (readOnly && !link.isSymbolicLink()) await chmod(path, mode | 0o200);
  await writeFile(path, text, { mode });
  await chmod(path, mode & 0o7777);
}

/** `--- a/PATH` / `+++ b/PATH`, hunks with 3 lines of context. */
export async function unifiedDiff(path: string, before: string, after: string): Promise<string> {
  const { FILE_HEADERS_ONLY, formatPatch, structuredPatch } = await import("diff");
  const patch = structuredPatch(`a/${path}`, `b/${path}`, before, after, undefined, undefined, {
    context: 3,
  });
  return formatPatch(patch, FILE_HEADERS_ONLY);
}

// --- Help ----------------------------------------------------------------------------

/** `--help-op`: how to give flags, the op's description, then each flag, its default and file. */
export function formatOpHelp(op: OpDef, plan: ConfigPlan): string {
  const lines = [`Usage: runstage run ${op.name} [NAME=VALUE]...`, ""];
  if (op.description) lines.push(op.description, "");
  const rows = plan.files.flatMap((file) =>
    file.keys.map((key) => [key, displayValue(plan.defaults[key]), file.path])
  );
  if (rows.length === 0) lines.push("Flags: none");
  else lines.push("Flags:", ...alignColumns(rows).map((row) => `  ${row}`));
  if (op.freeFlags) {
    lines.push("", "Other flags are accepted as given (free-flags): recorded, written to no file.");
  }
  return lines.join("\n") + "\n";
}

/** A default as flag text; one that holds line breaks or tabs shows them escaped, as JSON. */
function displayValue(value: FlagValue): string {
  const text = formatFlagValue(value);
  return /\p{Cc}/u.test(text) ? JSON.stringify(value) : text;
}

/** Columns two spaces apart; the last one is not padded. */
function alignColumns(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ")
  );
}
