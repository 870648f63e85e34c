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
import type { ExecCommand, PhaseName } from "../gagefile/opdef.ts";
import { OutputWriter, type Stream } from "../run/output.ts";
import type { Run } from "../run/identity.ts";
import { lockForProcess } from "../run/lock.ts";
import { afterPhaseExit } from "./ending.ts";

/**
 * Every process a phase starts carries this variable, set to a tag of the
 * phase, so what it leaves behind can be found and ended (see `GUARD`).
 */
export const TAG_VARIABLE = "RUNSTAGE_PROCESS_TAG";

/** Exit code reported when a command cannot be started at all, as a shell does. */
export const EXIT_NOT_FOUND = 127;

/**
 * Where a phase's output is shown as it arrives, besides being captured: the
 * CLI passes one that writes to its terminal (lib/ itself prints nothing).
 * `stream` is 0 for the process's stdout, 1 for its stderr.
 */
export type OutputEcho = (chunk: Uint8Array, stream: Stream) => void;

/** The echo of each phase that is not the op's own (staging phases, finalize-run). */
export type PhaseEcho = (phase: PhaseName | "build-image") => OutputEcho | undefined;

export interface PhaseOptions {
  cwd: string;
  /** Variables the phase sets; they override inherited ones of the same name. */
  env: Record<string, string>;
  /** Where the phase's output is shown as it arrives, besides being captured. */
  echo?: OutputEcho;
  /** The phase reads this process's stdin (the op's `run`); else it reads nothing. */
  readsStdin?: boolean;
  /** The inherited environment; defaults to this process's. */
  baseEnv?: Record<string, string | undefined>;
  /** Stop signals for this run: forwarded to the phase's process group. */
  interrupt?: Interrupt;
  /**
   * A started run's phase: when its process ends, `proc/lock` passes back to
   * runstage in one atomic write, so the run never reads as anything but
   * running between phases. Else (staging) the lock is removed.
   */
  holdsRun?: boolean;
  /** Sees each whole line of output as it is captured (the op's scalars). */
  onLine?: (line: Uint8Array, stream: Stream) => void;
  /** Runs the command somewhere else than here: in a container (lib/stage/container.ts). */
  host?: PhaseHost;
}

/**
 * Where a phase's command runs when not here: `wrap` gives the argv that runs
 * it there with the phase's own variables (and the process tag); `end` is
 * called once the wrapping process has ended, however it ended.
 */
export interface PhaseHost {
  wrap(argv: string[], env: Record<string, string | undefined>): string[];
  end(): Promise<void>;
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
  phase: { name: string; output: string },
  command: ExecCommand,
  options: PhaseOptions,
): Promise<number> {
  const outputName = `output/${phase.output}`;
  logRunner(run, `Running ${phase.name} (see ${outputName} for output):`);
  logRunner(run, pyRepr(command));
  const output = new OutputWriter(join(run.metaDir, outputName), options.onLine);
  let code: number | undefined;
  try {
    code = await spawnCaptured(run, commandArgv(command), options, output);
  } finally {
    await options.host?.end();
    // A full or read-only meta dir fails the bookkeeping, not the op: the fault keeps its code.
    afterPhaseExit(code, () => {
      output.close();
      if (options.holdsRun) runMeta.lock.write(run, lockForProcess(process.pid));
      else runMeta.lock.remove(run);
      output.checkWritten();
    });
  }
  afterPhaseExit(code, () => logRunner(run, `Exit code for ${phase.name}: ${code}`));
  return code;
}

/**
 * Runs the op's command in its own process group under a small /bin/sh guard.
 * The guard starts a watchdog in the background, then execs the op, so the op
 * keeps the guard's pid, its stdin and normal signal handling (a background
 * job of a non-interactive shell would ignore SIGINT, and could not undo it).
 * The watchdog blocks reading fd 3, a pipe from runstage that is never written,
 * and ends the phase's processes when the read ends: when runstage dies, even
 * by SIGKILL, and when runstage closes the pipe after the op has exited. So no
 * process of the op outlives runstage. It ignores INT, TERM and HUP: a
 * forwarded Ctrl-C cannot disarm it.
 *
 * Ending them is `SWEEP`: every process whose environment carries the phase's
 * tag (`TAG_VARIABLE`, inherited by everything the op starts, also by what
 * leaves its process group with setsid or a double fork) is killed, read from
 * /proc where there is one, then the whole process group. The watchdog drops
 * the tag from its environment first, so the sweep never finds itself. It
 * holds fd 4 until it is done: runstage goes on only once nothing is left.
 */
