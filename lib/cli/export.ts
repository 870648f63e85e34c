/**
 * `runstage export RUN... -o FILE`: runs into one archive to carry to another
 * machine.
 */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { quotePath } from "../fs/quote.ts";
import { formatBytes, globalOptions, printJson } from "./context.ts";
import { withInterrupt } from "./lifecycle.ts";
import { archiveProgress } from "./progress.ts";
import { plural, RUN_SPEC_HELP } from "./runs.ts";
import { runsNamedWhere, WHERE_HELP } from "./where.ts";
import { VERSION } from "./version.ts";

export function exportCommand() {
  return new Command("export")
    .description(
      "write runs (run dir, meta dir, .project) into one tar archive, with an index of every" +
        " file's SHA-256, for `runstage import` on another machine. Running runs are refused.",
    )
    .argument("[runs...]", `${RUN_SPEC_HELP} (or none, with --where)`)
    .option("--where <expr>", WHERE_HELP)
    .requiredOption("-o, --output <file>", "the archive: FILE.tar, or FILE.tar.gz / FILE.tgz")
    .option("--force", "replace FILE if it exists")
    .option(
      "--dereference",
      "store links to files outside the exported runs (linked dependencies) as those files",
    )
    .option("--json", "print JSON: the archive and each run's files and bytes")
    .action(async (specs, options, command) => {
      const { runsHome, runs } = await runsNamedWhere(globalOptions(command), specs, options.where);
      // Loaded here, not at start-up: the tar code is for this command alone.
      const { exportRuns } = await import("../archive/export.ts");
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
          ` ${formatBytes(bytes)}) to ${quotePath(report.file)} (${formatBytes(report.bytes)})\n`,
      );
    });
}
