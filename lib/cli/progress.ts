/**
 * A one-line progress display for long staging: it appears only on a terminal
 * and only once the work has taken about a second, so quick runs and pipes see
 * nothing extra.
 */
import process from "node:process";
import { formatBytes } from "./context.ts";

export interface StagingProgress {
  files: number;
  bytes: number;
  totalFiles: number;
  totalBytes: number;
}

export interface ProgressDisplay {
  update(progress: StagingProgress): void;
  done(): void;
}

/** How long staging runs before progress shows; tests shorten it. */
function showAfterMs(): number {
  const env = Number(process.env.RUNSTAGE_PROGRESS_DELAY_MS);
  return Number.isFinite(env) && env >= 0 ? env : 1000;
}

const REDRAW_MS = 100;

export function progressDisplay(stream: NodeJS.WriteStream = process.stderr): ProgressDisplay {
  if (!stream.isTTY) return { update() {}, done() {} };
  const start = Date.now();
  const delay = showAfterMs();
  let lastDraw = 0;
  let shown = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - start < delay || now - lastDraw < REDRAW_MS) return;
      lastDraw = now;
      shown = true;
      stream.write(
        `\r\x1b[2KCopying source code: ${p.files}/${p.totalFiles} files, ` +
          `${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)}`,
      );
    },
    done() {
      if (shown) stream.write("\r\x1b[2K");
    },
  };
}
