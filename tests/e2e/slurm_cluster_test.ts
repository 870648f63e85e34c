/**
 * The test cluster itself (scripts/slurm/start.sh, docs/slurm.md), checked for
 * what runstage's Slurm tests rely on: a batch job runs and completes, the
 * tasks of an array job run side by side (DefMemPerCPU keeps one task from
 * taking the node's whole memory), and scancel gives a running job's processes
 * SIGTERM before anything harsher. When one of these fails, the cluster's
 * configuration is wrong, not runstage.
 *
 * Times are read only from what the jobs wrote themselves; the test side only
 * waits, bounded, for things to happen.
 */
import assert from "node:assert/strict";
import { withTempDir } from "../support/fixtures.ts";
import { alive } from "../support/process.ts";
import {
  jobStates,
  sbatch,
  scancel,
  slurmTest,
  squeueState,
  waitForJobToLeaveQueue,
} from "../support/slurm.ts";

/** Runs `fn` in a temp dir, cancelling afterwards whatever job ids it added to `jobs` and left behind. */
async function withJobs(fn: (dir: string, jobs: string[]) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const jobs: string[] = [];
    try {
      await fn(dir, jobs);
    } finally {
      for (const id of jobs) {
        if (await squeueState(id) !== undefined) await scancel(id).catch(() => {});
      }
    }
  });
}

/** Polls until `path` exists; throws after `ms`, or as soon as job `jobId` has left the queue. */
async function waitForFile(path: string, jobId: string, ms = 60_000): Promise<void> {
  const giveUp = Date.now() + ms;
  for (;;) {
    try {
      await Deno.stat(path);
      return;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (await squeueState(jobId) === undefined) {
      throw new Error(`job ${jobId} left the queue without writing ${path}`);
    }
    if (Date.now() > giveUp) throw new Error(`${path}: not written after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

slurmTest("slurm cluster: an sbatch job writes a file and completes", async () => {
  await withJobs(async (dir, jobs) => {
    const id = await sbatch([
      `--chdir=${dir}`,
      "--output=job.out",
      "--wrap",
      "echo written by $SLURM_JOB_ID > result.txt",
    ]);
    jobs.push(id);
    await waitForJobToLeaveQueue(id, 60_000);
    assert.equal(await Deno.readTextFile(`${dir}/result.txt`), `written by ${id}\n`);
    // Slurm keeps a finished job MinJobAge (5) seconds: long enough to see how it ended.
    assert.deepEqual(await jobStates(id), ["COMPLETED"]);
  });
});

// Each task writes its start and end time by its own clock. It waits (bounded)
// for a sibling to start before it ends, so two tasks overlap whenever the
// cluster lets two run at once, even while other tests' jobs hold some CPUs;
// on a cluster that runs one task at a time they cannot overlap, whatever the wait.
const ARRAY_TASK = `#!/bin/sh
date +%s%N > "start.$SLURM_ARRAY_TASK_ID"
i=0
while [ "$(ls start.* | wc -l)" -lt 2 ] && [ "$i" -lt 75 ]; do sleep 0.2; i=$((i + 1)); done
sleep 0.5
date +%s%N > "end.$SLURM_ARRAY_TASK_ID"
`;

slurmTest("slurm cluster: a 3-task array job runs every task, two at the same time", async () => {
  await withJobs(async (dir, jobs) => {
    await Deno.writeTextFile(`${dir}/task.sh`, ARRAY_TASK);
    const id = await sbatch([`--chdir=${dir}`, "--array=0-2", "--output=task-%a.out", "task.sh"]);
    jobs.push(id);
    await waitForJobToLeaveQueue(id, 60_000);

    const states = await jobStates(id);
    assert.deepEqual(states, ["COMPLETED", "COMPLETED", "COMPLETED"], `task states: ${states}`);
    const read = async (name: string) => BigInt((await Deno.readTextFile(`${dir}/${name}`)).trim());
    const tasks: { task: number; start: bigint; end: bigint }[] = [];
    for (const task of [0, 1, 2]) {
      tasks.push({ task, start: await read(`start.${task}`), end: await read(`end.${task}`) });
    }
    const overlapping = tasks.flatMap((a) =>
      tasks.filter((b) => a.task < b.task && a.start < b.end && b.start < a.end)
        .map((b) => `${a.task}+${b.task}`)
    );
    assert.ok(
      overlapping.length > 0,
      `no two tasks ran at once (start/end ns: ${
        tasks.map((t) => `${t.task}: ${t.start}-${t.end}`).join(", ")
      })`,
    );
  });
});

// The trap records the signal; the sleep is what a run's op would be: a child
// of the job script that must go too.
const TRAPPING_JOB = `#!/bin/sh
trap 'echo TERM > term.marker; exit 0' TERM
sleep 120 &
echo $! > sleep.pid
echo started > started.marker
wait
echo "ended without a signal" > term.marker
`;

slurmTest("slurm cluster: scancel sends SIGTERM to a running job's processes", async () => {
  await withJobs(async (dir, jobs) => {
    await Deno.writeTextFile(`${dir}/job.sh`, TRAPPING_JOB);
    const id = await sbatch([`--chdir=${dir}`, "--output=job.out", "job.sh"]);
    jobs.push(id);
    await waitForFile(`${dir}/started.marker`, id);

    await scancel(id);
    await waitForJobToLeaveQueue(id, 60_000);
    assert.equal(await Deno.readTextFile(`${dir}/term.marker`), "TERM\n");
    assert.deepEqual(await jobStates(id), ["CANCELLED"]);
    const sleepPid = Number((await Deno.readTextFile(`${dir}/sleep.pid`)).trim());
    assert.equal(alive(sleepPid), false, `the job's sleep (pid ${sleepPid}) outlived the job`);
  });
});
