/**
 * How a run ends, whatever ends it: the manifest written (with a warning for a
 * file whose name is not UTF-8), `stopped` and `proc/exit` in that order, and a run
 * that throws while staging or running marked failed or terminated, so no
 * failure leaves a run that looks pending forever. A full disk or a read-only
 * meta dir (a WriteFault) ends the run with whatever meta it still takes.
 */
import { constants } from "node:os";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { WriteFault } from "../fs/writefault.ts";
import { NOT_UTF8 } from "../fs/names.ts";
import { quotePath } from "../fs/quote.ts";
import { RunInterrupted } from "../interrupt.ts";
import type { RunFiles } from "../run/fileslog.ts";
import type { Run } from "../run/identity.ts";
import { writeManifest } from "../run/manifest.ts";
import { logRunner, runMeta } from "../run/meta.ts";
import { lockForProcess } from "../run/lock.ts";
import { timestampMicros } from "../run/clock.ts";

/** Writes the manifest; a file whose name is not UTF-8 is left out, with a warning. */
export async function writeManifestWarning(
  run: Run,
  files: RunFiles,
  warn?: (m: string) => void,
): Promise<void> {
  for (const path of await writeManifest(run, files)) {
    const note = `file ${quotePath(path)} left out of the manifest: ${NOT_UTF8}`;
    logRunner(run, `Warning: ${note}`);
    warn?.(note);
  }
}

/**
 * `stopped`, then `proc/exit` last: a run reads as finished only once all is
 * written. Then runstage lets go of the run (`holdRun`).
 */
export function stopRun(run: Run, exitCode: number): void {
  runMeta.stopped.record(run, timestampMicros());
  runMeta.exit.record(run, exitCode);
  runMeta.lock.remove(run);
}

/**
 * runstage's own `proc/lock` between the phases of a started run and while it
 * finishes it, so the run reads as running until `proc/exit` says how it
 * ended, and never as staged, which `start` would run a second time.
 */
export function holdRun(run: Run): void {
  runMeta.lock.write(run, lockForProcess(process.pid));
}

/**
 * The bookkeeping after a phase's process has ended with `code` (undefined when
 * it never ran): a write fault in it carries that code, so a run stopped by a
 * full disk still ends with the op's own exit code.
 */
export function afterPhaseExit<T>(code: number | undefined, work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof WriteFault && code !== undefined) err.phaseExitCode ??= code;
    throw err;
  }
}

export interface FailOptions {
  /** The exit code of the last phase that ran: a write fault after it keeps it. */
  exitCode?: () => number;
  /**
   * Frees room on a full disk when not even the run's end can be recorded
   * (staging: the run dir's partial copy, which no start can use).
   */
  makeRoom?: () => void;
}

/**
 * Marks the run as failed when staging or running throws, so a failure never
 * leaves a run that looks pending or staged forever, then reports the error.
 */
export async function failRunOnError<T>(
  run: Run,
  work: () => Promise<T>,
  options: FailOptions = {},
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof RunInterrupted) {
      const code = -constants.signals[err.sig];
      recordEnd(run, `Terminated by ${err.sig}`, code);
      throw new RunstageError(`run ${run.name} terminated by ${err.sig} while staging`, 128 - code);
    }
    if (err instanceof WriteFault) throw endForFault(run, err, options);
    // One line for the log and the user: some errors quote whole commands.
    const message = (err instanceof Error ? err.message : String(err)).split("\n")[0];
    recordEnd(run, `Error: ${message}`, 1);
    if (err instanceof RunstageError) throw err;
    throw new RunstageError(`run ${run.name} failed: ${message}`);
  }
}

/**
 * A run a write fault stopped ends as error, with the op's exit code when the
 * op failed (a full disk often fails it first), with whatever meta the file
 * system still takes. Returns the one line for the user.
 */
function endForFault(run: Run, fault: WriteFault, options: FailOptions): RunstageError {
  const phaseCode = fault.phaseExitCode ?? options.exitCode?.() ?? 0;
  const code = phaseCode === 0 ? 1 : phaseCode;
  const note = `Error: ${fault.message}`;
  if (!recordEnd(run, note, code) && fault.kind === "full" && options.makeRoom) {
    try {
      options.makeRoom();
      recordEnd(run, `${note} (the run dir was emptied to make room for this record)`, code);
    } catch {
      // Nothing more to free: the run's meta says what the disk allowed.
    }
  }
  const how = code === 1 ? "" : ` (exit code ${code})`;
  return new RunstageError(
    `run ${run.name} failed${how}: ${fault.message}`,
    code < 0 ? 128 - code : code,
  );
}

/**
 * Records how a run ended with whatever meta the file system still takes: the
 * note in the runner log, `stopped`, `proc/exit`, each tried on its own, then
 * runstage's lock let go. Returns whether `proc/exit`, the status, was written.
 */
function recordEnd(run: Run, note: string, code: number): boolean {
  attempt(() => logRunner(run, note));
  attempt(() => runMeta.stopped.record(run, timestampMicros())) ||
    attempt(() => runMeta.stopped.write(run, timestampMicros()));
  const ended = attempt(() => runMeta.exit.record(run, code)) ||
    attempt(() => runMeta.exit.write(run, code));
  attempt(() => runMeta.lock.remove(run));
  return ended;
}

/** Whether `write` went through; a meta dir that refuses it is what this is for. */
function attempt(write: () => void): boolean {
  try {
    write();
    return true;
  } catch {
    return false;
  }
}
