/**
 * What every command needs from the global options: the project, its runs home,
 * and a way to name a run. A command that writes to the runs home gets it tidied
 * first of what killed commands left there (`writes`).
 */
import process from "node:process";
import { escapeControl } from "../fs/quote.ts";
import { microsToDate } from "../run/clock.ts";
import { openProject, type Project, resolveRunsHome } from "../gagefile/project.ts";
import { sweepRunsHome } from "../run/leftovers.ts";
import { latestRun, resolveRun, type RunInfo } from "../run/listing.ts";

export interface GlobalOptions {
  project?: string;
  runs?: string;
}

/**
 * The global options as a subcommand sees them. Subcommands are built on their
 * own, so their typings cannot know the program's options: this is the one cast.
 */
export function globalOptions(command: { optsWithGlobals(): object }): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

export interface CommandContext {
  project: Project;
  runsHome: string;
}

/** What a command is about to do with its runs home. */
export interface ContextOptions {
  /**
   * It writes there (a run, a label, a move): what killed commands left in the
   * runs home is tidied first (lib/run/leftovers.ts): an import's staging dir,
   * a claim of a delete or purge whose owner is gone. A live command's are
   * left alone. Every command that writes to a runs home asks for this.
   */
  writes?: boolean;
}

export async function commandContext(
  options: GlobalOptions,
  { writes = false }: ContextOptions = {},
): Promise<CommandContext> {
  const cwd = process.cwd();
  const project = await openProject({ cwd, dir: options.project });
  const runsHome = resolveRunsHome(project, { runs: options.runs, env: process.env, cwd });
  if (writes) sweepRunsHome(runsHome);
  return { project, runsHome };
}

/**
 * The help of an optional `[run]` argument (show, cat, select, compare): left
 * out, the command acts on the latest run, as Gage's do. Pair it with
 * `namedRun(options, spec)`, which takes an undefined spec as that.
 */
export const OPTIONAL_RUN_HELP = "default: the latest run (index 1)";

/**
 * The run a command names, in the runs home the global options select; no spec
 * (an optional RUN left out) is the latest run.
 */
export async function namedRun(
  options: GlobalOptions,
  spec: string | undefined,
  context: ContextOptions = {},
): Promise<RunInfo> {
  const { runsHome } = await commandContext(options, context);
  return spec === undefined ? latestRun(runsHome) : resolveRun(runsHome, spec);
}

/** Prints a value as the `--json` output of a command. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/**
 * Left-aligned columns, two spaces apart; the last column is not padded. Every
 * cell is shown escaped (lib/fs/quote.ts), so no name, label or metric a table
 * holds can break its line or drive the terminal.
 */
export function formatTable(cells: string[][]): string {
  const rows = cells.map((row) => row.map(escapeControl));
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  }
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ")
    )
    .map((line) => line.trimEnd() + "\n")
    .join("");
}

/** A meta timestamp for people: local date and time to the second. */
export function formatTime(micros: number | undefined): string {
  if (micros === undefined) return "";
  const d = microsToDate(micros);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatBytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}
