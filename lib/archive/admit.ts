/**
 * What an archive's run must be to be let into a runs home, beyond matching
 * the index entry by entry (extract.ts), and whether the runs home has room
 * for the archive at all. An index can be written to agree with any files, so
 * import holds each run to its own record: a run that was staged has a
 * manifest, and its files are exactly the manifest's (as `verify` would
 * check them); the one-line meta files that listings show hold no control
 * characters. All of it is checked in the staging dir, before anything moves.
 */
import { statfsSync } from "node:fs";
import { type ArchiveIndex, ArchiveRefusal, hasControlCharacter } from "./format.ts";
import { RunstageError } from "../errors.ts";
import { quotePath } from "../fs/quote.ts";
import type { Run } from "../run/identity.ts";
import { type HashProgress, readManifest, verifyRunFiles } from "../run/manifest.ts";
import { runMeta } from "../run/meta.ts";
import { readMetaText } from "../run/metafile.ts";

/**
 * Refuses an archive whose files would not fit in the free space of the runs
 * home's file system (each file rounded up to whole blocks, a block for each
 * dir and link), before anything is extracted.
 */
export function checkFreeSpace(file: string, runsHome: string, index: ArchiveIndex): void {
  const fs = statfsSync(runsHome);
  const block = Number(fs.bsize) || 4096;
  const free = Number(fs.bavail) * block;
  let needed = 0;
  for (const entry of index.entries) {
    needed += entry.type === "file" ? Math.ceil(entry.size / block) * block : block;
  }
  if (needed > free) {
    throw new RunstageError(
      `cannot import ${quotePath(file)}: the disk is too full: its runs need ${megabytes(needed)}` +
        ` and ${quotePath(runsHome)} has ${megabytes(free)} free; free some space there, or` +
        ` import into another runs home (--runs DIR); nothing was imported`,
    );
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * Holds a run in the staging dir to its own record: its one-line meta, its
 * manifest (there when the run was staged), its files against the manifest.
 * An aborted `signal` stops it (RunInterrupted).
 */
export async function checkRun(
  run: Run,
  signal?: AbortSignal,
  onProgress?: (progress: HashProgress) => void,
): Promise<void> {
  checkMetaText(run);
  const manifest = readManifest(run);
  if (manifest === undefined) {
    const staged = runMeta.staged.exists(run) || runMeta.exit.read(run) === 0;
    if (!staged) return; // never staged: nothing to hold it to
    throw new ArchiveRefusal(
      `run ${run.name} was staged but has no manifest, so its files cannot be verified` +
        ` (tampered or incomplete)`,
    );
  }
  const report = await verifyRunFiles(run, manifest, signal, onProgress);
  const problems = [
    ...report.modified.map((p) => `modified ${quotePath(p)}`),
    ...report.missing.map((p) => `missing ${quotePath(p)}`),
    ...report.unexpected.map((p) => `unexpected ${quotePath(p)}, which the manifest does not list`),
  ];
  if (problems.length > 0) {
    throw new ArchiveRefusal(
      `run ${run.name} does not match its own manifest (${problems[0]}` +
        `${problems.length > 1 ? `, and ${problems.length - 1} more` : ""})`,
    );
  }
}

/** The one-line meta files that listings, `show` and messages print. */
const ONE_LINE_META = [
  runMeta.schema,
  runMeta.id,
  runMeta.name,
  runMeta.opref,
  runMeta.initialized,
  runMeta.staged,
  runMeta.started,
  runMeta.stopped,
  runMeta.exit,
  runMeta.lock,
  runMeta.label,
];

/** Refuses control characters (but a final newline) in the one-line meta files. */
function checkMetaText(run: Run): void {
  const file = metaWithControlCharacters(run);
  if (file !== undefined) {
    throw new ArchiveRefusal(
      `run ${run.name} has control characters in its meta file ${quotePath(file)}` +
        ` (tampered, or not written by runstage)`,
    );
  }
}

/**
 * The first one-line meta file of `run` holding a control character (but a
 * final newline), which import refuses; export asks before it writes.
 */
export function metaWithControlCharacters(run: Run): string | undefined {
  return ONE_LINE_META.find((file) => {
    const text = readMetaText(run, file.name);
    return text !== undefined && hasControlCharacter(text.replace(/\n$/, ""));
  })?.name;
}
