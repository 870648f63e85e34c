/**
 * The output of the phases around the op (staging phases and finalize-run) on
 * this terminal: shown as it arrives, each line marked with its phase, so a
 * setup that takes minutes is never a blank screen; and for a phase that
 * failed, its last lines and the exact command that prints all of it.
 */
import { Buffer } from "node:buffer";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { escapeControl, quotePath } from "../fs/quote.ts";
import { type Phase, phaseByName, type PhaseName, PHASES } from "../gagefile/opdef.ts";
import type { Run } from "../run/identity.ts";
import { readOutput } from "../run/output.ts";
import type { OutputEcho, PhaseEcho } from "../stage/exec.ts";

/** How many of a failed phase's last lines are shown. */
const LAST_LINES = 10;

const NEWLINE = 0x0a;

/**
 * Each phase's output on our stdout or stderr as the phase wrote it, every
 * line starting with `[phase] `. `beforeOutput` runs first (a progress line
 * clears itself).
 */
export function phaseEchoToTerminal(beforeOutput: () => void = () => {}): PhaseEcho {
  return (phase) => prefixedEcho(`[${phase}] `, beforeOutput);
}

function prefixedEcho(prefix: string, beforeOutput: () => void): OutputEcho {
  const marker = new TextEncoder().encode(prefix);
  // Per stream: whether the next byte starts a line.
  const atLineStart = [true, true];
  return (chunk, stream) => {
    beforeOutput();
    const out = stream === 0 ? process.stdout : process.stderr;
    const parts: Uint8Array[] = [];
    let start = 0;
    while (start < chunk.length) {
      if (atLineStart[stream]) parts.push(marker);
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? chunk.length : nl + 1;
      parts.push(chunk.subarray(start, end));
      atLineStart[stream] = nl !== -1;
      start = end;
    }
    out.write(Buffer.concat(parts));
  };
}

/** The staging phase that failed: the last one with output (staging stops at the first failure). */
export function failedStagingPhase(run: Run): Phase | undefined {
  const staging = PHASES.filter((p) => p.name !== "run" && p.name !== "finalize-run");
  return staging.findLast((p) => existsSync(outputPath(run, p)));
}

/** finalize-run, when it ran: it runs only after the op succeeded, so a failed run's is what failed. */
export function ranFinalize(run: Run): Phase | undefined {
  const phase = phaseByName("finalize-run");
  return existsSync(outputPath(run, phase)) ? phase : undefined;
}

/**
 * `runstage: init-runtime failed (exit code 2); its last lines:`, those lines,
 * and the command that prints its whole output.
 */
export function reportFailedPhase(run: Run, phase: Phase, exitCode: number): void {
  let lines: string[] = [];
  try {
    lines = readOutput(outputPath(run, phase)).map((l) => l.text.replace(/\r?\n$/, ""));
  } catch {
    // Unreadable: the command below says where it is.
  }
  const last = lines.slice(-LAST_LINES);
  const err = process.stderr;
  const shown = last.length === 0
    ? "; it printed nothing"
    : lines.length > last.length
    ? `; its last ${last.length} lines:`
    : ":";
  err.write(`runstage: ${phase.name} failed (exit code ${exitCode})${shown}\n`);
  for (const line of last) err.write(`  ${escapeControl(line)}\n`);
  err.write(`runstage: all of its output: ${catCommand(run, phase.name)}\n`);
}

/** The command that prints a phase's output, whatever the runs home and the cwd. */
function catCommand(run: Run, phase: PhaseName): string {
  return `runstage --runs ${quotePath(dirname(run.metaDir))} cat ${run.name} --output ${phase}`;
}

function outputPath(run: Run, phase: Phase): string {
  return join(run.metaDir, "output", phase.output);
}
