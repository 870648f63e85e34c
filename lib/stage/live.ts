/**
 * Live runs: a run whose source files are symlinks into the project, so an edit
 * there is what the next `start` runs, without restaging. Meta `live` holds the
 * project dir the links point into; the manifest is rewritten with the linked
 * files' digests at every start, so it always names the code the last start ran.
 */
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  realpathSync,
  renameSync,
  statSync,
  symlinkSync,
} from "node:fs";
import process from "node:process";
import { dirname, join } from "node:path";
import type { CopiedFile, FileToCopy } from "../copy/copy.ts";
import {
  appendFileChanges,
  type FileChange,
  logFileChanges,
  mtimeMicros,
  type RunFiles,
} from "../run/fileslog.ts";
import { hashFile, writeManifest } from "../run/manifest.ts";
import { logRunner, removeMeta } from "../run/meta.ts";
import type { Run } from "../run/identity.ts";
import { isLiveLink, liveProjectDir } from "../run/live.ts";

/** Links each file into the run dir (at its run-dir path) to its real path in the project. */
export async function linkSourceFiles(
  files: readonly FileToCopy[],
  runDir: string,
): Promise<CopiedFile[]> {
  const linked: CopiedFile[] = [];
  for (const file of files) {
    const dst = join(runDir, file.path);
    mkdirSync(dirname(dst), { recursive: true });
    // The real path, so the link still holds when the project is reached through a link.
    const target = realpathSync(file.src);
    symlinkSync(target, dst);
    const st = statSync(target);
    linked.push({
      path: file.path,
      digest: await hashFile(target),
      size: st.size,
      mtime: mtimeMicros(st.mtimeMs),
    });
  }
  return linked;
}

/**
 * At the start of a live run: logs the linked source files that changed since
 * the last start (`m s` in log/files) and rewrites the manifest with their new
 * digests, so the manifest names the code this start runs. `files` comes from
 * readStagedRun, where a changed file has lost its digest. Returns how many changed.
 */
export async function refreshLiveSource(run: Run, files: RunFiles): Promise<number> {
  const changed: FileChange[] = [];
  for (const [path, entry] of files) {
    if (entry.type === "s" && entry.digest === undefined) {
      changed.push({ event: "m", type: "s", path, mtime: entry.mtime });
    }
  }
  appendFileChanges(run, changed);
  logRunner(
    run,
    `Live source: ${changed.length} linked file${changed.length === 1 ? "" : "s"}` +
      " changed since the last start (see log/files)",
  );
  await writeManifest(run, files);
  return changed.length;
}

/**
 * Makes a finished live run startable again: its end (`stopped`, `proc/exit`)
 * is cleared, so it reads as staged; output files are rewritten by the next start.
 */
export function reopenLiveRun(run: Run): void {
  logRunner(run, "Reopening live run for another start");
  removeMeta(run, "proc/exit");
  removeMeta(run, "stopped");
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
  removeMeta(run, "live");
  await logFileChanges(run, files, "s");
  await writeManifest(run, files);
  logRunner(run, `Restaged: ${frozen} linked source file${frozen === 1 ? "" : "s"} frozen`);
  return { frozen, changedSinceStart };
}
