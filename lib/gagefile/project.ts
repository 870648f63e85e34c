/**
 * The project a command works on: its directory, its Gage file, where its runs
 * live, and which op a command names. See run-format "Where things are".
 */
import { realpathSync, statSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { RunstageError } from "../errors.ts";
import { quotePath } from "../fs/quote.ts";
import { findGageFile, type GageFile, readGageFile } from "./parse.ts";
import type { OpDef } from "./opdef.ts";
import { didYouMean } from "./problems.ts";

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
  const { dir, path } = findProject(options);
  return { dir, gagefile: path === undefined ? undefined : await readGageFile(path) };
}

/** The project dir `openProject` would open and its Gage file's path, the file not yet read. */
export function findProject(
  options: { cwd: string; dir?: string },
): { dir: string; path?: string } {
  const dir = options.dir !== undefined
    ? existingDir(resolve(options.cwd, options.dir), options.dir)
    : nearestProjectDir(resolve(options.cwd));
  return { dir, path: findGageFile(dir) };
}

/**
 * The project a run recorded (its `.project`), opened only when it is here: a
 * directory holding a Gage file. Anything else (no such dir, or a dir such as
 * `/` that a moved or imported run's relative `.project` now points at, or a
 * project of another name than the run's opref `namespace`) is never opened,
 * so never walked; the result then says why.
 */
export async function openRecordedProject(
  dir: string,
  namespace?: string,
): Promise<Project | { notHere: string }> {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (stat === undefined) return { notHere: `${quotePath(dir)} does not exist` };
  if (!stat.isDirectory()) return { notHere: `${quotePath(dir)} is not a directory` };
  const path = findGageFile(dir);
  if (path === undefined) return { notHere: `${quotePath(dir)} holds no Gage file` };
  // A relative `.project` of a run moved into another project's runs home leads there.
  if (namespace !== undefined && namespace !== opNamespace(dir)) {
    return { notHere: `${quotePath(dir)} is another project than the run's "${namespace}"` };
  }
  return { dir, gagefile: await readGageFile(path) };
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
 * Refused: the file-system root, and for a project with a Gage file, the
 * project dir itself or a dir holding it (each run would copy the runs before it).
 */
export function resolveRunsHome(
  project: Project,
  options: { runs?: string; env: Record<string, string | undefined>; cwd: string },
): string {
  const { home, from } = chooseRunsHome(project, options);
  checkRunsHome(project, home, from);
  return home;
}

function chooseRunsHome(
  project: Project,
  options: { runs?: string; env: Record<string, string | undefined>; cwd: string },
): { home: string; from: string } {
  if (options.runs !== undefined) {
    // Usually an unset shell variable (`--runs "$DIR"`): refuse rather than guess.
    if (options.runs === "") {
      throw new RunstageError(`--runs needs a directory; pass --runs DIR or leave it out`);
    }
    return { home: resolve(options.cwd, options.runs), from: "--runs" };
  }
  // An empty GAGE_RUNS counts as unset, as is usual for environment variables.
  const fromEnv = options.env.GAGE_RUNS;
  if (fromEnv !== undefined && fromEnv !== "") {
    return { home: resolve(options.cwd, fromEnv), from: "GAGE_RUNS" };
  }
  const fromFile = project.gagefile?.runsDir;
  if (fromFile !== undefined) {
    return {
      home: resolve(project.dir, fromFile),
      from: `"$runs-dir" in ${quotePath(project.gagefile!.path)}`,
    };
  }
  return { home: join(resolve(project.dir), ".gage", "runs"), from: "the default" };
}

function checkRunsHome(project: Project, home: string, from: string): void {
  const fix = `name a dir of its own, such as ${quotePath(join(project.dir, ".gage", "runs"))}`;
  const paths = [home, ...realPath(home)];
  if (paths.some((path) => dirname(path) === path)) {
    throw new RunstageError(
      `runs home ${quotePath(home)} (from ${from}) is the file-system root: runs would be ` +
        `written among the system's dirs; ${fix}`,
    );
  }
  if (project.gagefile === undefined) return;
  const projectDirs = [resolve(project.dir), ...realPath(project.dir)];
  const same = paths.some((path) => projectDirs.includes(path));
  const holds = paths.some((path) => projectDirs.some((dir) => dir.startsWith(path + sep)));
  if (same || holds) {
    const why = same
      ? "is the project dir itself: each run would copy the runs before it as source code"
      : `holds the project dir ${quotePath(project.dir)}: a runs home is runstage's own, ` +
        `the project would sit among its runs`;
    throw new RunstageError(`runs home ${quotePath(home)} (from ${from}) ${why}; ${fix}`);
  }
}

/** The real path, when it differs and the path exists: a link may lead to the project too. */
function realPath(path: string): string[] {
  try {
    const real = realpathSync(path);
    return real === path ? [] : [real];
  } catch {
    return [];
  }
}

/** The op `name` names, or the project's default op when no name is given. */
export function selectOp(project: Project, name: string | undefined): OpDef {
  const gagefile = project.gagefile;
  if (gagefile === undefined) {
    throw new RunstageError(
      `no Gage file in ${quotePath(project.dir)}: create gage.toml with an op, or pass -C DIR`,
    );
  }
  const ops = gagefile.ops;
  if (name !== undefined) {
    const op = ops.find((o) => o.name === name);
    if (op !== undefined) return op;
    throw new RunstageError(
      ops.length === 0
        ? `unknown op "${name}": ${quotePath(gagefile.path)} has no ops; define "${name}" in it`
        : `unknown op "${name}" in ${quotePath(gagefile.path)}; ops are: ${opNames(ops)}`,
    );
  }
  const op = ops.find((o) => o.default) ?? (ops.length === 1 ? ops[0] : undefined);
  if (op !== undefined) return op;
  throw new RunstageError(
    ops.length === 0
      ? `${quotePath(gagefile.path)} has no ops; define one in it, then run it`
      : `no op named and ${quotePath(gagefile.path)} has no default op; name one of: ${
        opNames(ops)
      } ` +
        `(or set default = true on one)`,
  );
}

/**
 * Refuses to run an op without a command for its `run` phase: it would end as
 * a completed run that ran nothing. Staging it is still fine (`stage`): its
 * staging phases and source are a run of their own.
 */
export function requireRunPhase(op: OpDef, from: string): void {
  if (op.exec.run !== undefined) return;
  // `exe = "..."` is the likeliest reason: say so rather than only "no exec".
  const typo = Object.keys(op.raw).find((key) => key !== "exec" && didYouMean(key, ["exec"]));
  const misspelled = typo === undefined ? "" : ` ("${typo}" is not an attribute)`;
  throw new RunstageError(
    `op "${op.name}" has no command to run (no exec, or no exec.run) in ${from}${misspelled}: ` +
      `give it exec = "COMMAND", or stage it without running: runstage stage ${op.name}`,
  );
}

function opNames(ops: OpDef[]): string {
  return ops.map((o) => o.name).join(", ");
}

/** The namespace of the project's ops in a run's `opref`: a space-separated line. */
export function opNamespace(projectDir: string): string {
  return basename(projectDir).replace(/\s+/g, "-");
}
