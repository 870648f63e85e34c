/** `runstage run [OP]` and `runstage stage [OP]`: stage a run, and for `run`, run it. */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import type { OpDef } from "../gagefile/opdef.ts";
import { escapeControl, escapeLines, quotePath } from "../fs/quote.ts";
import { requireRunPhase, selectOp } from "../gagefile/project.ts";
import { noteUnknownAttributes } from "./check.ts";
import { previewStage, stageRun } from "../stage/stage.ts";
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
import { plural } from "./runs.ts";
import { RunstageError, UsageError } from "../errors.ts";
import { runMeta } from "../run/meta.ts";
import type { Run } from "../run/identity.ts";
import { phaseEchoToTerminal } from "./phaseoutput.ts";
import type { Interrupt } from "../interrupt.ts";
import { reportStagingFailure, startAndReport, warnNote, withInterrupt } from "./lifecycle.ts";
import { formatOpHelp, planConfig } from "../config/config.ts";
import { wantsSweep } from "../sweep/sweep.ts";
import { SWEEP_HELP, sweepAction, wholeNumberOption } from "./sweep.ts";
import {
  checkSlurmFlags,
  type SlurmCliOptions,
  slurmOptionsFor,
  submitAndReport,
  withSlurmOptions,
} from "./slurm.ts";
import type { SlurmOptions } from "../slurm/options.ts";

interface StageCommandOptions extends SlurmCliOptions {
  preview?: boolean;
  json?: boolean;
  helpOp?: boolean;
  source?: string;
  live?: boolean;
  batch?: string;
  maxRuns?: number;
  seed?: number;
  needed?: boolean;
  parallel?: number;
  engine?: string;
  imageOnly?: boolean;
}

const FLAGS_HELP = "NAME=VALUE config flags, and NAME=RUN to pick a dependency's run";
const SOURCE_HELP = "where the code comes from: worktree (the project's files), git:REF (a" +
  " commit, branch or tag, straight from git) or auto (the commit CI names when $CI is set," +
  " else the work tree); default: the op's source, else worktree";
const ENGINE_HELP = "the container engine of an op with image or dockerfile: podman or docker" +
  ' (default: the Gage file\'s "$container-engine", else the first on PATH)';
const LIVE_HELP = "link the source files to the project instead of copying them, so edits" +
  " show up at the next start (see restage)";

export function runCommand() {
  const command = new Command("run")
    .description("stage a run of OP and run it, showing its output live")
    .argument("[op]", "the op to run (default: the op marked default, or the only op)")
    .argument("[flags...]", FLAGS_HELP)
    .option("--source <origin>", SOURCE_HELP)
    .option("--live", LIVE_HELP)
    .option("--engine <engine>", ENGINE_HELP)
    .option("--preview", "print the source files that would be copied; write nothing")
    .option("--json", "with --preview: print JSON")
    .option("--help-op", "print the op's description and its flags with their defaults")
    .option("--batch <file>", SWEEP_HELP.batch)
    .option("--max-runs <n>", SWEEP_HELP.maxRuns, wholeNumberOption("--max-runs", 1))
    .option("--seed <n>", SWEEP_HELP.seed, wholeNumberOption("--seed", 0))
    .option("--needed", SWEEP_HELP.needed)
    .option("--parallel <n>", SWEEP_HELP.parallel, wholeNumberOption("--parallel", 1))
    .action(async (opName, flags, options, command) => {
      // The Slurm options are in `options` too; withSlurmOptions adds them untyped.
      const all = options as StageCommandOptions;
      await stageCommandAction(opName, flags, all, globalOptions(command), true);
    });
  return withSlurmOptions(command);
}

export function stageCommand() {
  return new Command("stage")
    .description("stage a run of OP without running it")
    .argument("[op]", "the op to stage (default: the op marked default, or the only op)")
    .argument("[flags...]", FLAGS_HELP)
    .option("--source <origin>", SOURCE_HELP)
    .option("--live", LIVE_HELP)
    .option("--engine <engine>", ENGINE_HELP)
    .option("--image-only", "an op with dockerfile: stage the run and build its image (as `build`)")
    .option("--preview", "print the source files that would be copied; write nothing")
    .option("--json", "print JSON")
    .option("--help-op", "print the op's description and its flags with their defaults")
    .option("--batch <file>", SWEEP_HELP.batch)
    .option("--max-runs <n>", SWEEP_HELP.maxRuns, wholeNumberOption("--max-runs", 1))
    .option("--seed <n>", SWEEP_HELP.seed, wholeNumberOption("--seed", 0))
    .option("--needed", SWEEP_HELP.needed)
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
  const ctx = await commandContext(globals, { writes: !options.preview && !options.helpOp });
  // A bare repo has no Gage file on disk: a git source reads the op from the commit.
  const op = ctx.project.gagefile ? selectOp(ctx.project, opName) : undefined;
  if (op && !options.preview && !options.helpOp) {
    if (andRun) requireRunPhase(op, quotePath(ctx.project.gagefile!.path));
    noteUnknownAttributes(ctx.project.gagefile!, op);
  }
  if (options.helpOp) {
    if (!op) return void selectOp(ctx.project, opName); // says there is no Gage file
    const plan = await planConfig(ctx.project.dir, op, { exclude: [ctx.runsHome] });
    return void process.stdout.write(escapeLines(formatOpHelp(op, plan)));
  }
  if (options.preview) return await preview(ctx, { op, opName }, options);
  if (options.imageOnly && op && !op.container?.dockerfile) {
    throw new UsageError(
      `op "${escapeControl(op.name)}" has no "dockerfile": --image-only and build are for an op` +
        " whose image is built from its run",
    );
  }
  options = { ...options, engine: options.engine ?? engineSetting(ctx) };
  checkSlurmFlags(options);
  const slurm = options.slurm ? slurmOptionsFor(ctx.project, op, options) : undefined;
  if (options.needed || wantsSweep({ flags, ...options, batchFile: options.batch })) {
    if (options.json) throw new UsageError("a sweep prints no JSON: leave out --json");
    return await sweepAction(ctx, { op, opName }, flags, { ...options, slurm }, andRun);
  }
  if (andRun && options.json) {
    throw new UsageError("run prints JSON only with --preview: add --preview, or use stage --json");
  }

  await withInterrupt((interrupt) =>
    stageAndRun(ctx, { op, opName }, flags, { ...options, slurm }, andRun, interrupt)
  );
}

