/**
 * Copies selected source files into the run dir, hashing each as it goes: one
 * read per file, its bytes fed to SHA-256 and written out from the same buffer.
 * Creating files is the slow part on our machines, so many copies are in flight
 * at once, and big files stream in chunks so memory stays bounded.
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { mtimeMicros } from "./fileslog.ts";
import { forEachConcurrent } from "./pool.ts";

export interface FileToCopy {
  /** Where the file goes, relative to the run dir, '/'-separated. */
  path: string;
  /** Absolute path to read from. */
  src: string;
  size: number;
  mode: number;
}

export interface CopiedFile {
  path: string;
  digest: string;
  size: number;
  /** The copy's mtime in microseconds, so the digest can be trusted until it changes. */
  mtime: number;
}

export interface CopyProgress {
  files: number;
  bytes: number;
}

/** Files at least this big stream in chunks; smaller ones are read whole. */
const CHUNKED_FROM = 8 * 1024 * 1024;
const CHUNK = 4 * 1024 * 1024;
/** Small files in flight at once: enough to hide file-creation latency. */
const SMALL_CONCURRENCY = 32;
/** Big files in flight at once: each holds two chunk buffers. */
const BIG_CONCURRENCY = 2;

/** Copies `files` into `runDir` keeping their modes, and returns what was written. */
export async function copySourceFiles(
  files: readonly FileToCopy[],
  runDir: string,
  onProgress?: (progress: CopyProgress) => void,
): Promise<CopiedFile[]> {
  makeParentDirs(files, runDir);
  const progress: CopyProgress = { files: 0, bytes: 0 };
  const copied: CopiedFile[] = [];
  const done = (file: CopiedFile) => {
    copied.push(file);
    progress.files++;
    progress.bytes += file.size;
    onProgress?.(progress);
  };
  const umask = process.umask();
  const big = files.filter((f) => f.size >= CHUNKED_FROM);
  const small = files.filter((f) => f.size < CHUNKED_FROM);
  // Big files first in their own lane: the biggest one is the critical path.
  big.sort((a, b) => b.size - a.size);
  await Promise.all([
    forEachConcurrent(big, BIG_CONCURRENCY, async (f) => done(await copyChunked(f, runDir, umask))),
    forEachConcurrent(
      small,
      SMALL_CONCURRENCY,
      async (f) => done(await copyWhole(f, runDir, umask)),
    ),
  ]);
  return copied;
}

function makeParentDirs(files: readonly FileToCopy[], runDir: string): void {
  const dirs = new Set<string>();
  for (const f of files) dirs.add(dirname(f.path));
  // Sorted, so each mkdir finds its parent made and no recursive walk is needed twice.
  for (const dir of [...dirs].sort()) mkdirSync(join(runDir, dir), { recursive: true });
}

async function copyWhole(file: FileToCopy, runDir: string, umask: number): Promise<CopiedFile> {
  const data = await readFile(file.src);
  const digest = createHash("sha256").update(data).digest("hex");
  const out = await open(join(runDir, file.path), "w", file.mode);
  try {
    await out.write(data, 0, data.length, 0);
    if (file.mode & umask) await out.chmod(file.mode);
    const st = await out.stat();
    return { path: file.path, digest, size: data.length, mtime: mtimeMicros(st.mtimeMs) };
  } finally {
    await out.close();
  }
}

/** Streams a big file: reads chunk k+1 while chunk k is being written. */
async function copyChunked(file: FileToCopy, runDir: string, umask: number): Promise<CopiedFile> {
  const input = await open(file.src, "r");
  const out = await open(join(runDir, file.path), "w", file.mode);
  try {
    const hash = createHash("sha256");
    const buffers = [new Uint8Array(CHUNK), new Uint8Array(CHUNK)];
    let writing: Promise<unknown> = Promise.resolve();
    let pos = 0;
    for (let i = 0;; i ^= 1) {
      const { bytesRead } = await input.read(buffers[i], 0, CHUNK, pos);
      if (bytesRead === 0) break;
      hash.update(buffers[i].subarray(0, bytesRead));
      await writing; // the other buffer is free again once its write is done
      writing = out.write(buffers[i], 0, bytesRead, pos);
      pos += bytesRead;
    }
    await writing;
    if (file.mode & umask) await out.chmod(file.mode);
    const st = await out.stat();
    return {
      path: file.path,
      digest: hash.digest("hex"),
      size: pos,
      mtime: mtimeMicros(st.mtimeMs),
    };
  } finally {
    await Promise.all([input.close(), out.close()]);
  }
}
