/**
 * `runstage runs`: the runs of the runs home, newest first, filtered. Also what
 * the run-managing commands share: a run as JSON, naming runs, metric values.
 */
import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import process from "node:process";
import {
  filterRuns,
  listRuns,
  newestFirst,
  parseCommitPrefix,
  type ResolveOptions,
  resolveRuns,
  RUN_STATUSES,
  type RunInfo,
  type RunStatus,
} from "../run/listing.ts";
import { applySchedulerStatus } from "../slurm/queue.ts";
import { quotePath } from "../fs/quote.ts";
import { type MetricValue, runMeta } from "../run/meta.ts";
import type { RunVcs } from "../run/vcs.ts";
import { runConfig, runsWhere } from "../run/runvalues.ts";
import {
  commandContext,
  type ContextOptions,
  formatTable,
  formatTime,
  type GlobalOptions,
  globalOptions,
  printJson,
} from "./context.ts";
import { WHERE_HELP } from "./where.ts";

/** How the argument of every command that takes runs is described in its --help. */
export const RUN_SPEC_HELP =
  "index from `runs` (1 is the newest), slice (1:3, :3, 2:), id, id prefix, name, or label";

/** More columns than this do not fit a terminal; --json has every metric. */
const MAX_METRIC_COLUMNS = 6;

/**
 * A run as the JSON of `runs` lists it. Reading meta `vcs` for `commit` costs a
 * file per run, so it is read here, for JSON, and not by every listing; a caller
 * that has read it passes it in.
 */
export function runInfoJson(info: RunInfo, vcs: RunVcs | undefined = runMeta.vcs.read(info.run)) {
  return {
    // A deleted run in a listing of the runs home has no index a command would take.
    index: info.index || null,
    id: info.run.id,
    name: info.run.name,
    op: info.op,
    status: info.status,
    host: info.host ?? null,
    exitCode: info.exitCode ?? null,
    initialized: info.initialized ?? null,
    started: info.started ?? null,
    stopped: info.stopped ?? null,
    label: info.label ?? null,
    config: runConfig(info),
    metrics: info.metrics,
    deleted: info.deleted,
    live: info.live !== undefined,
    commit: vcs?.commit ?? null,
    runDir: info.run.runDir,
    metaDir: info.run.metaDir,
  };
}

/** The runs `specs` name, in the runs home the global options select. */
export async function namedRuns(
  globals: GlobalOptions,
  specs: string[],
  { writes, ...options }: ResolveOptions & ContextOptions = {},
): Promise<{ runsHome: string; runs: RunInfo[] }> {
  const { runsHome } = await commandContext(globals, { writes });
  return { runsHome, runs: resolveRuns(runsHome, specs, options) };
}

