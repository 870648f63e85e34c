/**
 * Staging: a run from an op definition to a staged run dir. `stageRun` opens
 * the stager for the requested source, plans the run (lib/stage/plan.ts),
 * initialises meta, places the source code, runs the staging phases and
 * writes the manifest; lib/stage/start.ts runs the op.
 */
import { mkdirSync, rmSync } from "node:fs";
import process from "node:process";
import { timestampMicros } from "../run/clock.ts";
import { RunstageError } from "../errors.ts";
import { runPhase, stagingEnv } from "./exec.ts";
import { applyDepends, dependsMeta, type ResolvedDependency } from "../depends/depends.ts";
import { RunFiles } from "../run/fileslog.ts";
import { initRunMeta, logRunner, runMeta } from "../run/meta.ts";
import { type OpDef, type Phase, phaseByName, type PhaseName } from "../gagefile/opdef.ts";
import type { Project } from "../gagefile/project.ts";
import { makeRun, type Run } from "../run/identity.ts";
import type { SourceSelection } from "../source/select.ts";
import { checkSourcecodeRules, planRun, type SelectionMemo, type StagePlan } from "./plan.ts";
import { placeSourcecode, type SourcecodeOptions } from "./sourcecode.ts";
import { failRunOnError, stopRun, writeManifestWarning } from "./ending.ts";
import { openStager } from "./sources/open.ts";
import { containerEngine, phaseHost, prepareImage } from "./container.ts";
import type { Engine } from "../container/engine.ts";
import type { SourceStager } from "./sources/stager.ts";
import { quotePath } from "../fs/quote.ts";
import {
  asWriteFault,
  checkWritableDir,
  freeBytes,
  WriteFault,
  writeFaultKind,
} from "../fs/writefault.ts";

