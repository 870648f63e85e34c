/**
 * Meta `slurm`: the Slurm job a run was submitted as (lib/slurm/ writes it).
 * It lives with the run format because every reader of a run's status needs
 * it: a run whose job Slurm still holds is `queued` or `running` there, and a
 * job that left the queue without finalizing its run says why here (`end`).
 */

/** How a run's job ended when the run could not say so itself. */
export interface SlurmJobEnd {
  /** `timeout`, `cancelled`, or Slurm's own state in lower case (`node_fail`, `out_of_memory`). */
  state: string;
  /** One line on why, for `show` and `runs`. */
  reason: string;
  /** Microseconds since the epoch, when runstage learned it. */
  at: number;
}

export interface RunSlurmJob {
  /** The id squeue and scancel take: `123`, or `123_4` for task 4 of array job 123. */
  jobId?: string;
  arrayJobId?: string;
  arrayTaskId?: number;
  partition?: string;
  /** The sbatch options asked for, as the script's `#SBATCH` lines have them. */
  options: string[];
  /** Microseconds since the epoch. */
  submitted: number;
  /** SHA-256 (hex) of meta `slurm.sh`, the job's script. */
  scriptSha256: string;
  /** Where Slurm writes the job's own log. */
  log: string;
  /** The command the job runs runstage with. */
  command: string[];
  /** sbatch's message when it refused the job: the run stays staged, never started. */
  refused?: string;
  /** The node the job ran on, as the job itself wrote when it started. */
  node?: string;
  end?: SlurmJobEnd;
}

export function isRunSlurmJob(v: unknown): v is RunSlurmJob {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return Array.isArray(r.options) && typeof r.submitted === "number" &&
    typeof r.scriptSha256 === "string" && typeof r.log === "string" &&
    (r.jobId === undefined || typeof r.jobId === "string");
}
