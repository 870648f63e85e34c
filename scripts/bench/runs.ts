/**
 * Section `runs`: listing 1,000 runs with `runstage runs`, against the same
 * process start doing nothing (`--version`), in the same rounds; and on 1,000
 * runs with meta `vcs`, filtered by commit.
 *
 * @module
 */
import { makeListedRuns } from "./corpus.ts";
import { type BenchOptions, cli, WORK_DIR } from "./harness.ts";
import type { MachineFacts } from "./report.ts";
import { type CommandVariant, timeCommandRounds } from "./commands.ts";

const LISTED_RUNS = 1000;
const TARGET_LIST_SECONDS = 1;
/** The commit every tenth run of the vcs runs home names instead of the real one. */
const OTHER_COMMIT = "2222222222222222222222222222222222222222";

/**
 * `runstage runs` on a runs home of 1,000 runs, against `runstage --version`
 * (the same process start with no work) in the same rounds. The runs are one
 * real staged and completed run, cloned under fresh ids: the meta files a
 * listing reads are those of a real run, and making them takes seconds
 * instead of minutes. A second home's run was staged in a git repo, so each
 * clone has meta `vcs`; `--commit` filters on it.
 */
export async function benchRunsListing(
  options: BenchOptions,
  facts: MachineFacts,
): Promise<string> {
  const home = `${WORK_DIR}/runs-home`;
  await makeListedRuns(home, LISTED_RUNS);
  const vcsHome = `${WORK_DIR}/runs-home-vcs`;
  await makeListedRuns(vcsHome, LISTED_RUNS, { otherCommit: OTHER_COMMIT, live: true });
  const jsonCount =
    (expected: number, what: (row: Record<string, unknown>) => boolean) => (stdout: string) => {
      const listed = (JSON.parse(stdout) as Record<string, unknown>[]).filter(what).length;
      if (listed !== expected) throw new Error(`listed ${listed} runs, not ${expected}`);
    };
  const variants: CommandVariant[] = [
    { key: "version", label: "runstage --version (startup only)", argv: cli("--version") },
    {
      key: "runs",
      label: `runstage runs (${LISTED_RUNS} runs)`,
      argv: cli("--runs", home, "runs"),
    },
    {
      key: "json",
      label: `runstage runs --json (${LISTED_RUNS} runs)`,
      argv: cli("--runs", home, "runs", "--json"),
      check: jsonCount(LISTED_RUNS, () => true),
    },
  ];
  const vcsVariants: CommandVariant[] = [
    {
      key: "vcs-runs",
      label: `runstage runs (${LISTED_RUNS} runs with meta vcs)`,
      argv: cli("--runs", vcsHome, "runs"),
    },
    {
      key: "vcs-json",
      label: `runstage runs --json (${LISTED_RUNS} runs with meta vcs)`,
      argv: cli("--runs", vcsHome, "runs", "--json"),
      check: jsonCount(LISTED_RUNS / 100 - 1, (r) => r.live === true),
    },
    {
      key: "vcs-commit",
      label: `runstage runs --json --commit ${OTHER_COMMIT.slice(0, 4)} (${
        LISTED_RUNS / 10 - 1
      } of ${LISTED_RUNS} match)`,
      argv: cli("--runs", vcsHome, "runs", "--json", "--commit", OTHER_COMMIT.slice(0, 4)),
      check: jsonCount(LISTED_RUNS / 10 - 1, (r) => r.commit === OTHER_COMMIT),
    },
  ];
  const all = [...variants, ...vcsVariants];
  const walls = await timeCommandRounds(all, options.rounds, 56);
  // The middle value, or the upper of the two middle ones for an even count of rounds.
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const startup = median(walls.get("version")!);
  const rowsOf = (vs: CommandVariant[]) =>
    vs.map((v) => {
      const m = median(walls.get(v.key)!);
      return `| ${v.label} | ${m.toFixed(3)} s | ${(m - startup).toFixed(3)} s |`;
    });
  const json = median(walls.get("json")!);
  const verdict = json < TARGET_LIST_SECONDS ? "PASS" : "MISS";
  const slowestVcs = Math.max(...vcsVariants.map((v) => median(walls.get(v.key)!)));
  const vcsVerdict = slowestVcs < TARGET_LIST_SECONDS ? "PASS" : "MISS";
  const markdown = [
    `Last run ${facts.date}, at ${facts.commit}, ${options.rounds} alternating rounds; medians.`,
    "",
    `A runs home of ${LISTED_RUNS} completed runs (one real run cloned under fresh ids). The listing reads`,
    "a few small meta files per run and never a manifest.",
    "",
    "| command | wall time | beyond startup |",
    "| --- | ---: | ---: |",
    ...rowsOf(variants),
    "",
    `Target: \`runs\` on ${LISTED_RUNS} runs well under ${TARGET_LIST_SECONDS} s: ${
      json.toFixed(3)
    } s, ${verdict}.`,
    "",
    `With provenance: a second home of ${LISTED_RUNS} runs cloned from a run staged in a git repo, so`,
    `each has meta \`vcs\`; one in ten names another commit, one in a hundred is live. Timed in the`,
    "same rounds.",
    "",
    "| command | wall time | beyond startup |",
    "| --- | ---: | ---: |",
    ...rowsOf(vcsVariants),
    "",
    `Target: each of these well under ${TARGET_LIST_SECONDS} s: slowest ${
      slowestVcs.toFixed(3)
    } s, ${vcsVerdict}.`,
  ].join("\n");
  console.log("\n" + markdown);
  return markdown;
}
