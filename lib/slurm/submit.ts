/**
 * Submitting staged runs to Slurm: the script (script.ts) into each run's meta
 * `slurm.sh`, `sbatch --parsable`, and meta `slurm` with the job id, or with
 * sbatch's own message when it refused (the run then stays staged: it never
 * started, and can be started here or submitted again). Several runs are one
 * job array; each records its task.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { timestampMicros } from "../run/clock.ts";
import type { Run } from "../run/identity.ts";
import { logRunner, runMeta } from "../run/meta.ts";
import type { RunSlurmJob } from "../run/slurmjob.ts";
import { sbatchOptionArgs, type SlurmOptions } from "./options.ts";
import { batchScript, runstageCommand } from "./script.ts";

export interface SubmitRequest {
  runs: Run[];
  runsHome: string;
  options: SlurmOptions;
  /** A job array's `%P`: how many of its tasks run at once. */
  parallel?: number;
  env?: Record<string, string | undefined>;
}

export interface Submitted {
  /** The job id sbatch printed: the array job's for several runs. */
  jobId: string;
}

/** Where a job array's tasks write Slurm's log: one file a task, in the runs home. */
export function arrayLogDir(runsHome: string): string {
  return join(runsHome, ".slurm");
}

/** Submits the runs as one job (an array for several); throws RunstageError when sbatch refuses. */
export function submitRuns(req: SubmitRequest): Submitted {
  const command = runstageCommand(req.options, req.env);
  const script = batchScript({ ...req, command });
  const scriptSha256 = createHash("sha256").update(script).digest("hex");
  const array = req.runs.length > 1;
  const log = array
    ? join(arrayLogDir(req.runsHome), "%A_%a.out")
    : join(req.runs[0].metaDir, "slurm.out");
  if (array) mkdirSync(arrayLogDir(req.runsHome), { recursive: true });
  for (const run of req.runs) runMeta.slurmScript.write(run, script);
  const base: RunSlurmJob = {
    partition: req.options.partition,
    options: sbatchOptionArgs(req.options),
    submitted: timestampMicros(),
    scriptSha256,
    log,
    command,
  };
  const scriptPath = join(req.runs[0].metaDir, runMeta.slurmScript.name);
  const result = spawnSync(
    "sbatch",
    ["--parsable", `--output=${log}`, `--chdir=${req.runsHome}`, scriptPath],
    { encoding: "utf8", env: { ...process.env, ...req.env } },
  );
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === "ENOENT";
    const why = missing ? "sbatch is not on PATH" : result.error.message;
    for (const run of req.runs) runMeta.slurm.write(run, { ...base, refused: why });
    throw new RunstageError(
      `cannot submit to Slurm: ${why}; run on a Slurm login node, or leave out --slurm`,
    );
  }
  if (result.status !== 0) {
    const message = sbatchMessage(result.stderr) || `sbatch exited with ${result.status}`;
    for (const run of req.runs) {
      runMeta.slurm.write(run, { ...base, refused: message });
      logRunner(run, `Slurm refused the job: ${message}`);
    }
    throw new RunstageError(
      `sbatch refused the job: ${message}; fix the Slurm options (docs/slurm.md) and submit` +
        ` again with "runstage start RUN --slurm"`,
    );
  }
  const jobId = result.stdout.trim().split(";")[0];
  req.runs.forEach((run, i) => {
    const job: RunSlurmJob = array
      ? {
        ...base,
        jobId: `${jobId}_${i}`,
        arrayJobId: jobId,
        arrayTaskId: i,
        log: join(arrayLogDir(req.runsHome), `${jobId}_${i}.out`),
      }
      : { ...base, jobId };
    runMeta.slurm.write(run, job);
    logRunner(run, `Submitted to Slurm as job ${job.jobId}`);
  });
  return { jobId };
}

/** sbatch's message as one line: `sbatch: error: ` prefixes dropped. */
function sbatchMessage(stderr: string): string {
  return stderr.split("\n").map((l) => l.replace(/^sbatch: (error: )?/, "").trim())
    .filter((l) => l !== "").join("; ");
}
