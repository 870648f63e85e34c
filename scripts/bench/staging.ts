/**
 * Section `staging`: `runstage stage` of the synthetic 1 GB project against
 * `cp -r` and `cp -r` + `sha256sum`, in alternating rounds, checked against the
 * issue's targets (wall time and peak RSS), and a second `stage` of the
 * unchanged project (a runs home whose digest cache the warm-up filled, copied
 * in untimed before each round's command). `--rev` adds runstage as committed
 * at a revision, RUNSTAGE_BIN a compiled binary, `--breakdown` the parts of the
 * project alone (breakdown.ts).
 *
 * @module
 */
import { benchBreakdown } from "./breakdown.ts";
import { describeProject, ensureProject, HUGE_PATH, type ProjectFiles } from "./corpus.ts";
import {
  BENCH_DIR,
  type BenchOptions,
  GNU_TIME,
  MAIN,
  median,
  medianOf,
  moveToTrash,
  peakOf,
  readTextOr,
  removeBigFiles,
  REPO,
  rotate,
  RSS_POLL_MS,
  type RssMethod,
  run,
  type Sample,
  timeThenSettle,
  WORK_DIR,
} from "./harness.ts";
import {
  count,
  describe,
  formatFacts,
  type MachineFacts,
  markdownTable,
  megabytes,
  optionalSeconds,
  passOrMiss,
  ratio,
  seconds,
  type Table,
  textTable,
} from "./report.ts";

/** The targets for staging. */
const TARGET_RATIO_TO_CP = 0.6;
/** In 10^6 bytes, the stricter reading of "MB": a PASS here is a PASS in MiB too. */
const TARGET_PEAK_RSS_MB = 200;

/** One way of copying the project, timed against the others. */
export interface Variant {
  key: string;
  label: string;
  /** runstage itself: checked against the targets, its peak RSS taken. */
  runstage: boolean;
  argv: (src: string, dst: string) => string[];
  /** Untimed, before each command: what `dst` must hold first. */
  prepare?: (dst: string) => Promise<void>;
}

/** The runs home the warm-up stages the working tree's runstage into; its digest cache. */
const WARM_DIGESTS = `${WORK_DIR}/check-runstage/.cache/digests`;

/** Gives a fresh runs home the digest cache of a staging of the same project. */
async function withWarmDigests(dst: string): Promise<void> {
  await Deno.mkdir(`${dst}/.cache`, { recursive: true });
  await Deno.copyFile(WARM_DIGESTS, `${dst}/.cache/digests`);
}

export async function benchStaging(options: BenchOptions, facts: MachineFacts): Promise<string> {
  const project = await ensureProject(options.rebuild);
  const variants = stagingVariants(await checkoutRevs(options.revs));
  await warmUpAndCheck(project, variants);
  const rounds = await timeRounds(project.dir, variants, options);
  const report = stagingReport(project, variants, rounds, options, facts);
  let markdown = report.markdown;
  if (options.breakdown) {
    const tools = stagingVariants().filter((v) => v.key === "runstage" || v.key === "cp");
    markdown += "\n\n" + await benchBreakdown(project, tools, options);
  }
  return markdown;
}

/** `revs`: commits checked out by checkoutRevs, timed after the working tree's runstage. */
function stagingVariants(revs: RevCheckout[] = []): Variant[] {
  const variants: Variant[] = [
    {
      key: "runstage",
      label: "runstage stage (deno run main.ts)",
      runstage: true,
      argv: (src, dst) => denoRunStage(`${REPO}deno.json`, MAIN, src, dst),
    },
    {
      key: "restage",
      label: "runstage stage again, unchanged",
      runstage: true,
      argv: (src, dst) => denoRunStage(`${REPO}deno.json`, MAIN, src, dst),
      prepare: withWarmDigests,
    },
    ...revs.map((rev) => ({
      key: `runstage@${rev.sha}`,
      label: `runstage stage at ${rev.sha}`,
      runstage: true,
      argv: (src: string, dst: string) =>
        denoRunStage(`${rev.dir}/deno.json`, `${rev.dir}/main.ts`, src, dst),
    })),
  ];
  const bin = Deno.env.get("RUNSTAGE_BIN");
  if (bin) {
    variants.push({
      key: "runstage-bin",
      label: `runstage stage (RUNSTAGE_BIN)`,
      runstage: true,
      argv: (src, dst) => [bin, ...stageArgs(src, dst)],
    });
  }
  variants.push(
    { key: "cp", label: "cp -r", runstage: false, argv: (src, dst) => ["cp", "-r", src, dst] },
    {
      key: "cp+sha",
      label: "cp -r + sha256sum",
      runstage: false,
      argv: (src, dst) => [
        "sh",
        "-c",
        'cp -r "$1" "$2" && find "$2" -type f -print0 | xargs -0 sha256sum >/dev/null',
        "sh",
        src,
        dst,
      ],
    },
  );
  return variants;
}

