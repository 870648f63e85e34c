/**
 * Resolving dependencies before a run is written: the run each run-files
 * dependency reads (the latest completed one of its op, or the one a flag
 * picks), the files each dependency's patterns select, and the run-dir paths
 * they go to, every failure found before anything is written.
 */
// @ts-types="@types/picomatch"
import picomatch from "picomatch";
import { join } from "node:path";
import { RunstageError } from "../errors.ts";
import { comparePaths, parentDirs } from "../fs/pathorder.ts";
import { opNamespace } from "../gagefile/project.ts";
import { scanRunDir } from "../run/fileslog.ts";
import { listRuns, resolveRun, type RunInfo } from "../run/listing.ts";
import { runMeta } from "../run/meta.ts";
import {
  type Dependency,
  dependencyFlagNames,
  type ProjectFilesDependency,
  quote,
  type RunFilesDependency,
} from "./entries.ts";
import { projectPaths } from "./projectfiles.ts";
import { quotePath } from "../fs/quote.ts";

export interface ResolvedFile {
  /** Absolute path of the source file. */
  from: string;
  /** Where it goes: a run-dir path, '/'-separated. */
  to: string;
}

export interface ResolvedDependency {
  dependency: Dependency;
  /** The run the files come from (run-files only). */
  sourceRun?: { id: string; name: string; op: string };
  /** In byte order of `to`. */
  files: ResolvedFile[];
}

export interface DependsContext {
  projectDir: string;
  runsHome: string;
  /** Dependency name to run spec: an index, id, id prefix or name, as `resolveRun` reads it. */
  picks: Record<string, string>;
  /** Stops the search of project files at its next dir (RunInterrupted). */
  signal?: AbortSignal;
}

/**
 * Finds the run and the files of every dependency, checking all that can fail
 * before a run is written: an unknown pick, no completed run of the op, a
 * picked run that is not completed or not of the op, a pattern that matches no
 * file, two dependencies wanting the same run-dir path.
 */
export async function resolveDepends(
  deps: Dependency[],
  ctx: DependsContext,
): Promise<ResolvedDependency[]> {
  checkPicks(deps, ctx.picks);
  const runs = deps.some((d) => d.type === "run-files") ? listRuns(ctx.runsHome) : [];
  const resolved: ResolvedDependency[] = [];
  for (const dep of deps) {
    resolved.push(
      dep.type === "project-files"
        ? await resolveProjectFiles(dep, ctx)
        : await resolveRunFiles(dep, ctx, runs),
    );
  }
  checkTargets(resolved);
  return resolved;
}

function checkPicks(deps: Dependency[], picks: Record<string, string>): void {
  const names = dependencyFlagNames(deps);
  for (const name of Object.keys(picks)) {
    if (names.includes(name)) continue;
    throw new RunstageError(
      names.length === 0
        ? `${name}=${picks[name]}: the op has no run-files dependency to pick a run for`
        : `${name}=${picks[name]}: no run-files dependency is named "${name}"; ` +
          `pick with ${names.map((n) => `${n}=RUN`).join(" or ")}`,
    );
  }
}

export function describeDep(dep: Dependency): string {
  return `dependency "${dep.name}" (depends entry ${dep.entry})`;
}

async function resolveProjectFiles(
  dep: ProjectFilesDependency,
  ctx: DependsContext,
): Promise<ResolvedDependency> {
  const paths = await projectPaths(ctx.projectDir, ctx.runsHome, dep.files, ctx.signal);
  const selected = selectPaths(
    dep,
    paths,
    (pattern) =>
      `${describeDep(dep)}: ${quote(pattern)} matches no project file; ` +
      `fix the pattern or create the file`,
  );
  return { dependency: dep, files: placeFiles(dep, selected, ctx.projectDir) };
}

async function resolveRunFiles(
  dep: RunFilesDependency,
  ctx: DependsContext,
  runs: RunInfo[],
): Promise<ResolvedDependency> {
  const spec = ctx.picks[dep.name];
  const source = spec === undefined
    ? latestCompletedRun(dep, runs, opNamespace(ctx.projectDir))
    : pickedRun(dep, ctx.runsHome, spec);
  const paths = await runDirPaths(source);
  const selected = selectPaths(
    dep,
    paths,
    (pattern) =>
      `${describeDep(dep)}: ${quote(pattern)} matches no file of run ` +
      `${source.run.name} (op ${source.op}); fix the pattern, or pick another run with ` +
      `${dep.name}=RUN`,
  );
  return {
    dependency: dep,
    sourceRun: { id: source.run.id, name: source.run.name, op: source.op },
    files: placeFiles(dep, selected, source.run.runDir),
  };
}

