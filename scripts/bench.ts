/**
 * `deno task bench`: benchmarks of runstage, each a section that prints its
 * figures and rewrites its own generated block of docs/performance.md, between
 * `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`, so the
 * hand-written text around it survives.
 *
 * A benchmark, not a test: it reports against the targets, PASS or MISS, and
 * fails only when something is broken (a command fails, a staged run is wrong).
 *
 * The parts live in scripts/bench/: harness.ts (options, timing, rounds, RSS,
 * settling), report.ts (machine facts, tables, the doc blocks), corpus.ts (the
 * synthetic project and runs homes), and one module per section.
 *
 * Adding a benchmark: write `async function benchX(options, facts): Promise<string>`
 * in scripts/bench/x.ts that prints to the terminal and returns the markdown of
 * its section, and add it to SECTIONS. `--only x` then runs it alone.
 */
import {
  BENCH_DIR,
  cleanUp,
  DOC_PATH,
  moveToTrash,
  parseOptions,
  type Section,
  usage,
  waitForDeletedInodes,
  WORK_DIR,
} from "./bench/harness.ts";
import { formatFacts, fsType, machineFacts, updateDocSection } from "./bench/report.ts";
import { benchBoard } from "./bench/board.ts";
import { benchCompare } from "./bench/compare.ts";
import { benchRunsListing } from "./bench/runs.ts";
import { benchScan } from "./bench/scan.ts";
import { benchStaging } from "./bench/staging.ts";
import { benchStartup } from "./bench/startup.ts";
import { benchSweep } from "./bench/sweep.ts";
import { benchSlurm } from "./bench/slurm.ts";

const SECTIONS: Section[] = [
  { name: "staging", title: "Staging a 1 GB project", run: benchStaging },
  { name: "runs", title: "Listing 1,000 runs", run: benchRunsListing },
  { name: "startup", title: "Startup and size of the binary", run: benchStartup },
  { name: "scan", title: "Scanning a project that links out", run: benchScan },
  { name: "sweep", title: "A 20-trial grid against 20 runs", run: benchSweep },
  { name: "compare", title: "Comparing 10,000 runs", run: benchCompare },
  { name: "slurm", title: "Runs on the local Slurm cluster", run: benchSlurm },
  { name: "board", title: "The board over 10,000 runs", run: benchBoard },
];

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = await parseOptions(args, SECTIONS);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${usage(SECTIONS)}`);
    return 2;
  }
  if (parsed === "help") {
    console.log(usage(SECTIONS));
    return 0;
  }
  const { options, sections, writeDocs } = parsed;
  await Deno.mkdir(BENCH_DIR, { recursive: true });
  if (options.wait && (await fsType(BENCH_DIR)).endsWith("without a journal")) {
    await waitForDeletedInodes();
  }
  // After the wait: the date and commit are those of the figures.
  const facts = await machineFacts();
  console.log(formatFacts(facts));
  await moveToTrash(WORK_DIR);
  try {
    for (const section of sections) {
      console.log(`\n== ${section.name}: ${section.title}`);
      await Deno.mkdir(WORK_DIR, { recursive: true });
      const markdown = await section.run(options, facts);
      if (writeDocs) {
        await updateDocSection(section, markdown);
        console.log(`\nUpdated the ${section.name} section of ${DOC_PATH}`);
      }
    }
  } finally {
    await cleanUp();
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
