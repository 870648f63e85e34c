/**
 * The phase runner: every phase of a run goes through `runPhase`, which logs it,
 * runs its command with the phase's cwd and environment, captures its output with
 * timestamps, holds `proc/lock` while the process lives, and returns its exit code.
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { constants } from "node:os";
import { join } from "node:path";
import { RunstageError } from "../errors.ts";
import type { Interrupt } from "../interrupt.ts";
import { logRunner, pyRepr, runMeta } from "../run/meta.ts";
import type { ExecCommand, Phase } from "../gagefile/opdef.ts";
import { OutputWriter, type Stream } from "../run/output.ts";
import type { Run } from "../run/identity.ts";

/** Exit code reported when a command cannot be started at all, as a shell does. */
export const EXIT_NOT_FOUND = 127;

/**
 * Where a phase's output is shown as it arrives, besides being captured: the
 * CLI passes one that writes to its terminal (lib/ itself prints nothing).
 * `stream` is 0 for the process's stdout, 1 for its stderr.
 */
export type OutputEcho = (chunk: Uint8Array, stream: Stream) => void;

export interface PhaseOptions {
  cwd: string;
  /** Variables the phase sets; they override inherited ones of the same name. */
  env: Record<string, string>;
  /**
   * Run in the foreground: the phase reads this process's stdin, and its
   * output is shown through `echo` as it arrives.
   */
  echo?: OutputEcho;
  /** The inherited environment; defaults to this process's. */
  baseEnv?: Record<string, string | undefined>;
  /** Stop signals for this run: forwarded to the phase's process group. */
  interrupt?: Interrupt;
}

/** The argv that runs a command: a list as is, a string through the shell or its `#!PROG`. */
export function commandArgv(command: ExecCommand): string[] {
  if (Array.isArray(command)) return command;
  if (command.startsWith("#!")) {
    const nl = command.indexOf("\n");
    const prog = (nl === -1 ? command.slice(2) : command.slice(2, nl)).trim().split(/\s+/);
    if (!prog[0]) {
      throw new RunstageError(`"#!" command names no program: write "#!python" or similar`);
    }
    return [...prog, "-c", nl === -1 ? "" : command.slice(nl + 1)];
  }
  return process.platform === "win32"
    ? ["cmd.exe", "/d", "/s", "/c", command]
    : ["/bin/sh", "-c", command];
}

/** The environment of staging phases: `run_dir`, `run_id`, `project_dir`. */
export function stagingEnv(run: Run, projectDir: string): Record<string, string> {
  return { run_dir: run.runDir, run_id: run.id, project_dir: projectDir };
}

/** The environment of `run` and `finalize-run`: the op's env plus `RUN_DIR`, `RUN_ID`, `PROJECT_DIR`. */
export function runEnv(run: Run, projectDir: string, opEnv: Record<string, string>) {
  return { ...opEnv, RUN_DIR: run.runDir, RUN_ID: run.id, PROJECT_DIR: projectDir };
}

/**
 * Runs one phase's command and returns its exit code: the process's own, minus
 * the signal number when a signal ended it, or 127 when it could not start.
 */
export async function runPhase(
  run: Run,
  phase: Phase,
  command: ExecCommand,
  options: PhaseOptions,
): Promise<number> {
  const outputName = `output/${phase.output}`;
  logRunner(run, `Running ${phase.name} (see ${outputName} for output):`);
  logRunner(run, pyRepr(command));
  const output = new OutputWriter(join(run.metaDir, outputName));
  let code: number;
  try {
    code = await spawnCaptured(run, commandArgv(command), options, output);
  } finally {
    output.close();
    runMeta.lock.remove(run);
  }
  logRunner(run, `Exit code for ${phase.name}: ${code}`);
  return code;
}

