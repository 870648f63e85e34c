/**
 * Runs on a real Slurm (scripts/slurm/start.sh starts a one-node cluster):
 * submit, a sweep as one job array, status from the queue, cancel (running
 * and queued), the time limit, exit codes through --wait, a job removed
 * behind runstage's back, a refused option, and following the output. On a
 * machine without Slurm each test says "skipped: no Slurm" (docs/slurm.md).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { cliFor, runstageIn, spawnRunstage } from "../support/cli.ts";
import { exists, withProject } from "../support/fixtures.ts";
import { alive } from "../support/process.ts";
import { slurmTest, squeueState, waitForJobToLeaveQueue } from "../support/slurm.ts";

interface SlurmMeta {
  jobId?: string;
  arrayJobId?: string;
  arrayTaskId?: number;
  options: string[];
  scriptSha256: string;
  log: string;
  node?: string;
  refused?: string;
  end?: { state: string; reason: string };
}

/** The runs of a runs home by meta dir, oldest trial first. */
function metaDirs(home: string): string[] {
  return readdirSync(home).filter((n) => n.endsWith(".meta")).map((n) => `${home}/${n}`);
}

function slurmMeta(metaDir: string): SlurmMeta {
  return JSON.parse(readFileSync(`${metaDir}/slurm`, "utf8"));
}

function onlyMeta(home: string): string {
  const dirs = metaDirs(home);
  assert.equal(dirs.length, 1, `one run in ${home}`);
  return dirs[0];
}

/** Polls `check` every 200 ms until it holds; fails after `timeoutMs` (no timing is asserted). */
async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const statusOf = async (cli: ReturnType<typeof cliFor>) => {
  const r = await cli("runs", "--json");
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { status: string; host?: string }[])[0];
};

const ECHO_OP = `[train]\nexec = "sh -c 'echo hello from $(hostname); echo loss: 0.25'"\n`;

slurmTest(
  "slurm: a run submits, completes, has its job in meta and its output captured",
  async () => {
    await withProject({ "gage.toml": ECHO_OP }, async (project, home) => {
      const cli = cliFor(project, home);
      const r = await cli("run", "--slurm", "--wait");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^submitted run [a-z]+-[a-z]+ as Slurm job \d+\n$/);
      const meta = onlyMeta(home);
      const job = slurmMeta(meta);
      assert.match(job.jobId!, /^\d+$/);
      assert.equal(r.stdout.trim().split(" ").at(-1), job.jobId);
      const script = readFileSync(`${meta}/slurm.sh`, "utf8");
      assert.equal(job.scriptSha256, createHash("sha256").update(script).digest("hex"));
      assert.match(script, /^#SBATCH --signal=B:USR1@\d+$/m);
      assert.ok(job.node, "the job notes its node");
      assert.equal(readFileSync(`${meta}/proc/exit`, "utf8").trim(), "0");
      const out = await cli("cat", "--output");
      assert.match(out.stdout, /^hello from \S+\nloss: 0.25\n$/);
      assert.equal((await cli("verify", "1")).code, 0);
    });
  },
);

