/**
 * `runstage cancel RUN...`: stop runs that are queued or running. A run on
 * Slurm is cancelled with scancel: its running op gets SIGTERM and runstage in
 * the job finalizes it as terminated, output and manifest kept; a queued run
 * is finalized here as terminated and never starts. A run running here gets
 * SIGTERM to its runstage, which finalizes it the same way. cancel returns
 * once each run has ended (at most CANCEL_WAIT_MS).
 */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import type { RunInfo } from "../run/listing.ts";
import { runningLock } from "../run/listing.ts";
import { thisHost } from "../run/lock.ts";
import { runMeta } from "../run/meta.ts";
import { cancelJobs } from "../slurm/job.ts";
import { applySchedulerStatus, finalizeLeftJob, pendingJob, queryQueue } from "../slurm/queue.ts";
import { globalOptions } from "./context.ts";
import { plural, RUN_SPEC_HELP, runNameList } from "./runs.ts";
import { runsNamedWhere, WHERE_HELP } from "./where.ts";

/** How long cancel waits for the runs to end: Slurm's KillWait and more. */
const CANCEL_WAIT_MS = 120_000;
const POLL_MS = 500;

export function cancelCommand() {
  return new Command("cancel")
    .description(
      "cancel queued or running runs: a Slurm job with scancel (a queued run never starts), a" +
        " run here with SIGTERM; each ends as terminated, its output and manifest kept",
    )
    .argument("[runs...]", `${RUN_SPEC_HELP}; with --where, RUN... may be left out`)
    .option("--where <expr>", WHERE_HELP)
    .action(async (specs, options, command) => {
      const { runs } = await runsNamedWhere(globalOptions(command), specs, options.where, {
        writes: true,
      });
      applySchedulerStatus(runs);
      const active = runs.filter((r) => ["queued", "running", "staged"].includes(r.status));
      const idle = runs.filter((r) => !active.includes(r));
      if (active.length === 0) {
        throw new RunstageError(
          `nothing to cancel: ${runNameList(runs)} ${runs.length === 1 ? "is" : "are"} not queued` +
            ` or running (${[...new Set(runs.map((r) => r.status))].join(", ")})`,
        );
      }
      const cancelled = stopRuns(active);
      await waitForEnds(cancelled);
      process.stdout.write(
        `Cancelled ${plural(cancelled.length, "run")}: ${runNameList(cancelled)}\n`,
      );
      if (idle.length > 0) {
        process.stderr.write(
          `runstage: note: left alone, not queued or running: ${runNameList(idle)}\n`,
        );
      }
    });
}

/** scancel for Slurm runs, SIGTERM for runs running here; returns the runs asked to stop. */
function stopRuns(runs: RunInfo[]): RunInfo[] {
  const jobs: string[] = [];
  const stopped: RunInfo[] = [];
  for (const info of runs) {
    const job = pendingJob(info.run);
    if (job) {
      jobs.push(job.jobId!);
      stopped.push(info);
      continue;
    }
    const lock = runningLock(info.run);
    if (info.status === "running" && lock && (lock.host ?? thisHost()) === thisHost()) {
      try {
        process.kill(lock.pid, "SIGTERM");
        stopped.push(info);
      } catch {
        // Ended meanwhile.
      }
    } else if (info.status === "running") {
      throw new RunstageError(
        `run ${info.run.name} runs on host ${lock?.host}, not as a Slurm job: cancel it there`,
      );
    } else {
      throw new RunstageError(
        `run ${info.run.name} is staged, not submitted: nothing runs it (delete it, or start it)`,
      );
    }
  }
  cancelJobs(jobs);
  return stopped;
}

/**
 * Waits until each run has ended. A Slurm run whose job is gone without
 * finalizing it (queued, never started) is finalized here as cancelled.
 */
async function waitForEnds(runs: RunInfo[]): Promise<void> {
  const deadline = Date.now() + CANCEL_WAIT_MS;
  let open = runs;
  while (open.length > 0) {
    const queue = queryQueue(open.flatMap((r) => pendingJob(r.run)?.jobId ?? []));
    for (const info of open) {
      const job = pendingJob(info.run);
      if (!job || runMeta.exit.exists(info.run)) continue;
      const entry = queue?.get(job.jobId!);
      if (queue && (entry === undefined || entry.state === "CANCELLED")) {
        finalizeLeftJob(info.run, job, entry ?? { state: "CANCELLED", reason: "runstage cancel" });
      }
    }
    open = open.filter((r) => !runMeta.exit.exists(r.run));
    if (open.length === 0) return;
    if (Date.now() > deadline) {
      throw new RunstageError(
        `${runNameList(open)} did not end within ${CANCEL_WAIT_MS / 1000} s of being cancelled;` +
          ` see "runstage runs" for how they stand`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
