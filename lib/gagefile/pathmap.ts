/**
 * Reading an op's `path-map` table: the Gage file side of path maps. Applying a
 * map to selected files, and refusing links out of the run dir, is
 * lib/source/pathmap.ts.
 */
import { comparePaths } from "../fs/pathorder.ts";
import { quotePath } from "../fs/quote.ts";
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
        `${where}: path-map keys ${quotePath(twin.key)} and ${quotePath(key)} both name ` +
          `${quotePath(mapping.from || ".")}; keep one`,
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
  const at = `${where}: path-map key ${quotePath(key)}`;
  switch (problem) {
    case "empty":
      return fail(`${at} is empty: write "." for the whole project`);
    case "nul":
      return fail(`${at} holds a NUL character: remove it`);
    case "absolute":
    case "climbs-out":
      return fail(`${at} is outside the project: keys are project paths such as "." or "src"`);
    case "backslash":
      return fail(`${at} holds a backslash: separate dirs with /, as in ${quotePath(hint(key))}`);
    case "dotdot":
      return fail(`${at} holds "..": write it without .., as in ${quotePath(hint(key))}`);
  }
}

function readTarget(where: string, key: string, to: string): string {
  const problem = problemOf(to);
  if (problem === undefined) return normalize(to);
  const at = `${where}: path-map ${quotePath(key)} -> ${quotePath(to)}`;
  switch (problem) {
    case "empty":
      return fail(`${at} is empty: map it to a path inside the run dir, or "." for the run dir`);
    case "nul":
      return fail(`${at} holds a NUL character: remove it`);
    case "absolute":
    case "climbs-out":
      return fail(
        `${at} leaves the run dir: map it to a relative path inside the run dir, e.g. ${
          quotePath(hint(to))
        }`,
      );
    case "backslash":
      return fail(`${at} holds a backslash: separate dirs with /, as in ${quotePath(hint(to))}`);
    case "dotdot":
      return fail(`${at} holds "..": write it without .., as in ${quotePath(hint(to))}`);
  }
}

function fail(message: string): never {
  throw new RunstageError(message);
}
