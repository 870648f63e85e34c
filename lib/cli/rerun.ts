/** `runstage rerun RUN [flags]`: a new run of the same op with the same config. */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { formatFlagValue } from "../config.ts";
import { Interrupt } from "../interrupt.ts";
import { readMetaJson } from "../meta.ts";
import { openProject } from "../project.ts";
import { resolveRun } from "../runs.ts";
import { readStagedRun } from "../staged.ts";
import { stageRun, startRun } from "../stage.ts";
import { commandContext, globalOptions } from "./context.ts";
import { processExitCode, reportRunEnd } from "./run.ts";

export function rerunCommand() {
  return new Command("rerun")
    .description("stage and run RUN's op again with its config; flags override values")
    .argument("<run>", "index from `runs`, id, id prefix, name or label")
    .argument("[flags...]", "NAME=VALUE flags over the run's config, NAME=RUN dependency picks")
    .option(
      "--reuse-source",
      "copy the run's own source files exactly, not the project's current ones",
    )
    .action(async (spec, flags, options, command) => {
      const globals = globalOptions(command);
      const { runsHome } = await commandContext(globals);
      const original = resolveRun(runsHome, spec).run;
      const { op, projectDir } = await readStagedRun(original);
      // The project the run came from, unless -C names another.
      const project = await openProject({ cwd: process.cwd(), dir: globals.project ?? projectDir });
      const config = readMetaJson<Record<string, unknown>>(original, "config.json") ?? {};
      const carried = Object.entries(config).map(([k, v]) => `${k}=${formatFlagValue(v as never)}`);
      const interrupt = new Interrupt();
      const stopListening = interrupt.listenToProcess();
      try {
        const warn = (message: string) => process.stderr.write(`runstage: note: ${message}\n`);
        const staged = await stageRun({
          project,
          op,
          runsHome, // beside the run it repeats
          flags: [...carried, ...flags],
          reuseSourceOf: options.reuseSource ? original : undefined,
          warn,
          interrupt,
        });
        const { run } = staged;
        if (staged.exitCode !== 0) {
          reportRunEnd(run.name, staged.exitCode);
          process.exitCode = processExitCode(staged.exitCode);
          return;
        }
        process.stderr.write(`runstage: rerunning ${original.name} as ${run.name} (${run.id})\n`);
        const exitCode = await startRun({
          run,
          files: staged.files,
          op,
          projectDir: project.dir,
          warn,
          interrupt,
        });
        reportRunEnd(run.name, exitCode);
        process.exitCode = processExitCode(exitCode);
      } finally {
        stopListening();
      }
    });
}
