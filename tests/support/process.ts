/**
 * Processes as tests see them, read straight from /proc (so Linux only): is a
 * process alive, when did it start, and the owner tag runstage gives the
 * hidden dirs and temp files a process makes (lib/run/owner.ts), written here
 * on its own so that a test can name a dead, live or reused owner without
 * asking runstage's code; and waiting for a process to get somewhere.
 */
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import type { Spawned } from "./cli.ts";

/** The fields of /proc/PID/stat after the command name: [0] is field 3 (state). */
function statFields(pid: number): string[] {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name is in parentheses and may hold spaces.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Alive and not a zombie, read from /proc. */
export function alive(pid: number): boolean {
  try {
    return statFields(pid)[0] !== "Z";
  } catch {
    return false;
  }
}

/** When `pid` started, in clock ticks since boot: field 22 of /proc/PID/stat. */
export function startTicks(pid: number): string {
  return statFields(pid)[19];
}

/** CPU time the process has used, in clock ticks (utime + stime), from /proc. */
export function cpuTicks(pid: number): number {
  const fields = statFields(pid);
  return Number(fields[11]) + Number(fields[12]);
}

/** The owner tag runstage gives what `pid` makes: pid, start time ("x": unknown), host digest. */
export function ownerTag(pid: number, start = "x"): string {
  const host = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
  return `${pid}.${start}.${host}`;
}

/** The pid of a process that has exited: surely no one's now (pids are not reused this soon). */
export async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

export interface WaitOptions {
  /** Fail at once when this runstage ends before `check` holds. */
  spawned?: Spawned;
  /** Give up after this long (and kill `spawned`); generous, since only a hang reaches it. */
  ms?: number;
  /** How often to look. */
  everyMs?: number;
  /** What is waited for, for the message of a failure. */
  what?: string;
}

/**
 * Polls `check` until it holds. Throws when `spawned` ends first (with its
 * stderr), or after `ms` (killing `spawned`): a test that waits never hangs.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  { spawned, ms = 120_000, everyMs = 10, what = "what it waited for" }: WaitOptions = {},
): Promise<void> {
  const giveUp = Date.now() + ms;
  while (!(await check())) {
    if (spawned?.exited()) {
      const { code, stderr } = await spawned.result;
      throw new Error(`runstage ended (code ${code}) before ${what}: ${stderr}`);
    }
    if (Date.now() > giveUp) {
      spawned?.child.kill("SIGKILL");
      throw new Error(`${what}: not after ${ms} ms`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
