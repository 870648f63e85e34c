/**
 * A process as this host's kernel knows it: its pid, when it started and the
 * host it runs on. Two things name a process that may be gone, `proc/lock`
 * (lib/run/lock.ts) and the owner tags of hidden work dirs (lib/run/owner.ts);
 * both ask here who this process is and whether a named one still lives, so
 * a pid the system has since given to another process is never taken for
 * the one that was named, whichever of them names it.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import process from "node:process";

/** A process of this host. */
export interface ProcessIdentity {
  pid: number;
  /**
   * Its start time as the kernel tells it: on Linux, field 22 of
   * /proc/PID/stat (clock ticks since boot). Absent where there is no /proc
   * (macOS, Windows): there the pid is all there is.
   */
  start?: string;
}

/** This host's name, as the system gives it; lock and owner tag each write it their way. */
export function hostName(): string {
  return hostname();
}

/** The process `pid` (this process unless given), with its start time where the system tells it. */
export function processIdentity(pid: number = process.pid): ProcessIdentity {
  const start = procStat(pid)?.start;
  return start === undefined ? { pid } : { pid, start };
}

/**
 * Whether the process `pid` of this host lives and is the one that started at
 * `start`: a live pid that started at another time was reused. Where either
 * start time is unknown, the live pid is taken for it.
 */
export function processLives({ pid, start }: ProcessIdentity): boolean {
  if (!processAlive(pid)) return false;
  const now = procStat(pid)?.start;
  return start === undefined || now === undefined || now === start;
}

/**
 * Alive and not a zombie. A zombie is dead but still answers kill(pid, 0): the
 * op of a runstage that was killed is reparented and, once the watchdog has
 * killed it, may wait a while for its new parent to reap it.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return procStat(pid)?.state !== "Z";
}

/**
 * When the process `pid` started, in ms since the epoch (Linux): boot time plus
 * its start ticks of USER_HZ, which is 100 on every architecture Linux runs on
 * today. Undefined without /proc.
 */
export function processStartedAtMs(pid: number): number | undefined {
  const start = procStat(pid)?.start;
  const btime = bootTimeMs();
  return start === undefined || btime === undefined ? undefined : btime + Number(start) * 10;
}

/** A process's state and start time from /proc/PID/stat; undefined without /proc. */
function procStat(pid: number): { state: string; start?: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The fields after the command name, which is in parentheses and may hold
  // spaces: the first is field 3 (state), so field 22 (starttime) is the 20th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const start = fields[19];
  return { state: fields[0], ...(/^\d+$/.test(start ?? "") ? { start } : {}) };
}

function bootTimeMs(): number | undefined {
  try {
    const line = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    return line ? Number(line[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}
