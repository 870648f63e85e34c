/**
 * Slurm on the local one-node test cluster (scripts/slurm/start.sh): how long
 * from `runstage run --slurm` to the op's first output line in the run's meta
 * (submit, Slurm's scheduling, the job starting runstage, runstage starting
 * the op), and runstage's own overhead inside the job: the wall time of the
 * job's `runstage start` around an op that only echoes, taken by a wrapper
 * the job runs runstage through (RUNSTAGE_SLURM_COMMAND). No cluster: the
 * section says so and measures nothing.
 */
import { chmod, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type BenchOptions, cli, median, tryRun, WORK_DIR } from "./harness.ts";
import { type MachineFacts, markdownTable, seconds, textTable } from "./report.ts";

const PROJECT = `${WORK_DIR}/slurm-project`;
const WRAPPER = `${WORK_DIR}/slurm-wrap.sh`;
const POLL_MS = 5;

/** Times the job's runstage: ns before and after, into $RUNSTAGE_BENCH_TIMES (set by the job's env). */
const WRAPPER_SCRIPT = `#!/bin/sh
t0=$(date +%s%N)
"$@"
rc=$?
t1=$(date +%s%N)
echo "$t0 $t1" > "$RUNSTAGE_BENCH_TIMES"
exit $rc
`;

async function outputStarted(home: string): Promise<boolean> {
  for (const name of await readdir(home).catch(() => [] as string[])) {
    if (!name.endsWith(".meta")) continue;
    const size = await stat(join(home, name, "output", "40_run")).then((s) => s.size, () => 0);
    if (size > 0) return true;
  }
  return false;
}

interface Round {
  submitS: number;
  firstLineS: number;
  insideS: number;
}

async function oneRound(round: number): Promise<Round> {
  const home = `${WORK_DIR}/slurm-runs-${round}`;
  const times = `${WORK_DIR}/slurm-times-${round}`;
  const env = {
    RUNSTAGE_SLURM_COMMAND: JSON.stringify([WRAPPER, ...cli()]),
    RUNSTAGE_BENCH_TIMES: times,
  };
  const start = performance.now();
  const submit = await new Deno.Command(cli()[0], {
    args: [...cli("-C", PROJECT, "--runs", home, "run", "--slurm").slice(1)],
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!submit.success) throw new Error(new TextDecoder().decode(submit.stderr));
  const submitS = (performance.now() - start) / 1000;
  while (!(await outputStarted(home))) {
    if (performance.now() - start > 120_000) throw new Error("no output within 2 minutes");
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const firstLineS = (performance.now() - start) / 1000;
  let text = "";
  while (!(text = await Deno.readTextFile(times).catch(() => ""))) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const [t0, t1] = text.trim().split(" ").map(BigInt);
  return { submitS, firstLineS, insideS: Number(t1 - t0) / 1e9 };
}

export async function benchSlurm(options: BenchOptions, facts: MachineFacts): Promise<string> {
  if ((await tryRun(["sinfo", "-h", "-o", "%T"])) === undefined) {
    console.log("skipped: no Slurm (run scripts/slurm/start.sh as root)");
    return `Last tried ${facts.date}: no Slurm cluster answered, nothing measured.`;
  }
  await Deno.mkdir(PROJECT, { recursive: true });
  await writeFile(join(PROJECT, "gage.toml"), '[train]\nexec = "echo first"\n');
  await writeFile(WRAPPER, WRAPPER_SCRIPT);
  await chmod(WRAPPER, 0o755);
  const submits: number[] = [];
  const firsts: number[] = [];
  const insides: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    const { submitS, firstLineS, insideS } = await oneRound(r);
    submits.push(submitS);
    firsts.push(firstLineS);
    insides.push(insideS);
    console.error(
      `  round ${r + 1}/${options.rounds}  first line ${seconds(firstLineS)}` +
        `  runstage in the job ${seconds(insideS)}`,
    );
  }
  const table = {
    head: ["measure", "median", "min", "max"],
    rows: [
      ["`run --slurm` returns (staged and submitted)", submits],
      ["`run --slurm` to the op's first output line", firsts],
      ["`runstage start` inside the job (op: echo)", insides],
    ].map(([label, values]) => {
      const v = values as number[];
      return [
        label as string,
        seconds(median(v)),
        seconds(Math.min(...v)),
        seconds(Math.max(...v)),
      ];
    }),
  };
  console.log(`\n${textTable(table)}\n`);
  return [
    `Last run ${facts.date}, at ${facts.commit}, ${options.rounds} rounds; the one-node test` +
    " cluster of scripts/slurm/start.sh on this machine, runstage run from source" +
    ` (\`${cli()[0].split("/").at(-1)}\`).`,
    "",
    markdownTable(table),
  ].join("\n");
}
