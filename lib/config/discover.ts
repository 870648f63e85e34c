/**
 * Finding an op's config files: the project files its `config` GLOBs match.
 *
 * A GLOB without wildcards names one file, looked up directly. Wildcard GLOBs
 * share one walk of the project that reads only the dirs a GLOB can match in
 * (lib/fs/globreach.ts): wildcards never match a name starting with `.`, and
 * never enter `node_modules` or `__pycache__` unless the GLOB's fixed part (the
 * dirs before its first wildcard) names them. Symlinked files and dirs are
 * followed, but a wildcard never leads out of the project: a link whose target
 * is outside the project dir is entered only when a GLOB's fixed part names it
 * (`shared/*.yaml` enters the link `shared`, `**\/*.yaml` does not). The runs
 * home and link loops are never entered; unreadable dirs are passed over.
 */
import { join } from "node:path";
import { comparePaths } from "../fs/pathorder.ts";
import { type GlobReach, globReach } from "../fs/globreach.ts";
import { realPathOrResolved, realPathOrUndefined, statOrUndefined } from "../fs/stat.ts";
import { isWithin, type WalkEntry, walkTree } from "../fs/walk.ts";

/** Dirs that wildcards never enter: installed packages and bytecode, never config. */
const SKIPPED_DIRS = new Set(["node_modules", "__pycache__"]);

export interface DiscoverOptions {
  /** Dirs never searched, such as the runs home when it lies inside the project. */
  exclude?: string[];
  /** Stops the search at its next dir (RunInterrupted). */
  signal?: AbortSignal;
  /** Called with each dir's project-relative path as it is read: a hook for tests. */
  onDirRead?: (rel: string) => void;
}

/** Project-relative paths of the files the globs match, in path order. */
export async function findConfigFiles(
  projectDir: string,
  globs: string[],
  options: DiscoverOptions = {},
): Promise<string[]> {
  const found = new Set<string>();
  const searches: GlobReach[] = [];
  for (const glob of new Set(globs)) {
    const reach = globReach(glob, { dot: false });
    if (!reach.literal) searches.push(reach);
    else if (statOrUndefined(join(projectDir, glob))?.isFile()) found.add(glob);
  }
  const projectReal = realPathOrUndefined(projectDir);
  if (searches.length > 0 && projectReal !== undefined) {
    await walkTree(projectDir, {
      links: "follow",
      unreadable: "ignore",
      exclude: (options.exclude ?? []).map(realPathOrResolved),
      signal: options.signal,
      onDirRead: options.onDirRead,
      enter: (entry) => searchesEnter(searches, entry, projectReal),
      visit: async (dir, descend) => {
        for (const entry of dir.entries) {
          if (entry.kind === "dir") await descend(entry);
          else if (entry.kind === "file" && searches.some((s) => s.matches(entry.rel))) {
            found.add(entry.rel);
          }
        }
      },
    });
  }
  return [...found].sort(comparePaths);
}

/** Whether a search can match in the dir: see the top of this file. */
function searchesEnter(searches: GlobReach[], dir: WalkEntry, projectReal: string): boolean {
  const leavesProject = dir.link && dir.real !== undefined && !isWithin(projectReal, dir.real);
  return searches.some((s) => {
    if (s.names(dir.rel)) return true;
    return !leavesProject && !SKIPPED_DIRS.has(dir.name) && s.reachesBelow(dir.rel);
  });
}
