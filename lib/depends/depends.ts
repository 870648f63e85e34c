/**
 * Dependencies: files a run needs that are not its source code, put into the
 * run dir in the `resolve-dependencies` phase, so log/files and the manifest
 * type them `d`. An op lists them in `depends`:
 *
 * - `project-files`: project files matching `files`, copied (or, with
 *   `link = true`, symlinked) to the same paths in the run dir;
 * - `run-files`: files of another run: the latest completed run of `op` in
 *   this project, or the run the user picks with the flag `NAME=RUN`.
 *
 * `resolveDepends` does every check and finds every file before a run is
 * written; `applyDepends` then only copies. Gage's shapes (`depends` as one
 * table, `files` as one string, `run-select = "op = NAME"`, a type implied by
 * its attributes) are read too. The full semantics are in
 * docs/depends-and-summary.md.
 */
// @ts-types="@types/picomatch"
import picomatch from "picomatch";
import { lstat, mkdir, readdir, realpath, rm, stat, symlink } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { type CopiedFile, copySourceFiles, type FileToCopy } from "../copy/copy.ts";
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
import { scanRunDir } from "../run/fileslog.ts";
import { parseOpRef, readMeta } from "../run/meta.ts";
import type { OpDef } from "../gagefile/opdef.ts";
import { comparePaths } from "../fs/pathorder.ts";
import { opNamespace } from "../gagefile/project.ts";
import { listRuns, resolveRun, type RunInfo } from "../run/listing.ts";

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

export interface ResolvedFile {
  /** Absolute path of the source file. */
  from: string;
  /** Where it goes: a run-dir path, '/'-separated. */
  to: string;
}

export interface ResolvedDependency {
  dependency: Dependency;
  /** The run the files come from (run-files only). */
  sourceRun?: { id: string; name: string; op: string };
  /** In byte order of `to`. */
  files: ResolvedFile[];
}

export interface DependsContext {
  projectDir: string;
  runsHome: string;
  /** Dependency name to run spec: an index, id, id prefix or name, as `resolveRun` reads it. */
  picks: Record<string, string>;
}

// --- Reading the op's depends -------------------------------------------------------

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

// --- Resolving ------------------------------------------------------------------------

/**
 * Finds the run and the files of every dependency, checking all that can fail
 * before a run is written: an unknown pick, no completed run of the op, a
 * picked run that is not completed or not of the op, a pattern that matches no
 * file, two dependencies wanting the same run-dir path.
 */
export async function resolveDepends(
  deps: Dependency[],
  ctx: DependsContext,
): Promise<ResolvedDependency[]> {
  checkPicks(deps, ctx.picks);
  const runs = deps.some((d) => d.type === "run-files") ? listRuns(ctx.runsHome) : [];
  const resolved: ResolvedDependency[] = [];
  for (const dep of deps) {
    resolved.push(
      dep.type === "project-files"
        ? await resolveProjectFiles(dep, ctx)
        : await resolveRunFiles(dep, ctx, runs),
    );
  }
  checkTargets(resolved);
  return resolved;
}

function checkPicks(deps: Dependency[], picks: Record<string, string>): void {
  const names = dependencyFlagNames(deps);
  for (const name of Object.keys(picks)) {
    if (names.includes(name)) continue;
    throw new RunstageError(
      names.length === 0
        ? `${name}=${picks[name]}: the op has no run-files dependency to pick a run for`
        : `${name}=${picks[name]}: no run-files dependency is named "${name}"; ` +
          `pick with ${names.map((n) => `${n}=RUN`).join(" or ")}`,
    );
  }
}

function describeDep(dep: Dependency): string {
  return `dependency "${dep.name}" (depends entry ${dep.entry})`;
}

async function resolveProjectFiles(
  dep: ProjectFilesDependency,
  ctx: DependsContext,
): Promise<ResolvedDependency> {
  const paths = await projectPaths(ctx.projectDir, ctx.runsHome, dep.files);
  const selected = selectPaths(
    dep,
    paths,
    (pattern) =>
      `${describeDep(dep)}: ${quote(pattern)} matches no project file; ` +
      `fix the pattern or create the file`,
  );
  return { dependency: dep, files: placeFiles(dep, selected, ctx.projectDir) };
}

async function resolveRunFiles(
  dep: RunFilesDependency,
  ctx: DependsContext,
  runs: RunInfo[],
): Promise<ResolvedDependency> {
  const spec = ctx.picks[dep.name];
  const source = spec === undefined
    ? latestCompletedRun(dep, runs, opNamespace(ctx.projectDir))
    : pickedRun(dep, ctx.runsHome, spec);
  const paths = await runDirPaths(source);
  const selected = selectPaths(
    dep,
    paths,
    (pattern) =>
      `${describeDep(dep)}: ${quote(pattern)} matches no file of run ` +
      `${source.run.name} (op ${source.op}); fix the pattern, or pick another run with ` +
      `${dep.name}=RUN`,
  );
  return {
    dependency: dep,
    sourceRun: { id: source.run.id, name: source.run.name, op: source.op },
    files: placeFiles(dep, selected, source.run.runDir),
  };
}

