/**
 * Section `compare`: `runs --where` and `compare` on a runs home of 10,000 runs
 * with flags and metrics, against the same process start doing nothing
 * (`--version`), in the same rounds. The target: each under a second.
 *
 * The runs are one real staged and completed run, cloned in-process under
 * fresh ids, each with its own meta config.json (lr, epochs, seed) and
 * summary.json (loss, acc): the files a listing and a comparison read are
 * those of a real run.
 *
 * @module
 */
import { type BenchOptions, cli, median, run, WORK_DIR } from "./harness.ts";
import type { MachineFacts } from "./report.ts";
import { type CommandVariant, timeCommandRounds } from "./commands.ts";

const RUNS = 10_000;
const TARGET_SECONDS = 1;
const WHERE = "lr<0.15 and loss<=0.3";

/** Run i's flags and metrics: lr cycles through 10 values, loss through 100. */
function valuesOf(i: number) {
  const lr = (i % 10 + 1) / 50; // 0.02 .. 0.2
  const loss = (i % 100) / 100; // 0 .. 0.99
  return { config: { lr, epochs: 5 + (i % 3), seed: i }, metrics: { loss, acc: 1 - loss } };
}

/** How many of the runs `WHERE` keeps, from the same formula. */
function expectedMatches(): number {
  let n = 0;
  for (let i = 0; i < RUNS; i++) {
    const { config, metrics } = valuesOf(i);
    if (config.lr < 0.15 && metrics.loss <= 0.3) n++;
  }
  return n;
}

async function filesUnder(dir: string, prefix = ""): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) { for (const [k, v] of await filesUnder(dir, rel)) files.set(k, v); }
    else if (e.isFile) files.set(rel, await Deno.readFile(`${dir}/${rel}`));
  }
  return files;
}

/** A runs home of `RUNS` clones of one real run, each with its own id, times, flags and metrics. */
async function makeComparedRuns(home: string): Promise<void> {
  const project = `${home}-project`;
  await Deno.mkdir(project, { recursive: true });
  await Deno.writeTextFile(`${project}/gage.toml`, '[train]\nexec = "echo loss: 0.5"\n');
  await run(cli("-C", project, "--runs", home, "run"));
  const [meta] = [...Deno.readDirSync(home)].filter((e) => e.name.endsWith(".meta"));
  const template = await filesUnder(`${home}/${meta.name}`);
  const initialized = Number(new TextDecoder().decode(template.get("initialized")!));
  await Deno.remove(`${home}/${meta.name}`, { recursive: true });
  await Deno.remove(`${home}/${meta.name.slice(0, -5)}`, { recursive: true });
  const text = (s: string) => new TextEncoder().encode(s);
  for (let i = 0; i < RUNS; i++) {
    const id = crypto.randomUUID();
    const dir = `${home}/${id}.meta`;
    const { config, metrics } = valuesOf(i);
    const own = new Map(template);
    own.set("id", text(id));
    own.set("initialized", text(String(initialized + i * 1000)));
    own.set("started", text(String(initialized + i * 1000 + 1)));
    own.set("config.json", text(JSON.stringify(config)));
    own.set("summary.json", text(JSON.stringify({ metrics, source: "output" })));
    for (const [rel, bytes] of own) {
      const slash = rel.lastIndexOf("/");
      if (slash > 0) await Deno.mkdir(`${dir}/${rel.slice(0, slash)}`, { recursive: true });
      else await Deno.mkdir(dir, { recursive: true });
      await Deno.writeFile(`${dir}/${rel}`, bytes);
    }
    await Deno.mkdir(`${home}/${id}`);
  }
}

export async function benchCompare(options: BenchOptions, facts: MachineFacts): Promise<string> {
  const home = `${WORK_DIR}/compare-home`;
  console.error(`  making ${RUNS} runs with flags and metrics ...`);
  await makeComparedRuns(home);
  const matches = expectedMatches();
  const count = (expected: number) => (stdout: string) => {
    const n = (JSON.parse(stdout) as unknown[]).length;
    if (n !== expected) throw new Error(`listed ${n} runs, not ${expected}`);
  };
  const lines = (expected: number) => (stdout: string) => {
    const n = stdout.trimEnd().split("\n").length - 1;
    if (n !== expected) throw new Error(`showed ${n} rows, not ${expected}`);
  };
  const variants: CommandVariant[] = [
    { key: "version", label: "runstage --version (startup only)", argv: cli("--version") },
    {
      key: "runs-where",
      label: `runs --where "${WHERE}" (${matches} of ${RUNS})`,
      argv: cli("--runs", home, "runs", "--where", WHERE),
      check: lines(matches),
    },
    {
      key: "runs-where-json",
      label: `runs --where "${WHERE}" --json`,
      argv: cli("--runs", home, "runs", "--where", WHERE, "--json"),
      check: count(matches),
    },
    {
      key: "compare",
      label: `compare 1: (all ${RUNS} runs)`,
      argv: cli("--runs", home, "compare", "1:"),
      check: lines(RUNS),
    },
    {
      key: "compare-where",
      label: `compare --where "${WHERE}" --sort -loss,lr --json`,
      argv: cli("--runs", home, "compare", "--where", WHERE, "--sort", "-loss,lr", "--json"),
      check: count(matches),
    },
  ];
  const walls = await timeCommandRounds(variants, options.rounds, 60);
  const startup = median(walls.get("version")!);
  const timed = variants.filter((v) => v.key !== "version");
  const slowest = Math.max(...timed.map((v) => median(walls.get(v.key)!)));
  const verdict = slowest < TARGET_SECONDS ? "PASS" : "MISS";
  const markdown = [
    `Last run ${facts.date}, at ${facts.commit}, ${options.rounds} alternating rounds; medians.`,
    "",
    `A runs home of ${RUNS} completed runs (one real run cloned under fresh ids), each with its own`,
    "meta `config.json` (lr, epochs, seed) and `summary.json` (loss, acc).",
    "",
    "| command | wall time | beyond startup |",
    "| --- | ---: | ---: |",
    ...variants.map((v) => {
      const m = median(walls.get(v.key)!);
      return `| ${v.label.replaceAll("|", "\\|")} | ${m.toFixed(3)} s | ${
        (m - startup).toFixed(3)
      } s |`;
    }),
    "",
    `Target: each under ${TARGET_SECONDS} s: slowest ${slowest.toFixed(3)} s, ${verdict}.`,
  ].join("\n");
  console.log("\n" + markdown);
  return markdown;
}
