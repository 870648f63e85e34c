/**
 * Meta `scalars`: the metrics a run reported as it went, one JSON object a
 * line (`{"time":…,"step":…,"key":"loss","value":0.52}`), appended while the
 * op runs and never rewritten, so a reader (the board, `runstage scalars`,
 * `cat --follow` of a running run) sees a prefix of the final file at any
 * time. `time` is microseconds since the epoch, when runstage read the value;
 * `step` is the step the op last reported (`step: 10`), or null before any.
 * A last line without its newline is a write in progress: readers skip it.
 */
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { writing } from "../fs/writefault.ts";
import type { Run } from "./identity.ts";

/** The meta file's name, relative to the meta dir. */
export const SCALARS_FILE = "scalars";

export interface Scalar {
  /** Microseconds since the epoch. */
  time: number;
  step: number | null;
  key: string;
  value: number;
}

/** The run's scalars in the order they were recorded; none when it has no file. */
export function readScalars(run: Run): Scalar[] {
  let text: string;
  try {
    text = readFileSync(join(run.metaDir, SCALARS_FILE), "utf8");
  } catch {
    return [];
  }
  return parseScalars(text);
}

/** Scalars of a `scalars` file's text: complete, well-formed lines only. */
export function parseScalars(text: string): Scalar[] {
  const lines = text.split("\n");
  lines.pop(); // after the last newline: empty, or a line still being written
  const scalars: Scalar[] = [];
  for (const line of lines) {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    if (isScalar(v)) scalars.push(v);
  }
  return scalars;
}

function isScalar(v: unknown): v is Scalar {
  if (typeof v !== "object" || v === null) return false;
  const s = v as Record<string, unknown>;
  return typeof s.time === "number" && typeof s.key === "string" &&
    typeof s.value === "number" && Number.isFinite(s.value) &&
    (s.step === null || (typeof s.step === "number" && Number.isFinite(s.step)));
}

/** Appends scalars to the run's file in one write, each a line. */
export function appendScalars(run: Run, scalars: readonly Scalar[]): void {
  if (scalars.length === 0) return;
  const path = join(run.metaDir, SCALARS_FILE);
  const text = scalars.map((s) =>
    JSON.stringify({ time: s.time, step: s.step, key: s.key, value: s.value }) + "\n"
  ).join("");
  writing(path, () => {
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, text);
  });
}

/** Last, min and max of each key: what `compare` and the board show of a history. */
export interface ScalarStats {
  last: number;
  min: number;
  max: number;
  /** The step of the last value, or null. */
  lastStep: number | null;
  count: number;
}

export function scalarStats(scalars: readonly Scalar[]): Map<string, ScalarStats> {
  const stats = new Map<string, ScalarStats>();
  for (const s of scalars) {
    const known = stats.get(s.key);
    if (!known) {
      stats.set(s.key, { last: s.value, min: s.value, max: s.value, lastStep: s.step, count: 1 });
      continue;
    }
    known.last = s.value;
    known.lastStep = s.step;
    known.min = Math.min(known.min, s.value);
    known.max = Math.max(known.max, s.value);
    known.count++;
  }
  return stats;
}
