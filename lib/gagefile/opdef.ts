/**
 * Op definitions: the typed view of one op of a Gage file. Reading and validating
 * the file itself is lib/gagefile/parse.ts; this module is the shape both sides agree on.
 */

import type { ExecCommand } from "../run/meta.ts";
import type { PathMap } from "./pathmap.ts";
import type { OpContainer } from "./container.ts";

export type { ExecCommand };

/** The phases an op can run, in the order they run, with their meta output file. */
export const PHASES = [
  { name: "copy-sourcecode", alias: "stage-sourcecode", output: "10_sourcecode", type: "s" },
  { name: "init-runtime", alias: "stage-runtime", output: "20_runtime", type: "r" },
  {
    name: "resolve-dependencies",
    alias: "stage-dependencies",
    output: "30_dependencies",
    type: "d",
  },
  { name: "run", alias: undefined, output: "40_run", type: "g" },
  { name: "finalize-run", alias: "finalize", output: "50_finalize", type: "g" },
] as const;

export type Phase = (typeof PHASES)[number];
export type PhaseName = Phase["name"];

/** `sourcecode` as written: patterns, one pattern, or true/false (all or none). */
export type SourcecodeSpec = string | string[] | boolean | undefined;

/**
 * A group of `config` entries, `[-]GLOB[#KEYPATTERN]`, as written. A string or
 * the strings of a list form one group; Gage's `{ keys = ..., description = ... }`
 * tables are a group each. lib/config/config.ts has the rules.
 */
export interface ConfigGroup {
  keys: string[];
  description?: string;
}

export interface OpDef {
  name: string;
  description?: string;
  default: boolean;
  /** Commands by canonical phase name (aliases already resolved). */
  exec: Partial<Record<PhaseName, ExecCommand>>;
  sourcecode: SourcecodeSpec;
  env: Record<string, string>;
  /** Where the op's flags are; absent when it has none. */
  config?: ConfigGroup[];
  /** `free-flags = true`: flags that name no config key are recorded, not refused. */
  freeFlags?: boolean;
  /** `source`: the op's default source origin, `worktree`, `auto` or `git:REF`. */
  source?: string;
  /** `path-map`: where project paths go in the run dir; lib/source/pathmap.ts has the rules. */
  pathMap?: PathMap;
  /** `image` or `dockerfile`: the container its run-dir phases run in (lib/gagefile/container.ts). */
  container?: OpContainer;
  /** `summary`: the run-dir file (JSON or TOML) the op writes its summary to; summary.json if absent. */
  summary?: string;
  /** The op's table exactly as read from the Gage file, for meta `opdef.json`. */
  raw: Record<string, unknown>;
}

/** A source origin as `source` and `--source` take it: `worktree`, `auto` or `git:REF`. */
export function isSourceOrigin(text: string): boolean {
  return text === "worktree" || text === "auto" || /^git:./s.test(text);
}

export function phaseByName(name: PhaseName): Phase {
  return PHASES.find((p) => p.name === name)!;
}
