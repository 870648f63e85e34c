/**
 * The runs of a runs home: listing them newest first, their status, and finding
 * the ones a user names by index, slice, id, id prefix, name or label.
 *
 * Listing is what every command does first, on runs homes of thousands of runs,
 * often while runs are being written: it reads only a few small meta files per
 * run (never a manifest), and a file that is absent or half-written is simply
 * not there yet, never an error.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { RunstageError, UsageError } from "../errors.ts";
import { type LockHolder, lockHolder, type ProcessLock } from "./lock.ts";
import { type MetricValue, runMeta } from "./meta.ts";
import { liveProjectDir } from "./projectdir.ts";
import { type Run, RUN_ID_PATTERN, runAt, runName } from "./identity.ts";
import { quotePath } from "../fs/quote.ts";

export type RunStatus =
  | "completed"
  | "error"
  | "terminated"
  | "running"
  | "queued"
  | "staged"
  | "pending"
  | "unknown"
  | "deleted";

export const RUN_STATUSES: readonly RunStatus[] = [
  "completed",
  "error",
  "terminated",
  "running",
  "queued",
  "staged",
  "pending",
  "unknown",
  "deleted",
];

export interface RunInfo {
  /** 1 is the newest run of its listing (the runs home, or its trash). */
  index: number;
  run: Run;
  op: string;
  status: RunStatus;
  exitCode?: number;
  initialized?: number;
  started?: number;
  stopped?: number;
  /** Meta `label`, when set. */
  label?: string;
  /** A running run whose process is on another host (its `proc/lock` says which). */
  host?: string;
  /** The `metrics` of meta `summary.json`; empty when it has none. */
  metrics: Record<string, MetricValue>;
  /** In the trash: `run` points into `<runs home>/.trash`. */
  deleted: boolean;
  /**
   * Meta `live`: the project dir a live run's source files are links into.
   * Undefined for a snapshot run, whose files are copies.
   */
  live?: string;
}

/** The trash lives inside the runs home, so moving a run there is a rename on one file system. */
export const TRASH_DIR = ".trash";

export function trashDir(runsHome: string): string {
  return join(runsHome, TRASH_DIR);
}

/**
 * The first rule that holds: `proc/exit` (0 completed, > 0 error, < 0 terminated);
 * `proc/lock` naming the run's live process (running), or a process of another
 * host (running there: not this host's to judge), or none that lives (terminated);
 * `started` with neither (error: its end could not be recorded, a full disk or a
 * meta dir gone read-only; never staged, or `start` would run the op again);
 * `staged`; `initialized` (pending); else unknown.
 */
export function runStatus(run: Run, exit = runMeta.exit.read(run)): RunStatus {
  if (exit !== undefined) return exit === 0 ? "completed" : exit > 0 ? "error" : "terminated";
  const holder = lockState(run);
  if (holder !== undefined) return holder.state === "dead" ? "terminated" : "running";
  if (runMeta.started.exists(run)) return "error";
  if (runMeta.staged.exists(run)) return "staged";
  if (runMeta.initialized.exists(run)) return "pending";
  return "unknown";
}

/** The lock of a run whose process is alive here or runs on another host. */
export function runningLock(run: Run): ProcessLock | undefined {
  if (runMeta.exit.exists(run)) return undefined;
  const lock = runMeta.lock.read(run);
  return lock !== undefined && lockHolder(lock, lockContext(run)).state !== "dead"
    ? lock
    : undefined;
}

/** Who holds the run's `proc/lock`; undefined when it has none. */
function lockState(run: Run): LockHolder | undefined {
  const lock = runMeta.lock.read(run);
  return lock === undefined ? undefined : lockHolder(lock, lockContext(run));
}

/** When the lock was written and the run initialized: what tells an old lock's pid was reused. */
function lockContext(run: Run) {
  let writtenAtMs: number | undefined;
  try {
    writtenAtMs = statSync(join(run.metaDir, runMeta.lock.name)).mtimeMs;
  } catch {
    // Removed meanwhile.
  }
  const initialized = runMeta.initialized.read(run);
  return { writtenAtMs, initializedMs: initialized === undefined ? undefined : initialized / 1000 };
}

