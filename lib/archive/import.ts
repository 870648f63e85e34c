/**
 * `runstage import`: runs from an archive that `runstage export` wrote (see
 * lib/archive/format.ts), into a runs home, provably intact or not at all.
 *
 * The archive is streamed once into a dot-named staging dir inside the runs
 * home (which `listRuns` ignores, and from which a rename into place is
 * instant), and checked as it streams: the index first, then every entry
 * against it (its path, type, size, digest, link target), then every run's
 * manifest against its files. Only when all of that holds do the runs move
 * into place, all of them or none. Whatever fails, the staging dir goes, and
 * a runs home that did not exist before does not exist after. The staging
 * dir's name says whose it is (lib/run/leftovers.ts), so that of an import
 * killed with kill -9 is removed by the next command that writes to the runs
 * home, and that of an import still at work never is.
 *
 * Streaming and checking entries is extract.ts; what a run must be to be let
 * in (its manifest, its meta) and whether the disk has room is admit.ts; the
 * runs home side (runs already there, the move into place) is place.ts. This module runs
 * those steps in order and owns the cleanup.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { type ArchiveIndex, ArchiveRefusal, entriesByRun, type FileEntry } from "./format.ts";
import { RunstageError } from "../errors.ts";
import { checkAborted } from "../interrupt.ts";
import type { ArchiveProgress } from "./export.ts";
import { runAt } from "../run/identity.ts";
import type { HashProgress } from "../run/manifest.ts";
import { importStagingPrefix, sweepRunsHome } from "../run/leftovers.ts";
import { extractArchive, isDiskFull, isSystemError } from "./extract.ts";
import { applyDirModes, moveIntoPlace, presentRuns } from "./place.ts";
import { checkFreeSpace, checkRun } from "./admit.ts";
import { quotePath } from "../fs/quote.ts";

export interface ImportOptions {
  onProgress?: (progress: ArchiveProgress) => void;
  /** Aborting stops the import with RunInterrupted; the runs home is left as it was. */
  signal?: AbortSignal;
}

export type ImportStatus = "imported" | "already present";

export interface ImportedRun {
  id: string;
  name: string;
  status: ImportStatus;
  files: number;
  /** File content bytes. */
  bytes: number;
}

export interface ImportReport {
  file: string;
  runsHome: string;
  /** In the index's order. */
  runs: ImportedRun[];
}

/**
 * Imports the runs of `file` into `runsHome`. Runs already there with the same
 * content are skipped; a run id there with other content refuses the import.
 * Throws a RunstageError naming the first fault, or RunInterrupted once
 * `options.signal` is aborted (checked up to the moment the runs move); the
 * runs home is then as it was.
 */
export async function importArchive(
  file: string,
  runsHome: string,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const size = archiveSize(file);
  const gzip = await startsWithGzipMagic(file);
  const createdHome = makeRunsHome(runsHome);
  // What killed imports and deletes left here goes first; a live import's staging dir stays.
  sweepRunsHome(runsHome);
  let staging: string | undefined;
  try {
    staging = mkdtempSync(join(runsHome, importStagingPrefix()));
    const present = new Set<string>();
    const index = await extractArchive(file, gzip, staging, size, options, async (index) => {
      for (const id of await presentRuns(runsHome, index, options.signal)) present.add(id);
      checkFreeSpace(file, runsHome, index);
    });
    const todo = index.runs.filter((r) => !present.has(r.id));
    const checking = checkingProgress(index, todo, options.onProgress);
    for (const run of todo) {
      await checkRun(runAt(staging!, run.id, run.name), options.signal, checking.onRun);
      checking.runDone();
    }
    // The last moment to stop: once runs move, the import completes.
    checkAborted(options.signal);
    moveIntoPlace(staging, runsHome, todo);
    await applyDirModes(runsHome, index, todo);
    return report(file, runsHome, index, present);
  } catch (err) {
    // A runs home made for this import goes with it, staging dir and all.
    if (createdHome !== undefined) rmSync(createdHome, { recursive: true, force: true });
    throw importError(file, runsHome, err);
  } finally {
    if (staging !== undefined) rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Progress of checking the runs to import against their manifests, over all of
 * them: each run's hashing adds to what the runs before it hashed.
 */
function checkingProgress(
  index: ArchiveIndex,
  todo: readonly { id: string }[],
  report: ((progress: ArchiveProgress) => void) | undefined,
): { onRun?: (progress: HashProgress) => void; runDone(): void } {
  const byRun = entriesByRun(index);
  // What verify hashes: the files of each run dir (links to files add to it, a little).
  const totalBytes = todo.flatMap((r) =>
    (byRun.get(r.id) ?? []).filter((e) => e.path.startsWith(`${r.id}/`))
  )
    .reduce((n, e) => n + (e.type === "file" ? e.size : 0), 0);
  const progress: ArchiveProgress = { step: "checking", bytes: 0, totalBytes };
  let before = 0;
  let run = 0;
  return {
    onRun: report && ((p) => {
      run = p.bytes;
      progress.bytes = before + run;
      report(progress);
    }),
    runDone() {
      before += run;
      run = 0;
    },
  };
}

function archiveSize(file: string): number {
  const st = statSync(file, { throwIfNoEntry: false });
  if (st === undefined) throw new RunstageError(`cannot import ${quotePath(file)}: no such file`);
  if (!st.isFile()) throw new RunstageError(`cannot import ${quotePath(file)}: not a file`);
  return st.size;
}

/** Gzip or not by its first bytes, whatever the file is called. */
async function startsWithGzipMagic(file: string): Promise<boolean> {
  const fh = await open(file, "r").catch((err: NodeJS.ErrnoException) => {
    throw new RunstageError(`cannot import ${quotePath(file)}: cannot read it (${err.code})`);
  });
  try {
    const head = new Uint8Array(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Creates the runs home if needed; returns the outermost dir it created, to remove on failure. */
function makeRunsHome(runsHome: string): string | undefined {
  try {
    return mkdirSync(runsHome, { recursive: true });
  } catch (err) {
    throw new RunstageError(
      `cannot import into ${runsHome}: cannot create it (${(err as NodeJS.ErrnoException).code});` +
        ` pass --runs DIR with a directory you can write`,
    );
  }
}

/** One line for what went wrong; errors of our own checks already are. */
function importError(file: string, runsHome: string, err: unknown): unknown {
  if (err instanceof RunstageError) return err;
  const nothing = "nothing was imported";
  if (err instanceof ArchiveRefusal) {
    return new RunstageError(`cannot import ${file}: ${err.message}; ${nothing}`);
  }
  if (isDiskFull(err)) {
    return new RunstageError(
      `cannot import ${quotePath(file)}: the disk is full (no space left in` +
        ` ${quotePath(runsHome)}); ${nothing}; free some space there, or import into another` +
        ` runs home (--runs DIR)`,
    );
  }
  if (isSystemError(err)) {
    const code = (err as NodeJS.ErrnoException).code;
    return new RunstageError(
      `cannot import ${file}: writing into ${runsHome} failed (${code}); ${nothing}`,
    );
  }
  return err;
}

function report(
  file: string,
  runsHome: string,
  index: ArchiveIndex,
  present: Set<string>,
): ImportReport {
  const byRun = entriesByRun(index);
  return {
    file,
    runsHome,
    runs: index.runs.map((run) => {
      const files = byRun.get(run.id)!.filter((e): e is FileEntry => e.type === "file");
      return {
        id: run.id,
        name: run.name,
        status: present.has(run.id) ? "already present" : "imported",
        files: files.length,
        bytes: files.reduce((n, e) => n + e.size, 0),
      };
    }),
  };
}
