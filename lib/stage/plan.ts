/**
 * Planning a run: everything that can be resolved and checked before a run dir
 * is written, by one function for staging a new run and restaging one. The
 * source files come from the run's stager; the config values from NAME=VALUE
 * flags for a new run (with its dependencies), or as the run recorded them
 * when it is restaged. A bad request fails here, before anything is written.
 */
import { statSync } from "node:fs";
import { relative } from "node:path";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { type ConfigPlan, parseFlags, planConfig, resolveConfig } from "../config/config.ts";
import {
  dependencyFlagNames,
  readDepends,
  type ResolvedDependency,
  resolveDepends,
} from "../depends/depends.ts";
import type { OpDef } from "../gagefile/opdef.ts";
import { opNamespace, type Project } from "../gagefile/project.ts";
import { type RunConfig, type RunInit, validateRunInit } from "../run/meta.ts";
import { mapPath } from "../source/pathmap.ts";
import { parseSourcecodeRules, type SourceSelection } from "../source/select.ts";
import { commandArgv } from "./exec.ts";
import type { SourceStager } from "./sources/stager.ts";
import { checkOutputSummary } from "./summary.ts";
import { scalarRules } from "./scalars.ts";
import { quotePath } from "../fs/quote.ts";

/** What staging resolved before writing anything. */
export interface StagePlan {
  init: RunInit;
  /** Config files by run-dir path. */
  config: ConfigPlan;
  depends: ResolvedDependency[];
  /** The source files to copy, by run-dir path (the op's path map applied). */
  selection: SourceSelection;
}

/** Where a plan's config values come from. */
export type PlanValues =
  /** A new run: NAME=VALUE config flags, and NAME=RUN picks for dependencies. */
  | { from: "flags"; flags: string[] }
  /** A run restaged: the config it recorded; its dependencies stay, at these run-dir paths. */
  | { from: "run"; config: RunConfig; dependencyPaths: string[] };

export interface PlanRequest {
  /** The project the run belongs to; its code comes from the stager's source. */
  project: Project;
  runsHome: string;
  values: PlanValues;
  /** Stops the scans (config files, dependencies, source files) at their next dir. */
  signal?: AbortSignal;
  /** A sweep's trials share one selection of the source (see SelectionMemo). */
  memo?: SelectionMemo;
}

/**
 * The source selection of a sweep's first trial, for the ones after it: the
 * trials stage the same op from the same origin, so the project is walked
 * once per sweep, not once per trial (a 300-file project: ~15 ms a walk).
 */
export interface SelectionMemo {
  selection?: Promise<SourceSelection>;
}

/**
 * Plans a run of the stager's op: config files and values, dependencies, and
 * the source files with where the path map puts them. For new values the op
 * is checked first (patterns, commands, summary) and the runs home must be
 * usable. Throws on bad input.
 */
export async function planRun(stager: SourceStager, req: PlanRequest): Promise<StagePlan> {
  const { op, project } = stager.source;
  const { configPlan, config, depends, dependencyPaths } = req.values.from === "flags"
    ? await resolveNewValues(req, stager, req.values.flags)
    : {
      configPlan: await planConfig(project.dir, op, {
        exclude: [req.runsHome],
        signal: req.signal,
      }),
      config: req.values.config,
      depends: [],
      dependencyPaths: req.values.dependencyPaths,
    };
  const init: RunInit = {
    opref: { namespace: opNamespace(req.project.dir), name: op.name },
    opdef: op,
    config,
    cmd: op.exec.run,
    env: op.env,
  };
  validateRunInit(init);
  const selection = await selectOnce(stager, req);
  dropDependencyFiles(selection, dependencyPaths);
  return { init, config: mapConfigPlan(configPlan, op), depends, selection };
}

/**
 * The stager's selection, or the memo's copy of it (each plan trims its own
 * files). Only a selection from the project dir itself is shared: a commit's
 * is read from a tree each trial extracts and disposes of.
 */
