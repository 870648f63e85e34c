/**
 * Staging and running: the life of a run from an op definition to a finalized
 * run dir. `stageRun` validates, initialises meta, copies source code and runs
 * the staging phases; `startRun` runs the op and finalizes the run.
 */
import { mkdirSync, realpathSync, rmSync, statSync } from "node:fs";
import { constants } from "node:os";
import { stat } from "node:fs/promises";
import { join, relative } from "node:path";
import process from "node:process";
import { timestampMicros } from "../run/clock.ts";
import { type CopiedFile, type CopyProgress, copySourceFiles } from "../copy/copy.ts";
import { RunstageError } from "../errors.ts";
import { commandArgv, runEnv, runPhase, stagingEnv } from "./exec.ts";
import { type Interrupt, RunInterrupted } from "../interrupt.ts";
import {
  applyConfig,
  type ConfigPlan,
  parseFlags,
  planConfig,
  resolveConfig,
} from "../config/config.ts";
import {
  applyDepends,
  dependencyFlagNames,
  dependsMeta,
  readDepends,
  type ResolvedDependency,
  resolveDepends,
} from "../depends/depends.ts";
import { checkOutputSummary, collectSummary } from "./summary.ts";
import { logAddedFiles, logFileChanges, type RunFiles } from "../run/fileslog.ts";
import { readManifest, writeManifest } from "../run/manifest.ts";
import { linkSourceFiles, refreshLiveSource } from "./live.ts";
import { liveProjectDir } from "../run/live.ts";
import {
  initRunMeta,
  logAndWriteMeta,
  logRunner,
  metaJson,
  pyRepr,
  readMetaBytes,
  readMetaJson,
  removeMeta,
  type RunConfig,
  type RunInit,
  validateRunInit,
  writeMeta,
} from "../run/meta.ts";
import { type OpDef, type Phase, phaseByName, type PhaseName } from "../gagefile/opdef.ts";
import { opNamespace, type Project } from "../gagefile/project.ts";
import { makeRun, type Run } from "../run/identity.ts";
import { assertNoLinksOut, checkMappedPaths, mapPath } from "../source/pathmap.ts";
import { readStagedRun } from "./staged.ts";
import { comparePaths } from "../fs/pathorder.ts";
import {
  openRunSource,
  requestedOrigin,
  type RunSource,
  type SourceOrigin,
} from "../source/origin.ts";
import { parseSourcecodeRules, selectSourcecode, type SourceSelection } from "../source/select.ts";

export interface StageRequest {
  project: Project;
  /** The op from the project's Gage file; see SourceRequest for a project without one. */
  op?: OpDef;
  opName?: string;
  runsHome: string;
  /** NAME=VALUE arguments: config flags, and NAME=RUN picks for dependencies. */
  flags?: string[];
  /**
   * Copy this earlier run's source files (its manifest's `s` files) instead of
   * selecting from the project; the copy-sourcecode exec is not run again.
   */
  reuseSourceOf?: Run;
  /** Copy progress, for a progress display. */
  onProgress?: (progress: CopyProgress & { totalFiles: number; totalBytes: number }) => void;
  /** Things the user should know that do not stop the run (files left out, broken links). */
  warn?: (message: string) => void;
  /** Ctrl-C and friends: staging stops at its next step; a phase gets the signal. */
  interrupt?: Interrupt;
  /** `--source`: worktree, git:REF or auto; the op's `source` when not given. */
  source?: string;
  /** Link the source files into the project instead of copying them (a live run). */
  live?: boolean;
  /** Where `--source auto` looks for a CI commit; the process environment when not given. */
  env?: Record<string, string | undefined>;
}

export interface StageResult {
  run: Run;
  /** The op as staged: from the commit's Gage file for a git origin. */
  op: OpDef;
  /** What runstage knows of the run dir's files, for `startRun` in the same process. */
  files: RunFiles;
  /** 0 when staged; else the exit code of the staging phase that failed. */
  exitCode: number;
}

const STAGING_PHASES: PhaseName[] = ["init-runtime", "resolve-dependencies"];

/** What staging resolved before writing anything. */
interface StagePlan {
  init: RunInit;
  /** Config files by run-dir path. */
  config: ConfigPlan;
  depends: ResolvedDependency[];
  /** The source files to copy, by run-dir path (the op's path map applied). */
  selection: SourceSelection;
}

