/**
 * The project files a project-files dependency's patterns can select, found by
 * one walk of the project that reads only the dirs a pattern can match in, or
 * lies in: a pattern that matches a dir selects every file under it (see
 * lib/fs/globreach.ts for the bound).
 *
 * Symlinked files and dirs inside the project are followed (data dirs often
 * are links), once per dir chain, so link loops end. A link whose target is
 * outside the project dir is followed only when a pattern's fixed part, the
 * dirs before its first wildcard, names it (`store/**`, `store/*.csv`,
 * `store`): a wildcard never leads the walk out of the project, so a link to
 * `/` cannot turn `**\/*.csv` into a scan of the machine. `.git` and the runs
 * home are never entered. Unlike source code, .gitignore does not apply: data
 * is usually ignored.
 */
import { type GlobReach, globReach } from "../fs/globreach.ts";
import { realPathOrUndefined } from "../fs/stat.ts";
import { isWithin, type WalkEntry, walkTree } from "../fs/walk.ts";

/** Project files the include patterns can select, '/'-paths relative to the project dir. */
export async function projectPaths(
  projectDir: string,
  runsHome: string,
  patterns: string[],
  signal?: AbortSignal,
  onDirRead?: (rel: string) => void,
): Promise<string[]> {
  const includes = patterns.filter((p) => !p.startsWith("-"))
    .map((p) => globReach(p, { dot: true }));
  const projectReal = realPathOrUndefined(projectDir);
  const runsHomeReal = realPathOrUndefined(runsHome);
  const found: string[] = [];
  if (projectReal === undefined) return found;
  await walkTree(projectDir, {
    links: "follow",
    skipNames: [".git"],
    unreadable: "error",
    exclude: runsHomeReal === undefined ? [] : [runsHomeReal],
    signal,
    onDirRead,
    enter: (dir) => includes.some((p) => reaches(p, dir, projectReal)),
    visit: async (dir, descend) => {
      for (const entry of dir.entries) {
        if (entry.kind === "dir") await descend(entry);
        else if (entry.kind === "file") found.push(entry.rel);
      }
    },
  });
  return found;
}

/** Whether the pattern can select a file in the dir: see the top of this file. */
function reaches(pattern: GlobReach, dir: WalkEntry, projectReal: string): boolean {
  if (pattern.names(dir.rel)) return true;
  if (dir.link && dir.real !== undefined && !isWithin(projectReal, dir.real)) return false;
  return pattern.reachesBelow(dir.rel) || matchesDirOrAbove(pattern, dir.rel);
}

/** `data/*` selects `data/raw/c.csv` through the dir `data/raw` it matches. */
function matchesDirOrAbove(pattern: GlobReach, rel: string): boolean {
  for (let end = rel.length; end > 0; end = rel.lastIndexOf("/", end - 1)) {
    if (pattern.matches(rel.slice(0, end))) return true;
  }
  return false;
}
