/**
 * How a run ends, whatever ends it: the manifest written (with a warning for a
 * file whose name is not UTF-8), `stopped` and `proc/exit` in that order, and a run
 * that throws while staging or running marked failed or terminated, so no
 * failure leaves a run that looks pending forever.
 */
import { constants } from "node:os";
import { RunstageError } from "../errors.ts";
import { NOT_UTF8 } from "../fs/names.ts";
import { quotePath } from "../fs/quote.ts";
import { RunInterrupted } from "../interrupt.ts";
import type { RunFiles } from "../run/fileslog.ts";
import type { Run } from "../run/identity.ts";
import { writeManifest } from "../run/manifest.ts";
import { logRunner, runMeta } from "../run/meta.ts";
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

/** `stopped`, then `proc/exit` last: a run reads as finished only once all is written. */
export function stopRun(run: Run, exitCode: number): void {
  runMeta.stopped.record(run, timestampMicros());
  runMeta.exit.record(run, exitCode);
}

/**
 * Marks the run as failed when staging or running throws, so a failure never
 * leaves a run that looks pending forever, then reports the error.
 */
export async function failRunOnError<T>(run: Run, work: () => Promise<T>): Promise<T> {
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
