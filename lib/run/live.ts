/**
 * What the run format says of a live run (docs/run-format.md): meta `live` names
 * the project dir its source files link into. Making and refreshing live runs is
 * lib/stage/live.ts; verify, export and restage only need to recognize them.
 */
import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import type { Run } from "./identity.ts";

/** Where a live run links into is part of where it came from: lib/run/projectdir.ts. */
export { liveProjectDir } from "./projectdir.ts";

/**
 * Whether `path` in the run dir is still one of the live run's links into its
 * project: anything else there (a regular file, a link elsewhere) was put in its
 * place and is verified like any file.
 */
export function isLiveLink(run: Run, path: string, projectDir: string): boolean {
  const abs = join(run.runDir, path);
  try {
    if (!lstatSync(abs).isSymbolicLink()) return false;
    const target = readlinkSync(abs);
    const resolved = isAbsolute(target) ? target : resolve(dirname(abs), target);
    const root = realpathSync(projectDir);
    return resolved === root || resolved.startsWith(root + sep);
  } catch {
    return false;
  }
}
