/**
 * A claim on a run: how `delete`, `restore` and `purge` decide, when two of
 * them act on one run at once, which one gets it. A run is three parts, and no
 * single rename moves three parts; so the command first makes a claim dir of
 * its own, `<runs home>/.claim-<verb>-<from>-<id>-<owner>`, and renames the
 * run's meta dir into it. That one rename is the contest: the meta dir can be
 * renamed away once, so exactly one command wins, and the others find it gone
 * and say who took it. The winner then moves the run dir and `.project` into
 * the claim too (no one else touches a run whose meta dir it holds), and from
 * there to where they go: the trash, the runs home, or nowhere (purge).
 *
 * The claim's name says who made it (lib/run/owner.ts) and what for, so that
 * when its maker was killed the next command that writes to the runs home
 * finishes the job (`finishClaim`): no run is ever left split between places.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Run, runAt } from "./identity.ts";
import { trashDir } from "./listing.ts";
import { OWNER_TAG, ownerTag, tagOwnerGone } from "./owner.ts";

export type ClaimVerb = "delete" | "restore" | "purge";
/** Where the run was when claimed: the runs home or its trash. */
export type ClaimFrom = "home" | "trash";

export interface Claim {
  verb: ClaimVerb;
  dir: string;
  /** The run where it was; its parts are put back there if the command gives up. */
  origin: Run;
  /** The run's parts as they are now, inside the claim dir. */
  held: Run;
}

const CLAIM_NAME = new RegExp(
  `^\\.claim-(delete|restore|purge)-(home|trash)-([0-9a-f-]{36})-(${OWNER_TAG})$`,
);

const DOING: Record<ClaimVerb, string> = {
  delete: "deleting",
  restore: "restoring",
  purge: "purging",
};

/** A claim that another command won; its message says what became of the run. */
export class ClaimLost extends Error {
  constructor(readonly run: Run, readonly happened: string) {
    super(happened);
    this.name = "ClaimLost";
  }
}

/**
 * Claims `run` (in the runs home or its trash) for `verb`. Throws ClaimLost
 * when another command took the run first.
 */
export function claimRun(runsHome: string, run: Run, verb: ClaimVerb): Claim {
  const from: ClaimFrom = run.runsHome === runsHome ? "home" : "trash";
  const dir = join(runsHome, `.claim-${verb}-${from}-${run.id}-${ownerTag()}`);
  mkdirSync(dir);
  const held = runAt(dir, run.id, run.name);
  try {
    renameSync(run.metaDir, held.metaDir);
  } catch (err) {
    rmdirSync(dir);
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    throw new ClaimLost(run, whatHappened(runsHome, run, from));
  }
  const claim = { verb, dir, origin: run, held };
  // The meta dir is ours: the rest of the run follows it; a part a half-written run lacks is skipped.
  try {
    movePart(run.runDir, held.runDir);
    movePart(run.projectRef, held.projectRef);
  } catch (err) {
    undoClaim(claim);
    throw err;
  }
  return claim;
}

/** Moves a claimed run to `home` (the trash or the runs home), meta dir last; ends the claim. */
export function releaseClaim(claim: Claim, home: string): Run {
  const target = runAt(home, claim.origin.id, claim.origin.name);
  moveRun(claim.held, target);
  rmdirSync(claim.dir);
  return target;
}

/** Puts a claimed run back where it was and ends the claim. */
export function undoClaim(claim: Claim): void {
  moveRun(claim.held, claim.origin);
  rmdirSync(claim.dir);
}

/** Removes a claimed run for good, claim dir and all. */
export function removeClaim(claim: Claim): void {
  rmSync(claim.dir, { recursive: true, force: true });
}

/**
 * Moves a run's parts from one place to another, meta dir last, so it is listed
 * only once whole; a failed move undoes the ones before it.
 */
export function moveRun(from: Run, to: Run): void {
  const done: [string, string][] = [];
  try {
    for (const part of ["runDir", "projectRef", "metaDir"] as const) {
      if (movePart(from[part], to[part])) done.push([from[part], to[part]]);
    }
  } catch (err) {
    for (const [a, b] of done.reverse()) renameSync(b, a);
    throw err;
  }
}

/** Renames one part if it is there; false when it is not. */
function movePart(from: string, to: string): boolean {
  try {
    renameSync(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && !existsSync(from)) return false;
    throw err;
  }
}

/**
 * What became of a run whose meta dir was gone when we came to claim it. A
 * claim still there means another command is at it; else where the meta dir
 * is now says what that command did.
 */
function whatHappened(runsHome: string, run: Run, from: ClaimFrom): string {
  const other = claimsIn(runsHome).find((c) => c.id === run.id);
  if (other) return `another command is ${DOING[other.verb]} it right now`;
  const inHome = existsSync(join(runsHome, `${run.id}.meta`));
  const inTrash = existsSync(join(trashDir(runsHome), `${run.id}.meta`));
  if (from === "home" && inTrash) return "it was deleted by another command meanwhile";
  if (from === "trash" && inHome) return "it was restored by another command meanwhile";
  if (inHome || inTrash) return "another command moved it meanwhile; try again";
  return "it was purged by another command meanwhile";
}

interface ClaimName {
  name: string;
  verb: ClaimVerb;
  from: ClaimFrom;
  id: string;
  owner: string;
}

function claimsIn(runsHome: string): ClaimName[] {
  let names: string[];
  try {
    names = readdirSync(runsHome);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const m = CLAIM_NAME.exec(name);
    return m
      ? [{ name, verb: m[1] as ClaimVerb, from: m[2] as ClaimFrom, id: m[3], owner: m[4] }]
      : [];
  });
}

/**
 * Finishes the claims of commands that were killed (their owner is gone), as
 * they would have: a delete's run goes to the trash, a restore's to the runs
 * home, a purge's is removed. Parts the command had not yet moved into its
 * claim are taken from where the run was: its meta dir is in the claim, so
 * they are this run's and no one else's. Live claims are left alone. Returns
 * the claim dirs finished.
 */
export function finishDeadClaims(runsHome: string): string[] {
  const finished: string[] = [];
  for (const c of claimsIn(runsHome)) {
    if (!tagOwnerGone(c.owner)) continue;
    const dir = join(runsHome, c.name);
    const held = runAt(dir, c.id, "");
    if (!existsSync(held.metaDir)) {
      // Killed before the meta dir moved in or after it moved out (the claim is empty),
      // or in the middle of a purge's removal.
      if (c.verb === "purge") rmSync(dir, { recursive: true, force: true });
      else removeIfEmpty(dir);
      finished.push(dir);
      continue;
    }
    const origin = runAt(c.from === "home" ? runsHome : trashDir(runsHome), c.id, "");
    movePart(origin.runDir, held.runDir);
    movePart(origin.projectRef, held.projectRef);
    if (c.verb === "purge") rmSync(dir, { recursive: true, force: true });
    else {
      const home = c.verb === "delete" ? trashDir(runsHome) : runsHome;
      mkdirSync(home, { recursive: true });
      moveRun(held, runAt(home, c.id, ""));
      rmdirSync(dir);
    }
    finished.push(dir);
  }
  return finished;
}

/** Removes a dir if it is empty; else, or if it is gone, leaves it. */
export function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty, or not there: either way there is nothing to tidy.
  }
}
