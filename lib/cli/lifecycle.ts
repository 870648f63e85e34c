/**
 * What `run`, `start` and `rerun` share: stop signals routed to the run while
 * it lives, the op's output and notes shown on this process's terminal (lib/
 * below the CLI prints nothing), the run's end reported, and its exit code
 * made this process's.
 */
import { constants } from "node:os";
import process from "node:process";
import { escapeControl } from "../fs/quote.ts";
import { Interrupt } from "../interrupt.ts";
import type { OutputEcho } from "../stage/exec.ts";
import { type StartRequest, startRun } from "../stage/start.ts";
import { quotePath } from "../fs/quote.ts";
import {
  failedStagingPhase,
  phaseEchoToTerminal,
  ranFinalize,
  reportFailedPhase,
} from "./phaseoutput.ts";

/** Runs `body` with this process's stop signals routed to one Interrupt. */
export async function withInterrupt<T>(body: (interrupt: Interrupt) => Promise<T>): Promise<T> {
  const interrupt = new Interrupt();
  const stopListening = interrupt.listenToProcess();
  try {
    return await body(interrupt);
  } finally {
    stopListening();
  }
}

/** Things the user should know that do not stop the run. */
export function warnNote(message: string): void {
  process.stderr.write(`runstage: note: ${escapeControl(message)}\n`);
}

/** The op's output as it arrives: its stdout on ours, its stderr on ours. */
export const echoToTerminal: OutputEcho = (chunk, stream) => {
  (stream === 0 ? process.stdout : process.stderr).write(chunk);
};

/**
 * Runs a staged run with its output shown on this terminal, reports how it
 * ended and sets this process's exit code.
 */
export async function startAndReport(
  req: Omit<StartRequest, "echo">,
  announce: string,
): Promise<void> {
  process.stderr.write(`runstage: ${escapeControl(announce)} as ${req.run.name} (${req.run.id})\n`);
  const exitCode = await startRun({
    ...req,
    echo: echoToTerminal,
    phaseEcho: req.phaseEcho ?? phaseEchoToTerminal(),
  });
  const finalize = exitCode > 0 ? ranFinalize(req.run) : undefined;
  if (finalize) reportFailedPhase(req.run, finalize, exitCode);
  reportRunEnd(req.run.name, exitCode);
  process.exitCode = processExitCode(exitCode);
}

/** A staging phase failed: its last lines, where to read the rest, and exit with its code. */
export function reportStagingFailure(run: StartRequest["run"], exitCode: number): void {
  const phase = failedStagingPhase(run);
  if (phase) reportFailedPhase(run, phase, exitCode);
  process.stderr.write(
    `runstage: run ${run.name} failed while staging (exit code ${exitCode});` +
      ` see "runstage show ${run.name}" and its output in ${quotePath(`${run.metaDir}/output`)}\n`,
  );
  process.exitCode = processExitCode(exitCode);
}

/** `completed`, `failed (exit code 2)`, or `terminated by SIGINT (exit code -2)`. */
function reportRunEnd(name: string, exitCode: number): void {
  const signal = exitCode < 0 ? signalName(-exitCode) : undefined;
  const how = exitCode === 0
    ? "completed"
    : exitCode < 0
    ? `terminated${signal ? ` by ${signal}` : ""}`
    : "failed";
  const code = exitCode === 0 ? "" : ` (exit code ${exitCode})`;
  process.stderr.write(`runstage: run ${name} ${how}${code}\n`);
}

/** `SIGINT` for 2, as this system numbers signals. */
function signalName(n: number): string | undefined {
  return Object.entries(constants.signals).find(([, number]) => number === n)?.[0];
}

/** A run's exit code as this process's: a signal -N becomes 128+N, as shells do. */
export function processExitCode(code: number): number {
  return code < 0 ? 128 - code : code;
}
