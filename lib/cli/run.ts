/** `runstage run [OP]` and `runstage stage [OP]`: stage a run, and for `run`, run it. */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import type { OpDef } from "../opdef.ts";
import { selectOp } from "../project.ts";
import { selectSourcecode } from "../sourcecode.ts";
import { checkSourcecodeRules, stageRun, startRun } from "../stage.ts";
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
import { Interrupt } from "../interrupt.ts";

interface StageCommandOptions {
  preview?: boolean;
  json?: boolean;
}

export function runCommand() {
  return new Command("run")
    .description("stage a run of OP and run it, showing its output live")
    .argument("[op]", "the op to run (default: the op marked default, or the only op)")
    .option("--preview", "print the source files that would be copied; write nothing")
    .option("--json", "with --preview: print JSON")
    .action(async (opName, options, command) => {
      await stageCommandAction(opName, options, globalOptions(command), true);
    });
}

export function stageCommand() {
  return new Command("stage")
    .description("stage a run of OP without running it")
    .argument("[op]", "the op to stage (default: the op marked default, or the only op)")
    .option("--preview", "print the source files that would be copied; write nothing")
    .option("--json", "print JSON")
    .action(async (opName, options, command) => {
      await stageCommandAction(opName, options, globalOptions(command), false);
    });
}

async function stageCommandAction(
  opName: string | undefined,
  options: StageCommandOptions,
  globals: GlobalOptions,
  andRun: boolean,
): Promise<void> {
  const ctx = await commandContext(globals);
  const op = selectOp(ctx.project, opName);
  if (options.preview) return await preview(ctx, op, options.json ?? false);

  const interrupt = new Interrupt();
  const stopListening = interrupt.listenToProcess();
  try {
    await stageAndRun(ctx, op, options, andRun, interrupt);
  } finally {
    stopListening();
  }
}

async function stageAndRun(
  ctx: CommandContext,
  op: OpDef,
  options: StageCommandOptions,
  andRun: boolean,
  interrupt: Interrupt,
): Promise<void> {
  const progress = progressDisplay();
  const warn = (message: string) => {
    progress.done();
    process.stderr.write(`runstage: note: ${message}\n`);
  };
  const staged = await stageRun({
    project: ctx.project,
    op,
    runsHome: ctx.runsHome,
    onProgress: progress.update,
    warn,
    interrupt,
  }).finally(progress.done);
  const { run } = staged;
  if (staged.exitCode !== 0) {
    process.stderr.write(
      `runstage: run ${run.name} failed while staging (exit code ${staged.exitCode});` +
        ` see "runstage show ${run.name}" and its output in ${run.metaDir}/output\n`,
    );
    process.exitCode = processExitCode(staged.exitCode);
    return;
  }
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
  process.stderr.write(`runstage: running ${op.name} as ${run.name} (${run.id})\n`);
  const exitCode = await startRun({
    run,
    files: staged.files,
    op,
    projectDir: ctx.project.dir,
    warn,
    interrupt,
  });
  process.stderr.write(
    exitCode === 0
      ? `runstage: run ${run.name} completed\n`
      : `runstage: run ${run.name} ${
        exitCode < 0 ? "terminated" : "failed"
      } (exit code ${exitCode})\n`,
  );
  process.exitCode = processExitCode(exitCode);
}

/** A run's exit code as this process's: a signal -N becomes 128+N, as shells do. */
function processExitCode(code: number): number {
  return code < 0 ? 128 - code : code;
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
