/**
 * Path maps: an op's `path-map` table, which puts project paths at other paths
 * inside the run dir (`{"." = "src/myapp"}` stages the project under
 * `src/myapp/`). Source selection still works on project paths; the manifest and
 * log/files see the mapped run-dir paths.
 *
 * A mapping may never leave the run dir: `..`, absolute paths and (when writing
 * into a run dir that already holds files) symlinks that point out are refused
 * before anything is written.
 */
import { lstat, readlink, realpath } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";
import { comparePaths } from "../fs/pathorder.ts";
import { RunstageError } from "../errors.ts";

/**
 * One entry of a path map, normalized: `/`-separated, no `.` segments, no
 * trailing `/`; `""` is the project root (`from`) or the run dir itself (`to`).
 */
export interface PathMapping {
  readonly from: string;
  readonly to: string;
}

/** Mappings with the longest `from` (in segments) first, so the first match is the closest. */
export type PathMap = readonly PathMapping[];

// --- Reading -------------------------------------------------------------------------

/**
 * Validates and normalizes a `path-map` table of project paths to run-dir paths.
 * `where` names the file and op in errors (`gage.toml: op "train"`).
 */
export function parsePathMap(where: string, table: Record<string, string>): PathMap {
  const byFrom = new Map<string, { key: string; mapping: PathMapping }>();
  for (const [key, value] of Object.entries(table)) {
    const mapping = { from: readKey(where, key), to: readTarget(where, key, value) };
    const twin = byFrom.get(mapping.from);
    if (twin) {
      throw new RunstageError(
        `${where}: path-map keys ${quote(twin.key)} and ${quote(key)} both name ` +
          `${quote(mapping.from || ".")}; keep one`,
      );
    }
    byFrom.set(mapping.from, { key, mapping });
  }
  return [...byFrom.values()].map((entry) => entry.mapping).sort(closestFirst);
}

function closestFirst(a: PathMapping, b: PathMapping): number {
  // Ties cannot both match one path; byte order only keeps the map deterministic.
  return segmentCount(b.from) - segmentCount(a.from) || comparePaths(a.from, b.from);
}

function segmentCount(path: string): number {
  return path === "" ? 0 : path.split("/").length;
}

/** What is wrong with a path as written, before it is normalized. */
type PathProblem = "empty" | "nul" | "absolute" | "backslash" | "climbs-out" | "dotdot";

function problemOf(path: string): PathProblem | undefined {
  if (path === "") return "empty";
  if (path.includes("\0")) return "nul";
  // Windows forms too: a Gage file written on Windows must not escape on either system.
  if (/^[\\/]/.test(path) || /^[A-Za-z]:/.test(path)) return "absolute";
  if (path.includes("\\")) return "backslash";
  const segments = path.split("/");
  if (!segments.includes("..")) return undefined;
  let depth = 0;
  for (const segment of segments) {
    if (segment === "..") depth--;
    else if (segment !== "" && segment !== ".") depth++;
    if (depth < 0) return "climbs-out";
  }
  return "dotdot";
}

/** `./a//b/` → `a/b`; `.` → `""`. Only for paths with no problem. */
function normalize(path: string): string {
  return path.split("/").filter((s) => s !== "" && s !== ".").join("/");
}

/** A relative path in the spirit of what was written, for the fix of an error. */
function hint(path: string): string {
  const segments: string[] = [];
  const relative = path.replaceAll("\0", "").replace(/^[A-Za-z]:/, "");
  for (const segment of relative.split(/[\\/]+/)) {
    if (segment === "..") segments.pop();
    else if (segment !== "" && segment !== ".") segments.push(segment);
  }
  return segments.join("/") || ".";
}

function readKey(where: string, key: string): string {
  const problem = problemOf(key);
  if (problem === undefined) return normalize(key);
  const at = `${where}: path-map key ${quote(key)}`;
  switch (problem) {
    case "empty":
      return fail(`${at} is empty: write "." for the whole project`);
    case "nul":
      return fail(`${at} holds a NUL character: remove it`);
    case "absolute":
    case "climbs-out":
      return fail(`${at} is outside the project: keys are project paths such as "." or "src"`);
    case "backslash":
      return fail(`${at} holds a backslash: separate dirs with /, as in ${quote(hint(key))}`);
    case "dotdot":
      return fail(`${at} holds "..": write it without .., as in ${quote(hint(key))}`);
  }
}

function readTarget(where: string, key: string, to: string): string {
  const problem = problemOf(to);
  if (problem === undefined) return normalize(to);
  const at = `${where}: path-map ${quote(key)} -> ${quote(to)}`;
  switch (problem) {
    case "empty":
      return fail(`${at} is empty: map it to a path inside the run dir, or "." for the run dir`);
    case "nul":
      return fail(`${at} holds a NUL character: remove it`);
    case "absolute":
    case "climbs-out":
      return fail(
        `${at} leaves the run dir: map it to a relative path inside the run dir, e.g. ${
          quote(hint(to))
        }`,
      );
    case "backslash":
      return fail(`${at} holds a backslash: separate dirs with /, as in ${quote(hint(to))}`);
    case "dotdot":
      return fail(`${at} holds "..": write it without .., as in ${quote(hint(to))}`);
  }
}

function fail(message: string): never {
  throw new RunstageError(message);
}

