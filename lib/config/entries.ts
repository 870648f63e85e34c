/**
 * The `config` attribute's entries, compiled: which files an entry's GLOB
 * selects and which keys its KEYPATTERN selects, the last matching entry of a
 * group deciding.
 */
// @ts-types="@types/picomatch"
import picomatch from "picomatch";
import { type ConfigEntry, parseConfigEntry } from "../gagefile/configentry.ts";
import type { ConfigGroup } from "../gagefile/opdef.ts";

export interface CompiledEntry extends ConfigEntry {
  matchesFile?: (path: string) => boolean;
  /** A glob with no wildcards: it names one file. */
  literal?: string;
}

export function compileGroup(group: ConfigGroup): CompiledEntry[] {
  return group.keys.map((source) => {
    const entry: CompiledEntry = parseConfigEntry(source);
    if (entry.fileGlob !== undefined) {
      entry.matchesFile = picomatch(entry.fileGlob, { dot: false });
      if (!picomatch.scan(entry.fileGlob).isGlob) entry.literal = entry.fileGlob;
    }
    return entry;
  });
}

export function groupSelectsFile(group: CompiledEntry[], path: string): boolean {
  return group.some((e) => !e.exclude && e.matchesFile?.(path) === true);
}

/** The last entry matching both decides; none matching: not selected. */
export function groupSelectsKey(group: CompiledEntry[], path: string, key: string): boolean {
  for (let i = group.length - 1; i >= 0; i--) {
    const e = group[i];
    const fileMatches = e.matchesFile === undefined || e.matchesFile(path);
    if (fileMatches && (e.keyPattern === undefined || keyMatches(e.keyPattern, key))) {
      return !e.exclude;
    }
  }
  return false;
}

/** Whether the pattern matches the key or one of the tables it is in. */
export function keyMatches(pattern: string[], key: string): boolean {
  const segments = key.split(".");
  for (let n = 1; n <= segments.length; n++) {
    if (matchSegments(pattern, segments.slice(0, n))) return true;
  }
  return false;
}

function matchSegments(pattern: string[], segments: string[]): boolean {
  if (pattern.length === 0) return segments.length === 0;
  const [first, ...rest] = pattern;
  if (first === "**") {
    return matchSegments(rest, segments) ||
      (segments.length > 0 && matchSegments(pattern, segments.slice(1)));
  }
  return segments.length > 0 && segmentMatches(first, segments[0]) &&
    matchSegments(rest, segments.slice(1));
}

function segmentMatches(pattern: string, segment: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === segment;
  const source = [...pattern].map((ch) =>
    ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[\\^$.|+()[\]{}]/g, "\\$&")
  ).join("");
  return new RegExp(`^${source}$`, "su").test(segment);
}
