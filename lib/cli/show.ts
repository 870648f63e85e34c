/** `runstage show RUN`: a run's meta, status, label, config, summary and files. */
import { Command } from "@commander-js/extra-typings";
import { readFileSync } from "node:fs";
import process from "node:process";
import { readManifest } from "../manifest.ts";
import { readMeta, readMetaJson } from "../meta.ts";
import { readSummary, type RunInfo } from "../runs.ts";
import { formatTable, formatTime, globalOptions, printJson } from "./context.ts";
import { formatMetric, namedOneRun, RUN_SPEC_HELP, runInfoJson } from "./runs.ts";

export function showCommand() {
  return new Command("show")
    .description(
      "show a run's meta, status, label, config (meta config.json), summary (meta" +
        " summary.json: metrics and their source) and files (the manifest)",
    )
    .argument("<run>", RUN_SPEC_HELP)
    .option("--json", "print JSON")
    .action(async (spec, options, command) => {
      const info = await namedOneRun(globalOptions(command), spec);
      const details = runDetails(info);
      if (options.json) return printJson(details);
      process.stdout.write(formatShow(details));
    });
}

function runDetails(info: RunInfo) {
  const run = info.run;
  const summary = readSummary(run);
  return {
    ...runInfoJson(info),
    project: readProjectRef(info),
    opref: readMeta(run, "opref") ?? null,
    command: readMetaJson(run, "proc/cmd") ?? null,
    env: readMetaJson<Record<string, string>>(run, "proc/env") ?? {},
    config: readMetaJson<Record<string, unknown>>(run, "config.json") ?? {},
    summary: summary ? { metrics: summary.metrics, source: summary.source ?? null } : null,
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
    ["label:", d.label ?? ""],
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
  if (d.summary) {
    section(
      d.summary.source ? `summary (from ${d.summary.source})` : "summary",
      Object.entries(d.summary.metrics).map(([k, v]) => [k, formatMetric(v)]),
    );
  }
  if (d.files.length > 0) {
    out += `files (${d.files.length}):\n` +
      formatTable(d.files.map((f) => [`  ${f.type}`, f.path]));
  }
  return out;
}
