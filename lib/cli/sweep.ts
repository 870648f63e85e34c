/**
 * `run` and `stage` with a sweep (docs/sweeps.md): the trials one after
 * another, each an ordinary run staged and started as `run` does it, with meta
 * `batch.json`; Ctrl-C stops the running trial and starts no more. The sweep
 * ends with a table of its trials and exits 0 only when each one completed
 * (or, for `stage`, staged), else with the first failing trial's code.
 */
import process from "node:process";
import type { OpDef } from "../gagefile/opdef.ts";
import { RunstageError, UsageError } from "../errors.ts";
import { escapeControl } from "../fs/quote.ts";
import type { Interrupt } from "../interrupt.ts";
import { RunInterrupted } from "../interrupt.ts";
import { formatFlagValue } from "../config/config.ts";
import { type MetricValue, runMeta } from "../run/meta.ts";
import { stageRun } from "../stage/stage.ts";
import type { SelectionMemo } from "../stage/plan.ts";
import { startRun } from "../stage/start.ts";
import { forEachConcurrent } from "../fs/pool.ts";
import { type LineEcho, lineEcho } from "./lineecho.ts";
import { neededTrials, planSweep, recordBatch, type SweepPlan } from "../sweep/sweep.ts";
import type { Trial } from "../sweep/values.ts";
import { type CommandContext, formatTable } from "./context.ts";
import {
  processExitCode,
  reportStagingFailure,
  startAndReport,
  warnNote,
  withInterrupt,
} from "./lifecycle.ts";
import { phaseEchoToTerminal } from "./phaseoutput.ts";
import type { SlurmOptions } from "../slurm/options.ts";
import type { Run } from "../run/identity.ts";
import { submitAndReport } from "./slurm.ts";
import { progressDisplay } from "./progress.ts";
import { formatMetric, plural } from "./runs.ts";

/** Metric columns in the table, as `runs` shows at most. */
const MAX_METRIC_COLUMNS = 6;

export interface SweepOptions {
  batch?: string;
  maxRuns?: number;
  seed?: number;
  needed?: boolean;
  parallel?: number;
  source?: string;
  live?: boolean;
  /** The container engine of an op with image or dockerfile. */
  engine?: string;
  /** Submit the staged trials to Slurm as one job array (docs/slurm.md). */
  slurm?: SlurmOptions;
  /** With `slurm`: wait for the trials to end. */
  wait?: boolean;
}

export const SWEEP_HELP = {
  batch: "a CSV (with a header row), JSON or YAML file of trials, one per row (a sweep)",
  maxRuns: "run at most N trials: a random search, or a random subset of a grid",
  seed: "the random search's seed (recorded in each trial's meta batch.json)",
  needed: "skip trials a completed run of the op already ran with the same config",
  parallel: "run N trials at once, each output line prefixed with its run's name",
};

/** A whole number of at least `min`, for commander's option parsing. */
export function wholeNumberOption(option: string, min: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^[-+]?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new UsageError(`${option} takes a whole number of at least ${min}, not "${text}"`);
    }
    return n;
  };
}

interface TrialResult {
  trial: Trial;
  name: string;
  /** The trial's run, once staged. */
  run?: Run;
  status: string;
  /** Meta summary.json's metrics of a trial that ran. */
  metrics?: Record<string, MetricValue>;
  /** This process's exit code for the trial: 0, a failing code, or 128+N for a signal. */
  exitCode: number;
}

/** Runs (or stages) every trial of the sweep the flags and options describe. */
export async function sweepAction(
  ctx: CommandContext,
  choice: { op?: OpDef; opName?: string },
  flags: string[],
  options: SweepOptions,
  andRun: boolean,
): Promise<void> {
  const plan = planSweep({ flags, ...options, batchFile: options.batch });
  const trials = plan.trials;
  const skipped = new Set<Trial>();
  if (options.needed) {
    if (!choice.op) {
      throw new RunstageError("--needed compares with the op of the project's Gage file; add one");
    }
    const split = await neededTrials(trials, choice.op, {
      projectDir: ctx.project.dir,
      runsHome: ctx.runsHome,
    });
    split.skipped.forEach((t) => skipped.add(t));
    process.stderr.write(
      `runstage: --needed: ${plural(split.skipped.length, "trial")} of ${trials.length}` +
        ` skipped: a completed run of the op has the same config\n`,
    );
  }
  // On Slurm the trials are staged here, one after another, and the cluster runs them.
  const parallel = options.slurm ? 1 : options.parallel ?? 1;
  if (options.slurm) andRun = false;
  // The project is walked once, by the first trial staged; the rest copy what it chose.
  const selectionMemo: SelectionMemo = {};
  const results = await withInterrupt(async (interrupt) => {
    const results: TrialResult[] = [];
    // A trial not yet begun when a stop signal comes is skipped, never started.
    await forEachConcurrent([...trials.entries()], parallel, async ([i, trial]) => {
      results[i] = skipped.has(trial)
        ? { trial, name: "", status: "skipped (needed)", exitCode: 0 }
        : interrupt.received
        ? { trial, name: "", status: "skipped", exitCode: 0 }
        : await runTrial(ctx, choice, { plan, trial, index: i + 1 }, options, {
          selectionMemo,
          andRun,
          interrupt,
          parallel: parallel > 1,
        });
    });
    return results;
  });
  reportSweep(plan, results);
  const staged = results.flatMap((r) => r.status === "staged" && r.run ? [r.run] : []);
  if (options.slurm && staged.length > 0) {
    const failed = process.exitCode;
    await submitAndReport(staged, ctx.runsHome, options.slurm, {
      parallel: options.parallel,
      wait: options.wait,
    });
    if (failed) process.exitCode = failed;
  }
}