/** The config is named so a checkout under .bench/ uses its own imports and lock. */
function denoRunStage(config: string, main: string, src: string, dst: string): string[] {
  return [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--quiet",
    "--config",
    config,
    main,
    ...stageArgs(src, dst),
  ];
}

interface RevCheckout {
  sha: string;
  dir: string;
}

/** Exports each commit's tree once (git archive: the repo itself is left alone). */
async function checkoutRevs(revs: string[]): Promise<RevCheckout[]> {
  const checkouts: RevCheckout[] = [];
  for (const sha of revs) {
    const dir = `${BENCH_DIR}/rev-${sha}`;
    if (!(await readTextOr(`${dir}/main.ts`, undefined))) {
      await moveToTrash(`${dir}.tmp`);
      await Deno.mkdir(`${dir}.tmp`, { recursive: true });
      await run([
        "sh",
        "-c",
        'git -C "$1" archive "$2" | tar -x -C "$3"',
        "sh",
        REPO,
        sha,
        `${dir}.tmp`,
      ]);
      await Deno.rename(`${dir}.tmp`, dir);
    }
    checkouts.push({ sha, dir });
  }
  return checkouts;
}

/** `dst` is a fresh runs home outside the project, so the run never copies itself. */
function stageArgs(projectDir: string, dst: string): string[] {
  return ["-C", projectDir, "stage", "--runs", dst];
}

// --- Correctness, once and untimed

/**
 * Stages once with each runstage variant before timing: it warms the page cache
 * with the project and Deno's module cache, the same for every round, and it
 * checks that what is being timed is a complete staged run.
 */
async function warmUpAndCheck(project: ProjectFiles, variants: Variant[]): Promise<void> {
  for (const v of variants.filter((v) => v.runstage)) {
    const runsHome = `${WORK_DIR}/check-${v.key}`;
    await v.prepare?.(runsHome);
    const stdout = await run(v.argv(project.dir, runsHome));
    await checkStagedRun(project, runsHome, stagedRunId(stdout));
    await removeBigFiles(runsHome);
    console.log(`Checked a staged run of ${v.label}: ${project.paths.length} files in manifest`);
  }
  await run(["sync"]);
}

function stagedRunId(stdout: string): string {
  const match = /^Staged run \S+ \(([0-9a-f-]{36})\)/m.exec(stdout);
  if (!match) throw new Error(`runstage did not report a staged run:\n${stdout}`);
  return match[1];
}

async function checkStagedRun(project: ProjectFiles, runsHome: string, id: string) {
  const manifestPath = `${runsHome}/${id}.meta/manifest`;
  const lines = (await Deno.readTextFile(manifestPath)).split("\n").filter((l) => l !== "");
  // gage.toml is a project file too: `**/*` selects it, so no file is exempt.
  if (lines.length !== project.paths.length) {
    throw new Error(
      `${manifestPath} lists ${lines.length} files; the project has ${project.paths.length}`,
    );
  }
  const digests = new Map(lines.map((l) => {
    const [, digest, ...path] = l.split(" ");
    return [path.join(" "), digest];
  }));
  const missing = project.paths.filter((p) => !digests.has(p));
  if (missing.length > 0) throw new Error(`missing from ${manifestPath}: ${missing.slice(0, 5)}`);
  // One streamed and one whole-read file against an independent hasher.
  for (const path of [HUGE_PATH, "gage.toml"]) {
    const [expected] = (await run(["sha256sum", `${project.dir}/${path}`])).split(" ");
    if (digests.get(path) !== expected) {
      throw new Error(
        `${manifestPath}: digest of ${path} is ${digests.get(path)}, not ${expected}`,
      );
    }
  }
}

// --- Timing

type Round = { order: string[]; samples: Map<string, Sample> };

/**
 * Rounds alternate the variants, and each round starts with a different one:
 * on a VM disk the state of writeback drifts over minutes, and timing all of A
 * and then all of B would credit that drift to one of them.
 */
async function timeRounds(
  projectDir: string,
  variants: Variant[],
  options: BenchOptions,
): Promise<Round[]> {
  const rounds: Round[] = [];
  for (let r = 0; r < options.rounds; r++) {
    const order = rotate(variants, r);
    const samples = new Map<string, Sample>();
    for (const v of order) {
      const dst = `${WORK_DIR}/${v.key}-r${r}`;
      await v.prepare?.(dst);
      const { sample } = await timeThenSettle(v.argv(projectDir, dst), dst, v.runstage, options);
      samples.set(v.key, sample);
      console.error(
        `  round ${r + 1}/${options.rounds}  ${v.label.padEnd(36)} ${describe(sample)}`,
      );
    }
    rounds.push({ order: order.map((v) => v.key), samples });
  }
  return rounds;
}

