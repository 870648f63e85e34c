/**
 * `runstage verify RUN`: re-hash a run's files against its manifest. Ctrl-C or
 * SIGTERM stops it between chunks; it writes nothing, so nothing is left behind.
 */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { NOT_UTF8 } from "../fs/names.ts";
import { escapeControl, quotePath } from "../fs/quote.ts";
import { isLiveLink, liveProjectDir } from "../run/live.ts";
import { readManifest, verifyPassed, type VerifyReport, verifyRunFiles } from "../run/manifest.ts";
import type { Run } from "../run/identity.ts";
import { globalOptions, namedRun, printJson } from "./context.ts";
import { warnNote, withInterrupt } from "./lifecycle.ts";
import { verifyProgress } from "./progress.ts";
import { plural } from "./runs.ts";

export function verifyCommand() {
  return new Command("verify")
    .description(
      "check every file of a run against its manifest (exit 0 only when all match). A live" +
        " run's source files link into the project: edits there since its last start are" +
        " reported as live, not as problems",
    )
    .argument("<run>", "index from `runs`, id, id prefix, or name")
    .option("--json", "print JSON")
    .action(async (spec, options, command) => {
      const { run, status } = await namedRun(globalOptions(command), spec);
      const manifest = readManifest(run);
      if (!manifest) {
        throw new RunstageError(
          `run ${run.name} has no manifest (status ${status}): only staged runs can be verified`,
        );
      }
      const progress = verifyProgress();
      const checked = await withInterrupt((interrupt) =>
        verifyRunFiles(run, manifest, interrupt.signal, progress.update).finally(progress.done)
      );
      const { live, ...report } = liveReport(run, checked);
      const ok = verifyPassed(report);
      const liveDir = liveProjectDir(run) ?? null;
      if (options.json) {
        printJson({ id: run.id, name: run.name, ok, liveProjectDir: liveDir, live, ...report });
      } else {
        const lines = [
          ...report.modified.map((p) => `modified: ${p}`),
          ...report.missing.map((p) => `missing: ${p}`),
          ...report.unexpected.map((p) => `unexpected: ${p}`),
          ...live.map((p) => `live: ${p} (changed in the project since the last start)`),
        ];
        process.stdout.write(lines.map((l) => escapeControl(l) + "\n").join(""));
        const problems = lines.length - live.length;
        const verdict = ok
          ? `${plural(report.checked, "file")} verified`
          : `${plural(problems, "problem")} in ${plural(manifest.length, "file")}`;
        const liveNote = liveDir === null
          ? ""
          : ` (live run: source files link into ${quotePath(liveDir)};` +
            ` "runstage restage ${run.name}" freezes them)`;
        process.stdout.write(`run ${run.name}: ${verdict}${liveNote}\n`);
      }
      for (const path of report.undecodable) {
        warnNote(`file ${quotePath(path)} of the run dir cannot be verified: ${NOT_UTF8}`);
      }
      if (!ok) process.exitCode = 1;
    });
}

/**
 * A live run's linked source files change with the project: those that still
 * link into it and differ from the last start's digests are live, not tampered.
 * Anything put in a link's place is verified like any other file.
 */
function liveReport(run: Run, report: VerifyReport): VerifyReport & { live: string[] } {
  const projectDir = liveProjectDir(run);
  if (projectDir === undefined) return { ...report, live: [] };
  const live = report.modified.filter((path) => isLiveLink(run, path, projectDir));
  const modified = report.modified.filter((path) => !live.includes(path));
  return { ...report, modified, live };
}
