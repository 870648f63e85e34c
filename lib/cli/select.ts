/** `runstage select RUN`: a run's id or one of its dirs, for scripts. */
import { Command } from "@commander-js/extra-typings";
import { resolve } from "node:path";
import process from "node:process";
import { UsageError } from "../errors.ts";
import { globalOptions } from "./context.ts";
import { namedOneRun, RUN_SPEC_HELP } from "./runs.ts";

export function selectCommand() {
  return new Command("select")
    .description(
      "print a run's id, or the absolute path of its run dir or meta dir: cd \"$(runstage" +
        ' select 1 --run-dir)"',
    )
    .argument("<run>", RUN_SPEC_HELP)
    .option("--run-dir", "print the run dir")
    .option("--meta-dir", "print the meta dir")
    .action(async (spec, options, command) => {
      if (options.runDir && options.metaDir) {
        throw new UsageError("give --run-dir or --meta-dir, not both");
      }
      const { run } = await namedOneRun(globalOptions(command), spec);
      const out = options.runDir
        ? resolve(run.runDir)
        : options.metaDir
        ? resolve(run.metaDir)
        : run.id;
      process.stdout.write(out + "\n");
    });
}