/**
 * Everything that can be checked before a run is written: patterns, commands,
 * flags against the op's config, dependencies, the source files and where the
 * path map puts them. Throws on bad input. `source` is where the code comes
 * from; the run itself still belongs to `req.project`.
 */
async function prepareStage(req: StageRequest, source: RunSource): Promise<StagePlan> {
  const { op, project } = source;
  checkSourcecodeRules(project, op);
  for (const command of Object.values(op.exec)) commandArgv(command);
  assertRunsHomeUsable(req.runsHome);
  const { depends, config, configPlan } = await inGageFile(project, async () => {
    checkOutputSummary(op);
    const deps = readDepends(op);
    const { picks, flags } = splitDependencyPicks(parseFlags(req.flags ?? []), deps);
    const configPlan = await planConfig(project.dir, op, { exclude: [req.runsHome] });
    const config = resolveConfig(configPlan, flags, op);
    // Dependencies are data beside the code: they come from the project dir itself.
    const depends = await resolveDepends(deps, {
      projectDir: req.project.dir,
      runsHome: req.runsHome,
      picks,
    });
    return { depends, config, configPlan };
  });
  const init: RunInit = {
    opref: { namespace: opNamespace(req.project.dir), name: op.name },
    opdef: op,
    config,
    cmd: op.exec.run,
    env: op.env,
  };
  validateRunInit(init);
  const selection = req.reuseSourceOf
    ? await sourceOfRun(req.reuseSourceOf)
    : await selectRunSource(source, req.runsHome);
  dropDependencyFiles(selection, depends.flatMap((d) => d.files.map((f) => f.to)));
  return { init, config: mapConfigPlan(configPlan, op), depends, selection };
}

/**
 * The source files a run gets from `source`, by run-dir path (the op's path map
 * applied; two files it puts in one place are an error), with the source's notes.
 */
export async function selectRunSource(
  source: RunSource,
  runsHome: string,
): Promise<SourceSelection> {
  const { op, project } = source;
  const selection = await selectSourcecode(project.dir, op.sourcecode, { exclude: [runsHome] });
  selection.warnings.push(...source.warnings);
  if (!op.pathMap?.length) return selection;
  const paths = checkMappedPaths(selection.files, op.pathMap);
  const files = selection.files.map((f, i) => ({ ...f, path: paths[i] }));
  return { ...selection, files: files.sort((a, b) => comparePaths(a.path, b.path)) };
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
      throw new RunstageError(`runs home ${runsHome} is not a directory: pass --runs DIR`);
    }
  } catch (err) {
    if (err instanceof RunstageError) throw err;
    // Absent is fine: it is made on first use.
  }
}

