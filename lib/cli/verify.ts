/** `runstage verify RUN`: re-hash a run's files against its manifest. */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { readManifest, verifyPassed, verifyRunFiles } from "../manifest.ts";
import { globalOptions, namedRun, printJson } from "./context.ts";

export function verifyCommand() {
  return new Command("verify")
    .description("check every file of a run against its manifest (exit 0 only when all match)")
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
      const report = await verifyRunFiles(run, manifest);
      const ok = verifyPassed(report);
      if (options.json) printJson({ id: run.id, name: run.name, ok, ...report });
      else {
        const lines = [
          ...report.modified.map((p) => `modified: ${p}`),
          ...report.missing.map((p) => `missing: ${p}`),
          ...report.unexpected.map((p) => `unexpected: ${p}`),
        ];
        process.stdout.write(lines.map((l) => l + "\n").join(""));
        const problems = lines.length;
        process.stdout.write(
          ok
            ? `run ${run.name}: ${report.checked} files verified\n`
            : `run ${run.name}: ${problems} problem${
              problems === 1 ? "" : "s"
            } in ${manifest.length} files\n`,
        );
      }
      if (!ok) process.exitCode = 1;
    });
}
