/**
 * `runstage show RUN`: a run's meta, status, label, source provenance, config,
 * summary and files.
 */
import { applySchedulerStatus } from "../slurm/queue.ts";
import type { RunSlurmJob } from "../run/slurmjob.ts";
import { Command } from "@commander-js/extra-typings";
import { existsSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { readManifest } from "../run/manifest.ts";
import { formatOpRef, runMeta } from "../run/meta.ts";
import type { RunInfo } from "../run/listing.ts";
import { readProjectRef } from "../run/projectdir.ts";
import type { RunVcs } from "../run/vcs.ts";
import type { RunContainer } from "../run/container.ts";
import {
  formatTable,
  formatTime,
  globalOptions,
  namedRun,
  OPTIONAL_RUN_HELP,
  printJson,
} from "./context.ts";
import { formatMetric, RUN_SPEC_HELP, runInfoJson } from "./runs.ts";

export function showCommand() {
  return new Command("show")
    .description(
      "show a run's (default: the latest run's) meta, status, label, source (meta vcs: origin, commit, dirty paths;" +
        " live runs), config (meta config.json), summary (meta summary.json: metrics and" +
        " their source) and files (the manifest)",
    )
    .argument("[run]", `${RUN_SPEC_HELP}; ${OPTIONAL_RUN_HELP}`)
    .option("--json", "print JSON")
    .action(async (spec, options, command) => {
      const info = await namedRun(globalOptions(command), spec);
      applySchedulerStatus([info]);
      const details = runDetails(info);
      if (options.json) return printJson(details);
      process.stdout.write(formatShow(details));
    });
}

function runDetails(info: RunInfo) {
  const run = info.run;
  const summary = runMeta.summary.read(run);
  const vcs = runMeta.vcs.read(run);
  const opref = runMeta.opref.read(run);
  return {
    ...runInfoJson(info, vcs),
    project: readProjectRef(run) ?? null,
    opref: opref ? formatOpRef(opref) : null,
    command: runMeta.cmd.read(run) ?? null,
    env: runMeta.env.read(run) ?? {},
    config: runMeta.config.read(run) ?? {},
    summary: summary ? { metrics: summary.metrics, source: summary.source ?? null } : null,
    staged: runMeta.staged.read(run) || null,
    vcs: vcs ?? null,
    /** The project dir a live run links into; null for a snapshot. */
    live: info.live ?? null,
    /** Meta `slurm`: the Slurm job the run was submitted as; null for a run started here. */
    slurm: runMeta.slurm.read(run) ?? null,
    /** Meta `container`: the engine, image and containers of an op in a container. */
    container: runMeta.container.read(run) ?? null,
    files: (readManifest(run) ?? []).map((e) => ({ type: e.type, digest: e.digest, path: e.path })),
  };
}

function formatShow(d: ReturnType<typeof runDetails>): string {
  const fields: string[][] = [
    ["id:", d.id],
    ["name:", d.name],
    ["label:", d.label ?? ""],
    ["op:", d.op],
    [
      "status:",
      d.status + (d.host === null ? "" : ` (host ${d.host})`) +
      (d.exitCode !== null && d.exitCode !== 0 ? ` (exit code ${d.exitCode})` : ""),
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
  section("source", sourceFields(d.vcs, d.live, d.metaDir));
  section("slurm", slurmFields(d.slurm));
  section("container", containerFields(d.container));
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

/** The `slurm:` section: the job, where it ran, its log, and how it ended when the run could not say. */
function slurmFields(job: RunSlurmJob | null): [string, unknown][] {
  if (!job) return [];
  const fields: [string, unknown][] = [
    ["job:", job.jobId ?? `not submitted: sbatch refused: ${job.refused ?? ""}`],
  ];
  if (job.partition) fields.push(["partition:", job.partition]);
  if (job.options.length > 0) fields.push(["options:", job.options.join(" ")]);
  if (job.node) fields.push(["node:", job.node]);
  fields.push(["log:", job.log]);
  if (job.end) fields.push(["ended:", `${job.end.state}: ${job.end.reason}`]);
  return fields;
}

/** The `container:` section: meta `container` as it is. */
function containerFields(c: RunContainer | null): [string, unknown][] {
  if (!c) return [];
  const fields: [string, unknown][] = [
    ["engine:", `${c.engine} ${c.engineVersion}`],
    ["image:", c.image],
    ["image id:", c.imageId ?? "(not inspected: the engine had no such image when staged)"],
  ];
  if (c.imageDigest) fields.push(["digest:", c.imageDigest]);
  if (c.dockerfile) fields.push(["dockerfile:", `${c.dockerfile} (sha256 ${c.dockerfileDigest})`]);
  fields.push(["run dir at:", c.dir]);
  for (const [phase, id] of Object.entries(c.containers ?? {})) {
    fields.push([`${phase}:`, `container ${id}`]);
  }
  return fields;
}

/** Changed paths named in `show`; the rest are counted. `--json` has them all. */
const CHANGED_PATHS_SHOWN = 5;

/**
 * The `source:` section: where the code came from, named as in meta `vcs`
 * (`path` is the project dir within the repository). Nothing for a run staged
 * before runs recorded it. What git could not tell (no branch, no remote) is
 * left out rather than shown empty.
 */
function sourceFields(
  vcs: RunVcs | null,
  live: string | null,
  metaDir: string,
): [string, string][] {
  const liveText = live === null ? undefined : `live (links into ${live})`;
  if (vcs === null) return liveText ? [["origin", liveText]] : [];
  const fields: [string, string][] = [
    ["origin", [originText(vcs), liveText].filter(Boolean).join(", ")],
    ["commit", vcs.commit ?? (vcs.path === null ? "(none: not a git repository)" : "(none yet)")],
  ];
  if (vcs.branch !== null) fields.push(["branch", vcs.branch]);
  if (vcs.dirty !== null) fields.push(["dirty", dirtyText(vcs)]);
  const patch = join(metaDir, runMeta.vcsDiff.name);
  if (vcs.dirty && existsSync(patch)) fields.push(["patch", patch + omittedText(vcs)]);
  if (vcs.remote !== null) fields.push(["remote", vcs.remote]);
  if (vcs.path !== null) {
    fields.push(["path", vcs.path === "" ? ". (the repository root)" : vcs.path]);
  }
  return fields;
}

/** `worktree`, `git:v1.0`, `worktree (auto)`, `git (auto, from $GITHUB_SHA)`. */
function originText(vcs: RunVcs): string {
  if (vcs.requested === "auto") {
    return vcs.ciVariable
      ? `${vcs.origin} (auto, from $${vcs.ciVariable})`
      : `${vcs.origin} (auto)`;
  }
  return vcs.origin === "git" && vcs.ref !== undefined ? `git:${vcs.ref}` : vcs.origin;
}

/** Changed files whose content the patch lacks: ` (leaves out 2: big.bin, data.csv)`. */
function omittedText(vcs: RunVcs): string {
  const omitted = vcs.omitted ?? [];
  return omitted.length === 0 ? "" : ` (leaves out ${omitted.length}: ${namedPaths(omitted)})`;
}

/** `no`, or `yes, 2 changed: a.py, b.py`, naming the first few. */
function dirtyText(vcs: RunVcs): string {
  if (!vcs.dirty) return "no";
  const n = vcs.changed.length;
  return n === 0 ? "yes" : `yes, ${n} changed: ${namedPaths(vcs.changed)}`;
}

/** `a.py, b.py, c.py, d.py, e.py, and 2 more`. */
function namedPaths(paths: string[]): string {
  const named = paths.slice(0, CHANGED_PATHS_SHOWN).join(", ");
  const more = paths.length - CHANGED_PATHS_SHOWN;
  return more > 0 ? `${named}, and ${more} more` : named;
}