async function runTrial(
  ctx: CommandContext,
  choice: { op?: OpDef; opName?: string },
  { plan, trial, index }: { plan: SweepPlan; trial: Trial; index: number },
  options: SweepOptions,
  { selectionMemo, andRun, interrupt, parallel }: {
    selectionMemo: SelectionMemo;
    andRun: boolean;
    interrupt: Interrupt;
    parallel: boolean;
  },
): Promise<TrialResult> {
  process.stderr.write(
    `runstage: trial ${index}/${plan.trials.length}: ${escapeControl(sweptText(trial))}\n`,
  );
  // Trials at once share the terminal: no progress line, and every line says whose it is.
  const progress = parallel ? { update: undefined, done: () => {} } : progressDisplay();
  const echoes: LineEcho[] = [];
  const prefixed = (prefix: string) => {
    const line = lineEcho(prefix);
    echoes.push(line);
    return line.echo;
  };
  const warn = (message: string) => {
    progress.done();
    warnNote(message);
  };
  let staged;
  try {
    staged = await stageRun({
      project: ctx.project,
      ...choice,
      runsHome: ctx.runsHome,
      flags: trial.args,
      source: options.source,
      live: options.live,
      engine: options.engine,
      selectionMemo,
      onProgress: progress.update,
      warn,
      interrupt,
      phaseEcho: parallel
        ? (phase) => prefixed(`[trial ${index}] [${phase}] `)
        : phaseEchoToTerminal(progress.done),
    }).finally(progress.done);
  } catch (err) {
    echoes.forEach((e) => e.flush());
    if (err instanceof RunInterrupted) {
      return { trial, name: "", status: "terminated", exitCode: err.exitCode };
    }
    if (!(err instanceof RunstageError)) throw err;
    warnNote(`trial ${index} not staged: ${err.message}`);
    return { trial, name: "", status: "not staged", exitCode: err.exitCode };
  }
  echoes.forEach((e) => e.flush());
  const { run } = staged;
  recordBatch(run, plan, index);
  if (staged.exitCode !== 0) {
    reportStagingFailure(run, staged.exitCode);
    return { trial, name: run.name, status: "error", exitCode: processExitCode(staged.exitCode) };
  }
  if (!andRun) return { trial, name: run.name, run, status: "staged", exitCode: 0 };
  const start = { run, files: staged.files, op: staged.op, projectDir: ctx.project.dir, warn };
  let code: number;
  if (parallel) {
    process.stderr.write(`runstage: trial ${index} runs as ${run.name} (${run.id})\n`);
    code = await startRun({
      ...start,
      interrupt,
      echo: prefixed(`[${run.name}] `),
      phaseEcho: (phase) => prefixed(`[${run.name}] [${phase}] `),
    }).finally(() => echoes.forEach((e) => e.flush()));
  } else {
    await startAndReport({ ...start, interrupt }, `running ${staged.op.name}`);
    code = runMeta.exit.read(run) ?? 1;
  }
  const status = code === 0 ? "completed" : code < 0 ? "terminated" : "error";
  if (parallel) process.stderr.write(`runstage: trial ${index} (${run.name}) ${status}\n`);
  const metrics = runMeta.summary.read(run)?.metrics;
  return { trial, name: run.name, status, metrics, exitCode: processExitCode(code) };
}

/** The table of trials, and this process's exit code: the first failing trial's. */
function reportSweep(plan: SweepPlan, results: TrialResult[]): void {
  const metricNames = [...new Set(results.flatMap((r) => Object.keys(r.metrics ?? {})))]
    .slice(0, MAX_METRIC_COLUMNS);
  const rows = results.map((r, i) => [
    `${i + 1}/${results.length}`,
    r.name || "-",
    sweptText(r.trial) || "-",
    r.status,
    ...metricNames.map((m) => formatMetric(r.metrics?.[m])),
  ]);
  process.stdout.write(`Batch ${plan.id}\n`);
  process.stdout.write(
    formatTable([["TRIAL", "NAME", "FLAGS", "STATUS", ...metricNames], ...rows]),
  );
  const failed = results.find((r) => r.exitCode !== 0);
  process.exitCode = failed?.exitCode ?? 0;
}

/** The trial's swept flags as `NAME=VALUE` text. */
function sweptText(trial: Trial): string {
  return Object.entries(trial.swept).map(([n, v]) => `${n}=${formatFlagValue(v)}`).join(" ");
}