export interface StageRequest extends SourcecodeOptions {
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
  /** `--source`: worktree, git:REF or auto; the op's `source` when not given. */
  source?: string;
  /** Link the source files into the project instead of copying them (a live run). */
  live?: boolean;
  /** Where `--source auto` looks for a CI commit; the process environment when not given. */
  env?: Record<string, string | undefined>;
  /** A sweep's shared source selection: its first trial fills it, the rest reuse it. */
  selectionMemo?: SelectionMemo;
  /** `--engine`, else the project's `"$container-engine"`: the engine of an op in a container. */
  engine?: string;
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

/**
 * Stages a run of `req.op`: meta, source code, staging phases, manifest. The
 * code comes from the source the request names (see lib/stage/sources/).
 */
export async function stageRun(req: StageRequest): Promise<StageResult> {
  // A runs home that cannot be written is one line before anything is done.
  checkWritableDir(req.runsHome);
  const stager = await openStager({ ...req, env: req.env ?? process.env });
  try {
    // No engine for an op in a container: one line, before anything is written.
    const engine = containerEngine(stager.source.op, req.engine);
    const plan = await planRun(stager, {
      project: req.project,
      runsHome: req.runsHome,
      values: { from: "flags", flags: req.flags ?? [] },
      signal: req.interrupt?.signal,
      memo: req.selectionMemo,
    });
    return await stagePlannedRun(req, stager, plan, engine);
  } finally {
    await stager.dispose();
  }
}

/** The files a run would get, from the source it would get them from; writes nothing. */
export async function previewStage(
  req: Pick<StageRequest, "project" | "op" | "opName" | "runsHome" | "source" | "env"> & {
    signal?: AbortSignal;
  },
): Promise<SourceSelection> {
  const stager = await openStager({ ...req, env: req.env ?? process.env });
  try {
    checkSourcecodeRules(stager.source.project, stager.source.op);
    return await stager.select(req.runsHome, req.signal);
  } finally {
    await stager.dispose();
  }
}

async function stagePlannedRun(
  req: StageRequest,
  stager: SourceStager,
  plan: StagePlan,
  engine?: Engine,
): Promise<StageResult> {
  const run = createRun(req, plan);
  const files = new RunFiles(run);
  const op = stager.source.op;
  return await failRunOnError(run, async () => {
    stager.recordSource(run);
    let exitCode = await placeSourcecode(run, stager, plan, files, req);
    if (exitCode === 0 && engine) {
      await prepareImage(run, op, engine, {
        projectDir: stager.source.project.dir,
        runsHome: req.runsHome,
        interrupt: req.interrupt,
        echo: req.phaseEcho?.("build-image"),
        warn: req.warn,
      });
    }
    for (const name of STAGING_PHASES) {
      if (exitCode !== 0) break;
      req.interrupt?.check();
      if (name === "resolve-dependencies") await copyDependencies(run, plan.depends, files);
      exitCode = await runStagingPhase(req, stager, run, files, phaseByName(name));
    }
    if (exitCode !== 0) {
      stopRun(run, exitCode);
      return { run, op, files, exitCode };
    }
    logRunner(run, "Finalizing staged files (see manifest)");
    await writeManifestWarning(run, files, req.warn);
    runMeta.staged.record(run, timestampMicros());
    return { run, op, files, exitCode: 0 };
  }, { makeRoom: () => emptyRunDir(run) });
}

/** Room for a run's meta beyond its source files: a few dozen small files, logs and output. */
const META_ROOM = 256 * 1024;

/**
 * Makes the run's meta dir, run dir and `.project`, once the disk has room for
 * the source files and some meta. A run that cannot be made entirely is
 * removed, so a full disk never leaves a run that reads as unknown or pending.
 */
function createRun(req: StageRequest, plan: StagePlan): Run {
  makeRunsHome(req.runsHome);
  checkRoom(req.runsHome, req.live ? [] : plan.selection.files);
  const run = makeRun(req.runsHome);
  try {
    initRunMeta(run, plan.init, req.project.dir);
  } catch (err) {
    for (const part of [run.metaDir, run.runDir, run.projectRef]) {
      rmSync(part, { recursive: true, force: true });
    }
    throw err;
  }
  return run;
}

/** Refuses, before a run is made, one whose copies would not fit (links take no room). */
function checkRoom(runsHome: string, copied: { size: number }[]): void {
  const space = freeBytes(runsHome);
  if (space === undefined) return;
  const block = space.blockSize || 1;
  const needed = copied.reduce((sum, f) => sum + Math.ceil(f.size / block) * block, META_ROOM);
  if (space.free >= needed) return;
  throw new WriteFault(
    "full",
    runsHome,
    `the disk is full: the runs home ${quotePath(runsHome)} has ${kibibytes(space.free)} free,` +
      ` and this run needs about ${kibibytes(needed)}; free some space on its file system, or` +
      ` pass --runs DIR`,
  );
}

function kibibytes(bytes: number): string {
  return `${Math.ceil(bytes / 1024)} KiB`;
}

/**
 * A run that failed staging on a full disk cannot be started: its partial
 * copy goes when nothing else makes room to record how it ended.
 */
function emptyRunDir(run: Run): void {
  rmSync(run.runDir, { recursive: true, force: true });
  mkdirSync(run.runDir);
}

/** Creates the runs home; failing (a parent is a file, say) is the user's to fix, not a crash. */
function makeRunsHome(runsHome: string): void {
  try {
    mkdirSync(runsHome, { recursive: true });
  } catch (err) {
    if (writeFaultKind(err) !== undefined) throw asWriteFault(err, runsHome);
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === "ENOTDIR" ? "part of its path is a file" : code ?? String(err);
    throw new RunstageError(
      `cannot create runs home ${quotePath(runsHome)} (${reason}): pass --runs DIR`,
    );
  }
}

/** Copies or links the resolved dependencies into the run dir (type d) and records them. */
async function copyDependencies(run: Run, depends: ResolvedDependency[], files: RunFiles) {
  if (depends.length === 0) return;
  logRunner(run, "Resolving dependencies (see deps.json)");
  const copied = await applyDepends(run.runDir, depends);
  await files.logChanges("d");
  files.trustDigests(copied);
  runMeta.deps.record(run, dependsMeta(depends));
}

async function runStagingPhase(
  req: StageRequest,
  stager: SourceStager,
  run: Run,
  files: RunFiles,
  phase: Phase,
) {
  const command = stager.source.op.exec[phase.name];
  if (command === undefined) return 0;
  await files.settle();
  const exitCode = await runPhase(run, phase, command, {
    cwd: run.runDir,
    env: stagingEnv(run, stager.source.project.dir),
    interrupt: req.interrupt,
    echo: req.phaseEcho?.(phase.name),
    host: phaseHost(run, stager.source.op, phase.name, req),
  });
  await files.logChanges(phase.type);
  return exitCode;
}
