/**
 * The source code step of staging and restaging: the stager places the
 * selected files (a copy, or links for a live run), `copy-sourcecode` runs
 * where the stager has one, the run's config values are written into its
 * copies of the config files, and all of it lands in the files log.
 */
import process from "node:process";
import { applyConfig } from "../config/config.ts";
import type { CopyProgress } from "../copy/copy.ts";
import { quotePath } from "../fs/quote.ts";
import { phaseByName } from "../gagefile/opdef.ts";
import type { Interrupt } from "../interrupt.ts";
import type { RunFiles } from "../run/fileslog.ts";
import type { Run } from "../run/identity.ts";
import { logRunner, pyRepr, runMeta } from "../run/meta.ts";
import { lockForProcess } from "../run/lock.ts";
import type { SourceSelection } from "../source/select.ts";
import { type PhaseEcho, runPhase, stagingEnv } from "./exec.ts";
import type { StagePlan } from "./plan.ts";
import type { SourceStager } from "./sources/stager.ts";

export interface SourcecodeOptions {
  /** Copy progress with the totals, for a progress display. */
  onProgress?: (progress: CopyProgress & { totalFiles: number; totalBytes: number }) => void;
  /** Things the user should know that do not stop the run (files left out, broken links). */
  warn?: (message: string) => void;
  interrupt?: Interrupt;
  /** Where the output of staging phases is shown as it arrives. */
  phaseEcho?: PhaseEcho;
}

/**
 * Places the planned source files, then runs `copy-sourcecode` and applies the
 * config. Returns the exit code of `copy-sourcecode` (0 when it has none).
 */
export async function placeSourcecode(
  run: Run,
  stager: SourceStager,
  plan: StagePlan,
  files: RunFiles,
  options: SourcecodeOptions,
): Promise<number> {
  logRunner(run, "Copying source code (see log/files for details)");
  const selection = plan.selection;
  logRunner(run, `Source code patterns: ${pyRepr(selection.patterns)}`);
  reportSelection(run, selection, options.warn);
  options.interrupt?.check();
  const totals = {
    totalFiles: selection.files.length,
    totalBytes: selection.files.reduce((sum, f) => sum + f.size, 0),
  };
  const onProgress = options.onProgress;
  // One object, updated in place: copy progress comes per file and must stay cheap.
  const shown = { files: 0, bytes: 0, ...totals };
  // runstage itself is this phase's process while it copies: a kill -9 now
  // leaves a lock naming a dead pid, so the run reads as terminated.
  runMeta.lock.write(run, lockForProcess(process.pid));
  const placed = await stager.place(selection.files, run.runDir, {
    onProgress: onProgress && ((p) => {
      shown.files = p.files;
      shown.bytes = p.bytes;
      onProgress(shown);
    }),
    signal: options.interrupt?.signal,
    runsHome: run.runsHome,
  }).finally(() => runMeta.lock.remove(run));
  options.interrupt?.check();
  const phase = phaseByName("copy-sourcecode");
  const command = stager.copyCommand;
  // The exec and the config rewrite copies: their writes must date past the copy's.
  if (command !== undefined || plan.config.files.length > 0) await files.settle(placed);
  // The exec sees the project its code came from: a commit's tree for a git origin.
  const exitCode = command === undefined ? 0 : await runPhase(run, phase, command, {
    cwd: stager.source.project.dir,
    env: stagingEnv(run, stager.source.project.dir),
    interrupt: options.interrupt,
    echo: options.phaseEcho?.(phase.name),
  });
  const patched = exitCode === 0 && await applyRunConfig(run, plan);
  if (command === undefined && !patched && files.size === 0) {
    // Nothing but the copy touched a fresh run dir: no need to scan it.
    files.logWritten(placed, phase.type);
  } else {
    await files.logChanges(phase.type);
    files.trustDigests(placed);
  }
  return exitCode;
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
  runMeta.patched.write(run, applied.map((a) => a.diff).join(""));
  return true;
}

function reportSelection(run: Run, selection: SourceSelection, warn?: (m: string) => void) {
  const notes = [
    ...selection.leftOut.map((l) =>
      `${l.count} source file${l.count === 1 ? "" : "s"} left out: ${l.reason}` +
      ` (e.g. ${l.examples.map(quotePath).join(", ")}); add a sourcecode rule to include them`
    ),
    ...selection.warnings,
  ];
  for (const note of notes) {
    logRunner(run, `Source code: ${note}`);
    warn?.(note);
  }
}
