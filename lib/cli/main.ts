/**
 * The CLI program: global options, one subcommand per file, and the error
 * policy: a user's mistake is one line on stderr and a non-zero exit, never a
 * stack trace; anything else is a bug and keeps its stack.
 */
import { Command, CommanderError } from "@commander-js/extra-typings";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { asWriteFault, WriteFault } from "../fs/writefault.ts";
import { escapeControl } from "../fs/quote.ts";
import { RunInterrupted } from "../interrupt.ts";
import { boardCommand } from "./board.ts";
import { cancelCommand } from "./cancel.ts";
import { catCommand } from "./cat.ts";
import { checkCommand } from "./check.ts";
import { completeCommand, completionCommand } from "./completion.ts";
import { openCommand } from "./open.ts";
import { compareCommand } from "./compare.ts";
import { deleteCommand, purgeCommand, restoreCommand } from "./delete.ts";
import { diffCommand } from "./diff.ts";
import { exportCommand } from "./export.ts";
import { importCommand } from "./import.ts";
import { labelCommand } from "./label.ts";
import { opsCommand } from "./ops.ts";
import { buildCommand, runCommand, stageCommand } from "./run.ts";
import { imagesCommand } from "./images.ts";
import { runsCommand } from "./runs.ts";
import { scalarsCommand } from "./scalars.ts";
import { selectCommand } from "./select.ts";
import { showCommand } from "./show.ts";
import { verifyCommand } from "./verify.ts";
import { startCommand } from "./start.ts";
import { rerunCommand } from "./rerun.ts";
import { restageCommand } from "./restage.ts";
import { versionText } from "./version.ts";

export function buildProgram(): Command {
  const program = new Command("runstage")
    .description("Stage and run ops into reproducible, verifiable run directories.")
    .option("-C, --project <dir>", "project directory (default: nearest ancestor with a Gage file)")
    .option("--runs <dir>", "runs home (default: $GAGE_RUNS, $runs-dir, or <project>/.gage/runs)")
    .version(versionText(), "-V, --version", "print the version")
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(usageErrorLine(text)) });
  for (
    const command of [
      runCommand(),
      stageCommand(),
      buildCommand(),
      opsCommand(),
      checkCommand(),
      runsCommand(),
      showCommand(),
      verifyCommand(),
      startCommand(),
      rerunCommand(),
      restageCommand(),
      cancelCommand(),
      catCommand(),
      labelCommand(),
      deleteCommand(),
      restoreCommand(),
      purgeCommand(),
      selectCommand(),
      diffCommand(),
      compareCommand(),
      scalarsCommand(),
      exportCommand(),
      importCommand(),
      imagesCommand(),
    ]
  ) {
    // addCommand, unlike .command(), does not pass on the error output and exit policy.
    program.addCommand(command.copyInheritedSettings(program));
  }
  program.addCommand(openCommand().copyInheritedSettings(program));
  program.addCommand(boardCommand().copyInheritedSettings(program));
  program.addCommand(completionCommand().copyInheritedSettings(program));
  // Hidden: what completion scripts call, not a command for people.
  program.addCommand(completeCommand().copyInheritedSettings(program), { hidden: true });
  return program as unknown as Command;
}

/** Commander's error text as our one line: `runstage: <cause> (see runstage --help)`. */
function usageErrorLine(text: string): string {
  const cause = text.replace(/^error: /, "").trim().split("\n").map((l) => l.trim()).join(" ");
  return `runstage: ${escapeControl(cause)} (see runstage --help)\n`;
}

/** Runs the CLI on `args` (without the program name) and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(args, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version "errors" are how commander finishes: exit 0. Usage errors exit 2.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof RunstageError) {
      // Escaped here too, so no message can split its line or drive the terminal.
      process.stderr.write(`runstage: ${escapeControl(err.message)}\n`);
      return err.exitCode;
    }
    if (err instanceof RunInterrupted) {
      process.stderr.write(`runstage: stopped by ${err.sig}\n`);
      return err.exitCode;
    }
    // A full disk or a read-only file system is the machine's fault, not a bug: one line.
    const fault = asWriteFault(err, (err as { path?: string }).path ?? "");
    if (fault instanceof WriteFault) {
      process.stderr.write(`runstage: ${escapeControl(fault.message)}\n`);
      return fault.exitCode;
    }
    throw err;
  }
}
