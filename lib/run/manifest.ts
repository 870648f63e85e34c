/**
 * The manifest: `<type> <sha256> <path>` for every file of the run dir, grouped by
 * type (s, r, d, g) and sorted by path within a group. It is what `verify` checks
 * a run against, on this machine or another. A path with a line break or another
 * control character is written as a JSON string (linepath.ts); a file whose
 * name is not UTF-8 cannot be hashed and is left out, for the caller to note.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { FILE_TYPES, type FileType, type RunFiles, scanRunDir } from "./fileslog.ts";
import { writeMeta } from "./meta.ts";
import { comparePaths } from "../fs/pathorder.ts";
import { forEachConcurrent } from "../fs/pool.ts";
import type { Run } from "./identity.ts";
import { checkAborted } from "../interrupt.ts";
import { decodeLinePath, encodeLinePath } from "./linepath.ts";

export interface ManifestEntry {
  type: FileType;
  digest: string;
  path: string;
}

/** Reads big files in chunks: a 10 GB file never sits in memory. */
const HASH_CHUNK = 4 * 1024 * 1024;
/** Files hashed at once: enough to keep the disk and both cores busy. */
const HASH_CONCURRENCY = 8;

/** Hashing progress, for a progress display: one object, updated in place. */
export interface HashProgress {
  /** Files hashed whole, and bytes hashed, including those of files still being read. */
  files: number;
  bytes: number;
  totalFiles: number;
  totalBytes: number;
}

/**
 * SHA-256 of a file's content, streamed through the hash. An aborted `signal`
 * stops it between chunks (RunInterrupted): a 10 GB file need not be read to the end.
 * `onBytes` hears each chunk's length as it is hashed.
 */
export async function hashFile(
  path: string,
  signal?: AbortSignal,
  onBytes?: (bytes: number) => void,
): Promise<string> {
  const fh = await open(path, "r");
  try {
    const hash = createHash("sha256");
    const buf = new Uint8Array(HASH_CHUNK);
    for (let pos = 0;;) {
      if (signal) await heedSignals(signal);
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
      onBytes?.(bytesRead);
    }
    return hash.digest("hex");
  } finally {
    await fh.close();
  }
}

/**
 * A turn of the event loop, then RunInterrupted if `signal` is aborted. File
 * reads that complete at once can chain without one, and a stop signal's
 * handler runs only in one.
 */
async function heedSignals(signal: AbortSignal): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  checkAborted(signal);
}

/**
 * Fills in the digest of every file of `files` that lacks one. Returns the
 * paths of the run dir it could not hash because their names are not UTF-8.
 */
export async function hashRunFiles(run: Run, files: RunFiles): Promise<string[]> {
  const todo: string[] = [];
  for (const [path, entry] of files) if (!entry.digest) todo.push(path);
  await forEachConcurrent(todo, HASH_CONCURRENCY, async (path) => {
    files.setDigest(path, await hashFile(join(run.runDir, path)));
  });
  return [...files.undecodable];
}

/** Manifest text for `files`, whose digests must be known. */
export function formatManifest(files: RunFiles): string {
  const entries: ManifestEntry[] = [];
  for (const [path, entry] of files) {
    if (entry.digest) {
      entries.push({ type: entry.type, digest: entry.digest, path });
    }
  }
  const rank = (t: FileType) => FILE_TYPES.indexOf(t);
  entries.sort((a, b) => rank(a.type) - rank(b.type) || comparePaths(a.path, b.path));
  return entries.map((e) => `${e.type} ${e.digest} ${encodeLinePath(e.path)}\n`).join("");
}

/**
 * Hashes what is not hashed yet and writes the manifest. Returns the paths left
 * out because their names are not UTF-8, for the caller to warn about.
 */
export async function writeManifest(run: Run, files: RunFiles): Promise<string[]> {
  const skipped = await hashRunFiles(run, files);
  writeMeta(run, "manifest", formatManifest(files));
  return skipped;
}

export function readManifest(run: Run): ManifestEntry[] | undefined {
  let text: string;
  try {
    text = readFileSync(join(run.metaDir, "manifest"), "utf8");
  } catch {
    return undefined;
  }
  return parseManifest(text);
}

export function parseManifest(text: string): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  for (const line of text.split("\n")) {
    const match = /^([srdg]) ([0-9a-f]{64}) (.+)$/s.exec(line);
    if (!match) continue;
    entries.push({ type: match[1] as FileType, digest: match[2], path: decodeLinePath(match[3]) });
  }
  return entries;
}

export interface VerifyReport {
  checked: number;
  modified: string[];
  missing: string[];
  unexpected: string[];
  /** Files of the run dir whose names are not UTF-8: they cannot be checked (U+FFFD per bad byte). */
  undecodable: string[];
}

export function verifyPassed(report: VerifyReport): boolean {
  return report.modified.length + report.missing.length + report.unexpected.length === 0;
}

/**
 * Re-hashes every file of the run dir against the manifest; an aborted `signal`
 * stops it. `onProgress` hears the files and bytes hashed, chunk by chunk.
 */
export async function verifyRunFiles(
  run: Run,
  manifest: ManifestEntry[],
  signal?: AbortSignal,
  onProgress?: (progress: HashProgress) => void,
): Promise<VerifyReport> {
  // A run dir deleted as a whole is every file missing, not a crash.
  const undecodable: string[] = [];
  const present = await scanRunDir(run.runDir, undecodable).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Map<string, never>();
    throw err;
  });
  const expected = new Map(manifest.map((e) => [e.path, e.digest]));
  const report: VerifyReport = {
    checked: 0,
    modified: [],
    missing: [],
    unexpected: [],
    undecodable,
  };
  const toHash: string[] = [];
  for (const path of expected.keys()) {
    if (present.has(path)) toHash.push(path);
    else report.missing.push(path);
  }
  for (const path of present.keys()) {
    if (!expected.has(path)) report.unexpected.push(path);
  }
  const progress: HashProgress = {
    files: 0,
    bytes: 0,
    totalFiles: toHash.length,
    totalBytes: toHash.reduce((n, path) => n + present.get(path)!.size, 0),
  };
  const onBytes = onProgress && ((n: number) => {
    progress.bytes += n;
    onProgress(progress);
  });
  onProgress?.(progress);
  await forEachConcurrent(toHash, HASH_CONCURRENCY, async (path) => {
    checkAborted(signal);
    const digest = await hashFile(join(run.runDir, path), signal, onBytes);
    if (digest !== expected.get(path)) report.modified.push(path);
    progress.files++;
    onProgress?.(progress);
  });
  report.checked = toHash.length;
  for (const list of [report.modified, report.missing, report.unexpected]) list.sort(comparePaths);
  return report;
}
