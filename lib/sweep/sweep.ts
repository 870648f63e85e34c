/**
 * A sweep planned: its trials (the command line's sweep syntax, times the rows
 * of a batch file), the batch id its trials share, and what `--needed` skips.
 * Each trial is then staged and run as an ordinary run by the CLI; this module
 * decides what they are and records which batch each belongs to.
 */
import type { OpDef } from "../gagefile/opdef.ts";
import { dependencyFlagNames, readDepends } from "../depends/depends.ts";
import { parseFlags, planConfig, resolveConfig } from "../config/config.ts";
import { listRuns } from "../run/listing.ts";
import { type RunBatch, type RunConfig, runMeta } from "../run/meta.ts";
import type { Run } from "../run/identity.ts";
import { expandSweep, isSweep, type Trial } from "./values.ts";
import { readBatchFile } from "./batch.ts";

export interface SweepRequest {
  /** The command line's `NAME=VALUE` arguments, sweep syntax and all. */
  flags: string[];
  /** `--batch FILE`: one trial per row. */
  batchFile?: string;
  maxRuns?: number;
  /** The random search's seed; a random one when not given (recorded either way). */
  seed?: number;
}

export interface SweepPlan {
  id: string;
  trials: Trial[];
  /** The sweep as given, with the seed used: what each trial's meta `batch.json` records. */
  given: Record<string, unknown>;
}

/** Whether the request makes a sweep rather than one run. */
export function wantsSweep(req: SweepRequest): boolean {
  return req.batchFile !== undefined || req.maxRuns !== undefined || isSweep(req.flags);
}

/** The trials of a sweep: each batch row over every point of the command line's sweep. */
export function planSweep(req: SweepRequest): SweepPlan {
  const seed = req.seed ?? Math.floor(Math.random() * 2 ** 31);
  const points = expandSweep(req.flags, { seed, maxRuns: req.maxRuns });
  const rows = req.batchFile === undefined ? [[]] : readBatchFile(req.batchFile);
  // A row's values come after the command line's, so the row's count (the last one does).
  const trials = rows.flatMap((row) =>
    points.map((point) => ({
      args: [...point.args, ...row],
      swept: { ...point.swept, ...parseFlags(row) },
    }))
  );
  const given = {
    flags: req.flags,
    seed,
    ...(req.batchFile !== undefined ? { batchFile: req.batchFile } : {}),
    ...(req.maxRuns !== undefined ? { maxRuns: req.maxRuns } : {}),
  };
  return { id: crypto.randomUUID(), trials, given };
}

/** Writes a trial's meta `batch.json`. */
export function recordBatch(run: Run, plan: SweepPlan, index: number): void {
  const batch: RunBatch = { id: plan.id, index, total: plan.trials.length, sweep: plan.given };
  runMeta.batch.write(run, batch);
}

/**
 * `--needed`: the trials no completed run of the op already ran with the same
 * resolved config (defaults from the project's config files, flags over them).
 */
export async function neededTrials(
  trials: Trial[],
  op: OpDef,
  ctx: { projectDir: string; runsHome: string },
): Promise<{ needed: Trial[]; skipped: Trial[] }> {
  const plan = await planConfig(ctx.projectDir, op, { exclude: [ctx.runsHome] });
  const picks = dependencyFlagNames(readDepends(op));
  const done = new Set(
    listRuns(ctx.runsHome)
      .filter((info) => info.status === "completed" && info.op === op.name)
      .map((info) => configKey(runMeta.config.read(info.run) ?? {})),
  );
  const needed: Trial[] = [];
  const skipped: Trial[] = [];
  for (const trial of trials) {
    const flags = Object.fromEntries(
      Object.entries(parseFlags(trial.args)).filter(([name]) => !picks.includes(name)),
    );
    const key = configKey(resolveConfig(plan, flags, op));
    (done.has(key) ? skipped : needed).push(trial);
  }
  return { needed, skipped };
}

/** A config as one comparable text: its entries sorted by name. */
function configKey(config: RunConfig): string {
  return JSON.stringify(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
