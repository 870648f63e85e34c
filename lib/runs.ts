/**
 * The runs of a runs home: listing them newest first, their status, and finding
 * the one a user names by index, id, id prefix or name.
 */
import { readdirSync } from "node:fs";
import process from "node:process";
import { RunstageError } from "./errors.ts";
import { parseOpRef, readMeta, readMetaTimestamp } from "./meta.ts";
import { type Run, runAt, runName } from "./run.ts";

export type RunStatus =
  | "completed"
  | "error"
  | "terminated"
  | "running"
  | "staged"
  | "pending"
  | "unknown";

export interface RunInfo {
  /** 1 is the newest run. */
  index: number;
  run: Run;
  op: string;
  status: RunStatus;
  exitCode?: number;
  initialized?: number;
  started?: number;
  stopped?: number;
}

const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The first rule that holds: `proc/exit` (0 completed, > 0 error, < 0 terminated);
 * `proc/lock` naming a live process (running) or a dead one (terminated);
 * `staged`; `initialized` (pending); else unknown.
 */
export function runStatus(run: Run): RunStatus {
  const exit = readMeta(run, "proc/exit");
  if (exit !== undefined) {
    const code = Number(exit.trim());
    return code === 0 ? "completed" : code > 0 ? "error" : "terminated";
  }
  const lock = readMeta(run, "proc/lock");
  if (lock !== undefined) return processAlive(Number(lock.trim())) ? "running" : "terminated";
  if (readMeta(run, "staged") !== undefined) return "staged";
  if (readMeta(run, "initialized") !== undefined) return "pending";
  return "unknown";
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Every run of the runs home, newest first. Half-written runs are listed, never fatal. */
export function listRuns(runsHome: string): RunInfo[] {
  let names: string[];
  try {
    names = readdirSync(runsHome);
  } catch {
    return [];
  }
  const runs = names
    .filter((n) => n.endsWith(".meta") && ID_PATTERN.test(n.slice(0, -5)))
    .map((n) => readRunInfo(runsHome, n.slice(0, -5)));
  runs.sort((a, b) =>
    (b.initialized ?? 0) - (a.initialized ?? 0) || a.run.id.localeCompare(b.run.id)
  );
  runs.forEach((r, i) => (r.index = i + 1));
  return runs;
}

export function readRunInfo(runsHome: string, id: string): RunInfo {
  const run = runAt(runsHome, id, runName(id));
  const exit = readMeta(run, "proc/exit");
  return {
    index: 0,
    run,
    op: parseOpRef(readMeta(run, "opref") ?? "")?.name ?? "",
    status: runStatus(run),
    exitCode: exit === undefined ? undefined : Number(exit.trim()),
    initialized: readMetaTimestamp(run, "initialized"),
    started: readMetaTimestamp(run, "started"),
    stopped: readMetaTimestamp(run, "stopped"),
  };
}

/** The run a user names: an index from `runs`, an id, a unique id prefix, or a name. */
export function resolveRun(runsHome: string, spec: string): RunInfo {
  const runs = listRuns(runsHome);
  if (runs.length === 0) {
    throw new RunstageError(`no runs in ${runsHome}: stage one with "runstage run"`);
  }
  if (/^\d+$/.test(spec)) {
    const found = runs[Number(spec) - 1];
    if (found) return found;
    throw new RunstageError(
      `no run at index ${spec}: there ${
        runs.length === 1 ? "is 1 run" : `are ${runs.length} runs`
      }` +
        ` (see "runstage runs")`,
    );
  }
  const matches = runs.filter((r) => r.run.id.startsWith(spec) || r.run.name === spec);
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) {
    throw new RunstageError(
      `"${spec}" names ${matches.length} runs (${matches.map((r) => r.run.name).join(", ")}):` +
        ` give more of the id`,
    );
  }
  throw new RunstageError(
    `no run matches "${spec}": name a run by index, id, id prefix or name (see "runstage runs")`,
  );
}
