/** `runstage show RUN`: a run's meta, status and files. */
import { Command } from "@commander-js/extra-typings";
import { readFileSync } from "node:fs";
import process from "node:process";
import { readManifest } from "../manifest.ts";
import { readMeta, readMetaJson } from "../meta.ts";
import type { RunInfo } from "../runs.ts";
import { formatTable, formatTime, globalOptions, namedRun, printJson } from "./context.ts";
import { runInfoJson } from "./runs.ts";

export function showCommand() {
  return new Command("show")
    .description("show a run's meta, status and files")
    .argument("<run>", "index from `runs`, id, id prefix, or name")
    .option("--json", "print JSON")
    .action(async (spec, options, command) => {
      const info = await namedRun(globalOptions(command), spec);
      const details = runDetails(info);
      if (options.json) return printJson(details);
      process.stdout.write(formatShow(details));
    });
}

function runDetails(info: RunInfo) {
  const run = info.run;
  return {
    ...runInfoJson(info),
    project: readProjectRef(info),
    opref: readMeta(run, "opref") ?? null,
    command: readMetaJson(run, "proc/cmd") ?? null,
    env: readMetaJson<Record<string, string>>(run, "proc/env") ?? {},
    config: readMetaJson<Record<string, unknown>>(run, "config.json") ?? {},
    staged: Number(readMeta(run, "staged")) || null,
    files: (readManifest(run) ?? []).map((e) => ({ type: e.type, digest: e.digest, path: e.path })),
  };
}

function readProjectRef(info: RunInfo): string | null {
  try {
    return readFileSync(info.run.projectRef, "utf8");
  } catch {
    return null;
  }
}

function formatShow(d: ReturnType<typeof runDetails>): string {
  const fields: string[][] = [
    ["id:", d.id],
    ["name:", d.name],
    ["op:", d.op],
    [
      "status:",
      d.status + (d.exitCode !== null && d.exitCode !== 0 ? ` (exit code ${d.exitCode})` : ""),
    ],
    ["started:", formatTime(d.started ?? undefined)],
    ["stopped:", formatTime(d.stopped ?? undefined)],
    ["command:", d.command === null ? "" : JSON.stringify(d.command)],
    ["project:", d.project ?? ""],
    ["run dir:", d.runDir],
    ["meta dir:", d.metaDir],
  ];
  let out = formatTable(fields);
  const section = (title: string, entries: [string, unknown][]) => {
    if (entries.length === 0) return;
    out += `${title}:\n` + formatTable(entries.map(([k, v]) => [`  ${k}`, String(v)]));
  };
  section("config", Object.entries(d.config));
  section("env", Object.entries(d.env));
  if (d.files.length > 0) {
    out += `files (${d.files.length}):\n` +
      formatTable(d.files.map((f) => [`  ${f.type}`, f.path]));
  }
  return out;
}
