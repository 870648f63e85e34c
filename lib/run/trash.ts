/**
 * Deleting, restoring and purging runs. A deleted run keeps its three parts
 * (`<id>/`, `<id>.meta/`, `<id>.project`) unchanged in `<runs home>/.trash/`,
 * laid out like a runs home, so restoring it is moving them back. Both moves
 * are renames within one file system: instant, whatever the run's size, and
 * atomic per part.
 *
 * The meta dir is what makes a run listed, so it moves first when a run leaves
 * a listing and last when it joins one: a reader never sees a listed run whose
 * other parts we have not moved yet.
 */
import { existsSync, mkdirSync, renameSync, rmdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { RunstageError } from "../errors.ts";
import { type Run, runAt } from "./identity.ts";
import { type RunInfo, runningPid, trashDir } from "./listing.ts";

/** A run's parts, meta dir first. */
function runParts(run: Run): string[] {
  return [run.metaDir, run.runDir, run.projectRef];
}

/** Where a run lives in another home (the runs home or its trash). */
function runIn(home: string, run: Run): Run {
  return runAt(home, run.id, run.name);
}

/** Running runs cannot be moved or removed: their process is still writing them. */
export function checkNotRunning(runs: RunInfo[], verb: string): void {
  for (const { run } of runs) {
    const pid = runningPid(run);
    if (pid !== undefined) {
      throw new RunstageError(
        `cannot ${verb} run ${run.name}: it is running (pid ${pid}); wait for it to finish` +
          ` or stop that process first`,
      );
    }
  }
}

/** Moves live runs into the trash. Returns the runs as they now are, in the trash. */
export function deleteRuns(runsHome: string, runs: RunInfo[]): Run[] {
  checkNotRunning(runs, "delete");
  return moveRuns(
    runs.map((r) => r.run),
    trashDir(runsHome),
    "delete",
    (run) =>
      `run ${run.name} is already in the trash: purge it there first` +
      ` ("runstage purge --deleted ${run.id}")`,
  );
}

/** Moves deleted runs back into the runs home. */
export function restoreRuns(runsHome: string, runs: RunInfo[]): Run[] {
  const moved = moveRuns(
    runs.map((r) => r.run),
    runsHome,
    "restore",
    (run) =>
      `cannot restore run ${run.name}: ${run.id} is also in the runs home; purge one of the two first`,
  );
  removeIfEmpty(trashDir(runsHome));
  return moved;
}

/** Removes runs for good, live or deleted. */
export function purgeRuns(runsHome: string, runs: RunInfo[]): void {
  checkNotRunning(runs, "purge");
  for (const { run } of runs) {
    for (const part of runParts(run)) rmSync(part, { recursive: true, force: true });
  }
  removeIfEmpty(trashDir(runsHome));
}

/**
 * Moves every run's parts to `home`, meta dirs first (see the module comment;
 * restores move them last). Every target is checked before anything moves, and
 * a move that fails undoes the ones before it: the runs home ends as it was or
 * as asked, never in between.
 */
function moveRuns(
  runs: Run[],
  home: string,
  verb: "delete" | "restore",
  clash: (run: Run) => string,
): Run[] {
  const moves: [from: string, to: string][] = [];
  for (const run of runs) {
    const target = runIn(home, run);
    const from = runParts(run);
    const to = runParts(target);
    if (to.some((p, i) => existsSync(from[i]) && existsSync(p))) {
      throw new RunstageError(clash(run));
    }
    // A part a half-written run lacks is simply not moved.
    const pairs = from.map((p, i) => [p, to[i]] as [string, string])
      .filter(([p]) => existsSync(p));
    moves.push(...(verb === "restore" ? pairs.reverse() : pairs));
  }
  const createdHome = !existsSync(home);
  const done: [string, string][] = [];
  try {
    mkdirSync(home, { recursive: true });
    for (const [from, to] of moves) {
      renameSync(from, to);
      done.push([from, to]);
    }
  } catch (err) {
    for (const [from, to] of done.reverse()) renameSync(to, from);
    if (createdHome) removeIfEmpty(home);
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new RunstageError(
      `cannot ${verb} runs: moving into ${dirname(moves[done.length]?.[1] ?? home)} failed` +
        ` (${reason}); nothing was moved`,
    );
  }
  return runs.map((run) => runIn(home, run));
}

/** The trash goes away with its last run, so a delete and restore leave no trace. */
function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty, or not there: either way there is nothing to tidy.
  }
}
