/** `runstage label RUN... TEXT` and `runstage label RUN... --clear`: runs' labels. */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { UsageError } from "../errors.ts";
import { quotePath } from "../fs/quote.ts";
import { runMeta } from "../run/meta.ts";
import { globalOptions } from "./context.ts";
import { plural, RUN_SPEC_HELP, runNameList } from "./runs.ts";
import { runsNamedWhere, WHERE_HELP } from "./where.ts";

export function labelCommand() {
  return new Command("label")
    .description(
      "set the label of runs (meta file `label`): a line of text shown by `runs`, filtered" +
        " by `runs --label`, and usable wherever a run is named; --clear removes it",
    )
    .argument(
      "[run-and-text...]",
      `RUN... TEXT: each RUN an ${RUN_SPEC_HELP} (a slice or a shared label labels every run` +
        " it names); the last argument is the label, unless --clear. With --where, RUN... may" +
        " be left out",
    )
    .option("--clear", "remove the label of every RUN")
    .option("--where <expr>", WHERE_HELP)
    .action(async (args, options, command) => {
      const [specs, text] = options.clear ? [args, undefined] : [args.slice(0, -1), args.at(-1)];
      if (specs.length === 0 && options.where === undefined) {
        throw new UsageError(
          "label takes RUN... TEXT (or RUN... --clear): give a run and the label",
        );
      }
      if (text !== undefined) checkLabel(text);
      const { runs } = await runsNamedWhere(globalOptions(command), specs, options.where, {
        writes: true,
      });
      for (const { run } of runs) {
        // Atomic, like every meta file: a listing reads the old label or the new one.
        if (text === undefined) runMeta.label.remove(run);
        else runMeta.label.write(run, text);
      }
      process.stdout.write(
        text === undefined
          ? `Cleared the label of ${plural(runs.length, "run")}: ${runNameList(runs)}\n`
          : `Labelled ${plural(runs.length, "run")} ${quotePath(text)}: ${runNameList(runs)}\n`,
      );
    });
}

/** A label is one line of a table: no line breaks or other control characters. */
function checkLabel(text: string): void {
  if (text.trim() === "") {
    throw new UsageError("a label cannot be empty: give some text, or --clear to remove it");
  }
  if (/\p{Cc}/u.test(text)) {
    throw new UsageError("a label is one line of text: leave out line breaks and tabs");
  }
}
