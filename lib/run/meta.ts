/**
 * Every meta file of a run by name, with the type of its content
 * (docs/run-format.md has the layout and formats): `runMeta.staged.read(run)`,
 * `runMeta.label.write(run, text)`. This is the one place meta files are
 * named; the files with an owner of their own are the manifest
 * (lib/run/manifest.ts), log/files (lib/run/fileslog.ts), captured output
 * (lib/run/output.ts), and meta `live` with `<id>.project` (lib/run/projectdir.ts).
 */
import { isRunSlurmJob } from "./slurmjob.ts";
import { mkdirSync } from "node:fs";
import { timestampMicros } from "./clock.ts";
import { RunstageError } from "../errors.ts";
import type { Run } from "./identity.ts";
import {
  BinaryMetaFile,
  INTEGER,
  jsonCodec,
  type MetaCodec,
  MetaFile,
  NON_EMPTY_TEXT,
  TEXT,
  TIMESTAMP,
} from "./metafile.ts";
import { PROCESS_LOCK } from "./lock.ts";
import { writeProjectRef } from "./projectdir.ts";
import { isRunVcs, type RunVcs } from "./vcs.ts";
import { isRunContainer } from "./container.ts";

export { logRunner, metaJson, writeMeta } from "./metafile.ts";

export const SCHEMA_VERSION = "1";

/** A command: an argv list run directly, or a string for the system shell. */
export type ExecCommand = string | string[];

/** What meta records of an op's definition: its name and its table as read. */
export interface RecordedOpDef {
  name: string;
  raw: Record<string, unknown>;
}

/** `2 <namespace> <op-name>[ <version>]`: which op of which project a run ran. */
export interface OpRef {
  namespace: string;
  name: string;
  version?: string;
}

export function formatOpRef(ref: OpRef): string {
  return ["2", ref.namespace, ref.name, ...(ref.version ? [ref.version] : [])].join(" ");
}

export function parseOpRef(text: string): OpRef | undefined {
  const [schema, namespace, name, version] = text.trim().split(" ");
  if (schema !== "2" || !namespace || !name) return undefined;
  return { namespace, name, ...(version ? { version } : {}) };
}

/** Config values are flat dotted keys to scalars. */
export type RunConfig = Record<string, string | number | boolean | null>;

export interface RunInit {
  opref: OpRef;
  opdef: RecordedOpDef;
  config: RunConfig;
  /** The `run` command, or undefined when the op has none (stage-only ops). */
  cmd: ExecCommand | undefined;
  /** Only the variables the op itself sets; never the inherited environment. */
  env: Record<string, string>;
}

/**
 * Checks what `initRunMeta` would write, so a bad request fails before the runs
 * home is touched.
 */
export function validateRunInit(init: RunInit): void {
  if (init.opref.name !== init.opdef.name) {
    throw new RunstageError(
      `mismatched names in opref ('${init.opref.name}') and opdef ('${init.opdef.name}')`,
    );
  }
}

/** A metric of meta `summary.json`: a number or, for what is not one, a string. */
export type MetricValue = number | string;

