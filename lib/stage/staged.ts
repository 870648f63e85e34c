/**
 * A staged run read back from its run dir and meta dir alone, so it can be
 * started later or on another machine it was copied to: the op comes from
 * meta opdef.json and opref, the project dir from `<id>.project`, the state of
 * the run dir from log/files and the manifest.
 */
import { RunstageError } from "../errors.ts";
import { RunFiles } from "../run/fileslog.ts";
import { readOpDef } from "../gagefile/parse.ts";
import { readManifest } from "../run/manifest.ts";
import { runMeta } from "../run/meta.ts";
import { recordedProjectDir } from "../run/projectdir.ts";
import type { OpDef } from "../gagefile/opdef.ts";
import type { Run } from "../run/identity.ts";
import { quotePath } from "../fs/quote.ts";

export interface StagedRun {
  op: OpDef;
  /** The project dir as recorded; it may not exist on this machine. */
  projectDir: string;
  files: RunFiles;
}

export async function readStagedRun(run: Run): Promise<StagedRun> {
  const ref = runMeta.opref.read(run);
  const table = runMeta.opdef.read(run);
  if (!ref || table === undefined) {
    throw new RunstageError(
      `run ${run.name} has no readable opref or opdef.json in ${quotePath(run.metaDir)}`,
    );
  }
  const op = readOpDef(`${run.metaDir}/${runMeta.opdef.name}`, ref.name, table);
  return { op, projectDir: recordedProjectDir(run), files: await stagedFiles(run) };
}

/**
 * The run dir as staging left it: types from log/files, digests from the
 * manifest. A file whose mtime differs from the log (a copy to another
 * machine, say) is rehashed at the end rather than trusted.
 */
function stagedFiles(run: Run): Promise<RunFiles> {
  const digests = new Map((readManifest(run) ?? []).map((e) => [e.path, e.digest]));
  return RunFiles.readBack(run, digests);
}
