/** `runstage ops`: the ops of the project's Gage file. */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { commandContext, formatTable, globalOptions, printJson } from "./context.ts";

export function opsCommand() {
  return new Command("ops")
    .description("list the ops of the project's Gage file")
    .option("--json", "print JSON")
    .action(async (options, command) => {
      const { project } = await commandContext(globalOptions(command));
      const gagefile = project.gagefile;
      if (!gagefile) {
        throw new RunstageError(
          `no Gage file in ${project.dir}: create gage.toml with an op, or pass -C DIR`,
        );
      }
      const ops = gagefile.ops.map((op) => ({
        name: op.name,
        default: op.default,
        description: op.description ?? "",
      }));
      if (options.json) return printJson(ops);
      process.stdout.write(
        formatTable(ops.map((op) => [op.name + (op.default ? " (default)" : ""), op.description])),
      );
    });
}
