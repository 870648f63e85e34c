/**
 * Matching source rules against a path: a rule's glob, its conditions (size,
 * text or binary, max-matches) and a dir rule's sentinel, with the I/O they need
 * (a content probe, a sentinel lookup) kept small and bounded.
 */
// @ts-types="@types/picomatch"
import picomatch from "picomatch";
import { type Dirent } from "node:fs";
import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { type GlobReach, globReach } from "../fs/globreach.ts";
import { lstatOrUndefined } from "../fs/stat.ts";
import type { SourceRule } from "./rules.ts";

/** How much of a file decides whether it is binary: git looks at as much. */
const BINARY_PROBE_BYTES = 8000;

/** A rule ready to match, with the count that max-matches limits. */
export interface ActiveRule {
  rule: SourceRule;
  /** A default rule rather than one the user wrote. */
  builtin: boolean;
  /** Where the rule's glob can match, and its matcher. */
  reach: GlobReach;
  sentinel?: Sentinel;
  matched: number;
}

export function activate(rule: SourceRule, builtin: boolean): ActiveRule {
  return {
    rule,
    builtin,
    reach: globReach(rule.glob, { dot: true }),
    sentinel: rule.sentinel === undefined ? undefined : compileSentinel(rule.sentinel),
    matched: 0,
  };
}

/** Why a matching rule's conditions fail for a file; undefined when they hold. */
export async function conditionFailure(
  rule: SourceRule,
  size: number,
  isBinary: () => Promise<boolean>,
): Promise<string | undefined> {
  if (rule.sizeLt !== undefined && !(size < rule.sizeLt)) {
    return `larger than ${rule.sizeLt} bytes (size<${rule.sizeLt})`;
  }
  if (rule.sizeGt !== undefined && !(size > rule.sizeGt)) {
    return `not larger than ${rule.sizeGt} bytes (size>${rule.sizeGt})`;
  }
  if (rule.text !== undefined && (await isBinary()) === rule.text) {
    return rule.text ? "not text" : "not binary";
  }
  return undefined;
}

export function overMaxMatches(active: ActiveRule): string | undefined {
  const max = active.rule.maxMatches;
  return max !== undefined && active.matched >= max ? `over max-matches=${max}` : undefined;
}

interface Sentinel {
  glob: string;
  /** The part of the glob without magic, where a search starts. */
  base: string;
  isGlob: boolean;
  matches: (path: string) => boolean;
  /** How many segments deep a match can be. */
  depth: number;
}

function compileSentinel(glob: string): Sentinel {
  const scan = picomatch.scan(glob);
  return {
    glob,
    base: scan.isGlob ? scan.base : glob,
    isGlob: scan.isGlob,
    matches: picomatch(glob, { dot: true }),
    depth: glob.includes("**") ? Infinity : glob.split("/").length,
  };
}

export async function holdsSentinel(dir: string, sentinel: Sentinel): Promise<boolean> {
  // The usual sentinels are plain paths: one lstat, no listing.
  if (!sentinel.isGlob) return lstatOrUndefined(join(dir, sentinel.glob)) !== undefined;
  return await searchSentinel(dir, sentinel.base, sentinel);
}

async function searchSentinel(dir: string, rel: string, sentinel: Sentinel): Promise<boolean> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(join(dir, rel), { withFileTypes: true });
  } catch {
    return false;
  }
  for (const d of dirents) {
    const childRel = rel ? `${rel}/${d.name}` : d.name;
    if (sentinel.matches(childRel)) return true;
    if (
      d.isDirectory() && childRel.split("/").length < sentinel.depth &&
      await searchSentinel(dir, childRel, sentinel)
    ) return true;
  }
  return false;
}

/** Binary as git sees it: a NUL byte near the start. */
export async function startsBinary(path: string): Promise<boolean> {
  const handle = await open(path, "r");
  try {
    const buf = new Uint8Array(BINARY_PROBE_BYTES);
    const { bytesRead } = await handle.read(buf, 0, BINARY_PROBE_BYTES, 0);
    return buf.subarray(0, bytesRead).includes(0);
  } finally {
    await handle.close();
  }
}

/** Caps how many files are open at once for content probes. */
export class OpenFileBudget {
  #free: number;
  #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}
