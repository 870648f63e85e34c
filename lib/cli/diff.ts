/**
 * `runstage diff RUN1 RUN2`: what differs between two runs: config values,
 * summary metrics, and source code files (by digest, from the manifests).
 */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { readManifest } from "../manifest.ts";
import { readMetaJson } from "../meta.ts";
import { comparePaths } from "../pathorder.ts";
import type { Run } from "../run.ts";
import { readSummary, type RunInfo } from "../runs.ts";
import { globalOptions, printJson } from "./context.ts";
import { formatMetric, namedOneRun, RUN_SPEC_HELP } from "./runs.ts";

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
      "show what differs from RUN1 to RUN2: config values (meta config.json), summary metrics" +
        " (meta summary.json), and source code files (manifest entries of type s) added," +
        " removed or changed. Exits 0 whether or not they differ.",
    )
    .argument("<run1>", RUN_SPEC_HELP)
    .argument("<run2>", "the run to compare it with, named the same ways")
    .option("--json", "print JSON; a key absent from one run has no a or b")
    .action(async (spec1, spec2, options, command) => {
      const globals = globalOptions(command);
      const a = await namedOneRun(globals, spec1);
      const b = await namedOneRun(globals, spec2);
      const diff = diffRuns(a, b);
      if (options.json) return printJson(diff);
      process.stdout.write(formatDiff(diff));
    });
}

function diffRuns(a: RunInfo, b: RunInfo) {
  const config = (run: Run) => readMetaJson<Record<string, unknown>>(run, "config.json") ?? {};
  const metrics = (run: Run) => readSummary(run)?.metrics ?? {};
  return {
    a: { id: a.run.id, name: a.run.name },
    b: { id: b.run.id, name: b.run.name },
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

function formatDiff(d: ReturnType<typeof diffRuns>): string {
  let out = `--- ${d.a.name} (${d.a.id})\n+++ ${d.b.name} (${d.b.id})\n`;
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
      out += `  ${c.key}: ${side(c, "a", metric)} -> ${side(c, "b", metric)}\n`;
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
      for (const path of paths) out += `  ${mark} ${path}\n`;
    }
  } else if (d.config.length + d.metrics.length === 0) {
    out += "no differences in config, summary or source code\n";
  }
  return out;
}
