/**
 * The benchmark harness: options, paths, timing one command (wall time, CPU time
 * and peak RSS), alternating rounds, the untimed settling between commands, and
 * the wait for ext4's recently deleted inodes. Sections (staging.ts, runs.ts,
 * startup.ts, scan.ts) build on it; scripts/bench.ts runs them.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { MachineFacts } from "./report.ts";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const MAIN = `${REPO}main.ts`;
/** Gitignored and excluded from fmt/lint: generated data lives here between runs. */
export const BENCH_DIR = `${REPO}.bench`;
/** Destinations of timed copies: outside the project, so nothing copies itself. */
export const WORK_DIR = `${BENCH_DIR}/work`;
/** What earlier runs left in WORK_DIR, moved aside and deleted only when this run ends. */
export const TRASH_DIR = `${BENCH_DIR}/trash`;
export const DOC_PATH = `${REPO}docs/performance.md`;
export const GNU_TIME = "/usr/bin/time";

const USAGE = `usage: deno task bench [options]

  --rounds N      timed rounds per section (default 5)
  --only NAME     run only this section; repeat or comma-separate (sections: SECTIONS)
  --rebuild       regenerate the synthetic projects (staging, scan) even when the
                  cached ones are current
  --breakdown     staging: also time parts of the project alone (small files, 20 MiB
                  files, the 768 MiB file, gage.toml only) to show where time goes
  --rss METHOD    how runstage's peak RSS is taken: "time" (${GNU_TIME} -f %M, the
                  default when present) or "proc" (polling /proc/PID/status VmHWM)
  --delete-between  delete each destination right after its command (untimed)
                  instead of keeping its small files until the end; slows the next
                  command's file creation on ext4 without a journal (see the doc)
  --rev REV       staging: also time runstage as committed at REV (a commit, tag or
                  branch; repeatable), to compare a change with what it replaces
  --scan-timeout S  scan: stop a command still running after S seconds and report it
                  as stopped (default 120)
  --no-wait       start at once even if the last run deleted its copies minutes ago
  --no-docs       print only; leave docs/performance.md alone

Set RUNSTAGE_BIN to also time a compiled runstage binary in staging; startup times
RUNSTAGE_BIN, else dist/runstage (built with \`deno task build --host\` if missing).`;

export type RssMethod = "time" | "proc";

export interface BenchOptions {
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
  /** Seconds after which a scan command is stopped and reported as such. */
  scanTimeoutS: number;
}

export interface Section {
  name: string;
  /** The heading the section gets when the doc does not have its markers yet. */
  title: string;
  /** Prints its results and returns the markdown for the doc. */
  run: (options: BenchOptions, facts: MachineFacts) => Promise<string>;
}

export interface ParsedArgs {
  options: BenchOptions;
  /** The sections named by --only, in the order of `sections`; all of them without it. */
  sections: Section[];
  writeDocs: boolean;
}

export function usage(sections: Section[]): string {
  return USAGE.replace("SECTIONS", sections.map((s) => s.name).join(", "));
}

/** `"help"` for -h/--help; throws on a bad option. */
export async function parseOptions(
  args: string[],
  sections: Section[],
): Promise<"help" | ParsedArgs> {
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
      "scan-timeout": { type: "string", default: "120" },
      "no-docs": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error(`--rounds takes a whole number ≥ 1, got ${values.rounds}`);
  }
  const scanTimeoutS = Number(values["scan-timeout"]);
  if (!(scanTimeoutS > 0)) {
    throw new Error(`--scan-timeout takes seconds > 0, got ${values["scan-timeout"]}`);
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
      scanTimeoutS,
    },
    sections: selectSections(sections, values.only),
    writeDocs: !values["no-docs"],
  };
}