const GUARD = `
sweep=$1; shift
case "$1" in */*) ;; *) command -v "$1" >/dev/null 2>&1 || { echo "runstage: $1: command not found" >&2; exit 127; } ;; esac
( trap '' INT TERM HUP; read _ <&3; exec 3<&-; tag=$${TAG_VARIABLE}; unset ${TAG_VARIABLE}; exec /bin/sh -c "$sweep" runstage-sweep "$tag" ) </dev/null >/dev/null 2>&1 &
exec 3<&- 4>&- "$@"
`;

/** Kills what carries tag $1, until nothing does (a few rounds: a process may fork meanwhile). */
const SWEEP = `
for _ in 1 2 3 4 5 6 7 8; do
  pids=$(grep -lzxF "${TAG_VARIABLE}=$1" /proc/[0-9]*/environ 2>/dev/null | sed 's|^/proc/\\([0-9]*\\)/environ$|\\1|')
  [ -n "$pids" ] || break
  kill -KILL $pids 2>/dev/null
done
kill -KILL 0
`;

/** Where the guard cannot run (no /bin/sh), commands run as they are. */
const USE_GUARD = process.platform !== "win32";

/** How long runstage waits for the sweep before it goes on regardless (a hung /proc read). */
const SWEEP_WAIT_MS = 10_000;

/**
 * The phase's environment: inherited, then the phase's own variables, then the
 * process tag; Python unbuffered unless either environment says otherwise, so
 * its lines arrive (and are timestamped) as they are printed.
 */
export function phaseEnv(
  options: Pick<PhaseOptions, "env" | "baseEnv">,
  tag: string,
): Record<string, string | undefined> {
  const base = options.baseEnv ?? process.env;
  const python = base.PYTHONUNBUFFERED === undefined && options.env.PYTHONUNBUFFERED === undefined
    ? { PYTHONUNBUFFERED: "1" }
    : {};
  return { ...base, ...python, ...options.env, [TAG_VARIABLE]: tag };
}

function spawnCaptured(
  run: Run,
  argv: string[],
  options: PhaseOptions,
  output: OutputWriter,
): Promise<number> {
  const tag = crypto.randomUUID();
  const env = phaseEnv(options, tag);
  // In a container, the phase's variables and the tag go in; the engine gets this environment.
  if (options.host) {
    argv = options.host.wrap(argv, phaseEnv({ env: options.env, baseEnv: {} }, tag));
  }
  const [cmd, ...args] = USE_GUARD
    ? ["/bin/sh", "-c", GUARD, "runstage-guard", SWEEP, ...argv]
    : argv;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env,
      detached: USE_GUARD,
      stdio: [
        options.readsStdin ? "inherit" : "ignore",
        "pipe",
        "pipe",
        ...(USE_GUARD ? ["pipe" as const, "pipe" as const] : []),
      ],
    });
    const stopForwarding = forwardInterrupts(child.pid, options.interrupt);
    if (child.pid !== undefined) {
      // Thrown here, a failed write (a full disk) would leave the op unwatched: it
      // fails the phase once the op has exited, as a failed output write does.
      try {
        runMeta.lock.write(run, lockForProcess(child.pid));
      } catch (err) {
        output.fail(err);
      }
    }
    const capture = (stream: Stream) => (chunk: Uint8Array) => {
      output.write(chunk, stream);
      options.echo?.(chunk, stream);
    };
    child.stdout!.on("data", capture(0));
    child.stderr!.on("data", capture(1));
    // Done when the op has exited, both output streams have ended and the sweep
    // is over. Not on "close": the watchdog holds fd 3 until runstage lets it go.
    const watchdog = child.stdio[4] as NodeJS.ReadableStream | null | undefined;
    const swept = watchdog ? sweepDone(watchdog) : Promise.resolve();
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
      // Releases the watchdog: it ends whatever the op left running, which also
      // lets the output streams end.
      child.stdio[3]?.destroy();
      Promise.all([ended, swept]).then(() => {
        stopForwarding();
        const received = options.interrupt?.received;
        // Stopped on the user's word: terminated by that signal, however the op exited.
        if (received) resolve(-constants.signals[received]);
        else resolve(signal ? -(constants.signals[signal] ?? 1) : (code ?? 1));
      });
    });
  });
}

/** The sweep has ended when the watchdog's fd 4 closes; it is bounded, should /proc hang. */
function sweepDone(stream: NodeJS.ReadableStream): Promise<void> {
  stream.resume();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, SWEEP_WAIT_MS);
  });
  return Promise.race([streamEnded(stream), bound]).finally(() => clearTimeout(timer));
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