slurmTest("slurm: a 3-trial sweep is one job array and all three complete", async () => {
  const project = {
    "gage.toml": `[train]\nexec = "sh -c 'echo lr=$(cat lr.txt)'"\nconfig = "c.json"\n`,
    "c.json": `{"lr": 0.1}\n`,
  };
  await withProject(project, async (dir, home) => {
    const r = await runstageIn(
      dir,
      home,
      "run",
      "lr=[0.1,0.2,0.3]",
      "--slurm",
      "--parallel",
      "2",
      "--wait",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /submitted 3 runs as Slurm job array (\d+)\n/);
    const jobs = metaDirs(home).map(slurmMeta);
    assert.equal(jobs.length, 3);
    assert.equal(new Set(jobs.map((j) => j.arrayJobId)).size, 1, "one array job");
    assert.deepEqual(jobs.map((j) => j.arrayTaskId).sort(), [0, 1, 2]);
    for (const j of jobs) assert.equal(j.jobId, `${j.arrayJobId}_${j.arrayTaskId}`);
    const script = readFileSync(`${metaDirs(home)[0]}/slurm.sh`, "utf8");
    assert.match(script, /^#SBATCH --array=0-2%2$/m);
    const exits = metaDirs(home).map((m) => readFileSync(`${m}/proc/exit`, "utf8").trim());
    assert.deepEqual(exits, ["0", "0", "0"]);
    // Each task started its own trial: the trials' configs are the three values.
    const lrs = metaDirs(home).map((m) => JSON.parse(readFileSync(`${m}/config.json`, "utf8")).lr);
    assert.deepEqual(lrs.sort(), [0.1, 0.2, 0.3]);
  });
});

const SLEEP_OP =
  `[train]\nexec = "sh -c 'echo $$ > $RUN_DIR/op.pid; echo started; exec sleep 300'"\n`;

slurmTest(
  "slurm: a running run shows running; cancel makes it terminated, no process left, output kept",
  async () => {
    await withProject({ "gage.toml": SLEEP_OP }, async (project, home) => {
      const cli = cliFor(project, home);
      assert.equal((await cli("run", "--slurm")).code, 0);
      const meta = onlyMeta(home);
      const runDir = meta.replace(/\.meta$/, "");
      await waitUntil("the op started", () => exists(`${runDir}/op.pid`));
      const status = await statusOf(cli);
      assert.equal(status.status, "running");
      assert.equal(status.host, slurmMeta(meta).node, "running on its node");
      assert.match((await cli("runs")).stdout, /running \(host \S+\)/);
      const pid = Number(readFileSync(`${runDir}/op.pid`, "utf8"));
      assert.ok(alive(pid));
      const cancel = await cli("cancel", "1");
      assert.equal(cancel.code, 0, cancel.stderr);
      assert.match(cancel.stdout, /^Cancelled 1 run: /);
      assert.equal((await statusOf(cli)).status, "terminated");
      assert.ok(!alive(pid), "the op is gone");
      assert.match((await cli("cat", "--output")).stdout, /^started\n/);
      assert.ok(await exists(`${meta}/manifest`));
      await waitForJobToLeaveQueue(slurmMeta(meta).jobId!, 60_000);
    });
  },
);

slurmTest("slurm: a queued run cancelled never starts", async () => {
  await withProject({ "gage.toml": SLEEP_OP }, async (project, home) => {
    const cli = cliFor(project, home);
    // Held back an hour: it stays queued.
    assert.equal((await cli("run", "--slurm", "--sbatch-arg=--begin=now+1hour")).code, 0);
    assert.equal((await statusOf(cli)).status, "queued");
    const start = await cli("start", "1");
    assert.equal(start.code, 1, "its job starts it, not a start here");
    assert.match(start.stderr, /^runstage: run \S+ is Slurm job \d+ \(pending\).*cancel/);
    const cancel = await cli("cancel", "1");
    assert.equal(cancel.code, 0, cancel.stderr);
    const meta = onlyMeta(home);
    assert.equal((await statusOf(cli)).status, "terminated");
    assert.equal(await exists(`${meta}/started`), false, "never started");
    assert.equal(slurmMeta(meta).end?.state, "cancelled");
    assert.equal(await squeueState(slurmMeta(meta).jobId!), undefined);
  });
});

slurmTest("slurm: a run past its time limit is recorded as a timeout", async () => {
  await withProject({ "gage.toml": SLEEP_OP }, async (project, home) => {
    const cli = cliFor(project, home);
    // A minute, Slurm's smallest limit; the warning comes up to a minute early.
    const r = await cli("run", "--slurm", "--time=1", "--wait");
    assert.equal(r.code, 128 + 15, r.stderr);
    assert.match(r.stderr, /terminated \(exit code -15\): Slurm job reached its time limit/);
    const meta = onlyMeta(home);
    assert.equal(slurmMeta(meta).end?.state, "timeout");
    const runs = await cli("runs");
    assert.match(runs.stdout, /terminated \(timeout\)/);
    assert.match((await cli("cat", "--output")).stdout, /^started\n/);
  });
});

slurmTest("slurm: an op that fails passes its exit code through --wait", async () => {
  await withProject(
    { "gage.toml": `[train]\nexec = "sh -c 'exit 3'"\n` },
    async (project, home) => {
      const r = await runstageIn(project, home, "run", "--slurm", "--wait");
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /run \S+ failed \(exit code 3\)/);
    },
  );
});

