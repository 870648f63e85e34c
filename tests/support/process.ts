/**
 * Processes as tests see them, read straight from /proc (so Linux only): is a
 * process alive, when did it start, and the owner tag runstage gives the
 * hidden dirs and temp files a process makes (lib/run/owner.ts), written here
 * on its own so that a test can name a dead, live or reused owner without
 * asking runstage's code.
 */
import { createHash } from "node:crypto";
import { hostname } from "node:os";

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

/** Polls `check` every `everyMs` until it holds; false if it still does not after `ms`. */
export async function waitUntil(check: () => boolean, ms = 5000, everyMs = 50): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return check();
}
