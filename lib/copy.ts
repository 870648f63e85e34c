/**
 * Copies selected source files into the run dir, hashing each on the way (one
 * read per file feeds both). Small files are copied on this thread with plain
 * synchronous syscalls: on our machines creating files is the cost, and piling
 * thousands of concurrent creates onto two cores only adds contention. Big files
 * go to copy workers on other threads, so their hashing and writing overlaps
 * the small files; where Worker is missing (Node), they are copied here too.
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { mtimeMicros } from "./fileslog.ts";
import {
  copyBigFile,
  type CopyJob,
  type CopyResult,
  copySmallFile,
  DIRECT_IO_FROM,
  DirectBuffer,
} from "./filecopy.ts";

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

/** Big files at once: one worker each. More would only compete for two cores. */
const COPY_WORKERS = 2;
/** How long the main thread copies before it yields to progress and worker messages. */
const SLICE_MS = 20;

/** Copies `files` into `runDir` keeping their modes, and returns what was written. */
export async function copySourceFiles(
  files: readonly FileToCopy[],
  runDir: string,
  onProgress?: (progress: CopyProgress) => void,
  options: { workers?: number } = {},
): Promise<CopiedFile[]> {
  makeParentDirs(files, runDir);
  const progress: CopyProgress = { files: 0, bytes: 0 };
  const copied: CopiedFile[] = [];
  const done = (file: FileToCopy, result: CopyResult) => {
    copied.push({
      path: file.path,
      digest: result.digest,
      size: result.size,
      mtime: mtimeMicros(result.mtimeMs),
    });
    progress.files++;
    progress.bytes += result.size;
    onProgress?.(progress);
  };
  const umask = process.umask();
  const job = (f: FileToCopy): CopyJob => ({
    src: f.src,
    dst: join(runDir, f.path),
    mode: f.mode,
    size: f.size,
  });
  // Biggest first: the biggest file is the critical path.
  const big = files.filter((f) => f.size >= DIRECT_IO_FROM).sort((a, b) => b.size - a.size);
  const small = files.filter((f) => f.size < DIRECT_IO_FROM);
  const workers = Math.min(options.workers ?? COPY_WORKERS, big.length);
  const pool = workers > 0 ? CopyWorkerPool.start(workers) : undefined;
  try {
    const bigDone = pool
      ? Promise.all(big.map(async (f) => done(f, await pool.copy(job(f), umask))))
      : copyBigFilesHere(big, umask, job, done);
    await copySmallFiles(small, new DirectBuffer(), umask, job, done);
    await bigDone;
  } finally {
    pool?.close();
  }
  return copied;
}

/** Copies on this thread, yielding now and then so progress and workers are heard. */
async function copySmallFiles(
  files: readonly FileToCopy[],
  buffer: DirectBuffer,
  umask: number,
  job: (f: FileToCopy) => CopyJob,
  done: (f: FileToCopy, r: CopyResult) => void,
): Promise<void> {
  let sliceStart = performance.now();
  for (const file of files) {
    done(file, copySmallFile(job(file), buffer, umask));
    if (performance.now() - sliceStart > SLICE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      sliceStart = performance.now();
    }
  }
}

/**
 * Without workers, big files are copied here one at a time (each owns the two
 * pipeline buffers while it runs); their async writes interleave with the
 * small files' loop.
 */
async function copyBigFilesHere(
  files: readonly FileToCopy[],
  umask: number,
  job: (f: FileToCopy) => CopyJob,
  done: (f: FileToCopy, r: CopyResult) => void,
): Promise<void> {
  const buffers: [DirectBuffer, DirectBuffer] = [new DirectBuffer(), new DirectBuffer()];
  for (const file of files) done(file, await copyBigFile(job(file), buffers, umask));
}

function makeParentDirs(files: readonly FileToCopy[], runDir: string): void {
  const dirs = new Set<string>();
  for (const f of files) dirs.add(dirname(f.path));
  // Sorted, so each mkdir finds its parent made.
  for (const dir of [...dirs].sort()) mkdirSync(join(runDir, dir), { recursive: true });
}

interface WorkerReply {
  id: number;
  result?: CopyResult;
  error?: { message: string; code?: string };
}

/** Copy workers taking one file at a time from a shared queue. */
class CopyWorkerPool {
  #idle: Worker[] = [];
  #all: Worker[] = [];
  #queue: { id: number; job: CopyJob; umask: number }[] = [];
  #pending = new Map<number, { resolve: (r: CopyResult) => void; reject: (e: Error) => void }>();
  #nextId = 0;

  /** A pool of `size` workers, or undefined where this runtime has no Worker. */
  static start(size: number): CopyWorkerPool | undefined {
    if (typeof Worker === "undefined") return undefined;
    const pool = new CopyWorkerPool();
    try {
      for (let i = 0; i < size; i++) pool.#add();
    } catch {
      pool.close();
      return undefined;
    }
    return pool;
  }

  #add(): void {
    const worker = new Worker(new URL("./copy_worker.ts", import.meta.url).href, {
      type: "module",
    });
    worker.onmessage = (event: MessageEvent<WorkerReply>) => this.#settle(worker, event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#failAll(new Error(`copy worker failed: ${event.message}`));
    };
    this.#all.push(worker);
    this.#idle.push(worker);
  }

  copy(job: CopyJob, umask: number): Promise<CopyResult> {
    const id = this.#nextId++;
    const promise = new Promise<CopyResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
    this.#queue.push({ id, job, umask });
    this.#dispatch();
    return promise;
  }

  #dispatch(): void {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      this.#idle.pop()!.postMessage(this.#queue.shift());
    }
  }

  #settle(worker: Worker, reply: WorkerReply): void {
    const pending = this.#pending.get(reply.id);
    this.#pending.delete(reply.id);
    if (reply.error) {
      pending?.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
    } else pending?.resolve(reply.result!);
    this.#idle.push(worker);
    this.#dispatch();
  }

  #failAll(err: Error): void {
    for (const { reject } of this.#pending.values()) reject(err);
    this.#pending.clear();
  }

  close(): void {
    for (const worker of this.#all) worker.terminate();
  }
}
