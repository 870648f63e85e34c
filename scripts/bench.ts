/**
 * `deno task bench`: benchmarks of runstage on a synthetic project. Each section
 * prints its figures and rewrites its own generated block of docs/performance.md,
 * between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`, so the
 * hand-written text around it survives.
 *
 * A benchmark, not a test: it reports against the targets, PASS or MISS, and
 * fails only when something is broken (a command fails, a staged run is wrong).
 *
 * Adding a benchmark: write `async function benchX(options, facts): Promise<string>`
 * that prints to the terminal and returns the markdown of its section, and add it
 * to SECTIONS. `--only x` then runs it alone.
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const MAIN = `${REPO}main.ts`;
/** Gitignored and excluded from fmt/lint: generated data lives here between runs. */
const BENCH_DIR = `${REPO}.bench`;
/** Destinations of timed copies: outside the project, so nothing copies itself. */
const WORK_DIR = `${BENCH_DIR}/work`;
/** What earlier runs left in WORK_DIR, moved aside and deleted only when this run ends. */
const TRASH_DIR = `${BENCH_DIR}/trash`;
const DOC_PATH = `${REPO}docs/performance.md`;
const GNU_TIME = "/usr/bin/time";

const USAGE = `usage: deno task bench [options]

  --rounds N      timed rounds per section (default 5)
  --only NAME     run only this section; repeat or comma-separate (sections: SECTIONS)
  --rebuild       regenerate the synthetic project even when the cached one is current
  --breakdown     staging: also time parts of the project alone (small files, 20 MiB
                  files, the 768 MiB file, gage.toml only) to show where time goes
  --rss METHOD    how runstage's peak RSS is taken: "time" (${GNU_TIME} -f %M, the
                  default when present) or "proc" (polling /proc/PID/status VmHWM)
  --delete-between  delete each destination right after its command (untimed)
                  instead of keeping its small files until the end; slows the next
                  command's file creation on ext4 without a journal (see the doc)
  --rev REV       staging: also time runstage as committed at REV (a commit, tag or
                  branch; repeatable), to compare a change with what it replaces
  --no-wait       start at once even if the last run deleted its copies minutes ago
  --no-docs       print only; leave docs/performance.md alone

Set RUNSTAGE_BIN to also time a compiled runstage binary in staging; startup times
RUNSTAGE_BIN, else dist/runstage (built with \`deno task build --host\` if missing).`;

type RssMethod = "time" | "proc";

interface BenchOptions {
  rounds: number;
  rebuild: boolean;
  breakdown: boolean;
  rss: RssMethod;
  /** Delete each destination after its command rather than all at the end. */
  deleteBetween: boolean;
  /** Commits (short hashes) whose runstage is timed beside the working tree's. */
  revs: string[];
  /** Wait until the inodes the last run deleted are reusable again. */
  wait: boolean;
}

interface Section {
  name: string;
  /** The heading the section gets when the doc does not have its markers yet. */
  title: string;
  /** Prints its results and returns the markdown for the doc. */
  run: (options: BenchOptions, facts: MachineFacts) => Promise<string>;
}

