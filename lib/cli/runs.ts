/** `runstage runs`: the runs of the runs home, newest first. */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { listRuns, type RunInfo } from "../runs.ts";
import { commandContext, formatTable, formatTime, globalOptions, printJson } from "./context.ts";

export function runInfoJson(info: RunInfo) {
  return {
    index: info.index,
    id: info.run.id,
    name: info.run.name,
    op: info.op,
    status: info.status,
    exitCode: info.exitCode ?? null,
    initialized: info.initialized ?? null,
    started: info.started ?? null,
    stopped: info.stopped ?? null,
    runDir: info.run.runDir,
    metaDir: info.run.metaDir,
  };
}

export function runsCommand() {
  return new Command("runs")
    .description("list runs, newest first")
    .option("--json", "print JSON")
    .action(async (options, command) => {
      const { runsHome } = await commandContext(globalOptions(command));
      const runs = listRuns(runsHome);
      if (options.json) return printJson(runs.map(runInfoJson));
      if (runs.length === 0) {
        process.stderr.write(`runstage: no runs in ${runsHome}\n`);
        return;
      }
      process.stdout.write(formatTable([
        ["#", "NAME", "OP", "STATUS", "STARTED"],
        ...runs.map((r) => [`[${r.index}]`, r.run.name, r.op, r.status, formatTime(r.started)]),
      ]));
    });
}
