/**
 * What this runstage is: built into a binary by scripts/build.ts, or run from
 * source. A build passes its facts in as the global `RUNSTAGE_BUILD`: bun
 * substitutes it at bundle time (`--define`), and the entry module generated
 * for `deno compile` sets it before it imports main.ts. Run from source, it is
 * not defined and nothing is looked up: no git at startup.
 */
import process from "node:process";

/** The build's facts, as scripts/build.ts records them. */
export interface BuildInfo {
  /** The first 12 hex digits of the commit built, or "unknown" outside a git checkout. */
  commit: string;
  /** The work tree had changes (or untracked files) that the commit does not hold. */
  dirty: boolean;
}

/** The global's name, shared with scripts/build.ts, which defines it. */
export const BUILD_INFO_GLOBAL = "RUNSTAGE_BUILD";

declare const RUNSTAGE_BUILD: BuildInfo | undefined;

/** The build this process was compiled as, or undefined when it runs from source. */
export function currentBuild(): BuildInfo | undefined {
  return typeof RUNSTAGE_BUILD === "undefined" ? undefined : RUNSTAGE_BUILD;
}

/** The JavaScript runtime this process runs on and its version: `deno 2.9.6`, `bun 1.4.5`. */
export function runtimeText(): string {
  const versions = process.versions as Record<string, string | undefined>;
  for (const name of ["deno", "bun"]) {
    if (versions[name]) return `${name} ${versions[name]}`;
  }
  return `node ${process.versions.node}`;
}
