/**
 * `--slurm` on `run`, `stage`, `start` and sweeps (docs/slurm.md): the options
 * they share, where their values come from (the Gage file's `$slurm`, the op's
 * `slurm`, then the command line), and what follows staging: submit, say so,
 * and with `--wait` follow the runs to their end and exit with their code.
 */
import { type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
import { readFileSync } from "node:fs";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { escapeControl, quotePath } from "../fs/quote.ts";
import type { OpDef } from "../gagefile/opdef.ts";
import type { Project } from "../gagefile/project.ts";
import type { Run } from "../run/identity.ts";
import { listRuns, type RunInfo } from "../run/listing.ts";
import { runMeta } from "../run/meta.ts";
import {
  checkSbatchArg,
  mergeSlurmOptions,
  type NamedOption,
  readSlurmTable,
  type SlurmOptions,
} from "../slurm/options.ts";
import { applySchedulerStatus } from "../slurm/queue.ts";
import { submitRuns } from "../slurm/submit.ts";
import { processExitCode, warnNote } from "./lifecycle.ts";

/** What the command line says of Slurm: the named options as `slurm` tables have them, and more. */
export type SlurmCliOptions = Pick<SlurmOptions, NamedOption> & {
  slurm?: boolean;
  wait?: boolean;
  sbatchArg?: string[];
};

const NAMED_HELP: [keyof SlurmCliOptions, string][] = [
  ["partition", "Slurm partition"],
  ["time", "Slurm time limit (sbatch --time: 30, 1:00:00, 2-0)"],
  ["gpus", "GPUs for the job (sbatch --gpus)"],
  ["gres", "generic resources (sbatch --gres, gpu:a100:2)"],
  ["cpus", "CPUs for the op (sbatch --cpus-per-task)"],
  ["mem", "memory for the job (sbatch --mem, 16G)"],
  ["account", "Slurm account to charge"],
  ["qos", "Slurm quality of service"],
  ["constraint", "node features the job needs (sbatch --constraint)"],
];

/** Adds `--slurm`, `--wait` and the Slurm options to a command. */
export function withSlurmOptions<C extends CommandUnknownOpts>(command: C): C {
  command.addOption(
    new Option("--slurm", "submit to Slurm instead of running here (docs/slurm.md)"),
  );
  command.addOption(
    new Option("--wait", "with --slurm: wait for the run to end; exit with its code"),
  );
  for (const [name, help] of NAMED_HELP) {
    command.addOption(new Option(`--${name} <value>`, `with --slurm: ${help}`));
  }
  command.addOption(
    new Option(
      "--sbatch-arg <arg>",
      "with --slurm: another sbatch option, as one argument (repeat)",
    )
      .argParser((arg: string, previous: string[] | undefined) => [...(previous ?? []), arg]),
  );
  return command;
}

/** Slurm options given without --slurm are a mistake: said at once. */
export function checkSlurmFlags(options: SlurmCliOptions): void {
  if (options.slurm) return;
  const given = [
    ...(options.wait ? ["--wait"] : []),
    ...NAMED_HELP.filter(([name]) => options[name] !== undefined).map(([name]) => `--${name}`),
    ...(options.sbatchArg?.length ? ["--sbatch-arg"] : []),
  ];
  if (given.length > 0) {
    const go = given.length === 1 ? "goes" : "go";
    throw new RunstageError(
      `${given.join(", ")} ${go} only with --slurm: add --slurm, or leave it out`,
    );
  }
}

/** The options a submission uses: `$slurm`, then the op's `slurm`, then the command line. */
export function slurmOptionsFor(
  project: Project,
  op: OpDef | undefined,
  cli: SlurmCliOptions,
): SlurmOptions {
  const file = project.gagefile ? quotePath(project.gagefile.path) : "the Gage file";
  const fromFile = readSlurmTable(project.gagefile?.settings["$slurm"], `${file}: "$slurm"`);
  const fromOp = readSlurmTable(op?.raw.slurm, `${file}: op "${op?.name}": attribute "slurm"`);
  const fromCli: SlurmOptions = {};
  for (const [name] of NAMED_HELP) {
    const value = cli[name];
    if (typeof value === "string") (fromCli as Record<string, string>)[name] = value;
  }
  if (cli.sbatchArg?.length) fromCli.sbatchArgs = cli.sbatchArg.map(checkSbatchArg);
  return mergeSlurmOptions(fromFile, fromOp, fromCli);
}

/**
 * Submits staged runs (several: one job array, `parallel` at once), says so,
 * and with `wait` follows them to their end.
 */
export async function submitAndReport(
  runs: Run[],
  runsHome: string,
  options: SlurmOptions,
  { parallel, wait }: { parallel?: number; wait?: boolean },
): Promise<void> {
  warnUnsharedRunsHome(runsHome);
  const { jobId } = submitRuns({ runs, runsHome, options, parallel });
  if (runs.length === 1) {
    process.stdout.write(`submitted run ${runs[0].name} as Slurm job ${jobId}\n`);
  } else {
    process.stdout.write(`submitted ${runs.length} runs as Slurm job array ${jobId}\n`);
    runs.forEach((run, i) => process.stdout.write(`  ${jobId}_${i}  ${run.name}\n`));
  }
  if (wait) process.exitCode = await waitForRuns(runs, runsHome);
}

/** How often --wait asks Slurm and the runs' meta how things stand. */
const WAIT_POLL_MS = 1000;

/** Waits until every run has ended; returns the first failing run's exit code as this process's. */
export async function waitForRuns(runs: Run[], runsHome: string): Promise<number> {
  const ids = new Set(runs.map((r) => r.id));
  while (true) {
    const infos = listRuns(runsHome).filter((info) => ids.has(info.run.id));
    applySchedulerStatus(infos);
    if (infos.every((info) => runMeta.exit.exists(info.run))) return reportEnds(infos);
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
}

function reportEnds(infos: RunInfo[]): number {
  let code = 0;
  for (const info of infos) {
    const exit = runMeta.exit.read(info.run) ?? 1;
    const end = runMeta.slurm.read(info.run)?.end;
    const how = exit === 0 ? "completed" : exit < 0 ? "terminated" : "failed";
    const why = end ? `: Slurm job ${escapeControl(end.reason)}` : "";
    process.stderr.write(`runstage: run ${info.run.name} ${how} (exit code ${exit})${why}\n`);
    if (code === 0 && exit !== 0) code = processExitCode(exit);
  }
  return code;
}

/**
 * A runs home the nodes may not see: a tmpfs, or under /tmp (each node has its
 * own). Said, not refused: a one-node cluster, or a shared /tmp, works.
 */
function warnUnsharedRunsHome(runsHome: string): void {
  const fs = fileSystemOf(runsHome);
  const where = fs === "tmpfs" || fs === "ramfs"
    ? `on ${fs}`
    : /^\/(tmp|var\/tmp|dev\/shm)(\/|$)/.test(runsHome)
    ? "under /tmp, which each node has its own of"
    : undefined;
  if (where === undefined) return;
  warnNote(
    `the runs home ${quotePath(runsHome)} is ${where}: Slurm nodes other than this host may` +
      " not see it; use --runs DIR on a shared file system",
  );
}

/** The type of the file system `path` is on, from /proc/mounts (Linux); undefined elsewhere. */
function fileSystemOf(path: string): string | undefined {
  let mounts: string;
  try {
    mounts = readFileSync("/proc/mounts", "utf8");
  } catch {
    return undefined;
  }
  let best: { point: string; type: string } | undefined;
  for (const line of mounts.split("\n")) {
    const [, point, type] = line.split(" ");
    if (!point || !type) continue;
    const inside = path === point || path.startsWith(point.endsWith("/") ? point : `${point}/`);
    if (inside && (!best || point.length > best.point.length)) best = { point, type };
  }
  return best?.type;
}