slurmTest(
  "slurm: a job removed from the queue behind runstage's back is reported as such",
  async () => {
    await withProject({ "gage.toml": SLEEP_OP }, async (project, home) => {
      const cli = cliFor(project, home);
      assert.equal((await cli("run", "--slurm", "--sbatch-arg=--begin=now+1hour")).code, 0);
      const meta = onlyMeta(home);
      const jobId = slurmMeta(meta).jobId!;
      const scancel = new Deno.Command("scancel", { args: [jobId] }).outputSync();
      assert.equal(scancel.code, 0);
      await waitForJobToLeaveQueue(jobId, 60_000);
      const runs = await cli("runs");
      assert.match(runs.stdout, /terminated \((cancelled|left queue)\)/);
      const show = await cli("show", "1");
      assert.match(show.stdout, /ended: +(cancelled|left_queue): .*before the run started/);
      assert.equal(await exists(`${meta}/started`), false);
    });
  },
);

slurmTest(
  "slurm: a value sbatch refuses is one line with sbatch's message; the run stays staged",
  async () => {
    await withProject({ "gage.toml": ECHO_OP }, async (project, home) => {
      const cli = cliFor(project, home);
      const r = await cli("run", "--slurm", "--partition=no-such-partition");
      assert.equal(r.code, 1);
      const lines = r.stderr.trimEnd().split("\n").filter((l) => !l.includes("note:"));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(
        lines[0],
        /^runstage: sbatch refused the job: .*[Pp]artition.*start RUN --slurm/,
      );
      assert.equal((await statusOf(cli)).status, "staged");
      const job = slurmMeta(onlyMeta(home));
      assert.equal(job.jobId, undefined);
      assert.match(job.refused!, /[Pp]artition/);
      // Submitted again, with a partition that exists, it runs.
      const again = await cli("start", "1", "--slurm", "--wait");
      assert.equal(again.code, 0, again.stderr);
    });
  },
);

slurmTest("slurm: cat --output --follow streams a Slurm run's output until it ends", async () => {
  const op = `[train]\nexec = "sh -c 'for i in 1 2 3; do echo line $i; sleep 1; done'"\n`;
  await withProject({ "gage.toml": op }, async (project, home) => {
    const cli = cliFor(project, home);
    assert.equal((await cli("run", "--slurm")).code, 0);
    const follow = spawnRunstage(["--runs", home, "cat", "--output", "--follow"], { cwd: project });
    const done = await follow.result;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, "line 1\nline 2\nline 3\n");
    assert.equal((await statusOf(cli)).status, "completed");
  });
});

slurmTest(
  "slurm: options come from $slurm, then the op's slurm, then the command line",
  async () => {
    const gage = `"$slurm" = { time = "5", "sbatch-args" = ["--comment=from-file"] }\n\n` +
      `[train]\nexec = "true"\nslurm = { time = "6", cpus = 1, "sbatch-args" = ["--nice=1"] }\n`;
    await withProject({ "gage.toml": gage }, async (project, home) => {
      const r = await runstageIn(project, home, "run", "--slurm", "--time", "7", "--wait");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /runs home .* is under \/tmp.*use --runs DIR on a shared file system/);
      const job = slurmMeta(onlyMeta(home));
      assert.deepEqual(job.options, [
        "--time=7",
        "--cpus-per-task=1",
        "--comment=from-file",
        "--nice=1",
      ]);
      const script = readFileSync(`${onlyMeta(home)}/slurm.sh`, "utf8");
      for (const option of job.options) {
        assert.match(script, new RegExp(`^#SBATCH ${option}$`, "m"));
      }
      const without = await runstageIn(project, home, "run", "--time", "7");
      assert.equal(without.code, 1);
      assert.match(without.stderr, /^runstage: --time goes only with --slurm: add --slurm/);
    });
  },
);
