/**
 * `--breakdown` of the staging section: runstage and `cp -r` on parts of the
 * synthetic project alone, to show where runstage's time goes.
 *
 * @module
 */
import { HUGE_PATH, type ProjectFiles } from "./corpus.ts";
import {
  type BenchOptions,
  median,
  medianOf,
  peakOf,
  rotate,
  type Sample,
  timeThenSettle,
  WORK_DIR,
} from "./harness.ts";
import {
  count,
  describe,
  markdownTable,
  megabytes,
  optionalSeconds,
  ratio,
  seconds,
  type Table,
  textTable,
} from "./report.ts";
import type { Variant } from "./staging.ts";

interface Subset {
  key: string;
  label: string;
  /** Which project files the subset holds besides gage.toml. */
  holds: (path: string) => boolean;
}

const SUBSETS: Subset[] = [
  { key: "empty", label: "gage.toml only (startup + meta)", holds: () => false },
  { key: "small", label: "the small text files", holds: (p) => !p.startsWith("data/") },
  { key: "mid", label: "the 20 MiB files", holds: (p) => p.startsWith("data/blob_") },
  { key: "huge", label: "the 768 MiB file", holds: (p) => p === HUGE_PATH },
];

/**
 * Times runstage and `cp -r` (`tools`) on parts of the project alone. The parts
 * are hard links into the project: no extra disk space, and the same page-cache pages.
 */
export async function benchBreakdown(
  project: ProjectFiles,
  tools: Variant[],
  options: BenchOptions,
): Promise<string> {
  console.log("\nBreakdown: parts of the project staged alone");
  const subsetDirs = await linkSubsets(project);
  const samples = new Map<string, Sample[]>();
  for (let r = 0; r < options.rounds; r++) {
    for (const subset of rotate(SUBSETS, r)) {
      for (const tool of rotate(tools, r)) {
        const dst = `${WORK_DIR}/${subset.key}-${tool.key}-r${r}`;
        const argv = tool.argv(subsetDirs.get(subset.key)!, dst);
        const { sample } = await timeThenSettle(argv, dst, tool.runstage, options);
        const key = `${subset.key}/${tool.key}`;
        samples.set(key, [...samples.get(key) ?? [], sample]);
        console.error(`  round ${r + 1}  ${key.padEnd(16)} ${describe(sample)}`);
      }
    }
  }
  const table: Table = {
    head: [
      "part",
      "files",
      "runstage",
      "user",
      "sys",
      "cp -r",
      "cp -r sys",
      "÷ cp -r",
      "runstage RSS",
    ],
    rows: SUBSETS.map((subset) => {
      const rs = samples.get(`${subset.key}/runstage`)!;
      const cp = samples.get(`${subset.key}/cp`)!;
      const rsS = median(rs.map((s) => s.wallS));
      const cpS = median(cp.map((s) => s.wallS));
      const rss = peakOf(rs);
      return [
        subset.label,
        count(project.paths.filter((p) => p === "gage.toml" || subset.holds(p)).length),
        seconds(rsS),
        optionalSeconds(medianOf(rs, (s) => s.userS)),
        optionalSeconds(medianOf(rs, (s) => s.sysS)),
        seconds(cpS),
        optionalSeconds(medianOf(cp, (s) => s.sysS)),
        ratio(rsS / cpS),
        rss === undefined ? "" : megabytes(rss),
      ];
    }),
  };
  console.log(`\n${textTable(table)}`);
  return [
    `Breakdown (\`--breakdown\`): runstage and \`cp -r\` on parts of the project alone ` +
    `(hard links to the same files), medians of ${options.rounds} rounds.`,
    markdownTable(table),
  ].join("\n\n");
}

async function linkSubsets(project: ProjectFiles): Promise<Map<string, string>> {
  const dirs = new Map<string, string>();
  for (const subset of SUBSETS) {
    const dir = `${WORK_DIR}/subsets/${subset.key}`;
    for (const path of project.paths.filter((p) => p === "gage.toml" || subset.holds(p))) {
      const target = `${dir}/${path}`;
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      await Deno.link(`${project.dir}/${path}`, target);
    }
    dirs.set(subset.key, dir);
  }
  return dirs;
}