/**
 * Runs the op's command in its own process group under a two-line /bin/sh guard.
 * The guard starts a watchdog in the background, then execs the op, so the op
 * keeps the guard's pid, its stdin and normal signal handling (a background
 * job of a non-interactive shell would ignore SIGINT, and could not undo it).
 * The watchdog blocks reading fd 3, a pipe from runstage that is never written,
 * and kills the whole group when the read ends: when runstage dies, even by
 * SIGKILL, and when runstage closes the pipe after the op has exited, which
 * also ends any process the op left behind. So no process of the op outlives
 * runstage. It ignores INT, TERM and HUP: a forwarded Ctrl-C cannot disarm it.
 */
const GUARD = `
case "$1" in */*) ;; *) command -v "$1" >/dev/null 2>&1 || { echo "runstage: $1: command not found" >&2; exit 127; } ;; esac
( trap '' INT TERM HUP; read _ <&3; kill -KILL 0 ) </dev/null >/dev/null 2>&1 &
exec 3<&- "$@"
`;

/** Where the guard cannot run (no /bin/sh), commands run as they are. */
const USE_GUARD = process.platform !== "win32";

function spawnCaptured(
  run: Run,
  argv: string[],
  options: PhaseOptions,
  output: OutputWriter,
): Promise<number> {
  const env = { ...(options.baseEnv ?? process.env), ...options.env };
  const [cmd, ...args] = USE_GUARD ? ["/bin/sh", "-c", GUARD, "runstage-guard", ...argv] : argv;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env,
      detached: USE_GUARD,
      stdio: [
        options.echo ? "inherit" : "ignore",
        "pipe",
        "pipe",
        ...(USE_GUARD ? ["pipe" as const] : []),
      ],
    });
    const stopForwarding = forwardInterrupts(child.pid, options.interrupt);
    if (child.pid !== undefined) runMeta.lock.write(run, child.pid);
    const capture = (stream: Stream) => (chunk: Uint8Array) => {
      output.write(chunk, stream);
      options.echo?.(chunk, stream);
    };
    child.stdout!.on("data", capture(0));
    child.stderr!.on("data", capture(1));
    // Done when the op has exited and both output streams have ended. Not on
    // "close": the watchdog holds fd 3 until runstage lets it go.
    const ended = Promise.all([child.stdout!, child.stderr!].map(streamEnded));
    child.on("error", (err: NodeJS.ErrnoException) => {
      // The command never ran: say why in its output, as a shell would.
      const reason = err.code === "ENOENT" ? "command not found" : err.message;
      const line = new TextEncoder().encode(`runstage: ${argv[0]}: ${reason}\n`);
      output.write(line, 1);
      options.echo?.(line, 1);
      stopForwarding();
      resolve(EXIT_NOT_FOUND);
    });
    child.on("exit", (code, signal) => {
      // Releases the watchdog: it ends whatever the op left running in its group,
      // which also lets the output streams end.
      child.stdio[3]?.destroy();
      ended.then(() => {
        stopForwarding();
        const received = options.interrupt?.received;
        // Stopped on the user's word: terminated by that signal, however the op exited.
        if (received) resolve(-constants.signals[received]);
        else resolve(signal ? -(constants.signals[signal] ?? 1) : (code ?? 1));
      });
    });
  });
}

function streamEnded(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.once("end", resolve);
    stream.once("close", resolve);
    stream.once("error", () => resolve());
  });
}

/**
 * Sends a stop signal to the phase's process group, and SIGKILL on a second
 * one. Returns the function that stops forwarding.
 */
function forwardInterrupts(pid: number | undefined, interrupt: Interrupt | undefined): () => void {
  if (pid === undefined || !interrupt) return () => {};
  const target = USE_GUARD ? -pid : pid;
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(target, sig);
    } catch {
      // Already gone.
    }
  };
  const onAbort = () => send(interrupt.received!);
  if (interrupt.signal.aborted) onAbort();
  else interrupt.signal.addEventListener("abort", onAbort, { once: true });
  const stopForce = interrupt.onForce(() => send("SIGKILL"));
  return () => {
    interrupt.signal.removeEventListener("abort", onAbort);
    stopForce();
  };
}