async function runDirPaths(source: RunInfo): Promise<string[]> {
  try {
    return [...(await scanRunDir(source.run.runDir)).keys()];
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new RunstageError(
      `cannot read the run dir of run ${source.run.name} (${code}): pick another run`,
    );
  }
}

/**
 * The newest completed run of the op in this project: a runs home shared by
 * projects ($GAGE_RUNS) may hold another project's op of the same name.
 */
function latestCompletedRun(dep: RunFilesDependency, runs: RunInfo[], namespace: string): RunInfo {
  const found = runs.find((r) =>
    r.status === "completed" && dep.ops.includes(r.op) &&
    runMeta.opref.read(r.run)?.namespace === namespace
  );
  if (found) return found;
  throw new RunstageError(
    `no completed run of op ${dep.ops.join(" or ")}: run it first, or pass ${dep.name}=RUN`,
  );
}

function pickedRun(dep: RunFilesDependency, runsHome: string, spec: string): RunInfo {
  const flag = `${dep.name}=${spec}`;
  let info: RunInfo;
  try {
    info = resolveRun(runsHome, spec);
  } catch (err) {
    if (err instanceof RunstageError) throw new RunstageError(`${flag}: ${err.message}`);
    throw err;
  }
  const ops = dep.ops.join(" or ");
  if (!dep.ops.includes(info.op)) {
    throw new RunstageError(
      `${flag} names run ${info.run.name} of op ${info.op || "(unknown)"}: pick a run of op ${ops}`,
    );
  }
  if (info.status !== "completed") {
    throw new RunstageError(
      `${flag} names run ${info.run.name}, which is ${info.status}: pick a completed run of op ${ops}`,
    );
  }
  return info;
}

interface FileRule {
  include: boolean;
  pattern: string;
  matches: (path: string) => boolean;
}

function compileRules(patterns: string[]): FileRule[] {
  return patterns.map((pattern) => {
    const include = !pattern.startsWith("-");
    return {
      include,
      pattern,
      matches: picomatch(include ? pattern : pattern.slice(1), { dot: true }),
    };
  });
}

/**
 * The paths the patterns select: the last pattern matching a path, or a dir
 * above it, decides. Every include pattern must match something, or a typo
 * would quietly leave a file out.
 */
function selectPaths(dep: Dependency, paths: string[], noMatch: (p: string) => string): string[] {
  const rules = compileRules(dep.files);
  const matched = new Set<FileRule>();
  const selected = paths.filter((path) => {
    const candidates = [path, ...parentDirs(path)];
    let include = false;
    for (const rule of rules) {
      if (!candidates.some((candidate) => rule.matches(candidate))) continue;
      matched.add(rule);
      include = rule.include;
    }
    return include;
  });
  const unmatched = rules.find((rule) => rule.include && !matched.has(rule));
  if (unmatched) throw new RunstageError(noMatch(unmatched.pattern));
  if (selected.length === 0) {
    throw new RunstageError(
      `${describeDep(dep)}: its exclude patterns leave no file; narrow the excludes in "files"`,
    );
  }
  return selected;
}

function placeFiles(dep: Dependency, paths: string[], fromDir: string): ResolvedFile[] {
  return paths
    .map((path) => ({ from: join(fromDir, path), to: dep.target ? `${dep.target}/${path}` : path }))
    .sort((a, b) => comparePaths(a.to, b.to));
}

/** Two dependencies must not want the same run-dir path, nor a file where the other needs a dir. */
function checkTargets(resolved: ResolvedDependency[]): void {
  const owners = new Map<string, { dep: Dependency; from: string }>();
  for (const { dependency: dep, files } of resolved) {
    for (const file of files) {
      // A last guard: no path may climb out of the run dir, whatever made it.
      if (file.to.split("/").includes("..") || file.to.startsWith("/")) {
        throw new RunstageError(
          `${describeDep(dep)}: path ${quotePath(file.to)} leaves the run dir`,
        );
      }
      const owner = owners.get(file.to);
      const same = owner && owner.from === file.from && owner.dep.link === dep.link;
      if (owner && !same) throw clash(owner.dep, dep, file.to, file.to);
      owners.set(file.to, { dep, from: file.from });
    }
  }
  for (const [path, { dep }] of owners) {
    for (const dir of parentDirs(path)) {
      const owner = owners.get(dir);
      if (owner) throw clash(owner.dep, dep, dir, path);
    }
  }
}

function clash(a: Dependency, b: Dependency, pathA: string, pathB: string): RunstageError {
  const what = pathA === pathB
    ? `both provide ${quotePath(pathA)}`
    : `provide ${quotePath(pathA)} and ${quotePath(pathB)}`;
  return new RunstageError(
    `depends entries ${a.entry} and ${b.entry} ${what}; give one a target dir`,
  );
}
