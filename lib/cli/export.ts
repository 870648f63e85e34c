/**
 * `runstage export RUN... -o FILE`: runs into one archive to carry to another
 * machine. Also the progress line that `export` and `import` share.
 */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { type ArchiveProgress, exportRuns } from "../export.ts";
import { formatBytes, globalOptions, printJson } from "./context.ts";
import { withInterrupt } from "./lifecycle.ts";
import { namedRuns, plural, RUN_SPEC_HELP } from "./runs.ts";
import { VERSION } from "./version.ts";

export function exportCommand() {
  return new Command("export")
    .description(
      "write runs (run dir, meta dir, .project) into one tar archive, with an index of every" +
        " file's SHA-256, for `runstage import` on another machine. Running runs are refused.",
    )
    .argument("<runs...>", RUN_SPEC_HELP)
    .requiredOption("-o, --output <file>", "the archive: FILE.tar, or FILE.tar.gz / FILE.tgz")
    .option("--force", "replace FILE if it exists")
    .option(
      "--dereference",
      "store links to files outside the exported runs (linked dependencies) as those files",
    )
    .option("--json", "print JSON: the archive and each run's files and bytes")
    .action(async (specs, options, command) => {
      const { runsHome, runs } = await namedRuns(globalOptions(command), specs);
      const progress = archiveProgress("Exporting");
      const report = await withInterrupt((interrupt) =>
        exportRuns(runsHome, runs, {
          file: options.output,
          force: options.force,
          dereference: options.dereference,
          runstageVersion: VERSION,
          onProgress: progress.update,
          signal: interrupt.signal,
        }).finally(progress.done)
      );
      if (options.json) return printJson(report);
      const files = report.runs.reduce((n, r) => n + r.files, 0);
      const bytes = report.runs.reduce((n, r) => n + r.bytes, 0);
      process.stdout.write(
        report.runs.map((r) => `${r.name}  ${plural(r.files, "file")}, ${formatBytes(r.bytes)}\n`)
          .join("") +
          `Exported ${plural(report.runs.length, "run")} (${plural(files, "file")},` +
          ` ${formatBytes(bytes)}) to ${report.file} (${formatBytes(report.bytes)})\n`,
      );
    });
}

/** Archives smaller than this go by too fast for a progress line to help. */
const PROGRESS_MIN_BYTES = 256 * 1024 * 1024;
const REDRAW_MS = 100;

export interface ArchiveProgressDisplay {
  update(progress: ArchiveProgress): void;
  done(): void;
}

/**
 * One progress line on stderr, on a terminal only and only for big archives:
 * `Exporting: 300.0 MB of 1.2 GB (25%)`. Tests lower the size threshold with
 * RUNSTAGE_ARCHIVE_PROGRESS_BYTES.
 */
export function archiveProgress(
  verb: string,
  stream: NodeJS.WriteStream = process.stderr,
): ArchiveProgressDisplay {
  if (!stream.isTTY) return { update() {}, done() {} };
  const env = Number(process.env.RUNSTAGE_ARCHIVE_PROGRESS_BYTES);
  const minBytes = Number.isFinite(env) && env >= 0 ? env : PROGRESS_MIN_BYTES;
  let lastDraw = 0;
  let shown = false;
  return {
    update(p) {
      const now = Date.now();
      if (p.totalBytes < minBytes || (now - lastDraw < REDRAW_MS && p.bytes < p.totalBytes)) {
        return;
      }
      lastDraw = now;
      shown = true;
      const percent = p.totalBytes === 0 ? 100 : Math.floor((100 * p.bytes) / p.totalBytes);
      stream.write(
        `\r\x1b[2K${verb}: ${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)} (${percent}%)`,
      );
    },
    done() {
      if (shown) stream.write("\r\x1b[2K");
    },
  };
}
