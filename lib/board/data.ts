/**
 * What the board reads from a runs home, read-only: the rows of its runs table
 * (kept between requests: a finished run's row is read once, a running run's on
 * every refresh), a run's scalars and a run's page (meta, config, summary,
 * provenance, files with their manifest state, captured output).
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { setImmediate } from "node:timers";
import { join } from "node:path";
import { listRuns, newestFirst, readRunInfo, type RunInfo } from "../run/listing.ts";
import { RUN_ID_PATTERN } from "../run/identity.ts";
import { runMeta } from "../run/meta.ts";
import { readManifest } from "../run/manifest.ts";
import { readOutput } from "../run/output.ts";
import { readScalars, type Scalar, scalarStats } from "../run/scalars.ts";
import type { Run } from "../run/identity.ts";
import type { BoardRow } from "./table.ts";

const FINISHED = new Set(["completed", "error", "terminated", "deleted"]);

/** A run's row: listing values, flags, and its summary metrics over the last of its scalars. */
export function boardRow(info: RunInfo): BoardRow {
  const metrics: Record<string, number | string> = {};
  for (const [key, stats] of scalarStats(readScalars(info.run))) metrics[key] = stats.last;
  Object.assign(metrics, info.metrics);
  return {
    index: info.index,
    id: info.run.id,
    name: info.run.name,
    op: info.op,
    status: info.status,
    ...(info.label !== undefined ? { label: info.label } : {}),
    ...(info.initialized !== undefined ? { initialized: info.initialized } : {}),
    ...(info.started !== undefined ? { started: info.started } : {}),
    ...(info.stopped !== undefined ? { stopped: info.stopped } : {}),
    ...(info.exitCode !== undefined ? { exitCode: info.exitCode } : {}),
    flags: runMeta.config.read(info.run) ?? {},
    metrics,
  };
}

/** Runs read between two yields to the event loop: the server answers meanwhile. */
const CHUNK = 200;

const tick = () => new Promise<void>((done) => setImmediate(done));

/**
 * The rows of a runs home, newest first, re-read at most every `maxAgeMs`.
 * Reading yields to the event loop every {@link CHUNK} runs, so the page and
 * its script are served while a big runs home is read; a finished run is read
 * once (then only its label again), so a refresh of 10,000 finished runs costs
 * a directory listing and a label each.
 */
export class RowCache {
  #rows: BoardRow[] = [];
  #infos = new Map<string, RunInfo>();
  #finished = new Map<string, { info: RunInfo; row: BoardRow }>();
  #readAt = -Infinity;
  #reading: Promise<BoardRow[]> | undefined;

  constructor(readonly runsHome: string, readonly maxAgeMs = 1000) {}