const SECTIONS: Section[] = [
  { name: "staging", title: "Staging a 1 GB project", run: benchStaging },
  { name: "runs", title: "Listing 1,000 runs", run: benchRunsListing },
  { name: "startup", title: "Startup and size of the binary", run: benchStartup },
];

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = await parseOptions(args);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${usage()}`);
    return 2;
  }
  if (parsed === "help") {
    console.log(usage());
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
    console.log(`\nDeleting what the benchmark wrote in ${WORK_DIR}`);
    await removeIfPresent(WORK_DIR);
    await removeIfPresent(TRASH_DIR);
    // Written back, the deleted inodes are avoided for RECENTCY_MIN, not + RECENTCY_DIRTY.
    await run(["sync"]);
    await Deno.writeTextFile(CLEANED_AT, String(Date.now()));
  }
  return 0;
}

/** When the last run's cleanup finished (ms since the epoch), for waitForDeletedInodes. */
const CLEANED_AT = `${BENCH_DIR}/cleaned-at`;
/**
 * ext4's RECENTCY_MIN + RECENTCY_DIRTY (60 + 300 s) and a margin: creating files
 * next to the deleted ones dirties their inode table blocks again, and a run
 * started two minutes after the last cleanup was measured still slowed down.
 */
const DELETED_INODES_SETTLE_MS = 370_000;

/**
 * A run started right after the last one would create its files among the
 * inodes that run just deleted, which ext4 without a journal skips one by one
 * (see moveToTrash): the first rounds would be several times slower.
 */
async function waitForDeletedInodes(): Promise<void> {
  const cleanedAt = Number(await readTextOr(CLEANED_AT, "0"));
  const wait = cleanedAt + DELETED_INODES_SETTLE_MS - Date.now();
  if (!(wait > 0)) return;
  console.log(
    `Waiting ${Math.ceil(wait / 1000)} s (--no-wait skips it): the last run deleted its copies ` +
      `recently, and ext4 without a journal avoids reusing deleted inodes for up to 6 minutes, ` +
      `slowing file creation down (see ${DOC_PATH})`,
  );
  await new Promise((resolve) => setTimeout(resolve, wait));
}

/**
 * Why nothing is deleted before the end: on ext4 without a journal, creating an
 * inode skips every inode deleted in the last minute (five while its inode table
 * block is not yet written back), one buffer lookup each (ialloc.c, recently_deleted). Deleting 6,000 files before a timed command
 * made its file creation 10-20 times slower, far more than any writeback did.
 * Renaming frees no inode, so leftovers are moved aside now and deleted last.
 */
async function moveToTrash(path: string): Promise<void> {
  await Deno.mkdir(TRASH_DIR, { recursive: true });
  try {
    await Deno.rename(path, `${TRASH_DIR}/${Date.now()}-${path.split("/").at(-1)}`);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

function usage(): string {
  return USAGE.replace("SECTIONS", SECTIONS.map((s) => s.name).join(", "));
}

async function parseOptions(
  args: string[],
): Promise<"help" | { options: BenchOptions; sections: Section[]; writeDocs: boolean }> {
  const { values } = parseArgs({
    args,
    options: {
      rounds: { type: "string", default: "5" },
      only: { type: "string", multiple: true },
      rebuild: { type: "boolean", default: false },
      breakdown: { type: "boolean", default: false },
      rss: { type: "string" },
      "delete-between": { type: "boolean", default: false },
      "no-wait": { type: "boolean", default: false },
      rev: { type: "string", multiple: true },
      "no-docs": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error(`--rounds takes a whole number ≥ 1, got ${values.rounds}`);
  }
  const rss = values.rss ?? (await gnuTimeWorks() ? "time" : "proc");
  if (rss !== "time" && rss !== "proc") throw new Error(`--rss is time or proc, got ${rss}`);
  return {
    options: {
      rounds,
      rebuild: values.rebuild,
      breakdown: values.breakdown,
      rss,
      deleteBetween: values["delete-between"],
      revs: await Promise.all((values.rev ?? []).map(resolveRev)),
      wait: !values["no-wait"],
    },
    sections: selectSections(values.only),
    writeDocs: !values["no-docs"],
  };
}

function selectSections(only: string[] | undefined): Section[] {
  if (!only) return SECTIONS;
  const names = only.flatMap((o) => o.split(",")).map((n) => n.trim()).filter(Boolean);
  for (const name of names) {
    if (!SECTIONS.some((s) => s.name === name)) throw new Error(`no section named ${name}`);
  }
  return SECTIONS.filter((s) => names.includes(s.name));
}

async function resolveRev(rev: string): Promise<string> {
  const sha = await tryRun([
    "git",
    "-C",
    REPO,
    "rev-parse",
    "--short",
    "--verify",
    `${rev}^{commit}`,
  ]);
  if (!sha) throw new Error(`--rev ${rev} is not a commit of ${REPO}`);
  return sha;
}

async function gnuTimeWorks(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(GNU_TIME, {
      args: ["-f", "%M", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Section: staging

/**
 * The synthetic project. Changing anything here changes the marker's content,
 * which rebuilds the cached project on the next run.
 */
const PROJECT_SPEC = {
  version: 1,
  seed: 0x5eed_2026,
  /** Dirs per level, 3 levels: 5 × 6 × 10 = 300 leaf dirs of 20 files. */
  fanout: [5, 6, 10],
  filesPerDir: 20,
  smallMinBytes: 4 * 1024,
  smallMaxBytes: 14 * 1024,
  midFiles: 10,
  midBytes: 20 * 1024 * 1024,
  hugeBytes: 768 * 1024 * 1024,
  /** Big files are rotations of one random block, each page stamped differently. */
  blockBytes: 64 * 1024 * 1024,
};
const PROJECT_DIR = `${BENCH_DIR}/staging-project`;
const PROJECT_MARKER = `${BENCH_DIR}/staging-project.json`;
const HUGE_PATH = "data/huge.bin";
const GAGE_TOML = `[bench]
default = true
sourcecode = ["**/*"]
exec = "true"
`;

/** The issue's targets for staging. */
const TARGET_RATIO_TO_CP = 0.6;
/** In 10^6 bytes, the stricter reading of "MB": a PASS here is a PASS in MiB too. */
const TARGET_PEAK_RSS_MB = 200;

interface ProjectFiles {
  dir: string;
  /** Project-relative, `/`-separated. */
  paths: string[];
  bytes: number;
}

/** One way of copying the project, timed against the others. */
interface Variant {
  key: string;
  label: string;
  /** runstage itself: checked against the targets, its peak RSS taken. */
  runstage: boolean;
  argv: (src: string, dst: string) => string[];
}

interface Sample {
  wallS: number;
  /** CPU time of the command and its children, in user space and in the kernel (GNU time). */
  userS?: number;
  sysS?: number;
  peakRssKb?: number;
}

async function benchStaging(options: BenchOptions, facts: MachineFacts): Promise<string> {
  const project = await ensureProject(options.rebuild);
  const variants = stagingVariants(await checkoutRevs(options.revs));
  await warmUpAndCheck(project, variants);
  const rounds = await timeRounds(project.dir, variants, options);
  const report = stagingReport(project, variants, rounds, options, facts);
  let markdown = report.markdown;
  if (options.breakdown) markdown += "\n\n" + await benchBreakdown(project, options);
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

// --- The synthetic project

async function ensureProject(rebuild: boolean): Promise<ProjectFiles> {
  const wanted = JSON.stringify(PROJECT_SPEC);
  const marker = await readTextOr(PROJECT_MARKER, undefined);
  if (rebuild || marker !== wanted) {
    console.log(`Generating the synthetic project in ${PROJECT_DIR} (about 1 GB)...`);
    const started = performance.now();
    // The marker goes first and comes back last: an interrupted build is never trusted.
    await removeIfPresent(PROJECT_MARKER);
    await generateProject(PROJECT_DIR);
    await Deno.writeTextFile(PROJECT_MARKER, wanted);
    // The generated GB must reach the disk before anything is timed.
    await run(["sync"]);
    console.log(`Generated in ${seconds((performance.now() - started) / 1000)}`);
  } else {
    console.log(`Using the cached project in ${PROJECT_DIR} (--rebuild regenerates it)`);
  }
  return await listProject(PROJECT_DIR);
}

async function generateProject(dir: string): Promise<void> {
  const tmp = `${dir}.tmp`;
  await moveToTrash(tmp);
  await moveToTrash(dir);
  await Deno.mkdir(tmp, { recursive: true });
  const rand = mulberry32(PROJECT_SPEC.seed);
  await Deno.writeTextFile(`${tmp}/gage.toml`, GAGE_TOML);
  writeSmallFiles(tmp, rand);
  await writeBigFiles(tmp, rand);
  await Deno.rename(tmp, dir);
}

/** The typical source tree: thousands of small text files in nested dirs. */
function writeSmallFiles(root: string, rand: () => number): void {
  const { fanout, filesPerDir, smallMinBytes, smallMaxBytes } = PROJECT_SPEC;
  for (let a = 0; a < fanout[0]; a++) {
    for (let b = 0; b < fanout[1]; b++) {
      for (let c = 0; c < fanout[2]; c++) {
        const dir = `${root}/pkg_${a}/mod_${b}/part_${c}`;
        Deno.mkdirSync(dir, { recursive: true });
        for (let f = 0; f < filesPerDir; f++) {
          const size = smallMinBytes + rand() % (smallMaxBytes - smallMinBytes + 1);
          Deno.writeFileSync(
            `${dir}/file_${String(f).padStart(2, "0")}.txt`,
            randomText(rand, size),
          );
        }
      }
    }
  }
}

const TEXT_ALPHABET = new TextEncoder().encode(
  "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:()[]{}=+-*/_#'\"",
);

/** Printable text in lines of 40 to 100 characters. */
function randomText(rand: () => number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let lineLeft = 40 + rand() % 60;
  for (let i = 0; i < size; i++) {
    if (--lineLeft === 0) {
      out[i] = 10;
      lineLeft = 40 + rand() % 60;
    } else {
      out[i] = TEXT_ALPHABET[rand() % TEXT_ALPHABET.length];
    }
  }
  return out;
}

/** Model checkpoints and data: ten 20 MiB files and one 768 MiB file. */
async function writeBigFiles(root: string, rand: () => number): Promise<void> {
  await Deno.mkdir(`${root}/data`);
  // One random block, reused: generating 1 GB of PRNG output would take longer
  // than everything else, and memory stays at one block however big the file.
  const block = randomBytes(rand, PROJECT_SPEC.blockBytes);
  for (let i = 0; i < PROJECT_SPEC.midFiles; i++) {
    const name = `data/blob_${String(i).padStart(2, "0")}.bin`;
    await writeRotatedBlocks(`${root}/${name}`, PROJECT_SPEC.midBytes, block, rand, i);
  }
  await writeRotatedBlocks(
    `${root}/${HUGE_PATH}`,
    PROJECT_SPEC.hugeBytes,
    block,
    rand,
    PROJECT_SPEC.midFiles,
  );
}

function randomBytes(rand: () => number, size: number): Uint8Array {
  const words = new Uint32Array(size / 4);
  for (let i = 0; i < words.length; i++) words[i] = rand();
  return new Uint8Array(words.buffer);
}

/**
 * Writes `size` bytes as copies of `block`, each rotated by a random offset and
 * with every 4 KiB page stamped by file and chunk, so no two pages of the project
 * are alike (nothing a filesystem or a cache could deduplicate).
 */
async function writeRotatedBlocks(
  path: string,
  size: number,
  block: Uint8Array,
  rand: () => number,
  fileNo: number,
): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let left = size;
    for (let chunkNo = 0; left > 0; chunkNo++) {
      stampPages(block, (fileNo << 16) | chunkNo, rand);
      const offset = rand() % block.length;
      for (const part of [block.subarray(offset), block.subarray(0, offset)]) {
        const piece = part.subarray(0, Math.min(part.length, left));
        await writeAll(file, piece);
        left -= piece.length;
      }
    }
  } finally {
    file.close();
  }
}

function stampPages(block: Uint8Array, stamp: number, rand: () => number): void {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  for (let page = 0; page + 8 <= block.length; page += 4096) {
    view.setUint32(page, stamp);
    view.setUint32(page + 4, rand());
  }
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  // A write may take only part of a big buffer.
  for (let done = 0; done < data.length;) done += await file.write(data.subarray(done));
}

/** A small, fast, seedable PRNG (mulberry32): the project is the same on every machine. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The project as it is on disk, so a cached project is described truthfully. */
async function listProject(dir: string): Promise<ProjectFiles> {
  const paths: string[] = [];
  let bytes = 0;
  const walk = async (rel: string) => {
    for await (const entry of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory) await walk(path);
      else {
        paths.push(path);
        bytes += (await Deno.stat(`${dir}/${path}`)).size;
      }
    }
  };
  await walk("");
  return { dir, paths: paths.sort(), bytes };
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

/**
 * Times one command, then, untimed: deletes the big files it wrote (a handful of
 * inodes; their GB of page cache would otherwise squeeze later rounds), keeps the
 * small ones until the end (see moveToTrash), and syncs, so the next command
 * starts with as little pending writeback as we can arrange. `deleteBetween`
 * deletes everything at once instead.
 */
async function timeThenSettle(
  argv: string[],
  dst: string,
  wantRss: boolean,
  options: BenchOptions,
): Promise<{ sample: Sample; stdout: string }> {
  const timed = await timeCommand(argv, wantRss, options.rss);
  if (options.deleteBetween) await Deno.remove(dst, { recursive: true });
  else await removeBigFiles(dst);
  await run(["sync"]);
  return timed;
}

const BIG_FILE_BYTES = 1024 * 1024;

async function removeBigFiles(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await removeBigFiles(path);
    else if (entry.isFile && (await Deno.stat(path)).size >= BIG_FILE_BYTES) {
      await Deno.remove(path);
    }
  }
}

async function timeCommand(
  argv: string[],
  wantRss: boolean,
  rss: RssMethod,
): Promise<{ sample: Sample; stdout: string }> {
  return rss === "time" ? await timeWithGnuTime(argv) : await timeWithProcPolling(argv, wantRss);
}

/** GNU time reports the child's own rusage: CPU time and max RSS, nothing sampled. */
async function timeWithGnuTime(argv: string[]): Promise<{ sample: Sample; stdout: string }> {
  const report = await Deno.makeTempFile({ dir: BENCH_DIR, prefix: "time-" });
  try {
    const started = performance.now();
    const out = await new Deno.Command(GNU_TIME, {
      args: ["-f", "%U %S %M", "-o", report, ...argv],
      cwd: REPO,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const wallS = (performance.now() - started) / 1000;
    checkSuccess(argv, out);
    // The last line: a failing command adds a "Command exited..." line before it.
    const [user, sys, maxRss] = (await Deno.readTextFile(report)).trim().split("\n").at(-1)!
      .split(" ").map(Number);
    return {
      sample: { wallS, userS: user, sysS: sys, peakRssKb: maxRss },
      stdout: new TextDecoder().decode(out.stdout),
    };
  } finally {
    await Deno.remove(report);
  }
}

/**
 * VmHWM is the process's own high-water mark, so the last read before it exits
 * is its peak, less whatever it grew in the final ~20 ms.
 */
async function timeWithProcPolling(
  argv: string[],
  wantRss: boolean,
): Promise<{ sample: Sample; stdout: string }> {
  const started = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exited = false;
  const output = child.output().finally(() => exited = true);
  const peak = wantRss ? pollPeakRssKb(child.pid, () => exited) : Promise.resolve(undefined);
  const out = await output;
  const wallS = (performance.now() - started) / 1000;
  checkSuccess(argv, out);
  return {
    sample: { wallS, peakRssKb: await peak },
    stdout: new TextDecoder().decode(out.stdout),
  };
}

const RSS_POLL_MS = 20;

async function pollPeakRssKb(pid: number, exited: () => boolean): Promise<number | undefined> {
  let peak: number | undefined;
  while (!exited()) {
    try {
      const status = await Deno.readTextFile(`/proc/${pid}/status`);
      // A zombie has no VmHWM line any more: keep the last one read.
      const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
      if (match) peak = Math.max(peak ?? 0, Number(match[1]));
    } catch {
      break; // reaped
    }
    await new Promise((resolve) => setTimeout(resolve, RSS_POLL_MS));
  }
  return peak;
}

/** Each round starts one variant later, so every variant leads equally often. */
function rotate<T>(items: T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
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

function medianOf(samples: Sample[], pick: (s: Sample) => number | undefined) {
  const values = samples.map(pick).filter((v) => v !== undefined);
  return values.length ? median(values) : undefined;
}

/** The worst round: the target is a ceiling, not a typical value. */
function peakOf(samples: Sample[]): number | undefined {
  const values = samples.map((s) => s.peakRssKb).filter((v) => v !== undefined);
  return values.length ? Math.max(...values) : undefined;
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

function describeProject(project: ProjectFiles): string {
  const s = PROJECT_SPEC;
  const leafDirs = s.fanout.reduce((a, b) => a * b, 1);
  return `${count(project.paths.length)} files, ${megabytes(project.bytes / 1024)} in all: ` +
    `${count(leafDirs * s.filesPerDir)} text files of ${s.smallMinBytes / 1024}-` +
    `${s.smallMaxBytes / 1024} KiB in ${leafDirs} dirs 3 levels deep, ` +
    `${s.midFiles} × ${s.midBytes / 2 ** 20} MiB and 1 × ${s.hugeBytes / 2 ** 20} MiB ` +
    `of random bytes, and gage.toml (sourcecode = ["**/*"]).`;
}

function rssMethodText(rss: RssMethod): string {
  return rss === "time"
    ? `maximum resident set size from ${GNU_TIME} -f %M`
    : `VmHWM of /proc/PID/status polled every ${RSS_POLL_MS} ms`;
}

function passOrMiss(pass: boolean): string {
  return pass ? "PASS" : "MISS";
}

function describe(sample: Sample): string {
  const parts = [seconds(sample.wallS)];
  if (sample.userS !== undefined) parts.push(`user ${seconds(sample.userS)}`);
  if (sample.sysS !== undefined) parts.push(`sys ${seconds(sample.sysS)}`);
  if (sample.peakRssKb !== undefined) parts.push(`rss ${megabytes(sample.peakRssKb)}`);
  return parts.join("  ");
}

// --- Breakdown: where runstage's time goes

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
 * Times runstage and `cp -r` on parts of the project alone. The parts are hard
 * links into the project: no extra disk space, and the same page-cache pages.
 */
async function benchBreakdown(project: ProjectFiles, options: BenchOptions): Promise<string> {
  console.log("\nBreakdown: parts of the project staged alone");
  const tools = stagingVariants().filter((v) => v.key === "runstage" || v.key === "cp");
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

// ---------------------------------------------------------------------------
// Machine facts

interface MachineFacts {
  date: string;
  cpus: number;
  cpuModel: string;
  memBytes: number;
  kernel: string;
  deno: string;
  /** Of the filesystem holding .bench, where every copy is written. */
  fsType: string;
  commit: string;
}

async function machineFacts(): Promise<MachineFacts> {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    cpus: navigator.hardwareConcurrency,
    cpuModel: await cpuModel(),
    memBytes: Deno.systemMemoryInfo().total,
    kernel: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    fsType: await fsType(BENCH_DIR),
    commit: await commitText(),
  };
}

/** ext4 without a journal says so: it changes how file creation behaves (see moveToTrash). */
async function fsType(path: string): Promise<string> {
  const [type, source] = (await tryRun(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", path]) ?? "")
    .split(/\s+/);
  if (!type) return await tryRun(["stat", "-f", "-c", "%T", path]) ?? "unknown";
  if (type !== "ext4" || !source?.startsWith("/dev/")) return type;
  const device = source.slice("/dev/".length);
  const journals = await Array.fromAsync(Deno.readDir("/proc/fs/jbd2")).catch(() => undefined);
  if (!journals) return type;
  return journals.some((j) => j.name.startsWith(`${device}-`)) ? type : `${type} without a journal`;
}

async function cpuModel(): Promise<string> {
  const cpuinfo = await readTextOr("/proc/cpuinfo", "");
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1].trim() ?? "unknown CPU";
}

/** The figures belong to a version of the code: name it, and say when it was edited. */
async function commitText(): Promise<string> {
  const head = await tryRun(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]);
  if (!head) return "no git commit";
  const dirty = await tryRun(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"]);
  return dirty ? `commit ${head} with uncommitted changes` : `commit ${head}`;
}

function formatFacts(f: MachineFacts): string {
  return `${f.cpus} CPUs (${f.cpuModel}), ${(f.memBytes / 2 ** 30).toFixed(1)} GiB RAM, ` +
    `${f.kernel}, ${f.fsType} filesystem, Deno ${f.deno}`;
}

// ---------------------------------------------------------------------------
// docs/performance.md

/** Replaces the section's generated block, or appends one under its title. */
async function updateDocSection(section: Section, markdown: string): Promise<void> {
  const start = `<!-- bench:${section.name}:start -->`;
  const end = `<!-- bench:${section.name}:end -->`;
  const block = `${start}\n\n${markdown.trim()}\n\n${end}`;
  const doc = await readTextOr(DOC_PATH, "# Performance\n");
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  const updated = from >= 0 && to > from
    ? doc.slice(0, from) + block + doc.slice(to + end.length)
    : `${doc.trimEnd()}\n\n## ${section.title}\n\n${block}\n`;
  await Deno.writeTextFile(DOC_PATH, updated);
  // `deno task check` runs fmt --check on markdown too: aligned tables, wrapped prose.
  await run([Deno.execPath(), "fmt", "--quiet", DOC_PATH]);
}

