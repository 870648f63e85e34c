/**
 * What a run asks of Slurm: partition, time, GPUs, CPUs, memory and the rest,
 * from three places, each over the one before: the Gage file's `$slurm`
 * setting, the op's `slurm` attribute, and the command line. Every value
 * becomes one `#SBATCH` line of the job's script (script.ts), so the script in
 * meta `slurm.sh` is the whole record of what was asked; sbatch itself judges
 * the values, and its own message is what a user sees when it refuses one.
 */
import { RunstageError } from "../errors.ts";

/** The options runstage names, as `slurm` tables and the command line spell them. */
export interface SlurmOptions {
  partition?: string;
  time?: string;
  gpus?: string;
  gres?: string;
  cpus?: string;
  mem?: string;
  account?: string;
  qos?: string;
  constraint?: string;
  /** Further sbatch options, each one argument as sbatch takes it (`--exclusive`, `--nice=10`). */
  sbatchArgs?: string[];
  /** The command a job runs runstage with, when the nodes see it elsewhere (see runstageCommand). */
  runstage?: string[];
  /** Seconds before the time limit that Slurm signals the job, so the run ends as a timeout. */
  signalBefore?: number;
}

/** Each named option and the sbatch option it becomes. */
export const SBATCH_OPTIONS: Readonly<Record<NamedOption, string>> = {
  partition: "--partition",
  time: "--time",
  gpus: "--gpus",
  gres: "--gres",
  cpus: "--cpus-per-task",
  mem: "--mem",
  account: "--account",
  qos: "--qos",
  constraint: "--constraint",
};

export type NamedOption =
  | "partition"
  | "time"
  | "gpus"
  | "gres"
  | "cpus"
  | "mem"
  | "account"
  | "qos"
  | "constraint";

const NAMED = Object.keys(SBATCH_OPTIONS) as NamedOption[];

/** The keys a `slurm` table may hold, as written in a Gage file. */
export const SLURM_TABLE_KEYS = [...NAMED, "sbatch-args", "runstage", "signal-before"];

/** Seconds of warning before the time limit when nothing says otherwise. */
export const DEFAULT_SIGNAL_BEFORE = 60;

/**
 * A `slurm` table of a Gage file (`$slurm` or an op's `slurm`) as options;
 * `where` names it in errors. Numbers are taken for the named options
 * (`cpus = 4`), since TOML and YAML write them so.
 */
export function readSlurmTable(value: unknown, where: string): SlurmOptions {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RunstageError(`${where} must be a table of Slurm options (see docs/slurm.md)`);
  }
  const table = value as Record<string, unknown>;
  const options: SlurmOptions = {};
  for (const [key, v] of Object.entries(table)) {
    if (NAMED.includes(key as NamedOption)) {
      if ((typeof v !== "string" || v === "") && typeof v !== "number") {
        throw new RunstageError(`${where}: "${key}" must be a string or a number`);
      }
      options[key as NamedOption] = String(v);
    } else if (key === "sbatch-args" || key === "runstage") {
      const list = typeof v === "string" ? [v] : v;
      if (!Array.isArray(list) || !list.every((a) => typeof a === "string" && a !== "")) {
        throw new RunstageError(`${where}: "${key}" must be a string or a list of strings`);
      }
      if (key === "sbatch-args") options.sbatchArgs = list.map(checkSbatchArg);
      else options.runstage = list;
    } else if (key === "signal-before") {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
        throw new RunstageError(`${where}: "signal-before" must be a whole number of seconds`);
      }
      options.signalBefore = v;
    } else {
      throw new RunstageError(
        `${where}: unknown Slurm option "${key}"; one of ${SLURM_TABLE_KEYS.join(", ")}`,
      );
    }
  }
  return options;
}

/** An sbatch option given as is: it must be an option, so it cannot end the script's line. */
export function checkSbatchArg(arg: string): string {
  if (!arg.startsWith("-") || /[\r\n]/.test(arg)) {
    throw new RunstageError(
      `--sbatch-arg "${arg.replace(/[\r\n]/g, " ")}" is not an sbatch option: give one option` +
        ` starting with "-", as --sbatch-arg=--exclusive`,
    );
  }
  return arg;
}

/** Options over options: each later source wins per option; sbatch args add up in order. */
export function mergeSlurmOptions(...layers: SlurmOptions[]): SlurmOptions {
  const merged: SlurmOptions = {};
  for (const layer of layers) {
    for (const name of NAMED) if (layer[name] !== undefined) merged[name] = layer[name];
    if (layer.sbatchArgs?.length) {
      merged.sbatchArgs = [...(merged.sbatchArgs ?? []), ...layer.sbatchArgs];
    }
    if (layer.runstage) merged.runstage = layer.runstage;
    if (layer.signalBefore !== undefined) merged.signalBefore = layer.signalBefore;
  }
  return merged;
}

/** The sbatch options the named ones become, in a fixed order, then the given ones. */
export function sbatchOptionArgs(options: SlurmOptions): string[] {
  const args: string[] = [];
  for (const name of NAMED) {
    const value = options[name];
    if (value === undefined) continue;
    if (/[\r\n]/.test(value)) {
      throw new RunstageError(`Slurm option ${name} holds a line break; give it on one line`);
    }
    args.push(`${SBATCH_OPTIONS[name]}=${value}`);
  }
  return [...args, ...(options.sbatchArgs ?? [])];
}