// --- Mapping -------------------------------------------------------------------------

/**
 * The run-dir path of a normalized project path: the closest mapping whose `from`
 * is the path or one of its parent dirs (`src` maps `src/x`, not `srcx`), its `to`
 * joined with the rest. A path no mapping matches stays as it is.
 */
export function mapPath(map: PathMap, projectPath: string): string {
  // Most ops have no map, and this runs for every selected file.
  if (map.length === 0) return projectPath;
  for (const { from, to } of map) {
    let rest: string;
    if (from === "") rest = projectPath;
    else if (projectPath === from) rest = "";
    else if (projectPath.startsWith(from) && projectPath.charCodeAt(from.length) === SLASH) {
      rest = projectPath.slice(from.length + 1);
    } else continue;
    return to === "" ? rest : rest === "" ? to : `${to}/${rest}`;
  }
  return projectPath;
}

const SLASH = 0x2f;

/**
 * Maps the project paths of the files to stage and returns their run-dir paths,
 * in the same order. Fails when a mapping puts two files at one path, a file
 * where another needs a dir, or a file at the run dir itself.
 */
export function checkMappedPaths(files: readonly { path: string }[], map: PathMap): string[] {
  // Distinct project files stay distinct without a map: the common case costs nothing.
  if (map.length === 0) return files.map((file) => file.path);
  const runPaths = files.map((file) => mapPath(map, file.path));
  const owners = new Map<string, string>();
  runPaths.forEach((runPath, i) => {
    const path = files[i].path;
    if (runPath === "") {
      throw new RunstageError(
        `path-map puts file ${quote(path)} at the run dir itself; map it to a file path`,
      );
    }
    const owner = owners.get(runPath);
    if (owner !== undefined && owner !== path) {
      throw new RunstageError(
        `path-map puts ${quote(owner)} and ${quote(path)} both at ${quote(runPath)}; ` +
          `change the path-map`,
      );
    }
    owners.set(runPath, path);
  });
  for (const [runPath, path] of owners) {
    for (const dir of parentDirs(runPath)) {
      const owner = owners.get(dir);
      if (owner !== undefined) {
        throw new RunstageError(
          `path-map puts file ${quote(owner)} at ${quote(dir)}, where ${quote(path)} needs ` +
            `a dir (${quote(runPath)}); change the path-map`,
        );
      }
    }
  }
  return runPaths;
}

/** `a/b/c` → `a/b`, `a`. */
function parentDirs(path: string): string[] {
  const dirs: string[] = [];
  for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
    dirs.push(path.slice(0, i));
  }
  return dirs;
}

// --- Links in an existing run dir ----------------------------------------------------

/**
 * Before writing `runPath` into a run dir that may already hold files (phases,
 * dependencies, an earlier staging), fails when any existing component of it is
 * a symlink that resolves outside the run dir: writing there would write through
 * the link. Links that stay inside the run dir are fine.
 */
export async function assertNoLinkOut(runDir: string, runPath: string): Promise<void> {
  await assertNoLinksOut(runDir, [runPath]);
}

/** `assertNoLinkOut` for many paths, each shared parent dir looked at once. */
export async function assertNoLinksOut(runDir: string, runPaths: Iterable<string>): Promise<void> {
  const root = await realpath(runDir);
  const checked = new Set<string>();
  for (const runPath of runPaths) {
    let prefix = "";
    for (const segment of runPath.split("/")) {
      prefix = prefix ? `${prefix}/${segment}` : segment;
      if (checked.has(prefix)) continue;
      const st = await lstat(resolve(runDir, prefix)).catch(() => undefined);
      // Nothing there: nothing below it can be a link yet.
      if (st === undefined) break;
      checked.add(prefix);
      if (!st.isSymbolicLink()) continue;
      const target = await linkTarget(resolve(runDir, prefix));
      if (target === undefined) {
        throw new RunstageError(
          `path-map target ${quote(runPath)} goes through link ${quote(prefix)} that does ` +
            `not resolve (a loop); remove the link`,
        );
      }
      if (target !== root && !target.startsWith(root + sep)) {
        throw new RunstageError(
          `path-map target ${quote(runPath)} goes through link ${quote(prefix)} that leaves ` +
            `the run dir; remove the link or map the path elsewhere`,
        );
      }
    }
  }
}

/**
 * Where a write through the link at `abs` would land. A dangling link still has
 * one (the write would create it), so the chain is followed by hand; undefined
 * for a loop.
 */
async function linkTarget(abs: string): Promise<string | undefined> {
  const real = await realpath(abs).catch(() => undefined);
  if (real !== undefined) return real;
  let at = abs;
  for (let hops = 0; hops < MAX_LINK_HOPS; hops++) {
    const st = await lstat(at).catch(() => undefined);
    if (!st?.isSymbolicLink()) return at;
    const parent = await realpath(dirname(at)).catch(() => dirname(at));
    at = resolve(parent, await readlink(at));
  }
  return undefined;
}

// As many as Linux follows before ELOOP.
const MAX_LINK_HOPS = 40;

/** Quoted as written, on one line: JSON would double every backslash. */
function quote(text: string): string {
  return `"${text.replace(/\r/g, "\\r").replace(/\n/g, "\\n").replace(/\0/g, "\\0")}"`;
}