// ---------------------------------------------------------------------------
// Tables and numbers

interface Table {
  head: string[];
  rows: string[][];
}

function textTable(t: Table): string {
  const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => r[i].length)));
  const right = figureColumns(t);
  const line = (cells: string[]) =>
    cells.map((c, i) => right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])).join("  ");
  return [line(t.head), widths.map((w) => "-".repeat(w)).join("  "), ...t.rows.map(line)]
    .join("\n");
}

function markdownTable(t: Table): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const rule = figureColumns(t).map((right) => right ? "---:" : "---");
  return [line(t.head), line(rule), ...t.rows.map(line)].join("\n");
}

/** Figures align right, so their digits line up; words and labels align left. */
function figureColumns(t: Table): boolean[] {
  const isFigure = (cell: string) => /^[0-9]/.test(cell) || cell === "n/a" || cell === "";
  return t.head.map((_, i) => i > 0 && t.rows.every((row) => isFigure(row[i])));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function seconds(s: number): string {
  return `${s.toFixed(2)} s`;
}

function optionalSeconds(s: number | undefined): string {
  return s === undefined ? "n/a" : seconds(s);
}

function ratio(r: number): string {
  return `${r.toFixed(2)}×`;
}

/** KiB (as the kernel reports) to MB of 10^6 bytes. */
function megabytes(kib: number): string {
  return `${(kib * 1024 / 1e6).toFixed(kib * 1024 < 10e6 ? 1 : 0)} MB`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

// ---------------------------------------------------------------------------
// Processes and files

/** Runs a command to completion and returns its stdout; throws when it fails. */
async function run(argv: string[]): Promise<string> {
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  checkSuccess(argv, out);
  return new TextDecoder().decode(out.stdout);
}

/** A fact that may be unavailable on this machine: undefined rather than an error. */
async function tryRun(argv: string[]): Promise<string | undefined> {
  try {
    return (await run(argv)).trim() || undefined;
  } catch {
    return undefined;
  }
}

function checkSuccess(argv: string[], out: Deno.CommandOutput): void {
  if (out.success) return;
  const stderr = new TextDecoder().decode(out.stderr).trim();
  throw new Error(`${argv.join(" ")} exited with ${out.code}${stderr ? `:\n${stderr}` : ""}`);
}

async function readTextOr<T>(path: string, fallback: T): Promise<string | T> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return fallback;
    throw err;
  }
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

// ---------------------------------------------------------------------------
// Listing runs

const LISTED_RUNS = 1000;
const TARGET_LIST_SECONDS = 1;

/**
 * `runstage runs` on a runs home of 1,000 runs, against `runstage --version`
 * (the same process start with no work) in the same rounds. The runs are one
 * real staged and completed run, cloned under fresh ids: the meta files a
 * listing reads are those of a real run, and making them takes seconds
 * instead of minutes.
 */
async function benchRunsListing(options: BenchOptions, facts: MachineFacts): Promise<string> {
  const home = `${WORK_DIR}/runs-home`;
  await makeListedRuns(home, LISTED_RUNS);
  const cli = (
    ...args: string[]
  ) => [Deno.execPath(), "run", "--allow-all", "--quiet", MAIN, ...args];
  const variants = [
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
    },
  ];
  const walls = new Map(variants.map((v) => [v.key, [] as number[]]));
  for (let r = 0; r < options.rounds; r++) {
    for (const v of rotate(variants, r)) {
      const start = performance.now();
      const out = await new Deno.Command(v.argv[0], {
        args: v.argv.slice(1),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const wall = (performance.now() - start) / 1000;
      if (!out.success) {
        throw new Error(`${v.label} failed: ${new TextDecoder().decode(out.stderr)}`);
      }
      if (v.key === "json") {
        const listed = JSON.parse(new TextDecoder().decode(out.stdout)).length;
        if (listed !== LISTED_RUNS) {
          throw new Error(`runs --json listed ${listed} runs, not ${LISTED_RUNS}`);
        }
      }
      walls.get(v.key)!.push(wall);
      console.error(
        `  round ${r + 1}/${options.rounds}  ${v.label.padEnd(40)} ${wall.toFixed(3)} s`,
      );
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const startup = median(walls.get("version")!);
  const rows = variants.map((v) => {
    const m = median(walls.get(v.key)!);
    return `| ${v.label} | ${m.toFixed(3)} s | ${(m - startup).toFixed(3)} s |`;
  });
  const json = median(walls.get("json")!);
  const verdict = json < TARGET_LIST_SECONDS ? "PASS" : "MISS";
  const markdown = [
    `Last run ${facts.date}, at ${facts.commit}, ${options.rounds} alternating rounds; medians.`,
    "",
    `A runs home of ${LISTED_RUNS} completed runs (one real run cloned under fresh ids). The listing reads`,
    "a few small meta files per run and never a manifest.",
    "",
    "| command | wall time | beyond startup |",
    "| --- | ---: | ---: |",
    ...rows,
    "",
    `Target: \`runs\` on ${LISTED_RUNS} runs well under ${TARGET_LIST_SECONDS} s: ${
      json.toFixed(3)
    } s, ${verdict}.`,
  ].join("\n");
  console.log("\n" + markdown);
  return markdown;
}

/** One real run, staged and run through the CLI, then cloned to `count` runs. */
async function makeListedRuns(home: string, count: number): Promise<void> {
  const project = `${WORK_DIR}/runs-project`;
  await Deno.mkdir(project, { recursive: true });
  await Deno.writeTextFile(`${project}/gage.toml`, '[train]\nexec = "echo loss: 0.5"\n');
  await Deno.writeTextFile(`${project}/train.py`, "print(1)\n");
  await run([
    Deno.execPath(),
    "run",
    "--allow-all",
    "--quiet",
    MAIN,
    "-C",
    project,
    "--runs",
    home,
    "run",
  ]);
  const [meta] = [...Deno.readDirSync(home)].filter((e) => e.name.endsWith(".meta"));
  const id = meta.name.slice(0, -".meta".length);
  for (let i = 1; i < count; i++) {
    const clone = crypto.randomUUID();
    await run(["cp", "-r", `${home}/${id}.meta`, `${home}/${clone}.meta`]);
    await Deno.writeTextFile(`${home}/${clone}.meta/id`, clone);
    await Deno.mkdir(`${home}/${clone}`);
  }
}

// ---------------------------------------------------------------------------
// Startup and size of the binary

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
async function benchStartup(options: BenchOptions, facts: MachineFacts): Promise<string> {
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

function milliseconds(s: number): string {
  return `${(s * 1000).toFixed(0)} ms`;
}

// Last: the top-level await would otherwise run before the constants below it exist.
if (import.meta.main) Deno.exit(await main(Deno.args));