export interface ListOptions {
  /** List the trash instead of the runs home. */
  deleted?: boolean;
}

/**
 * Every run of the runs home (or of its trash), newest first. Half-written runs
 * are listed, never fatal; the trash dir is not a run and is skipped.
 */
export function listRuns(runsHome: string, options: ListOptions = {}): RunInfo[] {
  const home = options.deleted ? trashDir(runsHome) : runsHome;
  let names: string[];
  try {
    names = readdirSync(home);
  } catch (err) {
    // No runs home yet is no runs; one that cannot be read is not "no runs".
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw unreadableRunsHome(home, err);
  }
  const runs: RunInfo[] = [];
  for (const name of names) {
    // Only `<uuid>.meta` makes a run: `.trash`, `<id>/`, `<id>.project` and
    // stray files are not runs.
    if (!name.endsWith(".meta") || !RUN_ID_PATTERN.test(name.slice(0, -5))) continue;
    const info = readRunInfo(home, name.slice(0, -5));
    if (info === undefined) continue;
    if (options.deleted) info.status = "deleted";
    info.deleted = options.deleted ?? false;
    runs.push(info);
  }
  runs.sort(newestFirst);
  runs.forEach((r, i) => (r.index = i + 1));
  return runs;
}

function unreadableRunsHome(home: string, err: unknown): RunstageError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === "ENOTDIR"
    ? "it is not a directory"
    : code === "EACCES" || code === "EPERM"
    ? "permission denied"
    : code === "ELOOP"
    ? "its path has a loop of symbolic links"
    : `${code ?? String(err)}`;
  return new RunstageError(
    `cannot read the runs home ${quotePath(home)} (${reason}): its runs cannot be listed;` +
      ` make it readable, or pass --runs DIR`,
  );
}

/**
 * Listing order: by start time, newest first (`started`, or `initialized` for
 * a run not started yet), then by id so the order never depends on the disk's.
 */
export function newestFirst(a: RunInfo, b: RunInfo): number {
  return startedOrInitialized(b) - startedOrInitialized(a) || a.run.id.localeCompare(b.run.id);
}

function startedOrInitialized(info: RunInfo): number {
  return info.started ?? info.initialized ?? 0;
}

/**
 * The runs a label TEXT names, the one rule for `runs --label` and for naming a
 * RUN, ignoring case: the runs whose label is TEXT when any is, else those whose
 * label contains it. So `base` names the runs labelled "base" and not also those
 * labelled "baseline", and `base` still finds "Baseline 2" where no run is "base".
 */
export function runsLabelled(runs: RunInfo[], text: string): RunInfo[] {
  const wanted = text.toLowerCase();
  const exact = runs.filter((r) => r.label?.toLowerCase() === wanted);
  if (exact.length > 0) return exact;
  return runs.filter((r) => r.label?.toLowerCase().includes(wanted) ?? false);
}

/**
 * What a listing shows of one run. Undefined when its meta dir vanished since
 * the runs home was read (a run purged or deleted meanwhile).
 */
export function readRunInfo(runsHome: string, id: string): RunInfo | undefined {
  const run = runAt(runsHome, id, runName(id));
  const exit = runMeta.exit.read(run);
  const status = runStatus(run, exit);
  const holder = status === "running" ? lockState(run) : undefined;
  // A run with no readable meta at all is either being created or being removed.
  if (status === "unknown" && !existsSync(run.metaDir)) return undefined;
  return {
    index: 0,
    run,
    op: runMeta.opref.read(run)?.name ?? "",
    status,
    exitCode: exit,
    initialized: runMeta.initialized.read(run),
    started: runMeta.started.read(run),
    stopped: runMeta.stopped.read(run),
    label: runMeta.label.read(run),
    ...(holder?.state === "elsewhere" ? { host: holder.host } : {}),
    metrics: runMeta.summary.read(run)?.metrics ?? {},
    deleted: false,
    live: liveProjectDir(run),
  };
}

// --- commits ------------------------------------------------------------------------------

