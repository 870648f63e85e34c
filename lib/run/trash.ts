/**
 * Deleting, restoring and purging runs. A deleted run keeps its three parts
 * (`<id>/`, `<id>.meta/`, `<id>.project`) unchanged in `<runs home>/.trash/`,
 * laid out like a runs home, so restoring it is moving them back. Both moves
 * are renames within one file system: instant, whatever the run's size.
 *
 * Each run is first claimed (lib/run/claim.ts): one rename of its meta dir
 * into a claim dir of this command's own decides, when two commands act on one
 * run at once, which of them gets it, and the other says what became of it.
 * Since the meta dir is what makes a run listed, a claimed run is in no
 * listing until it arrives whole where it goes, meta dir last.
 */
import { existsSync, mkdirSync } from "node:fs";
import { RunstageError } from "../errors.ts";
import { quotePath } from "../fs/quote.ts";
import {
  type Claim,
  ClaimLost,
  claimRun,
  type ClaimVerb,
  moveRun,
  releaseClaim,
  removeClaim,
  removeIfEmpty,
  undoClaim,
} from "./claim.ts";
import { type Run, runAt } from "./identity.ts";
import { type RunInfo, runningLock, trashDir } from "./listing.ts";
import { thisHost } from "./lock.ts";

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
    const lock = runningLock(run);
    if (lock !== undefined) {
      const where = lock.host === undefined || lock.host === thisHost()
        ? ""
        : ` on host ${lock.host}`;
      throw new RunstageError(
        `cannot ${verb} run ${run.name}: it is running (pid ${lock.pid}${where}); wait for it` +
          ` to finish or stop that process first`,
      );
    }
  }
}

/** Moves live runs into the trash. Returns the runs as they now are, in the trash. */
export function deleteRuns(runsHome: string, runs: RunInfo[]): Run[] {
  checkNotRunning(runs, "delete");
  return moveRuns(
    runsHome,
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
    runsHome,
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
  const claims = claimAll(runsHome, runs.map((r) => r.run), "purge");
  for (const claim of claims) removeClaim(claim);
  removeIfEmpty(trashDir(runsHome));
}

/**
 * Claims every run, then moves each to `home`, meta dir last (see the module
 * comment). Every target is checked before anything moves, and a move that
 * fails undoes the ones before it: the runs home ends as it was or as asked,
 * never in between.
 */
function moveRuns(
  runsHome: string,
  runs: Run[],
  home: string,
  verb: "delete" | "restore",
  clash: (run: Run) => string,
): Run[] {
  for (const run of runs) {
    const there = runParts(runIn(home, run));
    if (runParts(run).some((p, i) => existsSync(p) && existsSync(there[i]))) {
      throw new RunstageError(clash(run));
    }
  }
  const claims = claimAll(runsHome, runs, verb);
  const createdHome = !existsSync(home);
  const done: Claim[] = [];
  try {
    mkdirSync(home, { recursive: true });
    for (const claim of claims) {
      releaseClaim(claim, home);
      done.push(claim);
    }
  } catch (err) {
    for (const claim of done.reverse()) moveRun(runIn(home, claim.origin), claim.origin);
    for (const claim of claims.filter((c) => !done.includes(c))) undoClaim(claim);
    if (createdHome) removeIfEmpty(home);
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new RunstageError(
      `cannot ${verb} runs: moving into ${quotePath(home)} failed (${reason}); nothing was moved`,
    );
  }
  return runs.map((run) => runIn(home, run));
}

/**
 * Claims each run for `verb`; when another command has taken one, gives back
 * the ones claimed so far and says what became of that run.
 */
function claimAll(runsHome: string, runs: Run[], verb: ClaimVerb): Claim[] {
  const claims: Claim[] = [];
  try {
    for (const run of runs) claims.push(claimRun(runsHome, run, verb));
  } catch (err) {
    for (const claim of claims.reverse()) undoClaim(claim);
    if (!(err instanceof ClaimLost)) throw err;
    throw new RunstageError(
      `cannot ${verb} run ${err.run.name}: ${err.happened}; nothing was ${PAST[verb]}`,
    );
  }
  return claims;
}

const PAST: Record<ClaimVerb, string> = { delete: "deleted", restore: "restored", purge: "purged" };
