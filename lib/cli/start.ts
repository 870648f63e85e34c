/**
 * `runstage start RUN`: run a staged run, here or on the machine it was copied
 * to; with --slurm, submit it to Slurm. Inside the Slurm job it was submitted
 * as, it notes the node and ends the run as a timeout at the time-limit signal.
 */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { reopenLiveRun } from "../stage/live.ts";
import { liveProjectDir } from "../run/projectdir.ts";
import { runMeta } from "../run/meta.ts";
import type { Run } from "../run/identity.ts";
import type { RunStatus } from "../run/listing.ts";
import { readStagedRun } from "../stage/staged.ts";
import { requireRunPhase } from "../gagefile/project.ts";
import { recordJobStarted, recordTimeout, slurmJobOf } from "../slurm/job.ts";
import { pendingJob, queryQueue } from "../slurm/queue.ts";
import { TIME_LIMIT_SIGNAL } from "../slurm/script.ts";
import { commandContext, globalOptions, namedRun } from "./context.ts";
import { startAndReport, warnNote, withInterrupt } from "./lifecycle.ts";
import {
  checkSlurmFlags,
  type SlurmCliOptions,
  slurmOptionsFor,
  submitAndReport,
  withSlurmOptions,
} from "./slurm.ts";

/** A live run is meant to be started again after edits, once the last start has ended. */
const LIVE_RESTARTABLE: readonly RunStatus[] = ["completed", "error", "terminated"];

export function startCommand() {
  const command = new Command("start")
    .description(
      "run a staged run (see `stage`); it needs only its run dir and meta dir. A live run" +
        " (stage --live) can be started again: each start runs the project's current files",
    )
    .argument("<run>", "index from `runs`, id, id prefix, name or label")
    .option(
      "--engine <engine>",
      "the container engine of an op with image or dockerfile (default: the one it was staged with)",
    )
    .option("--live", "require a live run (stage --live): in a container, the project's files")
    .action(async (spec, _options, command) => {
      const options = command.opts() as SlurmCliOptions & { engine?: string; live?: boolean };
      checkSlurmFlags(options);
      const globals = globalOptions(command);
      const { run, status } = await namedRun(globals, spec, { writes: true });
      // Only a live run that got through staging: one that failed there has nothing to start.
      const live = liveProjectDir(run) !== undefined && runMeta.staged.exists(run);
      if (options.live && !live) {
        throw new RunstageError(
          `run ${run.name} is not live: its files are a snapshot; stage a live one with` +
            ` "runstage stage --live" (or "run --live")`,
        );
      }
      if (live && LIVE_RESTARTABLE.includes(status)) reopenLiveRun(run);
      else if (status !== "staged") {
        throw new RunstageError(
          `run ${run.name} is ${status}: only a staged run can be started (use "rerun" to run it again)`,
        );
      }
      const staged = await readStagedRun(run);
      // Staged from an op with no run command (`stage` allows it): nothing to start.
      requireRunPhase(staged.op, `the meta of run ${run.name}`);
      const job = slurmJobOf(run, process.env);
      if (!job) refuseQueuedRun(run);
      if (options.slurm) {
        const ctx = await commandContext(globals);
        const slurm = slurmOptionsFor(ctx.project, staged.op, options);
        return await submitAndReport([run], ctx.runsHome, slurm, { wait: options.wait });
      }
      if (job) recordJobStarted(run, job);
      let timedOut = false;
      await withInterrupt(async (interrupt) => {
        // In its Slurm job, the time-limit signal stops the run as SIGTERM would.
        const onTimeLimit = () => {
          timedOut = true;
          interrupt.receive("SIGTERM");
        };
        if (job) process.on(TIME_LIMIT_SIGNAL, onTimeLimit);
        try {
          await startAndReport(
            { run, ...staged, warn: warnNote, interrupt, engine: options.engine },
            `starting ${staged.op.name}`,
          );
        } finally {
          process.off(TIME_LIMIT_SIGNAL, onTimeLimit);
        }
      });
      if (job && timedOut) recordTimeout(run, runMeta.slurm.read(run) ?? job);
    });
  return withSlurmOptions(command);
}

/** A run its Slurm job will start is not started here as well. */
function refuseQueuedRun(run: Run): void {
  const job = pendingJob(run);
  if (!job || job.refused !== undefined) return;
  const entry = queryQueue([job.jobId!])?.get(job.jobId!);
  if (entry && ["PENDING", "RUNNING", "CONFIGURING", "COMPLETING"].includes(entry.state)) {
    throw new RunstageError(
      `run ${run.name} is Slurm job ${job.jobId} (${entry.state.toLowerCase()}): its job starts` +
        ` it; cancel it first ("runstage cancel ${run.name}")`,
    );
  }
}
