/**
 * `runstage scalars [RUN]`: the metrics a run reported as it went (meta
 * `scalars`, lib/run/scalars.ts), one row per value: step, key, value, time.
 * `--key` keeps some keys; `--json` and `--csv` for scripts.
 */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { UsageError } from "../errors.ts";
import { readScalars } from "../run/scalars.ts";
import { formatCsv } from "./compare.ts";
import {
  formatTable,
  formatTime,
  globalOptions,
  namedRun,
  OPTIONAL_RUN_HELP,
  printJson,
} from "./context.ts";
import { RUN_SPEC_HELP } from "./runs.ts";

export function scalarsCommand() {
  return new Command("scalars")
    .description(
      "print the scalars a run reported as it went (output lines such as `step: 10` and" +
        " `loss: 0.52`, see the op's output-scalars; and its scalars.jsonl)",
    )
    .argument("[run]", `${RUN_SPEC_HELP}; ${OPTIONAL_RUN_HELP}`)
    .option(
      "--key <key>",
      "only this key (repeat for more)",
      (key: string, previous: string[] | undefined) => [...(previous ?? []), key],
    )
    .option("--json", "print JSON: [{time, step, key, value}] in the order recorded")
    .option("--csv", "print CSV (RFC 4180) with a header row: step,key,value,time")
    .action(async (spec, options, command) => {
      if (options.json && options.csv) throw new UsageError("give --json or --csv, not both");
      const { run } = await namedRun(globalOptions(command), spec);
      const keys = options.key;
      const scalars = readScalars(run).filter((s) => !keys || keys.includes(s.key));
      if (options.json) return printJson(scalars);
      if (options.csv) {
        const rows = scalars.map((s) => [
          s.step === null ? "" : String(s.step),
          s.key,
          String(s.value),
          String(s.time),
        ]);
        return void process.stdout.write(formatCsv([["step", "key", "value", "time"], ...rows]));
      }
      if (scalars.length === 0) {
        process.stderr.write(
          `runstage: run ${run.name} has no scalars${keys ? " with those keys" : ""}\n`,
        );
        return;
      }
      process.stdout.write(formatTable([
        ["STEP", "KEY", "VALUE", "TIME"],
        ...scalars.map((s) => [
          s.step === null ? "-" : String(s.step),
          s.key,
          String(s.value),
          formatTime(s.time),
        ]),
      ]));
    });
}
