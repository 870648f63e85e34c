/**
 * A 20-trial grid against 20 separate `runstage run` invocations of the same
 * trials, on a project of 300 small files and a trivial op: what a sweep saves
 * by running its trials in one process (one start, one project read, digests
 * remembered across trials). The target: the grid takes at most 0.5×
 * the wall time of the separate runs. Each variant writes into a runs home of
 * its own per round, so no trial finds another's run.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type BenchOptions, cli, median, rotate, WORK_DIR } from "./harness.ts";
import { type MachineFacts, markdownTable, seconds, textTable } from "./report.ts";

const TARGET_RATIO = 0.5;
const FILES = 300;
const LRS = [0.1, 0.2, 0.3, 0.4, 0.5];
const EPOCHS = [1, 2, 3, 4];
const PROJECT = `${WORK_DIR}/sweep-project`;

async function makeProject(): Promise<void> {
  await rm(PROJECT, { recursive: true, force: true });
  for (let i = 0; i < FILES; i++) {
    const dir = join(PROJECT, `pkg${i % 10}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `mod${i}.py`), `# module ${i}\nVALUE = ${i}\n`.repeat(20));
  }
  await writeFile(join(PROJECT, "train.py"), "lr = 0.1\nepochs = 1\n");
  await writeFile(
    join(PROJECT, "gage.toml"),
    '[train]\nexec = "true"\nconfig = "train.py"\nsourcecode = ["**/*.py"]\n',
  );
}

async function timed(argvs: string[][]): Promise<number> {
  const start = performance.now();
  for (const argv of argvs) {
    const out = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`${argv.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  }
  return (performance.now() - start) / 1000;
}

export async function benchSweep(options: BenchOptions, facts: MachineFacts): Promise<string> {
  await makeProject();
  const trials = LRS.flatMap((lr) => EPOCHS.map((epochs) => [`lr=${lr}`, `epochs=${epochs}`]));
  const home = (variant: string, round: number) => `${WORK_DIR}/sweep-runs-${variant}-${round}`;
  const variants = [
    {
      key: "grid",
      label: `one grid of ${trials.length} trials`,
      argvs: (r: number) => [
        cli(
          "-C",
          PROJECT,
          "--runs",
          home("grid", r),
          "run",
          "train",
          `lr=[${LRS}]`,
          `epochs=[${EPOCHS}]`,
        ),
      ],
    },
    {
      key: "separate",
      label: `${trials.length} separate runs`,
      argvs: (r: number) =>
        trials.map((t) => cli("-C", PROJECT, "--runs", home("separate", r), "run", "train", ...t)),
    },
  ];
  const walls = new Map(variants.map((v) => [v.key, [] as number[]]));
  for (let r = 0; r < options.rounds; r++) {
    for (const v of rotate(variants, r)) {
      const wall = await timed(v.argvs(r));
      walls.get(v.key)!.push(wall);
      console.error(`  round ${r + 1}/${options.rounds}  ${v.label.padEnd(28)} ${seconds(wall)}`);
    }
  }
  const grid = median(walls.get("grid")!);
  const separate = median(walls.get("separate")!);
  const ratio = grid / separate;
  const verdict = ratio <= TARGET_RATIO ? "PASS" : "MISS";
  const table = {
    head: ["variant", "median", "per trial", "÷ separate"],
    rows: variants.map((v) => {
      const m = median(walls.get(v.key)!);
      return [v.label, seconds(m), seconds(m / trials.length), `${(m / separate).toFixed(2)}×`];
    }),
  };
  console.log(`\n${textTable(table)}\n\ngrid ÷ separate: ${ratio.toFixed(2)}× (${verdict})\n`);
  return [
    `Last run ${facts.date}, at ${facts.commit}, ${options.rounds} alternating rounds; medians.`,
    "",
    `A project of ${FILES} small Python files and an op whose command is \`true\`, with flags in ` +
    `\`train.py\`; ${LRS.length} × ${EPOCHS.length} = ${trials.length} trials, each a full run ` +
    "(staged, run, manifest written), into a fresh runs home per variant and round.",
    "",
    markdownTable(table),
    "",
    `Target: the grid at most ${TARGET_RATIO}× the separate runs: ${
      ratio.toFixed(2)
    }×, ${verdict}.`,
  ].join("\n");
}
