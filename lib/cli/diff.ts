/**
 * `runstage diff RUN1 RUN2`: what differs between two runs: where their source
 * came from (meta vcs), config values, summary metrics, and source code files (by
 * digest, from the manifests).
 */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { escapeControl } from "../fs/quote.ts";
import { readManifest } from "../run/manifest.ts";
import { runMeta } from "../run/meta.ts";
import { comparePaths } from "../fs/pathorder.ts";
import type { Run } from "../run/identity.ts";
import type { RunInfo } from "../run/listing.ts";
import type { RunVcs } from "../run/vcs.ts";
import { globalOptions, namedRun, printJson } from "./context.ts";
import { formatMetric, RUN_SPEC_HELP } from "./runs.ts";

/** One key that differs; a side where the key is absent has no `a` or `b`. */
interface ValueChange {
  key: string;
  a?: unknown;
  b?: unknown;
}

interface SourceChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

export function diffCommand() {
  return new Command("diff")
    .description(
      "show what differs from RUN1 to RUN2: source origin, commit and dirty state (meta vcs)," +
        " config values (meta config.json), summary metrics (meta summary.json), and source" +
        " code files (manifest entries of type s) added, removed or changed. Exits 0 whether" +
        " or not they differ.",
    )
    .argument("<run1>", RUN_SPEC_HELP)
    .argument("<run2>", "the run to compare it with, named the same ways")
    .option(
      "--json",
      "print JSON; a key absent from one run has no a or b; vcs.a and vcs.b are the runs'" +
        " meta vcs, or null",
    )
    .action(async (spec1, spec2, options, command) => {
      const globals = globalOptions(command);
      const a = await namedRun(globals, spec1);
      const b = await namedRun(globals, spec2);
      const diff = diffRuns(a, b);
      if (options.json) return printJson(diff);
      process.stdout.write(formatDiff(diff));
    });
}

function diffRuns(a: RunInfo, b: RunInfo) {
  const config = (run: Run) => runMeta.config.read(run) ?? {};
  const metrics = (run: Run) => runMeta.summary.read(run)?.metrics ?? {};
  return {
    a: { id: a.run.id, name: a.run.name },
    b: { id: b.run.id, name: b.run.name },
    vcs: { a: runMeta.vcs.read(a.run) ?? null, b: runMeta.vcs.read(b.run) ?? null },
    config: diffValues(config(a.run), config(b.run)),
    metrics: diffValues(metrics(a.run), metrics(b.run)),
    sourcecode: diffSourcecode(a.run, b.run),
  };
}

/** Keys whose values differ, in key order. JSON equality: `1` and `"1"` differ. */
function diffValues(a: Record<string, unknown>, b: Record<string, unknown>): ValueChange[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const changes: ValueChange[] = [];
  for (const key of keys) {
    const inA = Object.hasOwn(a, key);
    const inB = Object.hasOwn(b, key);
    if (inA && inB && JSON.stringify(a[key]) === JSON.stringify(b[key])) continue;
    changes.push({ key, ...(inA ? { a: a[key] } : {}), ...(inB ? { b: b[key] } : {}) });
  }
  return changes;
}

/** Null when either run has no manifest yet: there is nothing to compare against. */
function diffSourcecode(a: Run, b: Run): SourceChanges | null {
  const sources = (run: Run) => {
    const manifest = readManifest(run);
    if (!manifest) return undefined;
    return new Map(manifest.filter((e) => e.type === "s").map((e) => [e.path, e.digest]));
  };
  const as = sources(a);
  const bs = sources(b);
  if (!as || !bs) return null;
  const changes: SourceChanges = { added: [], removed: [], changed: [] };
  for (const [path, digest] of bs) {
    if (!as.has(path)) changes.added.push(path);
    else if (as.get(path) !== digest) changes.changed.push(path);
  }
  for (const path of as.keys()) if (!bs.has(path)) changes.removed.push(path);
  for (const list of Object.values(changes)) list.sort(comparePaths);
  return changes;
}

/**
 * The `source:` lines: origin, commit and dirty state where they differ, and
 * the git command that shows the code change between two commits. Nothing when
 * neither run recorded where its source came from.
 */
function sourceLines(a: RunVcs | null, b: RunVcs | null): string[] {
  if (a === null && b === null) return [];
  const unknown = "(unknown)";
  const [commitA, commitB] = shortCommits(a?.commit ?? null, b?.commit ?? null);
  const pairs: [string, string, string][] = [
    ["origin", a?.origin ?? unknown, b?.origin ?? unknown],
    ["commit", a ? commitA ?? "(none)" : unknown, b ? commitB ?? "(none)" : unknown],
    ["dirty", a ? String(a.dirty ?? unknown) : unknown, b ? String(b.dirty ?? unknown) : unknown],
  ];
  const lines = pairs.filter(([, x, y]) => x !== y)
    .map(([key, x, y]) => `  ${key}: ${escapeControl(x)} -> ${escapeControl(y)}`);
  if (a?.commit && b?.commit && a.commit !== b.commit) {
    lines.push(`  code change: git diff ${escapeControl(a.commit)} ${escapeControl(b.commit)}`);
  }
  return lines;
}

/**
 * Commits as people read them: git's 7 hex digits, more when two different
 * commits share those (so the line never shows `abc1234 -> abc1234`).
 */
function shortCommits(a: string | null, b: string | null): [string | null, string | null] {
  let n = 7;
  while (a !== null && b !== null && a !== b && a.slice(0, n) === b.slice(0, n)) n++;
  return [a?.slice(0, n) ?? null, b?.slice(0, n) ?? null];
}

function formatDiff(d: ReturnType<typeof diffRuns>): string {
  let out = `--- ${d.a.name} (${d.a.id})\n+++ ${d.b.name} (${d.b.id})\n`;
  const source = sourceLines(d.vcs.a, d.vcs.b);
  if (source.length > 0) out += "source:\n" + source.map((l) => l + "\n").join("");
  const side = (c: ValueChange, s: "a" | "b", metric: boolean) =>
    !Object.hasOwn(c, s)
      ? "(absent)"
      : metric
      ? formatMetric(c[s] as number | string)
      : JSON.stringify(c[s]);
  const values = (title: string, changes: ValueChange[], metric: boolean) => {
    if (changes.length === 0) return;
    out += `${title}:\n`;
    for (const c of changes) {
      const [a, b] = [side(c, "a", metric), side(c, "b", metric)].map(escapeControl);
      out += `  ${escapeControl(c.key)}: ${a} -> ${b}\n`;
    }
  };
  values("config", d.config, false);
  values("summary", d.metrics, true);
  const src = d.sourcecode;
  const sourceChanges: [string, string[]][] = src === null
    ? []
    : [["+", src.added], ["-", src.removed], ["~", src.changed]];
  if (src === null) out += "sourcecode: not compared (a run has no manifest yet)\n";
  else if (sourceChanges.some(([, paths]) => paths.length > 0)) {
    out += "sourcecode:\n";
    for (const [mark, paths] of sourceChanges) {
      for (const path of paths) out += `  ${mark} ${escapeControl(path)}\n`;
    }
  } else if (source.length + d.config.length + d.metrics.length === 0) {
    out += "no differences in config, summary or source code\n";
  }
  return out;
}
