/**
 * A path a user names inside a run dir (`cat RUN PATH`, `open RUN PATH`).
 * Paths that leave the run dir, by `..`, by being absolute or through a
 * symlink, are refused: those commands show a run, not the rest of the machine.
 */
import { realpathSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { RunstageError } from "../errors.ts";
import { quotePath } from "../fs/quote.ts";
import type { Run } from "./identity.ts";

/** The real path of the existing file or dir `path` names inside the run dir. */
export function runDirPath(run: Run, path: string): string {
  const leaves = () =>
    new RunstageError(
      `path ${
        quotePath(path)
      } leads outside the run dir of ${run.name}: give a path inside it, as` +
        ` "runstage show ${run.name}" lists them`,
    );
  const full = resolve(run.runDir, path);
  if (isAbsolute(path) || !within(run.runDir, full)) throw leaves();
  let real: string;
  try {
    real = realpathSync(full);
  } catch {
    throw new RunstageError(
      `run ${run.name} has no file ${
        quotePath(path)
      }: see its files with "runstage show ${run.name}"`,
    );
  }
  if (!within(realpathSync(run.runDir), real)) throw leaves();
  return real;
}

function within(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && rel !== ".." && !rel.startsWith(".." + sep) && !isAbsolute(rel);
}