/** Fewer hex digits than this name too many commits to be worth a filter. */
const MIN_COMMIT_PREFIX = 4;

/**
 * A commit prefix as `runs --commit` takes it: 4 to 40 hex digits, any case;
 * returned lowercase, the way git writes commit ids.
 */
export function parseCommitPrefix(text: string): string {
  const trimmed = text.trim();
  if (!new RegExp(`^[0-9a-f]{${MIN_COMMIT_PREFIX},40}$`, "i").test(trimmed)) {
    throw new UsageError(
      `bad commit "${text}" for --commit: give ${MIN_COMMIT_PREFIX} to 40 hex digits of a` +
        " commit id, like the 7 that git log --oneline shows",
    );
  }
  return trimmed.toLowerCase();
}

// --- filtering ----------------------------------------------------------------------------

/** What `runs` keeps of a listing; every given criterion must hold. */
export interface RunFilter {
  op?: string;
  /** Any of these statuses; none given: any status. */
  status?: readonly RunStatus[];
  /** A label, matched as `runsLabelled` does: exactly when any run has it, else as a substring. */
  label?: string;
  /** A prefix of meta `vcs`'s commit, as `parseCommitPrefix` returns it. */
  commit?: string;
  /** The id of a sweep's batch (meta `batch.json`), or a prefix of it. */
  batch?: string;
  /** At most this many, the first that pass the other criteria. */
  limit?: number;
}

/**
 * The runs that pass `filter`, in listing order, with their indexes unchanged so
 * they still name the runs. Meta `vcs` is read only with a commit criterion, and
 * only for runs the cheaper criteria kept.
 */
export function filterRuns(runs: RunInfo[], filter: RunFilter): RunInfo[] {
  const statuses = filter.status ?? [];
  const kept = runs.filter((r) =>
    (filter.op === undefined || r.op === filter.op) &&
    (statuses.length === 0 || statuses.includes(r.status)) &&
    (filter.commit === undefined ||
      (runMeta.vcs.read(r.run)?.commit?.toLowerCase().startsWith(filter.commit) ?? false)) &&
    (filter.batch === undefined ||
      (runMeta.batch.read(r.run)?.id.startsWith(filter.batch.toLowerCase()) ?? false))
  );
  const labelled = filter.label === undefined ? kept : runsLabelled(kept, filter.label);
  return filter.limit === undefined ? labelled : labelled.slice(0, filter.limit);
}

// --- naming runs --------------------------------------------------------------------------

export interface ResolveOptions {
  /** Resolve among the deleted runs (the trash) instead of the runs home's. */
  deleted?: boolean;
}

const INDEX = /^\d+$/;
const SLICE = /^(\d*):(\d*)$/;

/**
 * The runs `specs` name, each spec one of: an index (`3`, 1 is the newest), a
 * slice of indexes (`1:3`, inclusive; `:3` and `2:` open-ended), a run id, a
 * unique id prefix, a run name or a unique prefix of one, or a label (every
 * run carrying exactly that label). Runs come in the order the specs name them, each once. All specs are
 * resolved against one listing, so a command acts on what the user saw.
 */
export function resolveRuns(
  runsHome: string,
  specs: string[],
  options: ResolveOptions = {},
): RunInfo[] {
  const runs = listRuns(runsHome, options);
  if (runs.length === 0) {
    throw new RunstageError(
      options.deleted
        ? `no deleted runs in ${quotePath(runsHome)}: the trash is empty`
        : `no runs in ${quotePath(runsHome)}: stage one with "runstage run"`,
    );
  }
  const found = new Map<string, RunInfo>();
  for (const spec of specs) {
    for (const info of resolveSpec(runs, spec, options)) found.set(info.run.id, info);
  }
  return [...found.values()];
}

/**
 * The newest run (index 1), what `show`, `cat`, `select` and `compare` act on
 * when no RUN is given, as Gage's do.
 */
export function latestRun(runsHome: string): RunInfo {
  return resolveRun(runsHome, "1");
}

