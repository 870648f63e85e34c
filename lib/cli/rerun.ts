/**
 * `runstage rerun RUN [flags]`: a new run of the same op with the same config,
 * in the project the run came from (unless -C names another). A run imported
 * from another machine may have no project here: then `--reuse-source` reruns
 * it from its own source files, with its run dir standing in for the project
 * (config defaults read from those files), and nothing else is ever walked.
 */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { formatFlagValue } from "../config/config.ts";
import { runMeta } from "../run/meta.ts";
import { RunstageError } from "../errors.ts";
import {
  openProject,
  openRecordedProject,
  type Project,
  requireRunPhase,
} from "../gagefile/project.ts";
import type { Run } from "../run/identity.ts";
import { resolveRun } from "../run/listing.ts";
import { readStagedRun } from "../stage/staged.ts";
import { stageRun } from "../stage/stage.ts";
import { progressDisplay } from "./progress.ts";
import { commandContext, globalOptions } from "./context.ts";
import { reportStagingFailure, startAndReport, warnNote, withInterrupt } from "./lifecycle.ts";
import { phaseEchoToTerminal } from "./phaseoutput.ts";

export function rerunCommand() {
  return new Command("rerun")
    .description("stage and run RUN's op again with its config; flags override values")
    .argument("<run>", "index from `runs`, id, id prefix, name or label")
    .argument("[flags...]", "NAME=VALUE flags over the run's config, NAME=RUN dependency picks")
    .option(
      "--reuse-source",
      "copy the run's own source files exactly, not the project's current ones",
    )
    .option(
      "--source <origin>",
      "worktree, git:REF or auto (default: the origin the run was staged from)",
    )
    .action(async (spec, flags, options, command) => {
      const globals = globalOptions(command);
      const { runsHome } = await commandContext(globals, { writes: true });
      const original = resolveRun(runsHome, spec).run;
      const { op, projectDir } = await readStagedRun(original);
      requireRunPhase(op, `the meta of run ${original.name}`);
      const project = await projectOf(original, projectDir, globals.project, options.reuseSource);
      const config = runMeta.config.read(original) ?? {};
      // The same origin as the original: a run of git:v1.0 reruns v1.0, `auto` asks CI again.
      const recorded = runMeta.vcs.read(original)?.requested;
      const carried = Object.entries(config).map(([k, v]) => `${k}=${formatFlagValue(v)}`);
      await withInterrupt(async (interrupt) => {
        const progress = progressDisplay();
        const staged = await stageRun({
          project,
          op,
          runsHome, // beside the run it repeats
          flags: [...carried, ...flags],
          reuseSourceOf: options.reuseSource ? original : undefined,
          source: options.source ?? recorded,
          onProgress: progress.update,
          warn: (message) => {
            progress.done();
            warnNote(message);
          },
          interrupt,
          phaseEcho: phaseEchoToTerminal(progress.done),
        }).finally(progress.done);
        if (staged.exitCode !== 0) return reportStagingFailure(staged.run, staged.exitCode);
        await startAndReport(
          {
            run: staged.run,
            files: staged.files,
            op: staged.op,
            projectDir: project.dir,
            warn: warnNote,
            interrupt,
          },
          `rerunning ${original.name}`,
        );
      });
    });
}

/** The project a rerun stages from: -C, else the run's own when it is here. */
async function projectOf(
  original: Run,
  recorded: string,
  given: string | undefined,
  reuseSource: boolean | undefined,
): Promise<Project> {
  if (given !== undefined) return await openProject({ cwd: process.cwd(), dir: given });
  const project = await openRecordedProject(recorded, runMeta.opref.read(original)?.namespace);
  if (!("notHere" in project)) return project;
  if (reuseSource) return { dir: original.runDir };
  throw new RunstageError(
    `the project of run ${original.name} is not on this machine (${project.notHere}): ` +
      `rerun it from its own source files with --reuse-source, or name its project with ` +
      `-C PROJECT`,
  );
}
