/**
 * One-line progress displays on stderr, on a terminal only: a pipe or a file
 * sees nothing extra. lib/ reports progress through callbacks that only store
 * the latest state (they run per file or per chunk and must stay cheap); a
 * timer here draws it. The first draw comes at the first tick, one interval
 * (100 ms) after the work starts, so a quick command shows nothing and a slow
 * one shows its line well within half a second; then the line is redrawn in
 * place every interval while its text changes, and cleared when done.
 */
import process from "node:process";
import type { ArchiveProgress } from "../archive/export.ts";
import type { HashProgress } from "../run/manifest.ts";
import { formatBytes } from "./context.ts";
import { escapeControl } from "../fs/quote.ts";

export interface StagingProgress {
  files: number;
  bytes: number;
  totalFiles: number;
  totalBytes: number;
}

export interface LineProgress<P> {
  update(progress: P): void;
  done(): void;
}

export type ProgressDisplay = LineProgress<StagingProgress>;

/** How often the line is redrawn, and when it is first drawn (RUNSTAGE_PROGRESS_MS; tests shorten it). */
const REDRAW_MS = 100;

function redrawInterval(): number {
  const value = Number(process.env.RUNSTAGE_PROGRESS_MS);
  return process.env.RUNSTAGE_PROGRESS_MS !== undefined && Number.isFinite(value) && value >= 1
    ? value
    : REDRAW_MS;
}

/** Move to the line's start and erase it. */
const ERASE = "\r\x1b[2K";

/**
 * A line redrawn in place by a timer: `idle` until the first update, then the
 * latest update rendered. An update only keeps its argument (which lib/ may
 * go on changing), but the first one after the first tick is drawn at once.
 * `done` clears the line and stops the timer; a later update starts it again.
 */
function terminalLine<P>(
  stream: NodeJS.WriteStream,
  render: (progress: P) => string,
  idle?: string,
): LineProgress<P> {
  if (!stream.isTTY) return { update() {}, done() {} };
  const interval = redrawInterval();
  let latest: P | undefined;
  let due = false;
  let drawn = "";
  let timer: ReturnType<typeof setInterval> | undefined;
  const draw = () => {
    const text = latest === undefined ? idle : escapeControl(render(latest));
    if (text === undefined || text === drawn) return;
    drawn = text;
    stream.write(ERASE + text);
  };
  const start = () => {
    timer = setInterval(() => {
      due = true;
      draw();
    }, interval);
  };
  start();
  return {
    update(p) {
      const first = latest === undefined;
      latest = p;
      if (timer === undefined) start();
      if (first && due) draw();
    },
    done() {
      clearInterval(timer);
      timer = undefined;
      if (drawn !== "") stream.write(ERASE);
      drawn = "";
    },
  };
}

/** `Copying source code: 120/6000 files, 10.0 MB of 1.0 GB`; `Staging the run` before the copy. */
export function progressDisplay(stream: NodeJS.WriteStream = process.stderr): ProgressDisplay {
  return terminalLine<StagingProgress>(
    stream,
    (p) =>
      `Copying source code: ${p.files}/${p.totalFiles} files, ` +
      `${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)}`,
    "Staging the run",
  );
}

/** `Verifying: 3/10 files, 300.0 MB of 1.2 GB`. */
export function verifyProgress(
  stream: NodeJS.WriteStream = process.stderr,
): LineProgress<HashProgress> {
  return terminalLine<HashProgress>(
    stream,
    (p) =>
      `Verifying: ${p.files}/${p.totalFiles} files, ` +
      `${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)}`,
  );
}

/** `Exporting: writing 300.0 MB of 1.2 GB (25%)`, the step as lib/archive names it. */
export function archiveProgress(
  verb: string,
  stream: NodeJS.WriteStream = process.stderr,
): LineProgress<ArchiveProgress> {
  return terminalLine<ArchiveProgress>(stream, (p) => {
    const percent = p.totalBytes === 0 ? 100 : Math.floor((100 * p.bytes) / p.totalBytes);
    return `${verb}: ${p.step} ${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)}` +
      ` (${Math.min(percent, 100)}%)`;
  });
}
