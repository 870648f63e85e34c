/**
 * The project a command works on: its directory, its Gage file, where its runs
 * live, and which op a command names. See run-format "Where things are".
 */
import { statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { RunstageError } from "../errors.ts";
import { findGageFile, type GageFile, readGageFile } from "./parse.ts";
import type { OpDef } from "./opdef.ts";

export interface Project {
  /** Absolute. */
  dir: string;
  gagefile?: GageFile;
}

/**
 * Opens the project at `-C DIR` when given, else at the nearest ancestor of `cwd`
 * holding a Gage file (so commands work from any subdirectory), else at `cwd`.
 */
export async function openProject(options: { cwd: string; dir?: string }): Promise<Project> {
  const dir = options.dir !== undefined
    ? existingDir(resolve(options.cwd, options.dir), options.dir)
    : nearestProjectDir(resolve(options.cwd));
  const path = findGageFile(dir);
  return { dir, gagefile: path === undefined ? undefined : await readGageFile(path) };
}

function existingDir(path: string, given: string): string {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat === undefined) {
    throw new RunstageError(`-C ${given}: no such directory; pass an existing project directory`);
  }
  if (!stat.isDirectory()) {
    throw new RunstageError(`-C ${given}: not a directory; pass the project directory`);
  }
  return path;
}

function nearestProjectDir(cwd: string): string {
  for (let dir = cwd;; dir = dirname(dir)) {
    if (findGageFile(dir) !== undefined) return dir;
    if (dirname(dir) === dir) return cwd;
  }
}

/**
 * The directory runs are written to, absolute: `--runs DIR`, else env `GAGE_RUNS`
 * (both relative to `cwd`, as typed by the user), else the Gage file's
 * `"$runs-dir"` (relative to the project, as written in it), else `.gage/runs`.
 */
export function resolveRunsHome(
  project: Project,
  options: { runs?: string; env: Record<string, string | undefined>; cwd: string },
): string {
  if (options.runs !== undefined) {
    // Usually an unset shell variable (`--runs "$DIR"`): refuse rather than guess.
    if (options.runs === "") {
      throw new RunstageError(`--runs needs a directory; pass --runs DIR or leave it out`);
    }
    return resolve(options.cwd, options.runs);
  }
  // An empty GAGE_RUNS counts as unset, as is usual for environment variables.
  const fromEnv = options.env.GAGE_RUNS;
  if (fromEnv !== undefined && fromEnv !== "") return resolve(options.cwd, fromEnv);
  const fromFile = project.gagefile?.runsDir;
  if (fromFile !== undefined) return resolve(project.dir, fromFile);
  return join(resolve(project.dir), ".gage", "runs");
}

/** The op `name` names, or the project's default op when no name is given. */
export function selectOp(project: Project, name: string | undefined): OpDef {
  const gagefile = project.gagefile;
  if (gagefile === undefined) {
    throw new RunstageError(
      `no Gage file in ${project.dir}: create gage.toml with an op, or pass -C DIR`,
    );
  }
  const ops = gagefile.ops;
  if (name !== undefined) {
    const op = ops.find((o) => o.name === name);
    if (op !== undefined) return op;
    throw new RunstageError(
      ops.length === 0
        ? `unknown op "${name}": ${gagefile.path} has no ops; define "${name}" in it`
        : `unknown op "${name}" in ${gagefile.path}; ops are: ${opNames(ops)}`,
    );
  }
  const op = ops.find((o) => o.default) ?? (ops.length === 1 ? ops[0] : undefined);
  if (op !== undefined) return op;
  throw new RunstageError(
    ops.length === 0
      ? `${gagefile.path} has no ops; define one in it, then run it`
      : `no op named and ${gagefile.path} has no default op; name one of: ${opNames(ops)} ` +
        `(or set default = true on one)`,
  );
}

function opNames(ops: OpDef[]): string {
  return ops.map((o) => o.name).join(", ");
}

/** The namespace of the project's ops in a run's `opref`: a space-separated line. */
export function opNamespace(projectDir: string): string {
  return basename(projectDir).replace(/\s+/g, "-");
}