// --- Report

interface VariantSummary {
  variant: Variant;
  wall: number[];
  medianS: number;
  userMedianS?: number;
  sysMedianS?: number;
  peakRssKb?: number;
}

function summarize(variant: Variant, rounds: Round[]): VariantSummary {
  const samples = rounds.map((r) => r.samples.get(variant.key)!);
  const wall = samples.map((s) => s.wallS);
  return {
    variant,
    wall,
    medianS: median(wall),
    userMedianS: medianOf(samples, (s) => s.userS),
    sysMedianS: medianOf(samples, (s) => s.sysS),
    peakRssKb: peakOf(samples),
  };
}

function stagingReport(
  project: ProjectFiles,
  variants: Variant[],
  rounds: Round[],
  options: BenchOptions,
  facts: MachineFacts,
): { markdown: string } {
  const summaries = variants.map((v) => summarize(v, rounds));
  const cp = summaries.find((s) => s.variant.key === "cp")!;
  const cpSha = summaries.find((s) => s.variant.key === "cp+sha")!;
  const rssHow = rssMethodText(options.rss);
  const settling = options.deleteBetween
    ? "each destination deleted right after its command, then sync, both untimed"
    : "after each command, untimed, its big files deleted, its small ones kept until the end, sync";

  const results: Table = {
    head: [
      "",
      "median",
      "min",
      "max",
      "user",
      "sys",
      "÷ cp -r",
      "÷ cp+sha",
      "files/s",
      "peak RSS",
    ],
    rows: summaries.map((s) => [
      s.variant.label,
      seconds(s.medianS),
      seconds(Math.min(...s.wall)),
      seconds(Math.max(...s.wall)),
      optionalSeconds(s.userMedianS),
      optionalSeconds(s.sysMedianS),
      ratio(s.medianS / cp.medianS),
      ratio(s.medianS / cpSha.medianS),
      count(Math.round(project.paths.length / s.medianS)),
      s.peakRssKb === undefined ? "" : megabytes(s.peakRssKb),
    ]),
  };
  const targets: Table = {
    head: ["target", "variant", "measured", "result"],
    rows: summaries.filter((s) => s.variant.runstage).flatMap((s) => [
      [
        `wall time ≤ ${TARGET_RATIO_TO_CP}× cp -r`,
        s.variant.label,
        ratio(s.medianS / cp.medianS),
        passOrMiss(s.medianS / cp.medianS <= TARGET_RATIO_TO_CP),
      ],
      [
        `peak RSS < ${TARGET_PEAK_RSS_MB} MB`,
        s.variant.label,
        s.peakRssKb === undefined ? "n/a" : megabytes(s.peakRssKb),
        passOrMiss(s.peakRssKb !== undefined && s.peakRssKb * 1024 < TARGET_PEAK_RSS_MB * 1e6),
      ],
    ]),
  };
  const raw: Table = {
    head: ["round", "order", ...summaries.map((s) => s.variant.key)],
    rows: rounds.map((r, i) => [
      String(i + 1),
      r.order.join(" → "),
      ...summaries.map((s) => seconds(r.samples.get(s.variant.key)!.wallS)),
    ]),
  };

  const projectText = describeProject(project);
  console.log(
    `\n${projectText}\nMedians of ${rounds.length} alternating rounds; ${settling}; ${rssHow}.\n`,
  );
  console.log(textTable(results));
  console.log(`\n${textTable(targets)}\n\nPer round (wall time):\n${textTable(raw)}`);

  const markdown = [
    `Last run ${facts.date}, at ${facts.commit}, ${rounds.length} rounds.`,
    `Machine: ${formatFacts(facts)}.`,
    `Project: ${projectText}`,
    `Medians of ${rounds.length} alternating rounds, ${settling}; min and max show the spread. ` +
    `user and sys are the median CPU time of the command and its children, in user space ` +
    `and in the kernel. Peak RSS: ${rssHow}, ` +
    `the highest of all rounds; MB are 10^6 bytes.`,
    markdownTable(results),
    markdownTable(targets),
    "Wall time per round:",
    markdownTable(raw),
  ].join("\n\n");
  return { markdown };
}

function rssMethodText(rss: RssMethod): string {
  return rss === "time"
    ? `maximum resident set size from ${GNU_TIME} -f %M`
    : `VmHWM of /proc/PID/status polled every ${RSS_POLL_MS} ms`;
}
