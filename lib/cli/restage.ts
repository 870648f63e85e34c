/**
 * `runstage restage RUN`: a live run becomes a snapshot (its links into the
 * project are frozen into copies); a staged snapshot is refreshed from the
 * current source.
 */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { freezeLiveRun } from "../stage/live.ts";
import { liveProjectDir } from "../run/projectdir.ts";
import { openProject, openRecordedProject } from "../gagefile/project.ts";
import { runMeta } from "../run/meta.ts";
import { readStagedRun } from "../stage/staged.ts";
import { restageSnapshot } from "../stage/restage.ts";
import { globalOptions, namedRun, printJson } from "./context.ts";
import { warnNote, withInterrupt } from "./lifecycle.ts";
import { progressDisplay } from "./progress.ts";
import { RUN_SPEC_HELP } from "./runs.ts";

export function restageCommand() {
  return new Command("restage")
    .description(
      "turn a live run into a snapshot (its source links become copies of the project's" +
        " current files), or refresh a staged, not yet started run from the current source",
    )
    .argument("<run>", RUN_SPEC_HELP)
    .option(
      "--source <origin>",
      "for a snapshot: worktree, git:REF or auto (default: the origin the run was staged from)",
    )
    .option("--json", "print JSON")
    .action(async (spec, options, command) => {
      const globals = globalOptions(command);
      const { run, status } = await namedRun(globals, spec, { writes: true });
      if (status === "running") {
        throw new RunstageError(`run ${run.name} is running: restage it once it has ended`);
      }
      const live = liveProjectDir(run) !== undefined;
      if (live) {
        if (options.source !== undefined) {
          throw new RunstageError(
            `run ${run.name} is live: restage freezes its links as they are; drop --source`,
          );
        }
        const { files } = await readStagedRun(run);
        const { frozen, changedSinceStart } = await freezeLiveRun(run, files);
        if (changedSinceStart > 0 && status !== "staged") {
          warnNote(
            `${changedSinceStart} source file${changedSinceStart === 1 ? "" : "s"} changed` +
              ` since run ${run.name} last started: its outputs came from the earlier code`,
          );
        }
        return report(options.json, { id: run.id, name: run.name, restaged: "frozen", frozen });
      }
      if (status !== "staged") {
        throw new RunstageError(
          `run ${run.name} is ${status}: only a staged run that has not started can be` +
            ` refreshed; stage a new run (runstage rerun ${run.name})`,
        );
      }
      const { projectDir } = await readStagedRun(run);
      // The run's own project only when it is here: never a dir its .project happens to name.
      const project = globals.project !== undefined
        ? await openProject({ cwd: process.cwd(), dir: globals.project })
        : await openRecordedProject(projectDir, runMeta.opref.read(run)?.namespace);
      if ("notHere" in project) {
        throw new RunstageError(
          `cannot refresh run ${run.name}: its project is not here (${project.notHere}); ` +
            `pass -C DIR`,
        );
      }
      const progress = progressDisplay();
      const result = await withInterrupt((interrupt) =>
        restageSnapshot({
          run,
          project,
          runsHome: run.runsHome,
          source: options.source,
          onProgress: progress.update,
          warn: (message) => {
            progress.done();
            warnNote(message);
          },
          interrupt,
        }).finally(progress.done)
      );
      report(options.json, { id: run.id, name: run.name, restaged: "refreshed", ...result });
    });
}

function report(
  json: boolean | undefined,
  result: { id: string; name: string; restaged: "frozen" | "refreshed"; [k: string]: unknown },
) {
  if (json) return printJson(result);
  const what = result.restaged === "frozen"
    ? `froze ${result.frozen} linked source files; it is a snapshot now`
    : `refreshed ${result.files} source files from the current source`;
  process.stdout.write(`Restaged run ${result.name}: ${what}\n`);
}
