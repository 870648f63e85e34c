/**
 * Live runs after staging: a live run's source files are symlinks into the
 * project (lib/stage/sources/live.ts makes them), so an edit there is what the
 * next `start` runs, without restaging. Meta `live` holds the project dir the
 * links point into; the manifest is rewritten with the linked files' digests
 * at every start, so it always names the code the last start ran.
 */
import { chmodSync, copyFileSync, renameSync, statSync } from "node:fs";
import process from "node:process";
import { join } from "node:path";
import type { RunFiles } from "../run/fileslog.ts";
import { writeManifest } from "../run/manifest.ts";
import { logRunner, runMeta } from "../run/meta.ts";
import type { Run } from "../run/identity.ts";
import { isLiveLink } from "../run/live.ts";
import { clearLiveProject, liveProjectDir } from "../run/projectdir.ts";

/**
 * At the start of a live run: logs the linked source files that changed since
 * the last start (`m s` in log/files) and rewrites the manifest with their new
 * digests, so the manifest names the code this start runs. `files` comes from
 * readStagedRun, where a changed file has lost its digest. Returns how many changed.
 */
export async function refreshLiveSource(run: Run, files: RunFiles): Promise<number> {
  const changed = files.logEditedSources();
  logRunner(
    run,
    `Live source: ${changed.length} linked file${changed.length === 1 ? "" : "s"}` +
      " changed since the last start (see log/files)",
  );
  await writeManifest(run, files);
  return changed.length;
}

/**
 * Makes a finished live run startable again: its start and end (`started`,
 * `stopped`, `proc/exit`) are cleared, so it reads as staged (a started run
 * that has not ended reads as error); output files are rewritten by the next start.
 */
export function reopenLiveRun(run: Run): void {
  logRunner(run, "Reopening live run for another start");
  // `proc/exit` last: until it goes, the run reads as it ended.
  runMeta.started.remove(run);
  runMeta.stopped.remove(run);
  runMeta.exit.remove(run);
}

/**
 * Turns a live run into a snapshot: each link into the project is replaced by a
 * copy of what it points at now, meta `live` is removed and the manifest
 * rewritten. Returns how many files were frozen and how many of them differ
 * from what the last start ran (their digests had changed).
 */
export async function freezeLiveRun(
  run: Run,
  files: RunFiles,
): Promise<{ frozen: number; changedSinceStart: number }> {
  const projectDir = liveProjectDir(run);
  if (projectDir === undefined) throw new Error(`run ${run.name} is not live`);
  logRunner(run, "Restaging: freezing linked source files into copies");
  let frozen = 0;
  let changedSinceStart = 0;
  for (const [path, entry] of files) {
    if (entry.type !== "s" || !isLiveLink(run, path, projectDir)) continue;
    if (entry.digest === undefined) changedSinceStart++;
    const abs = join(run.runDir, path);
    // Copy beside the link, then rename over it: the link never dangles half-replaced.
    const temp = `${abs}.restage-${process.pid}`;
    copyFileSync(abs, temp);
    chmodSync(temp, statSync(abs).mode & 0o7777);
    renameSync(temp, abs);
    frozen++;
  }
  clearLiveProject(run);
  await files.logChanges("s");
  await writeManifest(run, files);
  logRunner(run, `Restaged: ${frozen} linked source file${frozen === 1 ? "" : "s"} frozen`);
  return { frozen, changedSinceStart };
}
