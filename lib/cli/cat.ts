/**
 * `runstage cat [RUN] PATH` and `runstage cat [RUN] --output [PHASE]`: a file of
 * a run dir, or the captured output of one of its phases, byte for byte; RUN
 * left out is the latest run. `--follow` streams the output as it grows, a
 * run's here or on a Slurm node, and ends when the run ends.
 */
import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { createReadStream, statSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import process from "node:process";
import { RunstageError, UsageError } from "../errors.ts";
import { quotePath } from "../fs/quote.ts";
import { type Phase, PHASES } from "../gagefile/opdef.ts";
import type { Run } from "../run/identity.ts";
import { runDirPath } from "../run/rundirpath.ts";
import { globalOptions, namedRun, OPTIONAL_RUN_HELP } from "./context.ts";
import { RUN_SPEC_HELP } from "./runs.ts";
import type { RunInfo } from "../run/listing.ts";
import { runMeta } from "../run/meta.ts";
import { applySchedulerStatus } from "../slurm/queue.ts";

const PHASE_NAMES = PHASES.map((p) => p.name).join(", ");
/** The phase whose output a user wants most: the op's own. */
const RUN_PHASE: Phase = PHASES.find((p) => p.name === "run")!;

export function catCommand() {
  return new Command("cat")
    .description(
      "print a file of a run's run dir, or with --output the captured output (stdout and" +
        " stderr in arrival order) of a phase",
    )
    .argument(
      "[run]",
      `${RUN_SPEC_HELP}; ${OPTIONAL_RUN_HELP}: \`cat PATH\` is a file of the latest run`,
    )
    .argument("[path]", "a file of the run dir, relative to it (see `show RUN` for the files)")
    .option(
      "--output [phase]",
      `print a phase's output: ${PHASE_NAMES}, an alias, or its file (40_run); default run`,
      parsePhase,
    )
    .option("--follow", "with --output: keep printing the output as it grows, until the run ends")
    .action(async (first, second, options, command) => {
      if (options.follow && options.output === undefined) {
        throw new UsageError("--follow goes with --output: add --output [PHASE]");
      }
      // One argument without --output is a PATH of the latest run: `cat RUN` alone means nothing.
      const [spec, path] = second === undefined && options.output === undefined
        ? [undefined, first]
        : [first, second];
      if (path !== undefined && options.output !== undefined) {
        throw new UsageError("give a PATH or --output, not both");
      }
      if (path === undefined && options.output === undefined) {
        throw new UsageError("cat needs a PATH in the run dir, or --output [PHASE]");
      }
      const info = await namedRun(globalOptions(command), spec);
      const run = info.run;
      if (options.follow) {
        const phase = options.output === true ? RUN_PHASE : options.output!;
        return await followOutput(info, join(run.metaDir, "output", phase.output));
      }
      const file = path !== undefined
        ? runDirFile(run, path)
        : outputFile(run, options.output === true ? RUN_PHASE : options.output!);
      await printFile(file);
    });
}

function phaseOf(name: string): Phase | undefined {
  return PHASES.find((p) => p.name === name || p.alias === name || p.output === name);
}

function parsePhase(value: string): Phase {
  const phase = phaseOf(value);
  if (!phase) {
    throw new InvalidArgumentError(`unknown phase ${quotePath(value)}: one of ${PHASE_NAMES}`);
  }
  return phase;
}

function outputFile(run: Run, phase: Phase): string {
  const path = join(run.metaDir, "output", phase.output);
  if (!isFile(path)) {
    throw new RunstageError(
      `run ${run.name} has no output for phase ${phase.name}: the phase did not run` +
        ` (yet); see "runstage show ${run.name}"`,
    );
  }
  return path;
}

/** The file `path` names inside the run dir (lib/run/rundirpath.ts refuses a way out). */
function runDirFile(run: Run, path: string): string {
  const real = runDirPath(run, path);
  if (!isFile(real)) {
    throw new RunstageError(
      `${quotePath(path)} in run ${run.name} is not a file: name a file, as "runstage show` +
        ` ${run.name}" lists them`,
    );
  }
  return real;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Streams the file (or bytes start..end of it) to stdout: a run's files can be far bigger than memory. */
async function printFile(path: string, start?: number, end?: number): Promise<void> {
  for await (const chunk of createReadStream(path, { start, end })) {
    if (!process.stdout.write(chunk as Uint8Array)) await once(process.stdout, "drain");
  }
}

/** How often --follow looks for more output. */
const FOLLOW_POLL_MS = 200;
/** How often --follow asks Slurm whether a run's job is still there. */
const SCHEDULER_POLL_MS = 5000;

/**
 * Prints the output file as it grows, from its start, until the run has
 * ended and all of it is printed. The file may not be there yet (a queued
 * run). A run whose Slurm job left the queue without finalizing it is
 * finalized by the scheduler check (lib/slurm/queue.ts), which ends this.
 */
async function followOutput(info: RunInfo, path: string): Promise<void> {
  let offset = 0;
  let asked = Date.now();
  while (true) {
    // Whether it had ended before this read: then this read is the last one needed.
    const ended = runMeta.exit.exists(info.run);
    const size = fileSize(path);
    if (size > offset) {
      await printFile(path, offset, size - 1);
      offset = size;
      continue;
    }
    if (ended) return;
    if (Date.now() - asked > SCHEDULER_POLL_MS) {
      applySchedulerStatus([info]);
      asked = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
