/**
 * A staged run read back from its run dir and meta dir alone, so it can be
 * started later or on another machine it was copied to: the op comes from
 * meta opdef.json and opref, the project dir from `<id>.project`, the state of
 * the run dir from log/files and the manifest.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { RunstageError } from "../errors.ts";
import { readRunFiles, type RunFiles, scanRunDir } from "../run/fileslog.ts";
import { readOpDef } from "../gagefile/parse.ts";
import { readManifest } from "../run/manifest.ts";
import { parseOpRef, readMeta, readMetaJson } from "../run/meta.ts";
import type { OpDef } from "../gagefile/opdef.ts";
import type { Run } from "../run/identity.ts";

export interface StagedRun {
  op: OpDef;
  /** The project dir as recorded; it may not exist on this machine. */
  projectDir: string;
  files: RunFiles;
}

export async function readStagedRun(run: Run): Promise<StagedRun> {
  const ref = parseOpRef(readMeta(run, "opref") ?? "");
  const table = readMetaJson(run, "opdef.json");
  if (!ref || table === undefined) {
    throw new RunstageError(
      `run ${run.name} has no readable opref or opdef.json in ${run.metaDir}`,
    );
  }
  const op = readOpDef(`${run.metaDir}/opdef.json`, ref.name, table);
  return { op, projectDir: recordedProjectDir(run), files: await stagedFiles(run) };
}

/** `file:<path>`, relative to the runs home or absolute. */
function recordedProjectDir(run: Run): string {
  let text = "";
  try {
    text = readFileSync(run.projectRef, "utf8");
  } catch {
    // A run copied without its .project still starts; PROJECT_DIR is then the runs home.
  }
  const path = text.startsWith("file:") ? text.slice(5) : ".";
  return isAbsolute(path) ? path : resolve(run.runsHome, path);
}

/**
 * The run dir as staging left it: types from log/files, digests from the
 * manifest. A file whose mtime differs from the log (a copy to another
 * machine, say) is rehashed at the end rather than trusted.
 */
async function stagedFiles(run: Run): Promise<RunFiles> {
  const files = readRunFiles(run);
  const digests = new Map((readManifest(run) ?? []).map((e) => [e.path, e.digest]));
  const present = await scanRunDir(run.runDir);
  for (const [path, entry] of files) {
    const now = present.get(path);
    if (!now) continue; // gone: the scan after the run logs it as deleted
    const unchanged = now.mtime === entry.mtime;
    files.set(path, {
      ...entry,
      mtime: now.mtime,
      size: now.size,
      digest: unchanged ? digests.get(path) : undefined,
    });
  }
  return files;
}