/** A metric for a table: integers as they are, other numbers to 4 significant digits. */
export function formatMetric(value: MetricValue | undefined): string {
  if (value === undefined) return "";
  if (typeof value === "string" || Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

/** `a, b` or `a` for a sentence naming runs. */
export function runNameList(runs: { run: { name: string } }[]): string {
  return runs.map((r) => r.run.name).join(", ");
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function parseStatus(value: string, previous: RunStatus[]): RunStatus[] {
  const statuses = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of statuses) {
    if (!RUN_STATUSES.includes(s as RunStatus)) {
      throw new InvalidArgumentError(`unknown status "${s}": one of ${RUN_STATUSES.join(", ")}`);
    }
  }
  return [...previous, ...(statuses as RunStatus[])];
}

function parseLimit(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new InvalidArgumentError("give a whole number of runs, 1 or more");
  }
  return Number(value);
}

export function runsCommand() {
  return new Command("runs")
    .description(
      "list runs, newest first. [N] is the index other commands take (`show N`); filters" +
        " keep those indexes. Metric columns come from meta summary.json, LABEL from meta label.",
    )
    .option("--op <name>", "only runs of this op")
    .option(
      "--status <status>",
      `only runs with this status (repeat or comma-separate: ${RUN_STATUSES.join(", ")})`,
      parseStatus,
      [] as RunStatus[],
    )
    .option(
      "--label <text>",
      "only runs labelled TEXT (ignoring case), or, when none is, whose label contains TEXT",
    )
    .option(
      "--commit <sha>",
      "only runs whose source came from a commit starting with SHA (4 or more hex digits," +
        " meta vcs)",
      parseCommitPrefix,
    )
    .option("--batch <id>", "only the trials of this sweep's batch (its id, or a prefix of it)")
    .option("--where <expr>", WHERE_HELP)
    .option("--limit <n>", "at most N runs (the newest that pass the filters)", parseLimit)
    .option("--all", "include deleted runs (status deleted, no index)")
    .option("--deleted", "only deleted runs, with the indexes `restore` and `purge --deleted` take")
    .option("--json", "print JSON: every field of every listed run")
    .action(async (options, command) => {
      const { runsHome } = await commandContext(globalOptions(command));
      const listed = listing(runsHome, options);
      const runs = filterRuns(
        options.where === undefined ? listed : runsWhere(listed, options.where),
        options,
      );
      if (options.json) return printJson(runs.map((r) => runInfoJson(r)));
      if (runs.length === 0) {
        const what = options.deleted ? "deleted runs" : "runs";
        const filtered = options.op || options.status.length || options.label || options.commit ||
          options.batch ||
          options.where;
        process.stderr.write(
          `runstage: no ${what} ${filtered ? "match the filters" : "in " + quotePath(runsHome)}\n`,
        );
        return;
      }
      process.stdout.write(formatRuns(runs));
    });
}

/** The runs home's runs, the trash, or both (newest first, deleted runs without an index). */
function listing(runsHome: string, options: { all?: boolean; deleted?: boolean }): RunInfo[] {
  if (options.deleted) return listRuns(runsHome, { deleted: true });
  const current = listRuns(runsHome);
  applySchedulerStatus(current);
  if (!options.all) return current;
  const deleted = listRuns(runsHome, { deleted: true });
  for (const d of deleted) d.index = 0;
  return [...current, ...deleted].sort(newestFirst);
}

/**
 * The table. Metric and LABEL columns appear only when a listed run has one, so
 * a runs home without them reads as before. A live run says so in its status,
 * `staged (live)`: what it runs is the project's code as it is now, not a copy.
 */
function formatRuns(runs: RunInfo[]): string {
  const metricNames = firstSeenMetrics(runs).slice(0, MAX_METRIC_COLUMNS);
  const withLabels = runs.some((r) => r.label !== undefined);
  const header = ["#", "NAME", "OP", "STATUS", "STARTED", ...metricNames];
  return formatTable([
    withLabels ? [...header, "LABEL"] : header,
    ...runs.map((r) => {
      const row = [
        r.index ? `[${r.index}]` : "",
        r.run.name,
        r.op,
        statusText(r),
        formatTime(r.started),
        ...metricNames.map((m) => formatMetric(r.metrics[m])),
      ];
      return withLabels ? [...row, r.label ?? ""] : row;
    }),
  ]);
}

/**
 * A run's status as a person reads it: a live run says so, and a run whose
 * process is on another host names that host (`running (host node-7)`).
 */
export function statusText(r: RunInfo): string {
  const ended = r.status === "terminated" || r.status === "error"
    ? runMeta.slurm.read(r.run)?.end?.state
    : undefined;
  const notes = [
    ...(ended === undefined ? [] : [ended.replace(/_/g, " ")]),
    ...(r.host === undefined ? [] : [`host ${r.host}`]),
    ...(r.live === undefined ? [] : ["live"]),
  ];
  return notes.length === 0 ? r.status : `${r.status} (${notes.join(", ")})`;
}

/** Metric names in the order the listing first shows them: newest run first, then its keys. */
function firstSeenMetrics(runs: RunInfo[]): string[] {
  const names = new Set<string>();
  for (const r of runs) for (const name of Object.keys(r.metrics)) names.add(name);
  return [...names];
}
