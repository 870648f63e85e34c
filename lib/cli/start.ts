/** `runstage start RUN`: run a staged run, here or on the machine it was copied to. */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { Interrupt } from "../interrupt.ts";
import { readStagedRun } from "../staged.ts";
import { startRun } from "../stage.ts";
import { globalOptions, namedRun } from "./context.ts";
import { processExitCode, reportRunEnd } from "./run.ts";

export function startCommand() {
  return new Command("start")
    .description("run a staged run (see `stage`); it needs only its run dir and meta dir")
    .argument("<run>", "index from `runs`, id, id prefix, name or label")
    .action(async (spec, _options, command) => {
      const { run, status } = await namedRun(globalOptions(command), spec);
      if (status !== "staged") {
        throw new RunstageError(
          `run ${run.name} is ${status}: only a staged run can be started (use "rerun" to run it again)`,
        );
      }
      const staged = await readStagedRun(run);
      const interrupt = new Interrupt();
      const stopListening = interrupt.listenToProcess();
      try {
        process.stderr.write(`runstage: starting ${staged.op.name} as ${run.name} (${run.id})\n`);
        const warn = (message: string) => process.stderr.write(`runstage: note: ${message}\n`);
        const exitCode = await startRun({ run, ...staged, warn, interrupt });
        reportRunEnd(run.name, exitCode);
        process.exitCode = processExitCode(exitCode);
      } finally {
        stopListening();
      }
    });
}
