/** `runstage start RUN`: run a staged run, here or on the machine it was copied to. */
import { Command } from "@commander-js/extra-typings";
import { RunstageError } from "../errors.ts";
import { reopenLiveRun } from "../stage/live.ts";
import { liveProjectDir } from "../run/projectdir.ts";
import { runMeta } from "../run/meta.ts";
import type { RunStatus } from "../run/listing.ts";
import { readStagedRun } from "../stage/staged.ts";
import { requireRunPhase } from "../gagefile/project.ts";
import { globalOptions, namedRun } from "./context.ts";
import { startAndReport, warnNote, withInterrupt } from "./lifecycle.ts";

/** A live run is meant to be started again after edits, once the last start has ended. */
const LIVE_RESTARTABLE: readonly RunStatus[] = ["completed", "error", "terminated"];

export function startCommand() {
  return new Command("start")
    .description(
      "run a staged run (see `stage`); it needs only its run dir and meta dir. A live run" +
        " (stage --live) can be started again: each start runs the project's current files",
    )
    .argument("<run>", "index from `runs`, id, id prefix, name or label")
    .action(async (spec, _options, command) => {
      const { run, status } = await namedRun(globalOptions(command), spec, { writes: true });
      // Only a live run that got through staging: one that failed there has nothing to start.
      const live = liveProjectDir(run) !== undefined && runMeta.staged.exists(run);
      if (live && LIVE_RESTARTABLE.includes(status)) reopenLiveRun(run);
      else if (status !== "staged") {
        throw new RunstageError(
          `run ${run.name} is ${status}: only a staged run can be started (use "rerun" to run it again)`,
        );
      }
      const staged = await readStagedRun(run);
      // Staged from an op with no run command (`stage` allows it): nothing to start.
      requireRunPhase(staged.op, `the meta of run ${run.name}`);
      await withInterrupt((interrupt) =>
        startAndReport({ run, ...staged, warn: warnNote, interrupt }, `starting ${staged.op.name}`)
      );
    });
}
