/**
 * Whose process a run is: meta `proc/lock` names the process working on a run
 * by its pid, the host it runs on and its start time, so a pid the system has
 * since given to another process, or a pid of another host, is never taken for
 * the run's process (lib/run/process.ts judges). Old locks hold a pid alone;
 * they are still read (see `lockHolder`).
 */
import type { MetaCodec } from "./metafile.ts";
import {
  hostName,
  processAlive,
  processIdentity,
  processLives,
  processStartedAtMs,
} from "./process.ts";

/** The content of `proc/lock`. */
export interface ProcessLock {
  pid: number;
  /** Absent in an old lock (a pid alone). */
  host?: string;
  /**
   * The process's start time as the host's kernel tells it: on Linux, field 22
   * of /proc/PID/stat (clock ticks since boot). Absent where there is no /proc
   * (written `-`), and in an old lock.
   */
  start?: string;
}

/** `<pid> <host> <start>` on one line; an old lock is `<pid>` alone. Anything else names no process. */
export const PROCESS_LOCK: MetaCodec<ProcessLock> = {
  parse(text) {
    const fields = text.trim().split(/\s+/);
    const pid = /^\d+$/.test(fields[0]) ? Number(fields[0]) : NaN;
    if (fields.length === 1) return { pid };
    if (fields.length !== 3) return { pid: NaN };
    return { pid, host: fields[1], ...(fields[2] === "-" ? {} : { start: fields[2] }) };
  },
  format: (lock) => `${lock.pid} ${lock.host ?? thisHost()} ${lock.start ?? "-"}`,
};

/** This host's name as locks record it: no whitespace, never empty. */
export function thisHost(): string {
  return hostName().replace(/\s+/g, "_") || "localhost";
}

/** A lock for a process of this host, with its start time where the system tells it. */
export function lockForProcess(pid: number): ProcessLock {
  return { ...processIdentity(pid), host: thisHost() };
}

/** Whether a lock's process is the run's and lives here, is gone, or is another host's to judge. */
export type LockHolder =
  | { state: "alive" }
  | { state: "dead" }
  | { state: "elsewhere"; host: string };

/** What is known of when an old lock (a pid alone) was written, to tell a reused pid. */
export interface LockContext {
  /** When the lock file was last written, ms since the epoch. */
  writtenAtMs?: number;
  /** When the run was initialized, ms since the epoch. */
  initializedMs?: number;
}

/** Clocks and the kernel's tick granularity differ by this much at most. */
const CLOCK_SLACK_MS = 2000;

/**
 * Who holds a lock. A lock of another host is never judged from this host's
 * processes: that host's process may well be running. A lock of this host
 * names the run's process when that pid lives and started when the lock says.
 * An old lock (a pid alone) is taken as this host's; its pid counts only when
 * the process started after the run was initialized and before the lock was
 * written (Linux), and never when it is 1 (init is never a run's process).
 */
export function lockHolder(lock: ProcessLock, context: LockContext = {}): LockHolder {
  if (lock.host !== undefined && lock.host !== thisHost()) {
    return { state: "elsewhere", host: lock.host };
  }
  if (lock.host !== undefined) return { state: processLives(lock) ? "alive" : "dead" };
  const { pid } = lock;
  if (!processAlive(pid) || pid === 1) return { state: "dead" };
  const startedMs = processStartedAtMs(pid);
  if (startedMs === undefined) return { state: "alive" };
  const { writtenAtMs, initializedMs } = context;
  const tooLate = writtenAtMs !== undefined && startedMs > writtenAtMs + CLOCK_SLACK_MS;
  const tooEarly = initializedMs !== undefined && startedMs < initializedMs - CLOCK_SLACK_MS;
  return { state: tooLate || tooEarly ? "dead" : "alive" };
}