/** Meta `summary.json`: `{"metrics": {NAME: number | string}, "source": "..."}`. */
export interface RunSummary {
  metrics: Record<string, MetricValue>;
  source?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

const isConfig = (v: unknown): v is RunConfig => isRecord(v);
const isEnv = (v: unknown): v is Record<string, string> => isRecord(v);

function isExecCommand(v: unknown): v is ExecCommand {
  return typeof v === "string" || (Array.isArray(v) && v.every((a) => typeof a === "string"));
}

const OPREF: MetaCodec<OpRef> = { parse: parseOpRef, format: formatOpRef };

/** Meta `batch.json` of a sweep's trial: which batch, which trial of how many, the sweep as given. */
export interface RunBatch {
  /** The batch's id, a UUID shared by its trials. */
  id: string;
  /** 1 for the first trial. */
  index: number;
  total: number;
  /** The sweep as given: flag arguments, batch file, max runs, seed. */
  sweep: Record<string, unknown>;
}

function isRunBatch(v: unknown): v is RunBatch {
  return isRecord(v) && typeof v.id === "string" && Number.isInteger(v.index) &&
    Number.isInteger(v.total) && isRecord(v.sweep);
}

/**
 * Another tool writes summaries too, so anything that is not a metric (a
 * nested object, a NaN) is left out, not fatal.
 */
const SUMMARY: MetaCodec<RunSummary> = {
  parse(text) {
    const raw = jsonCodec(isRecord).parse(text);
    if (raw === undefined) return undefined;
    const metrics: Record<string, MetricValue> = {};
    if (isRecord(raw.metrics)) {
      for (const [name, value] of Object.entries(raw.metrics)) {
        if ((typeof value === "number" && Number.isFinite(value)) || typeof value === "string") {
          metrics[name] = value;
        }
      }
    }
    return typeof raw.source === "string" ? { metrics, source: raw.source } : { metrics };
  },
  format: (summary) => jsonCodec<RunSummary>().format(summary),
};

/** The meta files of a run, each with the type of its content. */
export const runMeta = {
  schema: new MetaFile("__schema__", TEXT),
  id: new MetaFile("id", TEXT),
  name: new MetaFile("name", TEXT),
  /** The op's table as read from the Gage file. */
  opdef: new MetaFile("opdef.json", jsonCodec(isRecord)),
  config: new MetaFile("config.json", jsonCodec(isConfig)),
  /** The `run` command; `[]` for an op with none. */
  cmd: new MetaFile("proc/cmd", jsonCodec(isExecCommand)),
  /** Only the variables the op sets. */
  env: new MetaFile("proc/env", jsonCodec(isEnv)),
  opref: new MetaFile("opref", OPREF),
  initialized: new MetaFile("initialized", TIMESTAMP),
  /** Where the source code came from; absent in runs staged before it was recorded. */
  vcs: new MetaFile<RunVcs>("vcs", jsonCodec(isRunVcs)),
  /** A dirty work tree's changes against `vcs.commit`, a binary git patch. */
  vcsDiff: new BinaryMetaFile("vcs.diff"),
  /** The process working on the run while it works: pid, host, start (see `runStatus`). */
  lock: new MetaFile("proc/lock", PROCESS_LOCK),
  /** Unified diffs of the config values written into the run's copies. */
  patched: new MetaFile("log/patched", TEXT),
  /** The dependencies resolved for the run, as lib/depends writes them. */
  deps: new MetaFile<unknown>("deps.json", jsonCodec()),
  summary: new MetaFile("summary.json", SUMMARY),
  staged: new MetaFile("staged", TIMESTAMP),
  started: new MetaFile("started", TIMESTAMP),
  stopped: new MetaFile("stopped", TIMESTAMP),
  /** The run's exit code, written last: a run reads as finished only once all is written. */
  exit: new MetaFile("proc/exit", INTEGER),
  /** A line of text the user gave the run; an empty one is none. */
  label: new MetaFile("label", NON_EMPTY_TEXT),
  /** The batch a sweep's trial belongs to; absent for a run that is no trial. */
  batch: new MetaFile("batch.json", jsonCodec(isRunBatch)),
  /** The Slurm job the run was submitted as (lib/run/slurmjob.ts); absent for a run started here. */
  slurm: new MetaFile("slurm", jsonCodec(isRunSlurmJob)),
  /** The Slurm job's batch script, as submitted. */
  slurmScript: new MetaFile("slurm.sh", TEXT),
  /** The container engine, image and containers of an op with `image` or `dockerfile`. */
  container: new MetaFile("container", jsonCodec(isRunContainer)),
} as const;

/**
 * Creates the run: meta files in the format's order, each logged, then the run
 * dir and the `.project` link back to the project.
 */
export function initRunMeta(run: Run, init: RunInit, projectDir: string): void {
  validateRunInit(init);
  runMeta.schema.write(run, SCHEMA_VERSION);
  runMeta.id.record(run, run.id);
  runMeta.name.record(run, run.name);
  runMeta.opdef.record(run, init.opdef.raw);
  runMeta.config.record(run, init.config);
  runMeta.cmd.record(run, init.cmd ?? []);
  runMeta.env.record(run, init.env);
  runMeta.opref.record(run, init.opref);
  runMeta.initialized.record(run, timestampMicros());
  mkdirSync(run.runDir, { recursive: true });
  writeProjectRef(run, projectDir);
}

/** Python's repr of a string or list of strings, the way the runner log shows commands. */
export function pyRepr(value: ExecCommand | string[]): string {
  return Array.isArray(value) ? `[${value.map(pyStr).join(", ")}]` : pyStr(value);
}

function pyStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = "";
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch !== " " && NOT_PRINTABLE.test(ch)) out += pyEscape(code);
    else out += ch;
  }
  return quote + out + quote;
}

/** What Python's `str.isprintable` rejects: controls, format, separators, unassigned. */
const NOT_PRINTABLE = /^[\p{C}\p{Z}]$/u;

function pyEscape(code: number): string {
  const [prefix, width] = code < 0x100 ? ["x", 2] : code < 0x10000 ? ["u", 4] : ["U", 8];
  return "\\" + prefix + code.toString(16).padStart(width, "0");
}