/** Creates the runs home; failing (a parent is a file, say) is the user's to fix, not a crash. */
function makeRunsHome(runsHome: string): void {
  try {
    mkdirSync(runsHome, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === "ENOTDIR" ? "part of its path is a file" : code ?? String(err);
    throw new RunstageError(`cannot create runs home ${runsHome} (${reason}): pass --runs DIR`);
  }
}

/**
 * Stages a run of `req.op`: meta, source code, staging phases, manifest. The
 * code comes from the origin the request names (see lib/source/origin.ts).
 */
export async function stageRun(req: StageRequest): Promise<StageResult> {
  const sourceReq = { ...req, env: req.env ?? process.env, exclude: [req.runsHome] };
  if (req.live) checkLiveSource(req, requestedOrigin(sourceReq));
  const source = req.reuseSourceOf
    ? reusedSource(req, req.reuseSourceOf)
    : await openRunSource(sourceReq);
  try {
    return await stagePlannedRun(req, source, await prepareStage(req, source));
  } finally {
    await source.dispose();
  }
}

/** A live run links to files on disk: only a work tree has them. */
function checkLiveSource(req: StageRequest, origin: SourceOrigin): void {
  if (req.reuseSourceOf) {
    throw new RunstageError(
      "--live links to the project's files, --reuse-source copies a run's: pick one",
    );
  }
  if (origin.mode !== "worktree") {
    throw new RunstageError(
      `--live needs the work tree, but the source is ${origin.requested}:` +
        " use --source worktree with --live, or drop --live",
    );
  }
}

/** Reusing a run's source files reuses its provenance too: the code is the same. */
function reusedSource(req: StageRequest, original: Run): RunSource {
  const vcs = readMetaJson<RunSource["vcs"]>(original, "vcs");
  return {
    origin: { mode: "worktree", requested: "worktree" },
    project: req.project,
    op: req.op!,
    vcs: vcs ?? null,
    diff: readMetaBytes(original, "vcs.diff"),
    warnings: [],
    dispose: () => Promise.resolve(),
  };
}

async function stagePlannedRun(
  req: StageRequest,
  source: RunSource,
  plan: StagePlan,
): Promise<StageResult> {
  makeRunsHome(req.runsHome);
  const run = makeRun(req.runsHome);
  initRunMeta(run, plan.init, req.project.dir);
  const files: RunFiles = new Map();
  return await failRunOnError(run, async () => {
    writeSourceMeta(run, source, req.live ? req.project.dir : undefined);
    let exitCode = await copySourcecode(req, source, plan, run, files);
    for (const name of STAGING_PHASES) {
      if (exitCode !== 0) break;
      req.interrupt?.check();
      if (name === "resolve-dependencies") await copyDependencies(run, plan.depends, files);
      exitCode = await runStagingPhase(req, source, run, files, phaseByName(name));
    }
    if (exitCode !== 0) {
      stopRun(run, exitCode);
      return { run, op: source.op, files, exitCode };
    }
    logRunner(run, "Finalizing staged files (see manifest)");
    await writeManifestWarning(run, files, req.warn);
    logAndWriteMeta(run, "staged", String(timestampMicros()));
    return { run, op: source.op, files, exitCode: 0 };
  });
}

/** Meta `vcs` (and a dirty tree's `vcs.diff`), and `live` for a live run. */
function writeSourceMeta(run: Run, source: RunSource, liveProject?: string): void {
  if (source.vcs) logAndWriteMeta(run, "vcs", metaJson(source.vcs));
  if (source.diff) logAndWriteMeta(run, "vcs.diff", source.diff);
  if (liveProject) logAndWriteMeta(run, "live", realpathSync(liveProject));
}

/** Copies (or for a live run, links) the selected files, then runs `copy-sourcecode`. */
async function copySourcecode(
  req: StageRequest,
  source: RunSource,
  plan: StagePlan,
  run: Run,
  files: RunFiles,
): Promise<number> {
  logRunner(run, "Copying source code (see log/files for details)");
  const selection = plan.selection;
  logRunner(run, `Source code patterns: ${pyRepr(selection.patterns)}`);
  reportSelection(run, selection, req.warn);
  req.interrupt?.check();
  const totals = {
    totalFiles: selection.files.length,
    totalBytes: selection.files.reduce((sum, f) => sum + f.size, 0),
  };
  // runstage itself is this phase's process while it copies: a kill -9 now
  // leaves a lock naming a dead pid, so the run reads as terminated.
  writeMeta(run, "proc/lock", String(process.pid));
  const copied = await (req.live ? linkSourceFiles(selection.files, run.runDir) : copySourceFiles(
    selection.files,
    run.runDir,
    req.onProgress && ((p) => req.onProgress!({ ...p, ...totals })),
    { signal: req.interrupt?.signal },
  )).finally(() => removeMeta(run, "proc/lock"));
  req.interrupt?.check();
  const phase = phaseByName("copy-sourcecode");
  // Reused source already holds what the exec made the first time.
  const command = req.reuseSourceOf ? undefined : source.op.exec[phase.name];
  // The exec sees the project its code came from: a commit's tree for a git origin.
  const exitCode = command === undefined ? 0 : await runPhase(run, phase, command, {
    cwd: source.project.dir,
    env: stagingEnv(run, source.project.dir),
    interrupt: req.interrupt,
  });
  const patched = exitCode === 0 && await applyRunConfig(run, plan);
  if (command === undefined && !patched && files.size === 0) {
    // Nothing but the copy touched a fresh run dir: no need to scan it.
    logAddedFiles(run, files, copied, phase.type);
  } else {
    await logFileChanges(run, files, phase.type);
    trustCopiedDigests(files, copied);
  }
  return exitCode;
}

/** The source files of an earlier run, as a selection to copy from its run dir. */
async function sourceOfRun(source: Run): Promise<SourceSelection> {
  const entries = (readManifest(source) ?? []).filter((e) => e.type === "s");
  const files = await Promise.all(entries.map(async (e) => {
    const src = join(source.runDir, e.path);
    const st = await stat(src).catch(() => {
      throw new RunstageError(
        `cannot reuse the source of run ${source.name}: ${e.path} is missing (see "runstage verify ${source.name}")`,
      );
    });
    return { path: e.path, src, size: st.size, mode: st.mode & 0o7777 };
  }));
  return { patterns: [`(source of run ${source.name})`], files, leftOut: [], warnings: [] };
}

/**
 * Writes the run's config values into its copies of the config files, with a
 * unified diff of each change in log/patched. Returns whether any file changed.
 */
async function applyRunConfig(run: Run, plan: StagePlan): Promise<boolean> {
  if (plan.config.files.length === 0) return false;
  logRunner(run, "Applying configuration (see log/patched)");
  const applied = await applyConfig(run.runDir, plan.config, plan.init.config);
  if (applied.length === 0) return false;
  writeMeta(run, "log/patched", applied.map((a) => a.diff).join(""));
  return true;
}

/** Copies or links the resolved dependencies into the run dir (type d) and records them. */
async function copyDependencies(run: Run, depends: ResolvedDependency[], files: RunFiles) {
  if (depends.length === 0) return;
  logRunner(run, "Resolving dependencies (see deps.json)");
  const copied = await applyDepends(run.runDir, depends);
  await logFileChanges(run, files, "d");
  trustCopiedDigests(files, copied);
  logAndWriteMeta(run, "deps.json", metaJson(dependsMeta(depends)));
}

/** Keeps the digests taken while copying for files no phase has touched since. */
function trustCopiedDigests(files: RunFiles, copied: CopiedFile[]): void {
  for (const c of copied) {
    const entry = files.get(c.path);
    if (entry && entry.mtime === c.mtime && entry.size === c.size) entry.digest = c.digest;
  }
}

function reportSelection(run: Run, selection: SourceSelection, warn?: (m: string) => void) {
  const notes = [
    ...selection.leftOut.map((l) =>
      `${l.count} source file${l.count === 1 ? "" : "s"} left out: ${l.reason}` +
      ` (e.g. ${l.examples.join(", ")}); add a sourcecode rule to include them`
    ),
    ...selection.warnings,
  ];
  for (const note of notes) {
    logRunner(run, `Source code: ${note}`);
    warn?.(note);
  }
}

async function runStagingPhase(
  req: StageRequest,
  source: RunSource,
  run: Run,
  files: RunFiles,
  phase: Phase,
) {
  const command = source.op.exec[phase.name];
  if (command === undefined) return 0;
  const exitCode = await runPhase(run, phase, command, {
    cwd: run.runDir,
    env: stagingEnv(run, source.project.dir),
    interrupt: req.interrupt,
  });
  await logFileChanges(run, files, phase.type);
  return exitCode;
}

export interface RestageRequest {
  run: Run;
  /** The project the run came from. */
  project: Project;
  runsHome: string;
  /** The origin to copy from; the run's recorded one when not given. */
  source?: string;
  env?: Record<string, string | undefined>;
  onProgress?: StageRequest["onProgress"];
  warn?: (message: string) => void;
  interrupt?: Interrupt;
}

/**
 * Refreshes a staged (never started) snapshot run from the current source: its
 * source files (type s) are replaced by a new selection, `copy-sourcecode` and
 * the run's config run again, and `vcs` and the manifest are rewritten. Runtime
 * and dependency files stay as staging made them.
 */
export async function restageSnapshot(req: RestageRequest): Promise<{ files: number }> {
  const { run } = req;
  const staged = await readStagedRun(run);
  const recorded = readMetaJson<{ requested?: string }>(run, "vcs")?.requested;
  const source = await openRunSource({
    project: req.project,
    op: staged.op,
    source: req.source ?? recorded,
    env: req.env ?? process.env,
    exclude: [req.runsHome],
  });
  try {
    const config = readMetaJson<RunConfig>(run, "config.json") ?? {};
    const configPlan = await planConfig(source.project.dir, source.op, { exclude: [req.runsHome] });
    const selection = await selectRunSource(source, req.runsHome);
    dropDependencyFiles(
      selection,
      [...staged.files].filter(([, e]) => e.type === "d").map(([path]) => path),
    );
    await assertNoLinksOut(run.runDir, selection.files.map((f) => f.path));
    const plan: StagePlan = {
      init: {
        opref: { namespace: opNamespace(req.project.dir), name: source.op.name },
        opdef: source.op,
        config,
        cmd: source.op.exec.run,
        env: source.op.env,
      },
      config: mapConfigPlan(configPlan, source.op),
      depends: [],
      selection,
    };
    const stageReq: StageRequest = { ...req, op: source.op };
    return await failRunOnError(run, async () => {
      logRunner(run, "Restaging source code from the current source");
      for (const [path, entry] of staged.files) {
        if (entry.type === "s") rmSync(join(run.runDir, path), { force: true });
      }
      removeMeta(run, "vcs.diff");
      writeSourceMeta(run, source);
      const exitCode = await copySourcecode(stageReq, source, plan, run, staged.files);
      if (exitCode !== 0) {
        stopRun(run, exitCode);
        throw new RunstageError(
          `copy-sourcecode failed while restaging run ${run.name} (exit code ${exitCode});` +
            ` see its output in ${run.metaDir}/output`,
          exitCode,
        );
      }
      logRunner(run, "Finalizing staged files (see manifest)");
      await writeManifestWarning(run, staged.files, req.warn);
      return { files: selection.files.length };
    });
  } finally {
    await source.dispose();
  }
}

export interface StartRequest {
  run: Run;
  files: RunFiles;
  op: OpDef;
  projectDir: string;
  warn?: (message: string) => void;
  interrupt?: Interrupt;
}

/** Runs the op of a staged run and finalizes it. Returns the run's exit code. */
export async function startRun(req: StartRequest): Promise<number> {
  const { run, files } = req;
  return await failRunOnError(run, async () => {
    logAndWriteMeta(run, "started", String(timestampMicros()));
    if (liveProjectDir(run) !== undefined) await refreshLiveSource(run, files);
    const env = runEnv(run, req.projectDir, req.op.env);
    let exitCode = 0;
    for (const name of ["run", "finalize-run"] as const) {
      const phase = phaseByName(name);
      const command = req.op.exec[name];
      if (command === undefined || exitCode !== 0) continue;
      exitCode = await runPhase(run, phase, command, {
        cwd: run.runDir,
        env,
        live: name === "run",
        interrupt: req.interrupt,
      });
      const changes = await logFileChanges(run, files, phase.type);
      for (const c of changes) {
        if (c.event === "m" && c.type !== "g") {
          logRunner(run, `File "${c.path}" was modified during the run`);
        }
      }
    }
    await writeSummary(run, req.op, req.warn);
    logRunner(run, "Finalizing run files (see manifest)");
    await writeManifestWarning(run, files, req.warn);
    stopRun(run, exitCode);
    return exitCode;
  });
}

/** Meta summary.json from the run's summary.json or its output, when there is one. */
async function writeSummary(run: Run, op: OpDef, warn?: (m: string) => void): Promise<void> {
  const summary = await collectSummary(run, op, (note) => {
    logRunner(run, `Warning: ${note}`);
    warn?.(note);
  });
  if (summary) logAndWriteMeta(run, "summary.json", metaJson(summary));
}

async function writeManifestWarning(run: Run, files: RunFiles, warn?: (m: string) => void) {
  for (const path of await writeManifest(run, files)) {
    const note = `file ${
      JSON.stringify(path)
    } left out of the manifest: its name holds a line break`;
    logRunner(run, `Warning: ${note}`);
    warn?.(note);
  }
}

/** `stopped`, then `proc/exit` last: a run reads as finished only once all is written. */
function stopRun(run: Run, exitCode: number): void {
  logAndWriteMeta(run, "stopped", String(timestampMicros()));
  logAndWriteMeta(run, "proc/exit", String(exitCode));
}

/**
 * Marks the run as failed when staging or running throws, so a failure never
 * leaves a run that looks pending forever, then reports the error.
 */
async function failRunOnError<T>(run: Run, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof RunInterrupted) {
      const code = -constants.signals[err.sig];
      logRunner(run, `Terminated by ${err.sig}`);
      stopRun(run, code);
      throw new RunstageError(`run ${run.name} terminated by ${err.sig} while staging`, 128 - code);
    }
    // One line for the log and the user: some errors quote whole commands.
    const message = (err instanceof Error ? err.message : String(err)).split("\n")[0];
    try {
      logRunner(run, `Error: ${message}`);
      stopRun(run, 1);
    } catch {
      // The meta dir itself is unwritable; the original error says more.
    }
    if (err instanceof RunstageError) throw err;
    throw new RunstageError(`run ${run.name} failed: ${message}`);
  }
}
