/**
 * `runstage compare [RUN...]`: which run was best. Runs as rows, their flags
 * (meta config.json) and metrics (meta summary.json) as columns, only the flags
 * that differ between them unless --all-flags; sorted by any of those values;
 * as a table, JSON or CSV. docs/compare.md.
 */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { UsageError } from "../errors.ts";
import { listRuns, type RunInfo } from "../run/listing.ts";
import { type MetricValue, type RunConfig, runMeta } from "../run/meta.ts";
import { runConfig, runSubject, runsWhere } from "../run/runvalues.ts";
import { readScalars, scalarStats } from "../run/scalars.ts";
import { sortByValues, type SortKey, valueOf, type WhereValue } from "../run/where.ts";
import { commandContext, formatTable, globalOptions, printJson } from "./context.ts";
import { formatMetric, namedRuns, RUN_SPEC_HELP, statusText } from "./runs.ts";
import { WHERE_HELP } from "./where.ts";

export function compareCommand() {
  return new Command("compare")
    .description(
      "compare runs: one row per run (newest first, or as --sort says), the flags that differ" +
        " between them and every metric as columns",
    )
    .argument(
      "[runs...]",
      `${RUN_SPEC_HELP} (default: the latest run and the rest of its sweep; with --where,` +
        " every run; 1: for every run)",
    )
    .option("--where <expr>", WHERE_HELP)
    .option(
      "--sort <keys>",
      "sort by flags, metrics or attributes, comma-separated, `-` first for descending" +
        " (-loss,lr); runs without the value last",
      parseSort,
    )
    .option("--all-flags", "show every flag, not only those that differ")
    .option(
      "--scalars <stats>",
      "also the history of each scalar (meta scalars) as metrics KEY:STAT, STAT one or more" +
        " of last, min, max, comma-separated (loss:min); --sort and --where take them",
      parseScalarStats,
    )
    .option("--json", "print JSON: each run with its flags (as shown) and metrics")
    .option("--csv", "print CSV (RFC 4180) with a header row")
    .action(async (specs, options, command) => {
      if (options.json && options.csv) throw new UsageError("give --json or --csv, not both");
      const globals = globalOptions(command);
      let runs = specs.length > 0
        ? (await namedRuns(globals, specs)).runs
        : listRuns((await commandContext(globals)).runsHome);
      if (specs.length === 0 && options.where === undefined) runs = latestBatch(runs);
      if (options.scalars) runs = runs.map((r) => withScalarStats(r, options.scalars!));
      if (options.where !== undefined) runs = runsWhere(runs, options.where);
      if (options.sort) runs = sortByValues(runs, options.sort);
      const flags = flagColumns(runs, options.allFlags ?? false);
      const metrics = metricColumns(runs);
      if (options.json) return printJson(runs.map((r) => compareJson(r, flags)));
      if (options.csv) {
        process.stdout.write(formatCsv(tableCells(runs, flags, metrics, false)));
        return;
      }
      if (runs.length === 0) {
        process.stderr.write("runstage: no runs to compare\n");
        return;
      }
      process.stdout.write(formatTable(tableCells(runs, flags, metrics, true)));
    });
}

type ScalarStat = "last" | "min" | "max";
const SCALAR_STATS: readonly ScalarStat[] = ["last", "min", "max"];

function parseScalarStats(text: string): ScalarStat[] {
  const stats = text.split(",").map((s) => s.trim()).filter(Boolean);
  for (const stat of stats) {
    if (!SCALAR_STATS.includes(stat as ScalarStat)) {
      throw new UsageError(`bad --scalars "${text}": each one of ${SCALAR_STATS.join(", ")}`);
    }
  }
  return stats as ScalarStat[];
}

/** The run with KEY:STAT metrics from its scalars' history (the run's own summary untouched). */
function withScalarStats(info: RunInfo, stats: ScalarStat[]): RunInfo {
  const metrics = { ...info.metrics };
  for (const [key, s] of scalarStats(readScalars(info.run))) {
    for (const stat of stats) metrics[`${key}:${stat}`] = s[stat];
  }
  return { ...info, metrics };
}

/**
 * The runs `compare` shows when none are named: the latest run and, when a
 * sweep made it, every trial of that sweep (Gage's "the latest run", made
 * useful for the question a sweep asks).
 */
function latestBatch(runs: RunInfo[]): RunInfo[] {
  const latest = runs[0];
  if (!latest) return [];
  const batch = runMeta.batch.read(latest.run)?.id;
  if (batch === undefined) return [latest];
  return runs.filter((info) => runMeta.batch.read(info.run)?.id === batch);
}

/** `--sort` keys: names as --where reads them, `-` first for descending. */
function parseSort(text: string): SortKey<RunInfo>[] {
  return text.split(",").map((key) => key.trim()).filter(Boolean).map((key) => {
    const descending = key.startsWith("-");
    const name = descending ? key.slice(1) : key;
    if (name === "") {
      throw new UsageError(`bad --sort "${text}": a key is a name, like -loss or lr`);
    }
    const read = valueOf(name);
    return {
      descending,
      read: (info: RunInfo) => read(runSubject(info)),
    };
  });
}

/**
 * The flags to show, in first-seen order: those whose value differs between
 * the runs (a run without a flag differs from one with it); all of them with
 * --all-flags, or when there is only one run to compare.
 */
function flagColumns(runs: RunInfo[], all: boolean): string[] {
  const names = new Set<string>();
  for (const r of runs) for (const name of Object.keys(runConfig(r))) names.add(name);
  if (all || runs.length < 2) return [...names];
  return [...names].filter((name) => {
    const first = JSON.stringify(runConfig(runs[0])[name]);
    return runs.some((r) => JSON.stringify(runConfig(r)[name]) !== first);
  });
}

function metricColumns(runs: RunInfo[]): string[] {
  const names = new Set<string>();
  for (const r of runs) for (const name of Object.keys(r.metrics)) names.add(name);
  return [...names];
}

function compareJson(info: RunInfo, flags: string[]) {
  const config = runConfig(info);
  const shown: RunConfig = {};
  for (const name of flags) if (name in config) shown[name] = config[name];
  return {
    index: info.index || null,
    id: info.run.id,
    name: info.run.name,
    op: info.op,
    status: info.status,
    label: info.label ?? null,
    config: shown,
    metrics: info.metrics,
  };
}

/** Header and rows; for people, indexes as `[N]` and metrics rounded, for CSV as they are. */
function tableCells(
  runs: RunInfo[],
  flags: string[],
  metrics: string[],
  forPeople: boolean,
): string[][] {
  const header = ["#", "NAME", "OP", "STATUS", ...flags, ...metrics];
  const rows = runs.map((r) => {
    const config = runConfig(r);
    return [
      forPeople ? `[${r.index}]` : String(r.index),
      r.run.name,
      r.op,
      forPeople ? statusText(r) : r.status,
      ...flags.map((f) => flagText(config[f])),
      ...metrics.map((m) => forPeople ? formatMetric(r.metrics[m]) : metricText(r.metrics[m])),
    ];
  });
  return [forPeople ? header : ["index", "name", "op", "status", ...flags, ...metrics], ...rows];
}

function flagText(value: WhereValue | undefined): string {
  return value === undefined ? "" : value === null ? "null" : String(value);
}

function metricText(value: MetricValue | undefined): string {
  return value === undefined ? "" : String(value);
}

/** RFC 4180: fields quoted when they hold a comma, quote or line break; quotes doubled; CRLF. */
export function formatCsv(rows: string[][]): string {
  const field = (s: string) => /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  return rows.map((row) => row.map(field).join(",") + "\r\n").join("");
}
