/** `runstage ops`: the ops of the project's Gage file, or one op's flags (`--help-op OP`). */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { formatOpHelp, planConfig } from "../config/config.ts";
import { RunstageError } from "../errors.ts";
import { escapeLines, quotePath } from "../fs/quote.ts";
import { selectOp } from "../gagefile/project.ts";
import { commandContext, formatTable, globalOptions, printJson } from "./context.ts";

export function opsCommand() {
  return new Command("ops")
    .description("list the ops of the project's Gage file")
    .option("--help-op <op>", "print OP's description and its flags with their defaults")
    .option("--json", "print JSON")
    .action(async (options, command) => {
      const { project, runsHome } = await commandContext(globalOptions(command));
      if (options.helpOp !== undefined) {
        const op = selectOp(project, options.helpOp);
        // The runs home may lie inside the project: its copies of config files are not the op's.
        const plan = await planConfig(project.dir, op, { exclude: [runsHome] });
        if (!options.json) return void process.stdout.write(escapeLines(formatOpHelp(op, plan)));
        return printJson({
          name: op.name,
          description: op.description ?? "",
          flags: plan.files.flatMap((file) =>
            file.keys.map((key) => ({ name: key, default: plan.defaults[key], file: file.path }))
          ),
          freeFlags: op.freeFlags ?? false,
        });
      }
      const gagefile = project.gagefile;
      if (!gagefile) {
        throw new RunstageError(
          `no Gage file in ${quotePath(project.dir)}: create gage.toml with an op, or pass -C DIR`,
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
