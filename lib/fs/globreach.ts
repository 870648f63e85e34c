/**
 * Where a glob's matches can be, so a walk reads only the dirs that can hold
 * one: `conf/*.yaml` needs the project dir and `conf`, nothing else, whatever
 * else is there (a link to `/`, a mount of 10 TB). Source selection, config
 * discovery and dependencies bound their walks with it.
 *
 * A glob splits into its fixed part, the dirs before the first wildcard
 * (`conf` for `conf/*.yaml`; for a glob without wildcards, the whole path),
 * and the rest, matched segment by segment: a dir below the fixed part can hold
 * a match only while its names match the glob's segments, and from a segment
 * holding `**` on, any dir can. A brace or extglob holding a `/` spans
 * segments, so below its fixed part such a glob reaches every dir. The answer
 * errs on the side of reading a dir too many, never one too few.
 */
// @ts-types="@types/picomatch"
import picomatch from "picomatch";

export interface GlobReach {
  glob: string;
  /** A glob without wildcards: it names one path. */
  literal: boolean;
  /** The glob's dirs and names before its first wildcard, `/`-separated; "" for none. */
  fixed: string;
  /** Whether the glob matches `path` (relative, `/`-separated). */
  matches: (path: string) => boolean;
  /** Whether a path below the dir `dir` (relative; "" is the root) can match. */
  reachesBelow: (dir: string) => boolean;
  /** Whether the fixed part is `path` or lies below it: the glob names it without wildcards. */
  names: (path: string) => boolean;
}

/** `dot`: whether wildcards match names starting with `.`, as picomatch's option. */
export function globReach(glob: string, options: { dot: boolean }): GlobReach {
  const scan = picomatch.scan(glob);
  const matches = picomatch(glob, { dot: options.dot });
  const fixed = scan.base;
  const names = (path: string) => path === "" || fixed === path || fixed.startsWith(`${path}/`);
  if (!scan.isGlob) {
    // A plain path: only the dirs on the way to it can hold it.
    const parent = fixed.includes("/") ? fixed.slice(0, fixed.lastIndexOf("/")) : "";
    const reachesBelow = (dir: string) =>
      dir === parent || parent.startsWith(`${dir}/`) || dir === "";
    return { glob, literal: true, fixed, matches, reachesBelow, names };
  }
  const rest = scan.glob.split("/");
  const spans = /\{[^}]*\/[^}]*\}|\([^)]*\/[^)]*\)/.test(scan.glob);
  const globstar = rest.findIndex((segment) => segment.includes("**"));
  const deep = spans ? 0 : globstar < 0 ? Infinity : globstar;
  const segments = rest.map((segment) => picomatch(segment, { dot: options.dot }));
  const reachesBelow = (dir: string) => {
    if (names(dir)) return true;
    const inside = segmentsBelow(fixed, dir);
    if (inside === undefined) return false;
    for (let i = 0; i < inside.length; i++) {
      if (i >= deep) return options.dot || inside.slice(i).every((name) => !name.startsWith("."));
      // The last segment names what matches, not a dir that holds it.
      if (i >= segments.length - 1 || !segments[i](inside[i])) return false;
    }
    return true;
  };
  return { glob, literal: false, fixed, matches, reachesBelow, names };
}

/** `path` as segments below `base`, or undefined when it is not `base` or below it. */
function segmentsBelow(base: string, path: string): string[] | undefined {
  if (base === "") return path === "" ? [] : path.split("/");
  if (path === base) return [];
  return path.startsWith(`${base}/`) ? path.slice(base.length + 1).split("/") : undefined;
}
