/** `runstage select RUN`: a run's id or one of its dirs, for scripts. */
import { Command } from "@commander-js/extra-typings";
import { resolve } from "node:path";
import process from "node:process";
import { UsageError } from "../errors.ts";
import type { RunInfo } from "../run/listing.ts";
import { quotePath } from "../fs/quote.ts";
import { globalOptions, namedRun, OPTIONAL_RUN_HELP } from "./context.ts";
import { RUN_SPEC_HELP } from "./runs.ts";

export function selectCommand() {
  return new Command("select")
    .description(
      "print a run's id, or the absolute path of its run dir or meta dir: cd \"$(runstage" +
        ' select 1 --run-dir)". For a live run, --run-dir also warns on stderr that its' +
        " source files are links (restage it before copying the dir into an image)",
    )
    .argument("[run]", `${RUN_SPEC_HELP}; ${OPTIONAL_RUN_HELP}`)
    .option("--run-dir", "print the run dir")
    .option("--meta-dir", "print the meta dir")
    .action(async (spec, options, command) => {
      if (options.runDir && options.metaDir) {
        throw new UsageError("give --run-dir or --meta-dir, not both");
      }
      const info = await namedRun(globalOptions(command), spec);
      const { run } = info;
      if (options.runDir) warnIfLive(info);
      const out = options.runDir
        ? resolve(run.runDir)
        : options.metaDir
        ? resolve(run.metaDir)
        : run.id;
      process.stdout.write(out + "\n");
    });
}

/**
 * A live run's dir holds links into the project, which `docker build` or `cp -r`
 * would copy as links that lead nowhere on another machine. Warned, not refused:
 * select cannot know what a script does with the path, and `cd`-ing into a live
 * run's dir to read its output is what live runs are for. The warning goes to
 * stderr, so `$(runstage select RUN --run-dir)` still captures just the path.
 */
function warnIfLive(info: RunInfo): void {
  if (info.live === undefined) return;
  const name = info.run.name;
  process.stderr.write(
    `runstage: warning: run ${name} is live: its source files are links into` +
      ` ${quotePath(info.live)};` +
      ` restage it first (runstage restage ${name}) before copying it into an image\n`,
  );
}
