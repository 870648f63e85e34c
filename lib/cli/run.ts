/** `runstage run [OP]` and `runstage stage [OP]`: stage a run, and for `run`, run it. */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import type { OpDef } from "../opdef.ts";
import { selectOp } from "../project.ts";
import { selectSourcecode } from "../sourcecode.ts";
import { checkSourcecodeRules, stageRun } from "../stage.ts";
import {
  type CommandContext,
  commandContext,
  formatBytes,
  formatTable,
  type GlobalOptions,
  globalOptions,
  printJson,
} from "./context.ts";
import { progressDisplay } from "./progress.ts";
import type { Interrupt } from "../interrupt.ts";
import { reportStagingFailure, startAndReport, warnNote, withInterrupt } from "./lifecycle.ts";
import { formatOpHelp, planConfig } from "../config.ts";

interface StageCommandOptions {
  preview?: boolean;
  json?: boolean;
  helpOp?: boolean;
}

const FLAGS_HELP = "NAME=VALUE config flags, and NAME=RUN to pick a dependency's run";

export function runCommand() {
  return new Command("run")
    .description("stage a run of OP and run it, showing its output live")
    .argument("[op]", "the op to run (default: the op marked default, or the only op)")
    .argument("[flags...]", FLAGS_HELP)
    .option("--preview", "print the source files that would be copied; write nothing")
    .option("--json", "with --preview: print JSON")
    .option("--help-op", "print the op's description and its flags with their defaults")
    .action(async (opName, flags, options, command) => {
      await stageCommandAction(opName, flags, options, globalOptions(command), true);
    });
}

export function stageCommand() {
  return new Command("stage")
    .description("stage a run of OP without running it")
    .argument("[op]", "the op to stage (default: the op marked default, or the only op)")
    .argument("[flags...]", FLAGS_HELP)
    .option("--preview", "print the source files that would be copied; write nothing")
    .option("--json", "print JSON")
    .option("--help-op", "print the op's description and its flags with their defaults")
    .action(async (opName, flags, options, command) => {
      await stageCommandAction(opName, flags, options, globalOptions(command), false);
    });
}

async function stageCommandAction(
  opArg: string | undefined,
  flagArgs: string[],
  options: StageCommandOptions,
  globals: GlobalOptions,
  andRun: boolean,
): Promise<void> {
  // `runstage run lr=0.1` runs the default op with a flag: an op name has no "=".
  const [opName, flags] = opArg?.includes("=")
    ? [undefined, [opArg, ...flagArgs]]
    : [opArg, flagArgs];
  const ctx = await commandContext(globals);
  const op = selectOp(ctx.project, opName);
  if (options.helpOp) {
    const plan = await planConfig(ctx.project.dir, op, { exclude: [ctx.runsHome] });
    return void process.stdout.write(formatOpHelp(op, plan));
  }
  if (options.preview) return await preview(ctx, op, options.json ?? false);

  await withInterrupt((interrupt) => stageAndRun(ctx, op, flags, options, andRun, interrupt));
}

async function stageAndRun(
  ctx: CommandContext,
  op: OpDef,
  flags: string[],
  options: StageCommandOptions,
  andRun: boolean,
  interrupt: Interrupt,
): Promise<void> {
  const progress = progressDisplay();
  const warn = (message: string) => {
    progress.done();
    warnNote(message);
  };
  const staged = await stageRun({
    project: ctx.project,
    op,
    runsHome: ctx.runsHome,
    flags,
    onProgress: progress.update,
    warn,
    interrupt,
  }).finally(progress.done);
  const { run } = staged;
  if (staged.exitCode !== 0) return reportStagingFailure(run, staged.exitCode);
  if (!andRun) {
    if (options.json) {
      printJson({
        id: run.id,
        name: run.name,
        runDir: run.runDir,
        metaDir: run.metaDir,
        status: "staged",
      });
    } else process.stdout.write(`Staged run ${run.name} (${run.id})\n  run dir: ${run.runDir}\n`);
    return;
  }
  await startAndReport(
    { run, files: staged.files, op, projectDir: ctx.project.dir, warn, interrupt },
    `running ${op.name}`,
  );
}

async function preview(ctx: CommandContext, op: OpDef, json: boolean) {
  checkSourcecodeRules(ctx.project, op);
  const selection = await selectSourcecode(ctx.project.dir, op.sourcecode, {
    exclude: [ctx.runsHome],
  });
  const totalBytes = selection.files.reduce((sum, f) => sum + f.size, 0);
  if (json) {
    return printJson({
      patterns: selection.patterns,
      files: selection.files.map((f) => ({ path: f.path, size: f.size })),
      totalFiles: selection.files.length,
      totalBytes,
      leftOut: selection.leftOut,
      warnings: selection.warnings,
    });
  }
  process.stdout.write(formatTable(selection.files.map((f) => [formatBytes(f.size), f.path])));
  process.stdout.write(
    `${selection.files.length} files, ${formatBytes(totalBytes)} would be copied\n`,
  );
  for (const l of selection.leftOut) {
    process.stdout.write(
      `${l.count} files left out: ${l.reason} (e.g. ${l.examples.join(", ")})\n`,
    );
  }
  for (const w of selection.warnings) process.stdout.write(`warning: ${w}\n`);
}
