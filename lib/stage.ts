/**
 * Staging and running: the life of a run from an op definition to a finalized
 * run dir. `stageRun` validates, initialises meta, copies source code and runs
 * the staging phases; `startRun` runs the op and finalizes the run.
 */
import { mkdirSync, statSync } from "node:fs";
import { constants } from "node:os";
import { stat } from "node:fs/promises";
import { join, relative } from "node:path";
import process from "node:process";
import { timestampMicros } from "./clock.ts";
import { type CopiedFile, type CopyProgress, copySourceFiles } from "./copy.ts";
import { RunstageError } from "./errors.ts";
import { commandArgv, runEnv, runPhase, stagingEnv } from "./exec.ts";
import { type Interrupt, RunInterrupted } from "./interrupt.ts";
import { applyConfig, type ConfigPlan, parseFlags, planConfig, resolveConfig } from "./config.ts";
import {
  applyDepends,
  dependencyFlagNames,
  dependsMeta,
  readDepends,
  type ResolvedDependency,
  resolveDepends,
} from "./depends.ts";
import { checkOutputSummary, collectSummary } from "./summary.ts";
import { logAddedFiles, logFileChanges, type RunFiles } from "./fileslog.ts";
import { readManifest, writeManifest } from "./manifest.ts";
import {
  initRunMeta,
  logAndWriteMeta,
  logRunner,
  metaJson,
  pyRepr,
  removeMeta,
  type RunConfig,
  type RunInit,
  validateRunInit,
  writeMeta,
} from "./meta.ts";
import { type OpDef, type Phase, phaseByName, type PhaseName } from "./opdef.ts";
import { opNamespace, type Project } from "./project.ts";
import { makeRun, type Run } from "./run.ts";
import { parseSourcecodeRules, selectSourcecode, type SourceSelection } from "./sourcecode.ts";

export interface StageRequest {
  project: Project;
  op: OpDef;
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
}

export interface StageResult {
  run: Run;
  /** What runstage knows of the run dir's files, for `startRun` in the same process. */
  files: RunFiles;
  /** 0 when staged; else the exit code of the staging phase that failed. */
  exitCode: number;
}

const STAGING_PHASES: PhaseName[] = ["init-runtime", "resolve-dependencies"];

/** What staging resolved before writing anything. */
interface StagePlan {
  init: RunInit;
  config: ConfigPlan;
  depends: ResolvedDependency[];
}

/**
 * Everything that can be checked before a run is written: patterns, commands,
 * flags against the op's config, dependencies. Throws on bad input.
 */
export async function prepareStage(req: StageRequest): Promise<StagePlan> {
  checkSourcecodeRules(req.project, req.op);
  for (const command of Object.values(req.op.exec)) commandArgv(command);
  assertRunsHomeUsable(req.runsHome);
  const { depends, config, configPlan } = await inGageFile(req.project, async () => {
    checkOutputSummary(req.op);
    const deps = readDepends(req.op);
    const { picks, flags } = splitDependencyPicks(parseFlags(req.flags ?? []), deps);
    const configPlan = await planConfig(req.project.dir, req.op, { exclude: [req.runsHome] });
    const config = resolveConfig(configPlan, flags, req.op);
    const depends = await resolveDepends(deps, {
      projectDir: req.project.dir,
      runsHome: req.runsHome,
      picks,
    });
    return { depends, config, configPlan };
  });
  const init: RunInit = {
    opref: { namespace: opNamespace(req.project.dir), name: req.op.name },
    opdef: req.op,
    config,
    cmd: req.op.exec.run,
    env: req.op.env,
  };
  validateRunInit(init);
  return { init, config: configPlan, depends };
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

/** Stages a run of `req.op`: meta, source code, staging phases, manifest. */
export async function stageRun(req: StageRequest): Promise<StageResult> {
  const plan = await prepareStage(req);
  makeRunsHome(req.runsHome);
  const run = makeRun(req.runsHome);
  initRunMeta(run, plan.init, req.project.dir);
  const files: RunFiles = new Map();
  return await failRunOnError(run, async () => {
    let exitCode = await copySourcecode(req, plan, run, files);
    for (const name of STAGING_PHASES) {
      if (exitCode !== 0) break;
      req.interrupt?.check();
      if (name === "resolve-dependencies") await copyDependencies(run, plan.depends, files);
      exitCode = await runStagingPhase(req, run, files, phaseByName(name));
    }
    if (exitCode !== 0) {
      stopRun(run, exitCode);
      return { run, files, exitCode };
    }
    logRunner(run, "Finalizing staged files (see manifest)");
    await writeManifestWarning(run, files, req.warn);
    logAndWriteMeta(run, "staged", String(timestampMicros()));
    return { run, files, exitCode: 0 };
  });
}

/** Copies the selected files, then runs the op's `copy-sourcecode` exec. */
async function copySourcecode(
  req: StageRequest,
  plan: StagePlan,
  run: Run,
  files: RunFiles,
): Promise<number> {
  logRunner(run, "Copying source code (see log/files for details)");
  const selection = req.reuseSourceOf
    ? await sourceOfRun(req.reuseSourceOf)
    : await selectSourcecode(req.project.dir, req.op.sourcecode, { exclude: [req.runsHome] });
  // A dependency's files are its own (type d), even where source code has the same path.
  const dependencyPaths = new Set(plan.depends.flatMap((d) => d.files.map((f) => f.to)));
  selection.files = selection.files.filter((f) => !dependencyPaths.has(f.path));
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
  const copied = await copySourceFiles(
    selection.files,
    run.runDir,
    req.onProgress && ((p) => req.onProgress!({ ...p, ...totals })),
    { signal: req.interrupt?.signal },
  ).finally(() => removeMeta(run, "proc/lock"));
  req.interrupt?.check();
  const phase = phaseByName("copy-sourcecode");
  // Reused source already holds what the exec made the first time.
  const command = req.reuseSourceOf ? undefined : req.op.exec[phase.name];
  const exitCode = command === undefined ? 0 : await runPhase(run, phase, command, {
    cwd: req.project.dir,
    env: stagingEnv(run, req.project.dir),
    interrupt: req.interrupt,
  });
  const patched = exitCode === 0 && await applyRunConfig(run, plan);
  if (command === undefined && !patched) {
    // Nothing but the copy touched the run dir: no need to scan it.
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

async function runStagingPhase(req: StageRequest, run: Run, files: RunFiles, phase: Phase) {
  const command = req.op.exec[phase.name];
  if (command === undefined) return 0;
  const exitCode = await runPhase(run, phase, command, {
    cwd: run.runDir,
    env: stagingEnv(run, req.project.dir),
    interrupt: req.interrupt,
  });
  await logFileChanges(run, files, phase.type);
  return exitCode;
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
