/**
 * When a file system refuses a write: the disk is full (ENOSPC, EDQUOT), the
 * file system is read-only (EROFS), or this user may not write there (EACCES,
 * EPERM). These are faults of the machine, not bugs of runstage: each becomes a
 * `WriteFault`, one line that says which fault and where, never a stack trace.
 * Also the two checks that find such a fault before anything is written: does
 * a directory take writes at all, and does its file system have room.
 */
import { existsSync, mkdtempSync, rmdirSync, statfsSync } from "node:fs";
import { dirname, join } from "node:path";
import { RunstageError } from "../errors.ts";
import { quotePath } from "./quote.ts";

export type WriteFaultKind = "full" | "read-only" | "denied";

const KIND_BY_CODE: Record<string, WriteFaultKind> = {
  ENOSPC: "full",
  EDQUOT: "full",
  EROFS: "read-only",
  EACCES: "denied",
  EPERM: "denied",
};

/** A write the file system refused, at `path` (the file or directory being written). */
export class WriteFault extends RunstageError {
  /**
   * The exit code of the phase whose process had ended when the fault came,
   * when there was one: a run that fails for the fault keeps the op's own code.
   */
  phaseExitCode?: number;

  constructor(readonly kind: WriteFaultKind, readonly path: string, message?: string) {
    super(message ?? faultMessage(kind, path));
    this.name = "WriteFault";
  }
}

/** The one line for a fault; `path` may be empty when the system did not say where. */
function faultMessage(kind: WriteFaultKind, path: string): string {
  const where = path === "" ? "a file" : quotePath(path);
  switch (kind) {
    case "full":
      return `the disk is full: no space left to write ${where}; free some space on its` +
        ` file system and try again`;
    case "read-only":
      return `cannot write ${where}: its file system is read-only; make it writable, or use` +
        ` another place`;
    case "denied":
      return `cannot write ${where}: permission denied; give this user write access, or use` +
        ` another place`;
  }
}

/** Which write fault `err` is, if it is one (a Node errno error). */
export function writeFaultKind(err: unknown): WriteFaultKind | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? KIND_BY_CODE[code] : undefined;
}

/** `err` as a WriteFault at `path` when it is a refused write; any other error as it is. */
export function asWriteFault(err: unknown, path: string): unknown {
  if (err instanceof WriteFault) return err;
  const kind = writeFaultKind(err);
  return kind === undefined ? err : new WriteFault(kind, path);
}

/** Runs `write`; a refused write becomes a WriteFault at `path`. */
export function writing<T>(path: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    throw asWriteFault(err, path);
  }
}

/**
 * Throws a WriteFault unless `dir`, or the nearest ancestor that exists (where
 * it would be made), takes a new entry: a directory made and removed at once.
 * Asking the file system is the only sure test: `access(W_OK)` answers for
 * permission bits, not for a read-only mount, and not for root.
 */
export function checkWritableDir(dir: string): void {
  let existing = dir;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  let probe: string;
  try {
    probe = mkdtempSync(join(existing, ".runstage-probe-"));
  } catch (err) {
    const kind = writeFaultKind(err);
    // A full disk may refuse even an empty directory; that is for the space check to say.
    if (kind === undefined || kind === "full") return;
    throw new WriteFault(kind, existing);
  }
  rmdirSync(probe);
}

/** Bytes a file system has free for this user at `path` (or its nearest existing ancestor). */
export function freeBytes(path: string): { free: number; blockSize: number } | undefined {
  let existing = path;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  try {
    const fs = statfsSync(existing);
    return { free: Number(fs.bavail) * Number(fs.bsize), blockSize: Number(fs.bsize) };
  } catch {
    return undefined; // a runtime or platform without statfs: the writes themselves will tell
  }
}
