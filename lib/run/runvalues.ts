/**
 * A listed run's values as `--where` and `compare` read them: its flags (meta
 * `config.json`), its metrics (meta `summary.json`, already in the listing) and
 * its attributes. Flags cost a file per run, so they are read once, and only
 * when an expression or a table asks for them.
 */
import type { RunInfo } from "./listing.ts";
import { type RunConfig, runMeta } from "./meta.ts";
import { parseWhere, type WhereSubject, type WhereValue } from "./where.ts";

/** A run's flags, read once per run and listing. */
const configs = new WeakMap<RunInfo, RunConfig>();

export function runConfig(info: RunInfo): RunConfig {
  let config = configs.get(info);
  if (config === undefined) {
    config = runMeta.config.read(info.run) ?? {};
    configs.set(info, config);
  }
  return config;
}

/** An attribute of a run (`status`, `op`, ...), as where and compare name it. */
export function runAttribute(info: RunInfo, name: string): WhereValue | undefined {
  switch (name) {
    case "id":
      return info.run.id;
    case "name":
      return info.run.name;
    case "op":
      return info.op;
    case "status":
      return info.status;
    case "label":
      return info.label;
    default:
      return undefined;
  }
}

/** A run's flags, metrics and attributes as `--where` and `--sort` read them. */
export function runSubject(info: RunInfo): WhereSubject {
  return {
    flag: (name) => runConfig(info)[name],
    metric: (name) => info.metrics[name],
    attribute: (name) => runAttribute(info, name),
  };
}

/** The runs EXPR holds for, in their order; a malformed EXPR is a UsageError. */
export function runsWhere(runs: RunInfo[], expression: string): RunInfo[] {
  const holds = parseWhere(expression);
  return runs.filter((r) => holds(runSubject(r)));
}
