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
import { readlink, realpath } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";
import { parentDirs } from "../fs/pathorder.ts";
import { quotePath } from "../fs/quote.ts";
import type { PathMap } from "../gagefile/pathmap.ts";
import { RunstageError } from "../errors.ts";
import { lstatOrUndefined, realPathOrUndefined } from "../fs/stat.ts";

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
        `path-map puts file ${quotePath(path)} at the run dir itself; map it to a file path`,
      );
    }
    const owner = owners.get(runPath);
    if (owner !== undefined && owner !== path) {
      throw new RunstageError(
        `path-map puts ${quotePath(owner)} and ${quotePath(path)} both at ${quotePath(runPath)}; ` +
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
          `path-map puts file ${quotePath(owner)} at ${quotePath(dir)}, where ${
            quotePath(path)
          } needs ` +
            `a dir (${quotePath(runPath)}); change the path-map`,
        );
      }
    }
  }
  return runPaths;
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
      const st = lstatOrUndefined(resolve(runDir, prefix));
      // Nothing there: nothing below it can be a link yet.
      if (st === undefined) break;
      checked.add(prefix);
      if (!st.isSymbolicLink()) continue;
      const target = await linkTarget(resolve(runDir, prefix));
      if (target === undefined) {
        throw new RunstageError(
          `path-map target ${quotePath(runPath)} goes through link ${
            quotePath(prefix)
          } that does ` +
            `not resolve (a loop); remove the link`,
        );
      }
      if (target !== root && !target.startsWith(root + sep)) {
        throw new RunstageError(
          `path-map target ${quotePath(runPath)} goes through link ${
            quotePath(prefix)
          } that leaves ` +
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
  const real = realPathOrUndefined(abs);
  if (real !== undefined) return real;
  let at = abs;
  for (let hops = 0; hops < MAX_LINK_HOPS; hops++) {
    const st = lstatOrUndefined(at);
    if (!st?.isSymbolicLink()) return at;
    const parent = realPathOrUndefined(dirname(at)) ?? dirname(at);
    at = resolve(parent, await readlink(at));
  }
  return undefined;
}

// As many as Linux follows before ELOOP.
const MAX_LINK_HOPS = 40;