/** The one run a spec names, for commands that act on one run. */
export function resolveRun(runsHome: string, spec: string, options: ResolveOptions = {}): RunInfo {
  const runs = resolveRuns(runsHome, [spec], options);
  if (runs.length === 1) return runs[0];
  throw new RunstageError(
    `"${spec}" names ${runs.length} runs (${runNames(runs)}): name one run (by index, id or name)`,
  );
}

function resolveSpec(runs: RunInfo[], spec: string, options: ResolveOptions): RunInfo[] {
  const listing = options.deleted ? `"runstage runs --deleted"` : `"runstage runs"`;
  if (INDEX.test(spec)) {
    // An id prefix can be all digits ("91732520"): past the last index, it is one.
    const index = Number(spec);
    const byId = index > runs.length ? runs.filter((r) => r.run.id.startsWith(spec)) : [];
    return byId.length === 1 ? byId : [runAtIndex(runs, index, listing)];
  }
  const slice = SLICE.exec(spec);
  if (slice) return runsInSlice(runs, spec, slice[1], slice[2], listing);

  const exact = runs.filter((r) => r.run.id === spec || r.run.name === spec);
  if (exact.length > 0) return exact;
  // Labels are shared on purpose ("baseline"): a label names every run that carries it.
  // One that is a run's label exactly comes before id prefixes; one that is only part
  // of a label comes after them and after name prefixes (Gage's `kafom` for
  // `kafom-fikud`), so a short id or name prefix is never taken for a label.
  const lower = spec.toLowerCase();
  const labelledExactly = runs.filter((r) => r.label?.toLowerCase() === lower);
  if (labelledExactly.length > 0) return labelledExactly;
  const prefixed = runs.filter((r) => r.run.id.startsWith(spec));
  if (prefixed.length === 1) return prefixed;
  if (prefixed.length > 1) {
    throw new RunstageError(
      `"${spec}" names ${prefixed.length} runs (${runNames(prefixed)}): give more of the id`,
    );
  }
  const named = runs.filter((r) => r.run.name.startsWith(spec));
  if (named.length === 1) return named;
  if (named.length > 1) {
    throw new RunstageError(
      `"${spec}" is the start of ${named.length} run names (${runNames(named)}): give more of` +
        ` the name`,
    );
  }
  const labelled = runsLabelled(runs, spec);
  if (labelled.length > 0) return labelled;
  if (spec.includes(":")) {
    throw new RunstageError(
      `bad slice "${spec}": a slice is START:END of indexes from ${listing}, like 1:3, :3 or 2:`,
    );
  }
  throw new RunstageError(
    `no ${options.deleted ? "deleted " : ""}run matches "${spec}": name a run by index, slice,` +
      ` id, id prefix, name or label (see ${listing})`,
  );
}

function runAtIndex(runs: RunInfo[], index: number, listing: string): RunInfo {
  const found = index >= 1 ? runs[index - 1] : undefined;
  if (found) return found;
  throw new RunstageError(`no run at index ${index}: ${thereAre(runs)} (see ${listing})`);
}

/** `START:END`, inclusive like Guild's; an END past the last run stops at the last run. */
function runsInSlice(
  runs: RunInfo[],
  spec: string,
  startText: string,
  endText: string,
  listing: string,
): RunInfo[] {
  const start = startText === "" ? 1 : Number(startText);
  const end = endText === "" ? runs.length : Math.min(Number(endText), runs.length);
  if (start < 1) {
    throw new RunstageError(`bad slice "${spec}": indexes start at 1 (the newest run)`);
  }
  if (endText !== "" && Number(endText) < start) {
    throw new RunstageError(
      `bad slice "${spec}": the start is after the end; write the smaller index first`,
    );
  }
  if (start > runs.length) {
    throw new RunstageError(`no runs in slice "${spec}": ${thereAre(runs)} (see ${listing})`);
  }
  return runs.slice(start - 1, end);
}

function thereAre(runs: RunInfo[]): string {
  return runs.length === 1 ? "there is 1 run" : `there are ${runs.length} runs`;
}

function runNames(runs: RunInfo[]): string {
  const names = runs.slice(0, 5).map((r) => r.run.name);
  return names.join(", ") + (runs.length > 5 ? `, and ${runs.length - 5} more` : "");
}
