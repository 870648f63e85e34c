/**
 * Status from the scheduler, truth from the run. While Slurm holds a run's job
 * the run is `queued` or `running` (on a node) as squeue says; once the run
 * has finalized, its own meta says how it ended. A job that left the queue
 * without finalizing its run (cancelled before it started, killed at its time
 * limit, a node lost, out of memory) is finalized here, with Slurm's reason
 * in meta `slurm` (`end`) and log/runner.
 *
 * squeue is read once per listing, for every job in it (`-r`: one line per
 * array task; `-t all`: a job that just ended still shows its final state for
 * MinJobAge seconds). sacct is asked only when a job is gone and sacct
 * answers: many clusters have accounting, not all do.
 */
import { spawnSync } from "node:child_process";
import { timestampMicros } from "../run/clock.ts";
import type { Run } from "../run/identity.ts";
import { type RunInfo, runningLock, runStatus } from "../run/listing.ts";
import { thisHost } from "../run/lock.ts";
import { logRunner, runMeta } from "../run/meta.ts";
import type { RunSlurmJob, SlurmJobEnd } from "../run/slurmjob.ts";
import { stopRun } from "../stage/ending.ts";

export interface QueueEntry {
  /** Slurm's job state: PENDING, RUNNING, COMPLETING, CANCELLED, TIMEOUT, ... */
  state: string;
  node?: string;
  reason?: string;
}

/** States in which the job still waits for a node. */
const WAITING = new Set([
  "PENDING",
  "CONFIGURING",
  "REQUEUED",
  "REQUEUE_HOLD",
  "RESIZING",
  "SUSPENDED",
]);
/** States in which the job's processes run. */
const RUNNING = new Set(["RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT"]);

/**
 * The queue's entries for `jobIds` (as `123` or `123_4`); a job not in the map
 * has left the queue. Undefined when squeue cannot answer: nothing is judged.
 */
export function queryQueue(jobIds: readonly string[]): Map<string, QueueEntry> | undefined {
  const entries = new Map<string, QueueEntry>();
  if (jobIds.length === 0) return entries;
  const result = spawnSync(
    "squeue",
    ["-h", "-r", "-t", "all", "-j", [...new Set(jobIds)].join(","), "-o", "%i|%T|%N|%r"],
    { encoding: "utf8", timeout: 30_000 },
  );
  if (result.error) return undefined;
  if (result.status !== 0) {
    // Every id unknown to the controller: all of them have left the queue.
    return /Invalid job id/i.test(result.stderr) ? entries : undefined;
  }
  for (const line of result.stdout.split("\n")) {
    const [id, state, node, reason] = line.trim().split("|");
    if (!id || !state) continue;
    entries.set(id, {
      state,
      node: node && node !== "(null)" ? node : undefined,
      reason: reason && reason !== "None" && reason !== "(null)" ? reason : undefined,
    });
  }
  return entries;
}

/** Whether a job in this state is over. */
function ended(entry: QueueEntry | undefined): boolean {
  return entry === undefined || (!WAITING.has(entry.state) && !RUNNING.has(entry.state));
}

/** The run's job, when one was submitted and runstage has not seen it end. */
export function pendingJob(run: Run): RunSlurmJob | undefined {
  const job = runMeta.slurm.read(run);
  return job?.jobId !== undefined && job.end === undefined ? job : undefined;
}

/**
 * Brings the statuses of a listing up to date with Slurm, in place: `queued`
 * and `running` (with the node as `host`) while the queue holds a run's job,
 * and a run whose job ended without finalizing it finalized now.
 */
export function applySchedulerStatus(infos: RunInfo[]): void {
  const watched = infos.flatMap((info) => {
    if (info.deleted || (info.status !== "staged" && info.status !== "running")) return [];
    const job = pendingJob(info.run);
    return job ? [{ info, job }] : [];
  });
  if (watched.length === 0) return;
  const queue = queryQueue(watched.map((w) => w.job.jobId!));
  if (!queue) return;
  for (const { info, job } of watched) {
    const entry = queue.get(job.jobId!);
    if (entry && WAITING.has(entry.state) && info.status === "staged") info.status = "queued";
    else if (entry && RUNNING.has(entry.state)) {
      // Running on its node, whether or not runstage there has taken the lock yet.
      if (info.status === "staged") info.status = "running";
      info.host ??= entry.node;
    } else if (ended(entry)) {
      const status = finalizeLeftJob(info.run, job, entry);
      if (status) {
        info.status = status;
        info.exitCode = runMeta.exit.read(info.run);
      }
    }
  }
}

/**
 * A job gone from the queue (or ended there) whose run has no `proc/exit`:
 * the run is finalized with Slurm's reason. Returns the run's new status, or
 * undefined when the run finalized itself meanwhile or cannot be written.
 */
export function finalizeLeftJob(
  run: Run,
  job: RunSlurmJob,
  entry: QueueEntry | undefined,
): RunInfo["status"] | undefined {
  if (runMeta.exit.exists(run)) return undefined;
  // runstage may still be finalizing the run in the job (Slurm gives it KillWait
  // seconds): a live lock here waits, and one on another host waits until the
  // job is gone from the queue, when no process of it is left.
  const lock = runningLock(run);
  if (lock && (lock.host === thisHost() || entry !== undefined)) return undefined;
  const end = jobEnd(entry ?? accountingEntry(job.jobId!), runMeta.started.exists(run));
  try {
    runMeta.slurm.write(run, { ...job, end });
    logRunner(run, `Slurm job ${job.jobId} ${end.reason}`);
    stopRun(run, end.state === "node_fail" || end.state === "failed" ? 1 : -15);
  } catch {
    return undefined; // A runs home we cannot write: shown as the files say.
  }
  return runStatus(run);
}

/** Why the job ended, as meta `slurm` records it. */
export function jobEnd(
  entry: QueueEntry | undefined,
  started: boolean,
): SlurmJobEnd {
  const at = timestampMicros();
  const when = started ? "while the run ran" : "before the run started";
  if (entry === undefined) {
    return {
      state: "left_queue",
      reason: `left the queue ${when} without finalizing it (cancelled or removed outside` +
        " runstage; this cluster keeps no accounting to say which)",
      at,
    };
  }
  const state = entry.state.toLowerCase();
  const words: Record<string, string> = {
    cancelled: "was cancelled",
    timeout: "reached its time limit",
    out_of_memory: "ran out of memory",
    node_fail: "lost its node",
    preempted: "was preempted",
    boot_fail: "could not boot its node",
    deadline: "passed its deadline",
    failed: "failed",
    completed: "completed",
  };
  const what = words[state] ?? `ended as ${entry.state}`;
  // A cancelled job's reason is the last one it waited for (BeginTime, Priority): no help.
  const reason = entry.reason && state !== "cancelled" ? ` (${entry.reason})` : "";
  const unfinished = started ? ", and the run could not finalize itself" : "";
  return { state, reason: `${what} ${when}${reason}${unfinished}`, at };
}

/** The job's final state from sacct, when the cluster keeps accounting. */
function accountingEntry(jobId: string): QueueEntry | undefined {
  const result = spawnSync("sacct", ["-n", "-P", "-X", "-j", jobId, "-o", "JobID,State,Reason"], {
    encoding: "utf8",
    timeout: 30_000,
  });
  if (result.error || result.status !== 0) return undefined;
  for (const line of result.stdout.split("\n")) {
    const [id, state, reason] = line.trim().split("|");
    if (id === jobId && state) {
      return {
        state: state.split(" ")[0],
        reason: reason && reason !== "None" ? reason : undefined,
      };
    }
  }
  return undefined;
}