function selectSections(sections: Section[], only: string[] | undefined): Section[] {
  if (!only) return sections;
  const names = only.flatMap((o) => o.split(",")).map((n) => n.trim()).filter(Boolean);
  for (const name of names) {
    if (!sections.some((s) => s.name === name)) throw new Error(`no section named ${name}`);
  }
  return sections.filter((s) => names.includes(s.name));
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
// Deleted inodes: the wait before, the trash during, the cleanup after

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
export async function waitForDeletedInodes(): Promise<void> {
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
export async function moveToTrash(path: string): Promise<void> {
  await Deno.mkdir(TRASH_DIR, { recursive: true });
  try {
    await Deno.rename(path, `${TRASH_DIR}/${Date.now()}-${path.split("/").at(-1)}`);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Deletes what the benchmark wrote and notes when, for the next run's wait. */
export async function cleanUp(): Promise<void> {
  console.log(`\nDeleting what the benchmark wrote in ${WORK_DIR}`);
  await removeIfPresent(WORK_DIR);
  await removeIfPresent(TRASH_DIR);
  // Written back, the deleted inodes are avoided for RECENTCY_MIN, not + RECENTCY_DIRTY.
  await run(["sync"]);
  await Deno.writeTextFile(CLEANED_AT, String(Date.now()));
}

// ---------------------------------------------------------------------------
// Timing one command

export interface Sample {
  wallS: number;
  /** CPU time of the command and its children, in user space and in the kernel (GNU time). */
  userS?: number;
  sysS?: number;
  peakRssKb?: number;
}

export interface Timed {
  sample: Sample;
  stdout: string;
}

/**
 * Times one command, then, untimed: deletes the big files it wrote (a handful of
 * inodes; their GB of page cache would otherwise squeeze later rounds), keeps the
 * small ones until the end (see moveToTrash), and syncs, so the next command
 * starts with as little pending writeback as we can arrange. `deleteBetween`
 * deletes everything at once instead.
 */
export async function timeThenSettle(
  argv: string[],
  dst: string,
  wantRss: boolean,
  options: BenchOptions,
): Promise<Timed> {
  const timed = await timeCommand(argv, wantRss, options.rss);
  if (options.deleteBetween) await Deno.remove(dst, { recursive: true });
  else await removeBigFiles(dst);
  await run(["sync"]);
  return timed;
}

const BIG_FILE_BYTES = 1024 * 1024;

export async function removeBigFiles(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await removeBigFiles(path);
    else if (entry.isFile && (await Deno.stat(path)).size >= BIG_FILE_BYTES) {
      await Deno.remove(path);
    }
  }
}

export async function timeCommand(
  argv: string[],
  wantRss: boolean,
  rss: RssMethod,
): Promise<Timed> {
  return rss === "time" ? await timeWithGnuTime(argv) : await timeWithProcPolling(argv, wantRss);
}

/** GNU time reports the child's own rusage: CPU time and max RSS, nothing sampled. */
async function timeWithGnuTime(argv: string[]): Promise<Timed> {
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
async function timeWithProcPolling(argv: string[], wantRss: boolean): Promise<Timed> {
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

export const RSS_POLL_MS = 20;

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

/** The wall time of a command, or `stopped` when it ran past `timeoutS` and was killed. */
export type Watched = { wallS: number; stdout: string } | { stopped: true; wallS: number };

/**
 * Wall time only, with a watchdog: a command that runs past `timeoutS` is killed
 * and reported, so a section measuring a walk that may not end still reports.
 */
export async function timeWithWatchdog(argv: string[], timeoutS: number): Promise<Watched> {
  const started = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stopped = false;
  const watchdog = setTimeout(() => {
    stopped = true;
    child.kill("SIGKILL");
  }, timeoutS * 1000);
  const out = await child.output().finally(() => clearTimeout(watchdog));
  const wallS = (performance.now() - started) / 1000;
  if (stopped) return { stopped: true, wallS };
  checkSuccess(argv, out);
  return { wallS, stdout: new TextDecoder().decode(out.stdout) };
}

// ---------------------------------------------------------------------------
// Rounds and their statistics

/** Each round starts one variant later, so every variant leads equally often. */
export function rotate<T>(items: T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function medianOf(samples: Sample[], pick: (s: Sample) => number | undefined) {
  const values = samples.map(pick).filter((v) => v !== undefined);
  return values.length ? median(values) : undefined;
}

/** The worst round: the target is a ceiling, not a typical value. */
export function peakOf(samples: Sample[]): number | undefined {
  const values = samples.map((s) => s.peakRssKb).filter((v) => v !== undefined);
  return values.length ? Math.max(...values) : undefined;
}

// ---------------------------------------------------------------------------
// Processes and files

/** `deno run main.ts ARGS` of the working tree, as a user runs it from source. */
export function cli(...args: string[]): string[] {
  return [Deno.execPath(), "run", "--allow-all", "--quiet", MAIN, ...args];
}

/** Runs a command to completion and returns its stdout; throws when it fails. */
export async function run(argv: string[]): Promise<string> {
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
export async function tryRun(argv: string[]): Promise<string | undefined> {
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

export async function readTextOr<T>(path: string, fallback: T): Promise<string | T> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return fallback;
    throw err;
  }
}

export async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}
