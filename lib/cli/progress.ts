/**
 * One-line progress displays on stderr: they appear only on a terminal and only
 * when the work is long enough for a line to help, so quick commands and pipes
 * see nothing extra. Staging shows after about a second; export and import show
 * for archives of 256 MiB or more.
 */
import process from "node:process";
import type { ArchiveProgress } from "../archive/export.ts";
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

const REDRAW_MS = 100;

/** Archives smaller than this go by too fast for a progress line to help. */
const ARCHIVE_PROGRESS_MIN_BYTES = 256 * 1024 * 1024;

/** A number from the environment (tests shorten delays and thresholds), else `fallback`. */
function tunable(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return process.env[name] !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback;
}

/**
 * A line redrawn in place at most every 100 ms (and once more when `isComplete`),
 * from the first update `shows` lets through; cleared by `done`.
 */
function terminalLine<P>(
  stream: NodeJS.WriteStream,
  render: (progress: P) => string,
  shows: (progress: P, elapsedMs: number) => boolean,
  isComplete: (progress: P) => boolean = () => false,
): LineProgress<P> {
  if (!stream.isTTY) return { update() {}, done() {} };
  const start = Date.now();
  let lastDraw = 0;
  let shown = false;
  return {
    update(p) {
      const now = Date.now();
      if (!shows(p, now - start) || (now - lastDraw < REDRAW_MS && !isComplete(p))) return;
      lastDraw = now;
      shown = true;
      stream.write(`\r\x1b[2K${escapeControl(render(p))}`);
    },
    done() {
      if (shown) stream.write("\r\x1b[2K");
    },
  };
}

/** `Copying source code: 120/6000 files, 10.0 MB of 1.0 GB`, after RUNSTAGE_PROGRESS_DELAY_MS. */
export function progressDisplay(stream: NodeJS.WriteStream = process.stderr): ProgressDisplay {
  const delay = tunable("RUNSTAGE_PROGRESS_DELAY_MS", 1000);
  return terminalLine<StagingProgress>(
    stream,
    (p) =>
      `Copying source code: ${p.files}/${p.totalFiles} files, ` +
      `${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)}`,
    (_p, elapsed) => elapsed >= delay,
  );
}

/**
 * `Exporting: 300.0 MB of 1.2 GB (25%)` for archives of RUNSTAGE_ARCHIVE_PROGRESS_BYTES
 * (256 MiB) or more.
 */
export function archiveProgress(
  verb: string,
  stream: NodeJS.WriteStream = process.stderr,
): LineProgress<ArchiveProgress> {
  const minBytes = tunable("RUNSTAGE_ARCHIVE_PROGRESS_BYTES", ARCHIVE_PROGRESS_MIN_BYTES);
  return terminalLine<ArchiveProgress>(
    stream,
    (p) => {
      const percent = p.totalBytes === 0 ? 100 : Math.floor((100 * p.bytes) / p.totalBytes);
      return `${verb}: ${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)} (${percent}%)`;
    },
    (p) => p.totalBytes >= minBytes,
    (p) => p.bytes >= p.totalBytes,
  );
}
