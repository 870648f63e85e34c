/**
 * The job's side: `runstage start` inside the Slurm job it was submitted as.
 * It notes the node in meta `slurm`, and treats the time-limit signal
 * (script.ts) as a stop that ends the run as a timeout. Also what cancelling
 * a run and waiting for one need: scancel, and the runs' ends.
 */
import { spawnSync } from "node:child_process";
import { RunstageError } from "../errors.ts";
import { timestampMicros } from "../run/clock.ts";
import type { Run } from "../run/identity.ts";
import { hostName } from "../run/process.ts";
import { logRunner, runMeta } from "../run/meta.ts";
import type { RunSlurmJob } from "../run/slurmjob.ts";

/**
 * The job this process runs in, when it is the one `run` was submitted as
 * (an array's task for a trial); undefined outside Slurm or for another job.
 */
export function slurmJobOf(
  run: Run,
  env: Record<string, string | undefined>,
): RunSlurmJob | undefined {
  const jobId = env.SLURM_JOB_ID;
  const job = runMeta.slurm.read(run);
  if (!jobId || job?.jobId === undefined) return undefined;
  const mine = job.arrayJobId !== undefined
    ? job.arrayJobId === env.SLURM_ARRAY_JOB_ID &&
      String(job.arrayTaskId) === env.SLURM_ARRAY_TASK_ID
    : job.jobId === jobId;
  return mine ? job : undefined;
}

/** Notes in meta `slurm` and log/runner that the job started the run on this node. */
export function recordJobStarted(run: Run, job: RunSlurmJob): void {
  runMeta.slurm.write(run, { ...job, node: hostName() });
  logRunner(run, `Slurm job ${job.jobId} started the run on ${hostName()}`);
}

/** Records that the time-limit signal ended the run. */
export function recordTimeout(run: Run, job: RunSlurmJob): void {
  const reason = "reached its time limit: runstage ended the op when Slurm warned ahead of it";
  runMeta.slurm.write(run, {
    ...job,
    node: hostName(),
    end: { state: "timeout", reason, at: timestampMicros() },
  });
  logRunner(run, `Slurm job ${job.jobId} ${reason}`);
}

/** Asks Slurm to cancel the jobs; throws with scancel's own message when it refuses. */
export function cancelJobs(jobIds: string[]): void {
  if (jobIds.length === 0) return;
  const result = spawnSync("scancel", jobIds, { encoding: "utf8", timeout: 30_000 });
  if (result.error) {
    throw new RunstageError(
      `cannot cancel Slurm jobs: ${result.error.message}; is scancel on PATH?`,
    );
  }
  const message = result.stderr.split("\n").map((l) => l.replace(/^scancel: (error: )?/, ""))
    .filter((l) => l.trim() !== "" && !/already completing or completed/i.test(l)).join("; ");
  if (result.status !== 0 && message !== "") {
    throw new RunstageError(`scancel refused: ${message}`);
  }
}