/**
 * `runstage build [OP]`: `stage --image-only`, the seed's "image only": the
 * run staged, its image built from the run dir and recorded; nothing run.
 */
export function buildCommand() {
  return new Command("build")
    .description("stage a run of an op with dockerfile and build its image; run nothing")
    .argument("[op]", "the op (default: the op marked default, or the only op)")
    .argument("[flags...]", FLAGS_HELP)
    .option("--source <origin>", SOURCE_HELP)
    .option("--engine <engine>", ENGINE_HELP)
    .option("--json", "print JSON")
    .action(async (opName, flags, options, command) => {
      await stageCommandAction(
        opName,
        flags,
        { ...options, imageOnly: true },
        globalOptions(command),
        false,
      );
    });
}

/** The op from the project's Gage file, or its name to read from a commit's. */
interface OpChoice {
  op?: OpDef;
  opName?: string;
}

async function stageAndRun(
  ctx: CommandContext,
  { op, opName }: OpChoice,
  flags: string[],
  options: Omit<StageCommandOptions, "slurm"> & { slurm?: SlurmOptions },
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
    opName,
    runsHome: ctx.runsHome,
    flags,
    source: options.source,
    live: options.live,
    engine: options.engine,
    onProgress: progress.update,
    warn,
    interrupt,
    phaseEcho: phaseEchoToTerminal(progress.done),
  }).finally(progress.done);
  const { run } = staged;
  if (staged.exitCode !== 0) return reportStagingFailure(run, staged.exitCode);
  if (options.slurm) {
    return await submitAndReport([run], ctx.runsHome, options.slurm, { wait: options.wait });
  }
  if (options.imageOnly) return printImage(run, options.json);
  if (!andRun) {
    if (options.json) {
      printJson({
        id: run.id,
        name: run.name,
        runDir: run.runDir,
        metaDir: run.metaDir,
        status: "staged",
        live: options.live ?? false,
      });
    } else {
      const live = options.live ? " (live: its source files link to the project)" : "";
      process.stdout.write(
        `Staged run ${run.name} (${run.id})${live}\n  run dir: ${escapeControl(run.runDir)}\n`,
      );
    }
    return;
  }
  await startAndReport(
    {
      run,
      files: staged.files,
      op: staged.op,
      projectDir: ctx.project.dir,
      warn,
      interrupt,
      engine: options.engine,
    },
    `running ${staged.op.name}`,
  );
}

/** The files a run would get, from the origin it would get them from; writes nothing. */
async function preview(
  ctx: CommandContext,
  { op, opName }: OpChoice,
  options: StageCommandOptions,
) {
  // A scan of a big tree takes a while: Ctrl-C stops it (exit 130), as any scan.
  const selection = await withInterrupt((interrupt) =>
    previewStage({
      project: ctx.project,
      op,
      opName,
      runsHome: ctx.runsHome,
      source: options.source,
      env: process.env,
      signal: interrupt.signal,
    })
  );
  const json = options.json ?? false;
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
    `${plural(selection.files.length, "file")}, ${formatBytes(totalBytes)} would be copied\n`,
  );
  for (const l of selection.leftOut) {
    process.stdout.write(
      `${plural(l.count, "file")} left out: ${l.reason} (e.g. ${
        l.examples.map(quotePath).join(", ")
      })\n`,
    );
  }
  for (const w of selection.warnings) process.stdout.write(`warning: ${escapeControl(w)}\n`);
}

/** The project's `"$container-engine"`, when it names one. */
export function engineSetting(ctx: CommandContext): string | undefined {
  const value = ctx.project.gagefile?.settings["$container-engine"];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") {
    throw new RunstageError(
      `${quotePath(ctx.project.gagefile!.path)}: "$container-engine" must name an engine,` +
        ` as "podman" or "docker"`,
    );
  }
  return value;
}

/** What `build` made: the run and its image, as meta `container` has it. */
function printImage(run: Run, json: boolean | undefined): void {
  const image = runMeta.container.read(run);
  if (json) return printJson({ id: run.id, name: run.name, runDir: run.runDir, ...image });
  process.stdout.write(
    `Staged run ${run.name} (${run.id}) and built its image\n` +
      `  image: ${escapeControl(image?.image ?? "?")} (${image?.imageId ?? "no id"})\n` +
      `  run dir: ${escapeControl(run.runDir)}\n`,
  );
}
