/**
 * Restaging a staged (never started) snapshot run from the current source: the
 * same plan and source code step as staging, into the run dir it already has.
 * Its source files (type s) are replaced by a new selection, `copy-sourcecode`
 * and the run's config run again, and `vcs` and the manifest are rewritten.
 * Runtime and dependency files stay as staging made them.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import type { Project } from "../gagefile/project.ts";
import type { Run } from "../run/identity.ts";
import { logRunner, runMeta } from "../run/meta.ts";
import { assertNoLinksOut } from "../source/pathmap.ts";
import { failRunOnError, stopRun, writeManifestWarning } from "./ending.ts";
import { planRun } from "./plan.ts";
import { placeSourcecode, type SourcecodeOptions } from "./sourcecode.ts";
import { openStager } from "./sources/open.ts";
import { readStagedRun } from "./staged.ts";
import { quotePath } from "../fs/quote.ts";

export interface RestageRequest extends SourcecodeOptions {
  run: Run;
  /** The project the run came from. */
  project: Project;
  runsHome: string;
  /** The origin to copy from; the run's recorded one when not given. */
  source?: string;
  env?: Record<string, string | undefined>;
}

/** Refreshes the run's source files; returns how many it has now. */
export async function restageSnapshot(req: RestageRequest): Promise<{ files: number }> {
  const { run } = req;
  const staged = await readStagedRun(run);
  const stager = await openStager({
    project: req.project,
    op: staged.op,
    runsHome: req.runsHome,
    source: req.source ?? runMeta.vcs.read(run)?.requested,
    env: req.env ?? process.env,
  });
  try {
    const plan = await planRun(stager, {
      project: req.project,
      runsHome: req.runsHome,
      values: {
        from: "run",
        config: runMeta.config.read(run) ?? {},
        dependencyPaths: staged.files.pathsOfType("d"),
      },
      signal: req.interrupt?.signal,
    });
    const selection = plan.selection;
    await assertNoLinksOut(run.runDir, selection.files.map((f) => f.path));
    return await failRunOnError(run, async () => {
      logRunner(run, "Restaging source code from the current source");
      for (const path of staged.files.pathsOfType("s")) {
        rmSync(join(run.runDir, path), { force: true });
      }
      runMeta.vcsDiff.remove(run);
      stager.recordSource(run);
      const exitCode = await placeSourcecode(run, stager, plan, staged.files, req);
      if (exitCode !== 0) {
        stopRun(run, exitCode);
        throw new RunstageError(
          `copy-sourcecode failed while restaging run ${run.name} (exit code ${exitCode});` +
            ` see its output in ${quotePath(`${run.metaDir}/output`)}`,
          exitCode,
        );
      }
      logRunner(run, "Finalizing staged files (see manifest)");
      await writeManifestWarning(run, staged.files, req.warn);
      return { files: selection.files.length };
    });
  } finally {
    await stager.dispose();
  }
}
