/**
 * Import against the runs home: which of an archive's runs are there already
 * (to skip, or to refuse when their content differs), and the move from the
 * staging dir into place, all runs or none, meta dir last. What each new run
 * must be to be let in is admit.ts. Split from import.ts, which runs these steps in order
 * and cleans up whatever happens.
 */
import { chmod } from "node:fs/promises";
import { renameSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type ArchivedRun,
  type ArchiveIndex,
  describeRun,
  entriesByRun,
  runPartPaths,
  sameContent,
} from "./format.ts";
import { RunstageError } from "../errors.ts";
import { checkAborted } from "../interrupt.ts";
import { comparePaths } from "../fs/pathorder.ts";

/**
 * The index's runs already in the runs home with the same content, to skip.
 * A run id there with other content (or only some of its parts) refuses the
 * whole import: which of the two is right is for the user to say.
 */
export async function presentRuns(
  runsHome: string,
  index: ArchiveIndex,
  signal?: AbortSignal,
): Promise<string[]> {
  const ids = index.runs.map((r) => r.id);
  const byRun = entriesByRun(index);
  const present: string[] = [];
  for (const run of index.runs) {
    const there = runPartPaths(run.id).some((p) => statSync(join(runsHome, p), NO_THROW));
    if (!there) continue;
    checkAborted(signal);
    const existing = await describeRun(runsHome, run.id, { within: ids, signal });
    const same = existing.outsideLinks.length === 0 && existing.special.length === 0 &&
      sameContent(existing.entries, byRun.get(run.id)!);
    if (!same) {
      throw new RunstageError(
        `cannot import: run ${run.name} (${run.id}) is already in ${runsHome} with different` +
          ` content; purge or delete it there first, or import into another runs home` +
          ` (--runs DIR); nothing was imported`,
      );
    }
    present.push(run.id);
  }
  return present;
}

const NO_THROW = { throwIfNoEntry: false } as const;

/**
 * Renames each run's parts from the staging dir into the runs home, meta dir
 * last: it is what makes a run listed, so no one sees a run whose other parts
 * have not arrived. Every target is checked first, and a failed rename undoes
 * the ones before it.
 */
export function moveIntoPlace(staging: string, runsHome: string, runs: ArchivedRun[]): void {
  const moves: [from: string, to: string][] = [];
  for (const run of runs) {
    // Meta dir last, as above.
    for (const part of [run.id, `${run.id}.project`, `${run.id}.meta`]) {
      const from = join(staging, part);
      const to = join(runsHome, part);
      if (statSync(to, NO_THROW)) {
        throw new RunstageError(
          `cannot import: ${to} appeared while importing; nothing was imported, import again`,
        );
      }
      if (statSync(from, NO_THROW)) moves.push([from, to]);
    }
  }
  const done: [string, string][] = [];
  try {
    for (const [from, to] of moves) {
      renameSync(from, to);
      done.push([from, to]);
    }
  } catch (err) {
    for (const [from, to] of done.reverse()) renameSync(to, from);
    throw err;
  }
}

/**
 * Dir modes from the index, deepest first, once the runs are in place: a
 * read-only dir set earlier could not have been written into, or moved.
 */
export async function applyDirModes(runsHome: string, index: ArchiveIndex, runs: ArchivedRun[]) {
  const roots = new Set(runs.flatMap((r) => runPartPaths(r.id)));
  const dirs = index.entries
    .filter((e) => e.type === "dir" && roots.has(e.path.split("/")[0]))
    .sort((a, b) => comparePaths(b.path, a.path));
  for (const dir of dirs) await chmod(join(runsHome, dir.path), (dir as { mode: number }).mode);
}
