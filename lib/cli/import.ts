/** `runstage import FILE`: the runs of an archive from `runstage export`, into the runs home. */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { resolve } from "node:path";
import type { ImportReport } from "../archive/import.ts";
import { quotePath } from "../fs/quote.ts";
import { commandContext, formatBytes, globalOptions, printJson } from "./context.ts";
import { archiveProgress } from "./progress.ts";
import { withInterrupt } from "./lifecycle.ts";
import { plural } from "./runs.ts";

export function importCommand() {
  return new Command("import")
    .description(
      "import the runs of an archive from `runstage export` into the runs home. Every file is" +
        " checked against the archive's index and every run against its manifest before" +
        " anything moves; runs already there with the same content are skipped.",
    )
    .argument("<file>", "the archive (.tar, or gzipped whatever its name)")
    .option("--json", "print JSON: the runs imported and skipped")
    .action(async (file, options, command) => {
      const { runsHome } = await commandContext(globalOptions(command));
      // Loaded here, not at start-up: the tar code is for this command alone.
      const { importArchive } = await import("../archive/import.ts");
      const progress = archiveProgress("Importing");
      const report = await withInterrupt((interrupt) =>
        importArchive(file, runsHome, { onProgress: progress.update, signal: interrupt.signal })
          .finally(progress.done)
      );
      if (options.json) return printJson(importJson(report));
      process.stdout.write(formatImport(report));
    });
}

function importJson(report: ImportReport) {
  const imported = report.runs.filter((r) => r.status === "imported");
  const skipped = report.runs.filter((r) => r.status !== "imported");
  return {
    file: resolve(report.file),
    runsHome: report.runsHome,
    imported: imported.map(({ id, name, files, bytes }) => ({ id, name, files, bytes })),
    skipped: skipped.map(({ id, name, status }) => ({ id, name, reason: status })),
  };
}

function formatImport(report: ImportReport): string {
  const lines = report.runs.map((r) =>
    r.status === "imported"
      ? `${r.name}  imported, ${plural(r.files, "file")}, ${formatBytes(r.bytes)}\n`
      : `${r.name}  already present, skipped\n`
  );
  const imported = report.runs.filter((r) => r.status === "imported").length;
  const present = report.runs.length - imported;
  const summary = imported === 0
    ? `Nothing to import: ${
      present === 1 ? "its run is" : `all ${present} runs are`
    } already present in ${quotePath(report.runsHome)}\n`
    : `Imported ${plural(imported, "run")} into ${quotePath(report.runsHome)}` +
      (present > 0 ? ` (${present} already present)` : "") + "\n";
  return lines.join("") + summary;
}