function selectOnce(stager: SourceStager, req: PlanRequest): Promise<SourceSelection> {
  const memo = req.memo;
  if (!memo || (stager.kind !== "worktree" && stager.kind !== "live")) {
    return stager.select(req.runsHome, req.signal);
  }
  // The promise is shared, so trials planned at once (--parallel) still walk once.
  memo.selection ??= stager.select(req.runsHome, req.signal);
  return memo.selection.then((s) => ({ ...s, files: [...s.files] }));
}

/** Checks the op, resolves flags against its config and dependencies against their runs. */
async function resolveNewValues(req: PlanRequest, stager: SourceStager, flagArgs: string[]) {
  const { op, project } = stager.source;
  checkSourcecodeRules(project, op);
  for (const command of Object.values(op.exec)) commandArgv(command);
  assertRunsHomeUsable(req.runsHome);
  return await inGageFile(project, async () => {
    checkOutputSummary(op);
    scalarRules(op);
    const deps = readDepends(op);
    const { picks, flags } = splitDependencyPicks(parseFlags(flagArgs), deps);
    const configPlan = await planConfig(project.dir, op, {
      exclude: [req.runsHome],
      signal: req.signal,
    });
    const config = resolveConfig(configPlan, flags, op);
    // Dependencies are data beside the code: they come from the project dir itself.
    const depends = await resolveDepends(deps, {
      projectDir: req.project.dir,
      runsHome: req.runsHome,
      picks,
      signal: req.signal,
    });
    const dependencyPaths = depends.flatMap((d) => d.files.map((f) => f.to));
    return { configPlan, config, depends, dependencyPaths };
  });
}

/** A dependency's files are its own (type d), even where source code has the same path. */
function dropDependencyFiles(selection: SourceSelection, dependencyPaths: string[]): void {
  const owned = new Set(dependencyPaths);
  selection.files = selection.files.filter((f) => !owned.has(f.path));
}

/** The config plan with the run-dir paths of its files, where flag values are written. */
function mapConfigPlan(plan: ConfigPlan, op: OpDef): ConfigPlan {
  const map = op.pathMap;
  if (!map?.length) return plan;
  return { ...plan, files: plan.files.map((f) => ({ ...f, path: mapPath(map, f.path) })) };
}

/** NAME=RUN arguments naming a dependency pick its run; the rest are config flags. */
function splitDependencyPicks(all: RunConfig, deps: ReturnType<typeof readDepends>) {
  const names = new Set(dependencyFlagNames(deps));
  const picks: Record<string, string> = {};
  const flags: RunConfig = {};
  for (const [name, value] of Object.entries(all)) {
    if (names.has(name)) picks[name] = String(value);
    else flags[name] = value;
  }
  return { picks, flags };
}

/** Errors about the op's attributes name the Gage file, as the file's own errors do. */
async function inGageFile<T>(project: Project, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    const file = project.gagefile && relative(process.cwd(), project.gagefile.path);
    if (!(err instanceof RunstageError) || !file || err.message.startsWith(file)) throw err;
    throw new RunstageError(`${file}: ${err.message}`, err.exitCode);
  }
}

/** Validates the op's sourcecode rules; an error names the Gage file and the op. */
export function checkSourcecodeRules(project: Project, op: OpDef): void {
  try {
    parseSourcecodeRules(op.sourcecode);
  } catch (err) {
    if (!(err instanceof RunstageError)) throw err;
    const where = project.gagefile ? `${relative(process.cwd(), project.gagefile.path)}: ` : "";
    throw new RunstageError(`${where}op "${op.name}": ${err.message}`, err.exitCode);
  }
}

function assertRunsHomeUsable(runsHome: string): void {
  try {
    if (!statSync(runsHome).isDirectory()) {
      throw new RunstageError(
        `runs home ${quotePath(runsHome)} is not a directory: pass --runs DIR`,
      );
    }
  } catch (err) {
    if (err instanceof RunstageError) throw err;
    // Absent is fine: it is made on first use.
  }
}
