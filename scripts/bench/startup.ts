/**
 * Section `startup`: what a user waits for before runstage does any work, for
 * the binary users download against `deno run main.ts`, and what the binary
 * weighs.
 *
 * @module
 */
import { resolve } from "node:path";
import { makeListedRuns } from "./corpus.ts";
import { type BenchOptions, MAIN, median, REPO, rotate, run, WORK_DIR } from "./harness.ts";
import {
  count,
  formatFacts,
  type MachineFacts,
  markdownTable,
  milliseconds,
  ratio,
  type Table,
  textTable,
} from "./report.ts";

const STARTUP_RUNS = 300;
/** Each round times every command this many times, in rotating order: startups are short. */
const STARTUP_SAMPLES_PER_ROUND = 5;

interface StartupCommand {
  key: string;
  label: string;
  /** The arguments after the program; checked on the warm-up run. */
  args: string[];
  check: (stdout: string) => void;
}

/**
 * What a user waits for before runstage does anything, for the binary users
 * download against `deno run main.ts`: `--version` (start and exit) and `runs`
 * on a runs home of a few hundred runs (start, read meta, print), timed in
 * the same rounds; and what the binary weighs.
 */
export async function benchStartup(options: BenchOptions, facts: MachineFacts): Promise<string> {
  const binary = await binaryToTime();
  const binaryVersion = (await run([binary, "--version"])).trim();
  const home = `${WORK_DIR}/startup-runs`;
  await makeListedRuns(home, STARTUP_RUNS);
  const commands: StartupCommand[] = [
    {
      key: "version",
      label: "runstage --version",
      args: ["--version"],
      check: (out) => {
        if (!out.startsWith("runstage ")) throw new Error(`--version printed ${out}`);
      },
    },
    {
      key: "runs",
      label: `runstage runs (${STARTUP_RUNS} runs)`,
      args: ["--runs", home, "runs"],
      check: (out) => {
        const lines = out.trimEnd().split("\n").length;
        // A header line, then one line per run.
        if (lines !== STARTUP_RUNS + 1) throw new Error(`runs printed ${lines} lines`);
      },
    },
  ];
  const runners = [
    {
      key: "source",
      label: "deno run main.ts",
      argv: [Deno.execPath(), "run", "--allow-all", "--quiet", MAIN],
    },
    { key: "binary", label: "binary", argv: [binary] },
  ];
  const variants = commands.flatMap((c) => runners.map((r) => ({ command: c, runner: r })));
  // Warm-up, untimed: Deno's module and code caches, the page cache of the
  // binary and the runs home. And the binary must list the runs as the source does.
  const listed = new Map<string, string>();
  for (const v of variants) {
    const stdout = await run([...v.runner.argv, ...v.command.args]);
    v.command.check(stdout);
    if (v.command.key === "runs") listed.set(v.runner.key, stdout);
  }
  if (listed.get("binary") !== listed.get("source")) {
    throw new Error(`${binary} runs and deno run main.ts runs list the runs differently`);
  }

  const walls = new Map(variants.map((v) => [`${v.command.key}/${v.runner.key}`, [] as number[]]));
  const samples = options.rounds * STARTUP_SAMPLES_PER_ROUND;
  for (let i = 0; i < samples; i++) {
    for (const v of rotate(variants, i)) {
      const started = performance.now();
      await run([...v.runner.argv, ...v.command.args]);
      walls.get(`${v.command.key}/${v.runner.key}`)!.push((performance.now() - started) / 1000);
    }
    if ((i + 1) % STARTUP_SAMPLES_PER_ROUND === 0) {
      console.error(`  round ${(i + 1) / STARTUP_SAMPLES_PER_ROUND}/${options.rounds} done`);
    }
  }
  const med = (key: string) => median(walls.get(key)!);
  const table: Table = {
    head: ["command", "deno run main.ts", "binary", "binary ÷ deno run"],
    rows: commands.map((c) => [
      c.label,
      milliseconds(med(`${c.key}/source`)),
      milliseconds(med(`${c.key}/binary`)),
      ratio(med(`${c.key}/binary`) / med(`${c.key}/source`)),
    ]),
  };
  table.rows.push([
    `runs beyond --version`,
    milliseconds(med("runs/source") - med("version/source")),
    milliseconds(med("runs/binary") - med("version/binary")),
    ratio(
      (med("runs/binary") - med("version/binary")) / (med("runs/source") - med("version/source")),
    ),
  ]);
  const real = await Deno.realPath(binary);
  const size = (await Deno.stat(real)).size;
  const sizeText = `${(size / 1e6).toFixed(0)} MB (${count(size)} bytes)`;
  console.log(`\nBinary: ${real}, ${sizeText}\n${binaryVersion}\n\n${textTable(table)}`);
  return [
    `Last run ${facts.date}, at ${facts.commit}; medians of ${samples} runs of each command, ` +
    `in rotating order, after one untimed run of each.`,
    `Machine: ${formatFacts(facts)}.`,
    `Binary: \`${relativeToRepo(real)}\`, ${sizeText}, \`${binaryVersion}\`. ` +
    `Runs home: ${STARTUP_RUNS} completed runs (one real run cloned under fresh ids).`,
    markdownTable(table),
  ].join("\n\n");
}

/** RUNSTAGE_BIN, else dist/runstage, built for this machine when it is missing. */
async function binaryToTime(): Promise<string> {
  const named = Deno.env.get("RUNSTAGE_BIN");
  if (named) return resolve(named);
  const dist = `${REPO}dist/runstage`;
  if (!(await Deno.stat(dist).catch(() => undefined))) {
    console.log("No dist/runstage: building it with deno task build --host");
    await run([Deno.execPath(), "run", "--allow-all", `${REPO}scripts/build.ts`, "--host"]);
  }
  return dist;
}

function relativeToRepo(path: string): string {
  return path.startsWith(REPO) ? path.slice(REPO.length) : path;
}
