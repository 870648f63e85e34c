/** Whether a process named in meta (proc/lock) still lives. */
import { readFileSync } from "node:fs";
import process from "node:process";

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
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The state follows the command name, which is in parentheses and may hold spaces.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return false; // No /proc (macOS): kill(pid, 0) is all there is.
  }
}
