/**
 * Putting resolved dependencies into the run dir (copies keeping their modes,
 * or symlinks to the absolute source path), and meta `deps.json`.
 */
import { mkdir, rm, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type CopiedFile, copySourceFiles, type FileToCopy } from "../copy/copy.ts";
import { RunstageError } from "../errors.ts";
import { describeDep, type ResolvedDependency } from "./resolve.ts";
import { lstatOrUndefined, statOrUndefined } from "../fs/stat.ts";
import { quotePath } from "../fs/quote.ts";

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
      const st = statOrUndefined(file.from);
      if (!st?.isFile()) {
        throw new RunstageError(
          `${describeDep(dep)}: ${quotePath(file.from)}` +
            ` is gone since the run was staged; run again`,
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
  const st = lstatOrUndefined(dest);
  if (!st) return;
  if (st.isDirectory()) {
    throw new RunstageError(
      `cannot put dependency file ${quotePath(path)} in the run dir: a directory is there`,
    );
  }
  await rm(dest);
}

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