async function runDirPaths(source: RunInfo): Promise<string[]> {
  try {
    return [...(await scanRunDir(source.run.runDir)).keys()];
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new RunstageError(
      `cannot read the run dir of run ${source.run.name} (${code}): pick another run`,
    );
  }
}

/**
 * The newest completed run of the op in this project: a runs home shared by
 * projects ($GAGE_RUNS) may hold another project's op of the same name.
 */
function latestCompletedRun(dep: RunFilesDependency, runs: RunInfo[], namespace: string): RunInfo {
  const found = runs.find((r) =>
    r.status === "completed" && dep.ops.includes(r.op) &&
    parseOpRef(readMeta(r.run, "opref") ?? "")?.namespace === namespace
  );
  if (found) return found;
  throw new RunstageError(
    `no completed run of op ${dep.ops.join(" or ")}: run it first, or pass ${dep.name}=RUN`,
  );
}

function pickedRun(dep: RunFilesDependency, runsHome: string, spec: string): RunInfo {
  const flag = `${dep.name}=${spec}`;
  let info: RunInfo;
  try {
    info = resolveRun(runsHome, spec);
  } catch (err) {
    if (err instanceof RunstageError) throw new RunstageError(`${flag}: ${err.message}`);
    throw err;
  }
  const ops = dep.ops.join(" or ");
  if (!dep.ops.includes(info.op)) {
    throw new RunstageError(
      `${flag} names run ${info.run.name} of op ${info.op || "(unknown)"}: pick a run of op ${ops}`,
    );
  }
  if (info.status !== "completed") {
    throw new RunstageError(
      `${flag} names run ${info.run.name}, which is ${info.status}: pick a completed run of op ${ops}`,
    );
  }
  return info;
}

interface FileRule {
  include: boolean;
  pattern: string;
  matches: (path: string) => boolean;
}

function compileRules(patterns: string[]): FileRule[] {
  return patterns.map((pattern) => {
    const include = !pattern.startsWith("-");
    return {
      include,
      pattern,
      matches: picomatch(include ? pattern : pattern.slice(1), { dot: true }),
    };
  });
}

/**
 * The paths the patterns select: the last pattern matching a path, or a dir
 * above it, decides. Every include pattern must match something, or a typo
 * would quietly leave a file out.
 */
function selectPaths(dep: Dependency, paths: string[], noMatch: (p: string) => string): string[] {
  const rules = compileRules(dep.files);
  const matched = new Set<FileRule>();
  const selected = paths.filter((path) => {
    const candidates = [path, ...parentDirs(path)];
    let include = false;
    for (const rule of rules) {
      if (!candidates.some((candidate) => rule.matches(candidate))) continue;
      matched.add(rule);
      include = rule.include;
    }
    return include;
  });
  const unmatched = rules.find((rule) => rule.include && !matched.has(rule));
  if (unmatched) throw new RunstageError(noMatch(unmatched.pattern));
  if (selected.length === 0) {
    throw new RunstageError(
      `${describeDep(dep)}: its exclude patterns leave no file; narrow the excludes in "files"`,
    );
  }
  return selected;
}

/** `a/b/c` → `a/b`, `a`. */
function parentDirs(path: string): string[] {
  const dirs: string[] = [];
  for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
    dirs.push(path.slice(0, i));
  }
  return dirs;
}

function placeFiles(dep: Dependency, paths: string[], fromDir: string): ResolvedFile[] {
  return paths
    .map((path) => ({ from: join(fromDir, path), to: dep.target ? `${dep.target}/${path}` : path }))
    .sort((a, b) => comparePaths(a.to, b.to));
}

/** Two dependencies must not want the same run-dir path, nor a file where the other needs a dir. */
function checkTargets(resolved: ResolvedDependency[]): void {
  const owners = new Map<string, { dep: Dependency; from: string }>();
  for (const { dependency: dep, files } of resolved) {
    for (const file of files) {
      // A last guard: no path may climb out of the run dir, whatever made it.
      if (file.to.split("/").includes("..") || file.to.startsWith("/")) {
        throw new RunstageError(`${describeDep(dep)}: path "${file.to}" leaves the run dir`);
      }
      const owner = owners.get(file.to);
      const same = owner && owner.from === file.from && owner.dep.link === dep.link;
      if (owner && !same) throw clash(owner.dep, dep, file.to, file.to);
      owners.set(file.to, { dep, from: file.from });
    }
  }
  for (const [path, { dep }] of owners) {
    for (const dir of parentDirs(path)) {
      const owner = owners.get(dir);
      if (owner) throw clash(owner.dep, dep, dir, path);
    }
  }
}

