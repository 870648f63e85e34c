/**
 * Version control as runstage sees it. For now only git, and only as much as source
 * code selection needs: where the work tree is, so its ignore files can be honoured.
 */

import { stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";

/**
 * The root of the git work tree holding `dir`: the nearest ancestor (or `dir` itself)
 * with a `.git` directory or file. A `.git` file is how linked work trees and
 * submodules point at their git dir, so it marks a work tree root just the same.
 * Undefined outside any work tree. `dir` is taken as given: pass a real path if the
 * work tree should be found from where a symlinked dir really lives.
 */
export async function findGitWorkTree(dir: string): Promise<string | undefined> {
  let current = resolve(dir);
  while (true) {
    if (await holdsGitMarker(current)) return current;
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

async function holdsGitMarker(dir: string): Promise<boolean> {
  try {
    const st = await stat(join(dir, ".git"));
    return st.isDirectory() || st.isFile();
  } catch {
    // Missing or unreadable: either way git could not use it from here.
    return false;
  }
}
