/**
 * log/files: what each phase did to the run dir. After a phase the whole run dir
 * is scanned and compared with what was last logged; new files are `a`, changed
 * ones `m`, vanished ones `d`, each with the type of file the phase makes.
 */
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { lstat, readdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { FileType } from "../gagefile/opdef.ts";
import { comparePaths, isRepresentablePath } from "../fs/pathorder.ts";
import type { Run } from "./identity.ts";

export interface FileState {
  mtime: number;
  size: number;
}

export interface FileEntry extends FileState {
  /** The type the file was first logged with; it keeps it. */
  type: FileType;
  /** SHA-256 (hex) of the content at `mtime`, when known. */
  digest?: string;
}

/** What runstage knows of the run dir's files, by run-dir path. */
export type RunFiles = Map<string, FileEntry>;

export type FileEvent = "a" | "m" | "d";

export interface FileChange {
  event: FileEvent;
  type: FileType;
  path: string;
  mtime?: number;
}

/** Every file under the run dir by '/'-path, in byte order. Symlinked dirs are not entered. */
export async function scanRunDir(runDir: string): Promise<Map<string, FileState>> {
  const found: [string, FileState][] = [];
  await scanDir(runDir, "", found);
  found.sort((a, b) => comparePaths(a[0], b[0]));
  return new Map(found);
}

async function scanDir(abs: string, rel: string, found: [string, FileState][]): Promise<void> {
  const entries = await readdir(abs, { withFileTypes: true });
  await Promise.all(entries.map(async (entry) => {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    const full = join(abs, entry.name);
    if (entry.isDirectory()) return scanDir(full, path, found);
    const st = entry.isSymbolicLink()
      ? await stat(full).catch(() => lstat(full))
      : await lstat(full);
    if (st.isFile()) found.push([path, { mtime: mtimeMicros(st.mtimeMs), size: st.size }]);
  }));
}

export function mtimeMicros(mtimeMs: number): number {
  return Math.round(mtimeMs * 1000);
}

/**
 * Scans the run dir, appends what changed since `files` to log/files, and brings
 * `files` up to date. New files take `type`; changed ones keep theirs and lose
 * their digest; vanished ones are logged once and forgotten.
 */
export async function logFileChanges(
  run: Run,
  files: RunFiles,
  type: FileType,
): Promise<FileChange[]> {
  const now = await scanRunDir(run.runDir);
  const changes = diffRunFiles(files, now, type);
  for (const change of changes) {
    if (change.event === "d") files.delete(change.path);
    else {
      const st = now.get(change.path)!;
      const known = files.get(change.path);
      files.set(change.path, { ...st, type: known?.type ?? type, digest: known?.digest });
      if (change.event === "m") files.get(change.path)!.digest = undefined;
    }
  }
  appendFileChanges(run, changes);
  return changes;
}

/**
 * Logs files known to be new, with their digests, without scanning: for a copy
 * into an empty run dir, which knows every file it wrote.
 */
export function logAddedFiles(
  run: Run,
  files: RunFiles,
  added: readonly (FileState & { path: string; digest: string })[],
  type: FileType,
): void {
  const sorted = [...added].sort((a, b) => comparePaths(a.path, b.path));
  for (const f of sorted) {
    files.set(f.path, { type, mtime: f.mtime, size: f.size, digest: f.digest });
  }
  appendFileChanges(run, sorted.map((f) => ({ event: "a", type, path: f.path, mtime: f.mtime })));
}

/** The changes from `before` to `now`, in byte order of path. */
export function diffRunFiles(
  before: RunFiles,
  now: Map<string, FileState>,
  type: FileType,
): FileChange[] {
  const changes: FileChange[] = [];
  for (const [path, st] of now) {
    const known = before.get(path);
    if (!known) changes.push({ event: "a", type, path, mtime: st.mtime });
    else if (known.mtime !== st.mtime || (known.size >= 0 && known.size !== st.size)) {
      changes.push({ event: "m", type: known.type, path, mtime: st.mtime });
    }
  }
  for (const [path, known] of before) {
    if (!now.has(path)) changes.push({ event: "d", type: known.type, path });
  }
  return changes.sort((a, b) => comparePaths(a.path, b.path));
}

/** Appends `changes` to log/files; paths with line breaks cannot be written and are left out. */
export function appendFileChanges(run: Run, changes: FileChange[]): void {
  const path = join(run.metaDir, "log", "files");
  mkdirSync(dirname(path), { recursive: true });
  // A path with a line break would be written half-way, as a different file.
  const lines = changes
    .filter((c) => isRepresentablePath(c.path))
    .map((c) => `${c.event} ${c.type} ${c.mtime ?? "-"} ${c.path}\n`)
    .join("");
  appendFileSync(path, lines);
}

/** Replays log/files into the state it describes (digests are not in the log). */
export function readRunFiles(run: Run): RunFiles {
  const files: RunFiles = new Map();
  let text: string;
  try {
    text = readFileSync(join(run.metaDir, "log", "files"), "utf8");
  } catch {
    return files;
  }
  for (const line of text.split("\n")) {
    const match = /^([amd]) ([srdg]) (\S+) (.+)$/.exec(line);
    if (!match) continue;
    const [, event, type, mtime, path] = match;
    if (event === "d") files.delete(path);
    else {
      const known = files.get(path);
      // The log does not hold sizes: -1 marks one as unknown.
      files.set(path, { type: known?.type ?? (type as FileType), mtime: Number(mtime), size: -1 });
    }
  }
  return files;
}