function clash(a: Dependency, b: Dependency, pathA: string, pathB: string): RunstageError {
  const what = pathA === pathB ? `both provide "${pathA}"` : `provide "${pathA}" and "${pathB}"`;
  return new RunstageError(
    `depends entries ${a.entry} and ${b.entry} ${what}; give one a target dir`,
  );
}

// --- Walking the project ---------------------------------------------------------------

/**
 * Project files under the static bases of the include patterns, '/'-paths
 * relative to the project dir. Symlinks are followed (data dirs often are
 * links), once per dir chain; `.git` and the runs home are never entered.
 * Unlike source code, .gitignore does not apply: data is usually ignored.
 */
async function projectPaths(projectDir: string, runsHome: string, patterns: string[]) {
  const skip = await realpath(runsHome).catch(() => undefined);
  const found: string[] = [];
  for (const base of walkBases(patterns)) {
    await walk(join(projectDir, base), base, new Set(), skip, found);
  }
  return found;
}

/** Where the include patterns' matches can be: their static prefixes, without nested ones. */
function walkBases(patterns: string[]): string[] {
  const bases = patterns
    .filter((p) => !p.startsWith("-"))
    .map((p) => {
      const scan = picomatch.scan(p);
      const base = posix.normalize(scan.isGlob ? scan.base || "." : p).replace(/\/+$/, "");
      return base === "." ? "" : base;
    })
    .sort();
  return bases.filter((base, i) =>
    !bases.slice(0, i).some((b) => b === "" || b === base || base.startsWith(`${b}/`))
  );
}

async function walk(
  abs: string,
  rel: string,
  ancestors: Set<string>,
  skip: string | undefined,
  found: string[],
): Promise<void> {
  const st = await stat(abs).catch(() => undefined);
  if (!st) return;
  if (st.isFile()) {
    if (rel !== "") found.push(rel);
    return;
  }
  if (!st.isDirectory()) return;
  const real = await realpath(abs);
  if (real === skip || ancestors.has(real)) return;
  const inner = new Set(ancestors).add(real);
  let names: string[];
  try {
    names = await readdir(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new RunstageError(`cannot list ${abs} (${code}) for depends: fix its permissions`);
  }
  await Promise.all(
    names
      .filter((name) => name !== ".git")
      .map((name) =>
        walk(join(abs, name), rel === "" ? name : `${rel}/${name}`, inner, skip, found)
      ),
  );
}

// --- Applying -------------------------------------------------------------------------

/**
 * Puts the resolved files into the run dir: copies keeping their modes, or
 * symlinks to the absolute source path. A file already at a path is replaced.
 * Returns the copies with their digests, which stay good until a file changes.
 */
export async function applyDepends(
  runDir: string,
  resolved: ResolvedDependency[],
): Promise<CopiedFile[]> {
  const done = new Set<string>();
  const copies: FileToCopy[] = [];
  for (const { dependency: dep, files } of resolved) {
    for (const file of files) {
      if (done.has(file.to)) continue;
      done.add(file.to);
      const dest = join(runDir, file.to);
      await clearDestination(dest, file.to);
      const st = await stat(file.from).catch(() => undefined);
      if (!st?.isFile()) {
        throw new RunstageError(
          `${describeDep(dep)}: ${file.from} is gone since the run was staged; run again`,
        );
      }
      if (dep.link) {
        await mkdir(dirname(dest), { recursive: true });
        await symlink(file.from, dest);
      } else {
        copies.push({ path: file.to, src: file.from, size: st.size, mode: st.mode & 0o7777 });
      }
    }
  }
  return await copySourceFiles(copies, runDir);
}

/**
 * Removes what an earlier phase left at a dependency's path: a copy must not
 * write through a symlink into its target.
 */
async function clearDestination(dest: string, path: string): Promise<void> {
  const st = await lstat(dest).catch(() => undefined);
  if (!st) return;
  if (st.isDirectory()) {
    throw new RunstageError(
      `cannot put dependency file "${path}" in the run dir: a directory is there`,
    );
  }
  await rm(dest);
}

// --- Meta -----------------------------------------------------------------------------

/**
 * Meta `deps.json`: per dependency, in `depends` order, its type, name, source
 * (`"project"`, or the run's id, name and op), whether it linked, and the
 * run-dir paths it provided.
 */
export function dependsMeta(resolved: ResolvedDependency[]): unknown {
  return resolved.map(({ dependency: dep, sourceRun, files }) => ({
    type: dep.type,
    name: dep.name,
    source: sourceRun ?? "project",
    link: dep.link,
    paths: files.map((f) => f.to),
  }));
}

// --- Helpers --------------------------------------------------------------------------

/** Quoted as written: JSON would double every backslash. */
function quote(value: unknown): string {
  return `"${String(value).replace(/\r?\n/g, "\\n")}"`;
}
