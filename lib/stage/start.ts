/**
 * Starting a staged run: the op's `run` phase in the foreground (its output
 * shown through the caller's echo as it is captured), then `finalize-run`, the
 * summary, the manifest rewritten with what the run made, and the run's end.
 */
import { quotePath } from "../fs/quote.ts";
import { checkWritableDir } from "../fs/writefault.ts";
import type { Interrupt } from "../interrupt.ts";
import type { OpDef } from "../gagefile/opdef.ts";
import { phaseByName } from "../gagefile/opdef.ts";
import { timestampMicros } from "../run/clock.ts";
import type { RunFiles } from "../run/fileslog.ts";
import type { Run } from "../run/identity.ts";
import { logRunner, runMeta } from "../run/meta.ts";
import { liveProjectDir } from "../run/projectdir.ts";
import { failRunOnError, holdRun, stopRun, writeManifestWarning } from "./ending.ts";
import { type OutputEcho, type PhaseEcho, runEnv, runPhase } from "./exec.ts";
import { refreshLiveSource } from "./live.ts";
import { collectSummary } from "./summary.ts";
import { checkContainer, phaseHost } from "./container.ts";
import { recordRunDirScalars, RUN_SCALARS_FILE, ScalarCapture, scalarRules } from "./scalars.ts";

export interface StartRequest {
  run: Run;
  files: RunFiles;
  op: OpDef;
  projectDir: string;
  /** Where the `run` phase's output is shown as it arrives (the CLI's terminal). */
  echo: OutputEcho;
  /** Where finalize-run's output is shown as it arrives. */
  phaseEcho?: PhaseEcho;
  warn?: (message: string) => void;
  interrupt?: Interrupt;
  /** `--engine`: the engine of an op in a container, instead of the one it was staged with. */
  engine?: string;
}

/**
 * Runs the op of a staged run and finalizes it. Returns the run's exit code.
 * A meta dir that cannot be written fails it before the op runs, the run still
 * staged; from `started` on, the run never reads as staged again.
 */
export async function startRun(req: StartRequest): Promise<number> {
  const { run, files } = req;
  checkWritableDir(run.metaDir);
  // An op in a container with no engine here: one line, the run still staged.
  checkContainer(run, req.op, req.engine);
  // Held before `started` is written: a started run with no lock reads as error.
  holdRun(run);
  runMeta.started.record(run, timestampMicros());
  let exitCode = 0;
  return await failRunOnError(run, async () => {
    if (liveProjectDir(run) !== undefined) await refreshLiveSource(run, files);
    const env = runEnv(run, req.projectDir, req.op.env);
    const scalars = new ScalarCapture(run, scalarRules(req.op));
    for (const name of ["run", "finalize-run"] as const) {
      const phase = phaseByName(name);
      const command = req.op.exec[name];
      if (command === undefined || exitCode !== 0) continue;
      await files.settle();
      exitCode = await runPhase(run, phase, command, {
        cwd: run.runDir,
        env,
        echo: name === "run" ? req.echo : req.phaseEcho?.(name),
        readsStdin: name === "run",
        onLine: name === "run" ? scalars.line.bind(scalars) : undefined,
        interrupt: req.interrupt,
        holdsRun: true,
        host: phaseHost(run, req.op, name, { ...req, interactive: name === "run" }),
      });
      const changes = await files.logChanges(phase.type);
      for (const c of changes) {
        if (c.event === "m" && c.type !== "g") {
          logRunner(run, `File ${quotePath(c.path)} was modified during the run`);
        }
      }
    }
    noteRunDirScalars(run, req.warn);
    await writeSummary(run, req.op, req.warn);
    logRunner(run, "Finalizing run files (see manifest)");
    await writeManifestWarning(run, files, req.warn);
    stopRun(run, exitCode);
    return exitCode;
  }, { exitCode: () => exitCode });
}

/** Meta summary.json from the run's summary.json or its output, when there is one. */
async function writeSummary(run: Run, op: OpDef, warn?: (m: string) => void): Promise<void> {
  const summary = await collectSummary(run, op, (note) => {
    logRunner(run, `Warning: ${note}`);
    warn?.(note);
  });
  if (summary) runMeta.summary.record(run, summary);
}

/** The history the op wrote itself (scalars.jsonl), with a note for lines that are not JSON. */
function noteRunDirScalars(run: Run, warn?: (m: string) => void): void {
  const { skipped } = recordRunDirScalars(run);
  if (skipped === 0) return;
  const note = `${skipped} line${skipped === 1 ? "" : "s"} of ${RUN_SCALARS_FILE} ` +
    "skipped: each line must be a JSON object of numbers";
  logRunner(run, `Warning: ${note}`);
  warn?.(note);
}