  rows(): Promise<BoardRow[]> {
    if (performance.now() - this.#readAt < this.maxAgeMs) return Promise.resolve(this.#rows);
    this.#reading ??= this.#read().finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #read(): Promise<BoardRow[]> {
    let names: string[];
    try {
      names = readdirSync(this.runsHome);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") names = [];
      else return listRuns(this.runsHome).map(boardRow); // throws its one-line error
    }
    const infos: RunInfo[] = [];
    let read = 0;
    for (const name of names) {
      const id = name.slice(0, -5);
      if (!name.endsWith(".meta") || !RUN_ID_PATTERN.test(id)) continue;
      const known = this.#finished.get(id);
      if (known && existsSync(known.info.run.metaDir)) {
        known.info.label = runMeta.label.read(known.info.run);
        infos.push(known.info);
        continue;
      }
      const info = readRunInfo(this.runsHome, id);
      if (info !== undefined) infos.push(info);
      if (++read % CHUNK === 0) await tick();
    }
    infos.sort(newestFirst);
    const rows: BoardRow[] = [];
    for (const [i, info] of infos.entries()) {
      info.index = i + 1;
      const known = this.#finished.get(info.run.id);
      if (known?.info === info) {
        const { label: _, ...rest } = known.row;
        rows.push({ ...rest, index: info.index, ...(info.label ? { label: info.label } : {}) });
        continue;
      }
      const row = boardRow(info);
      if (FINISHED.has(row.status)) this.#finished.set(row.id, { info, row });
      rows.push(row);
      if (rows.length % CHUNK === 0) await tick();
    }
    this.#rows = rows;
    this.#infos = new Map(infos.map((i) => [i.run.id, i]));
    this.#readAt = performance.now();
    return rows;
  }

  /** A run of the runs home by id, as last listed (never a path from a request). */
  async run(id: string): Promise<{ run: Run; row: BoardRow } | undefined> {
    const rows = await this.rows();
    const info = this.#infos.get(id);
    const row = rows.find((r) => r.id === id);
    return info && row ? { run: info.run, row } : undefined;
  }
}

/** Scalars as the charts take them: per key, steps (or times) and values. */
export interface ScalarSeries {
  key: string;
  /** The step of each value; a value recorded before any step has the seconds since the first. */
  x: number[];
  y: number[];
}

export function scalarSeries(scalars: readonly Scalar[], maxPoints = Infinity): ScalarSeries[] {
  const byKey = new Map<string, ScalarSeries>();
  const t0 = scalars[0]?.time ?? 0;
  for (const s of scalars) {
    let series = byKey.get(s.key);
    if (!series) byKey.set(s.key, series = { key: s.key, x: [], y: [] });
    series.x.push(s.step ?? Math.round((s.time - t0) / 1e4) / 100);
    series.y.push(s.value);
  }
  return [...byKey.values()].map((s) => thin(s, maxPoints));
}

/** Every n-th point and the last, at most about `max`: for the static report's size. */
function thin(s: ScalarSeries, max: number): ScalarSeries {
  if (s.x.length <= max) return s;
  const every = Math.ceil(s.x.length / max);
  const keep = s.x.map((_, i) => i).filter((i) => i % every === 0 || i === s.x.length - 1);
  return { key: s.key, x: keep.map((i) => s.x[i]), y: keep.map((i) => s.y[i]) };
}

export interface OutputPhase {
  phase: string;
  /** [milliseconds since the epoch, stream (0 stdout, 1 stderr), text] per line. */
  lines: [number, number, string][];
  /** Lines left out before these (the page shows the last ones of a long output). */
  omitted: number;
}

export interface FileState {
  path: string;
  /** In the manifest and there; in it and gone; there but not in it (or no manifest yet). */
  state: "listed" | "missing" | "unlisted";
  type?: string;
  digest?: string;
  size?: number;
}

export interface RunPage {
  row: BoardRow;
  meta: Record<string, unknown>;
  config: unknown;
  summary: unknown;
  vcs: unknown;
  deps: unknown;
  batch: unknown;
  files: FileState[];
  filesOmitted: number;
  output: OutputPhase[];
}

const MAX_FILES = 2000;

/** Everything the run page shows, output limited to the last `maxLines` lines of each phase. */
export function runPage(row: BoardRow, run: Run, maxLines = 5000): RunPage {
  const files = fileStates(run);
  return {
    row,
    meta: {
      id: run.id,
      name: run.name,
      opref: runMeta.opref.read(run),
      cmd: runMeta.cmd.read(run),
      env: runMeta.env.read(run),
      initialized: runMeta.initialized.read(run),
      staged: runMeta.staged.read(run),
      started: runMeta.started.read(run),
      stopped: runMeta.stopped.read(run),
      exit: runMeta.exit.read(run),
      label: runMeta.label.read(run),
      live: readText(run, "live"),
      slurm: runMeta.slurm.read(run),
    },
    config: runMeta.config.read(run) ?? {},
    summary: runMeta.summary.read(run) ?? null,
    vcs: runMeta.vcs.read(run) ?? null,
    deps: runMeta.deps.read(run) ?? null,
    batch: runMeta.batch.read(run) ?? null,
    files: files.slice(0, MAX_FILES),
    filesOmitted: Math.max(0, files.length - MAX_FILES),
    output: outputPhases(run, maxLines),
  };
}

function readText(run: Run, name: string): string | undefined {
  try {
    return readFileSync(join(run.metaDir, name), "utf8");
  } catch {
    return undefined;
  }
}

function outputPhases(run: Run, maxLines: number): OutputPhase[] {
  let names: string[];
  try {
    names = readdirSync(join(run.metaDir, "output")).filter((n) => /^\d\d_[\w-]+$/.test(n)).sort();
  } catch {
    return [];
  }
  return names.map((name) => {
    let lines: { time: number; stream: number; text: string }[] = [];
    try {
      lines = readOutput(join(run.metaDir, "output", name));
    } catch {
      // Being written, or its index not there yet.
    }
    const omitted = Math.max(0, lines.length - maxLines);
    return {
      phase: name,
      lines: lines.slice(omitted).map((l) =>
        [l.time, l.stream, l.text] as [number, number, string]
      ),
      omitted,
    };
  });
}

/** The run dir's files against the manifest: sizes from lstat, never following a link. */
function fileStates(run: Run): FileState[] {
  const manifest = new Map((readManifest(run) ?? []).map((e) => [e.path, e]));
  const present = new Map<string, number>();
  const walk = (rel: string) => {
    let entries;
    try {
      entries = readdirSync(join(run.runDir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (present.size > MAX_FILES * 2) return;
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else present.set(path, sizeOf(join(run.runDir, path)));
    }
  };
  walk("");
  const states: FileState[] = [];
  for (const [path, entry] of manifest) {
    const size = present.get(path);
    states.push({
      path,
      state: size === undefined ? "missing" : "listed",
      type: entry.type,
      digest: entry.digest,
      ...(size !== undefined ? { size } : {}),
    });
  }
  for (const [path, size] of present) {
    if (!manifest.has(path)) states.push({ path, state: "unlisted", size });
  }
  return states.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function sizeOf(path: string): number {
  try {
    return lstatSync(path).size;
  } catch {
    return 0;
  }
}
