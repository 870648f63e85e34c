/**
 * The batch script of a Slurm job that starts staged runs. The job runs the
 * same runstage that submitted it (`runstageCommand`) with `start`, so phases,
 * capture, signals and the manifest work exactly as they do here; a job array
 * (a sweep) picks its run by SLURM_ARRAY_TASK_ID. Every option is an `#SBATCH`
 * line, so the script kept in meta `slurm.sh` is the request (the paths of
 * the job's log and working dir are given to sbatch apart: an `#SBATCH` line
 * cannot quote a path).
 *
 * The time limit: Slurm is asked for SIGUSR1 `signalBefore` seconds ahead
 * (`--signal=B:USR1@N`, to the batch shell only, which `exec`s runstage).
 * scancel sends SIGTERM, so the two stay apart: SIGUSR1 means "time is up",
 * and runstage ends the op and records the run as a timeout.
 */
import process from "node:process";
import { currentBuild } from "../buildinfo.ts";
import { RunstageError } from "../errors.ts";
import type { Run } from "../run/identity.ts";
import { DEFAULT_SIGNAL_BEFORE, sbatchOptionArgs, type SlurmOptions } from "./options.ts";

/** Overrides the command a job runs runstage with: a JSON list of strings, or words. */
export const COMMAND_ENV = "RUNSTAGE_SLURM_COMMAND";
/** The signal Slurm sends ahead of the time limit. */
export const TIME_LIMIT_SIGNAL = "SIGUSR1";

/**
 * How a job runs this runstage: the environment's override, the options'
 * (`runstage` in a `slurm` table), the compiled binary, or the runtime and
 * main module when running from source.
 */
export function runstageCommand(
  options: SlurmOptions,
  env: Record<string, string | undefined> = process.env,
): string[] {
  const override = env[COMMAND_ENV];
  if (override !== undefined && override.trim() !== "") return parseCommand(override);
  if (options.runstage) return options.runstage;
  if (currentBuild() !== undefined) return [process.execPath];
  const main = process.argv[1];
  if (main === undefined || !main.startsWith("/")) return [process.execPath];
  // From source: Deno needs its permissions; Bun and Node take the script alone.
  const deno = (process.versions as Record<string, string | undefined>).deno !== undefined;
  return deno
    ? [process.execPath, "run", "--allow-all", "--quiet", main]
    : [process.execPath, main];
}

function parseCommand(text: string): string[] {
  if (text.trim().startsWith("[")) {
    try {
      const list = JSON.parse(text);
      if (Array.isArray(list) && list.length > 0 && list.every((a) => typeof a === "string")) {
        return list;
      }
    } catch {
      // Reported below.
    }
    throw new RunstageError(`${COMMAND_ENV} is not a JSON list of strings: fix or unset it`);
  }
  return text.trim().split(/\s+/);
}

/** A word for sh, in single quotes unless it is plainly safe. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface ScriptRequest {
  /** The runs to start: one, or a job array's, task i starting runs[i]. */
  runs: Run[];
  runsHome: string;
  options: SlurmOptions;
  /** The command that runs runstage on the node. */
  command: string[];
  /** For an array: how many tasks run at once (`%P`). */
  parallel?: number;
}

/** The script's text. */
export function batchScript(req: ScriptRequest): string {
  const { runs, options } = req;
  if (runs.length === 0) throw new RunstageError("no runs to submit");
  const name = runs.length === 1 ? runs[0].name : `${runs[0].name}+${runs.length - 1}`;
  const before = options.signalBefore ?? DEFAULT_SIGNAL_BEFORE;
  const sbatch = [
    `--job-name=runstage-${name}`,
    `--signal=B:USR1@${before}`,
    ...(runs.length > 1
      ? [`--array=0-${runs.length - 1}${req.parallel ? `%${req.parallel}` : ""}`]
      : []),
    ...sbatchOptionArgs(options),
  ];
  const start = [...req.command, "--runs", req.runsHome, "start"].map(shellWord).join(" ");
  const lines = [
    "#!/bin/sh",
    ...sbatch.map((arg) => `#SBATCH ${arg}`),
    "# Written by runstage: starts the staged run in this job (docs/slurm.md).",
  ];
  if (runs.length === 1) {
    lines.push(`exec ${start} ${runs[0].id}`);
  } else {
    lines.push('case "${SLURM_ARRAY_TASK_ID:-}" in');
    runs.forEach((run, i) => lines.push(`  ${i}) run=${run.id} ;;`));
    lines.push(
      '  *) echo "runstage: no run for array task ${SLURM_ARRAY_TASK_ID:-}" >&2; exit 2 ;;',
    );
    lines.push("esac");
    lines.push(`exec ${start} "$run"`);
  }
  return lines.join("\n") + "\n";
}
