/**
 * Copies selected source files into the run dir, hashing each on the way (one
 * read per file feeds both). Small files are copied on this thread with plain
 * synchronous syscalls: on our machines creating files is the cost, and piling
 * thousands of concurrent creates onto two cores only adds contention. Big files
 * go to copy workers on other threads, so their hashing and writing overlaps
 * the small files; where Worker is missing (Node), they are copied here too.
 *
 * With a digest cache (digests.ts), a file whose digest it vouches for is
 * copied without hashing, by the kernel (copyFile: copy_file_range on Linux),
 * a small one on this thread, a big one off it while the small ones copy: the
 * direct-I/O pipeline with its hashing off took a re-staging of the 1.1 GB
 * bench project to about 1.05 s, the kernel's copy to 0.69 s (cp -r: 0.46 s). Its source is stat'ed
 * again after the copy; changed meanwhile, it is copied again and hashed. The
 * cache's key for a file is the stamp selection took (vouch.ts): with an empty
 * cache, as in a first staging, the copy stats no file for it.
 */
import { copyFileSync, mkdirSync, statSync } from "node:fs";
import { copyFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { ChunkRing } from "./chunkring.ts";
import type { DigestCache, SelectedStamp } from "./digests.ts";
import { CacheUse } from "./vouch.ts";
import { RunInterrupted } from "../interrupt.ts";
import { mtimeMicros } from "../run/fileslog.ts";
import {
  CHUNK_BYTES,
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
  /**
   * The file's stat when it was selected, the digest cache's key for it (no
   * second stat); without one, the copy stats the file when it uses a cache.
   */
  stamp?: SelectedStamp;
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

/** How long the main thread copies before it yields to progress and worker messages. */
const SLICE_MS = 20;
/** How often progress is reported while a big file copies, its bytes moving chunk by chunk. */
const BIG_FILE_PROGRESS_MS = 25;

/**
 * A copy's progress: files and bytes copied whole, plus the bytes written of
 * the big file being copied, which a timer reports while big files copy (they
 * are written chunk by chunk on other threads, and would otherwise report
 * nothing until their end). One object, updated in place.
 */
class CopyTally {
  readonly progress: CopyProgress = { files: 0, bytes: 0 };
  /** Bytes written of the big file being copied; 0 between files. */
  inFlight: () => number = () => 0;
  #settled = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(readonly onProgress?: (progress: CopyProgress) => void) {}

  fileDone(size: number): void {
    this.progress.files++;
    this.#settled += size;
    this.report();
  }

  report(): void {
    if (!this.onProgress) return;
    this.progress.bytes = this.#settled + this.inFlight();
    this.onProgress(this.progress);
  }

  /** Reports every BIG_FILE_PROGRESS_MS until `stop`. */
  watch(): void {
    if (this.onProgress) this.#timer = setInterval(() => this.report(), BIG_FILE_PROGRESS_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Copies `files` into `runDir` keeping their modes, and returns what was written. */
export async function copySourceFiles(
  files: readonly FileToCopy[],
  runDir: string,
  onProgress?: (progress: CopyProgress) => void,
  options: {
    /** `false` copies big files on this thread too (as where Worker is missing). */
    workers?: boolean;
    /** Stops the copy at the next file (RunInterrupted, with the signal's name). */
    signal?: AbortSignal;
    /** Digests remembered across stagings: files it vouches for are copied without hashing. */
    digests?: DigestCache;
  } = {},
): Promise<CopiedFile[]> {
  makeParentDirs(files, runDir);
  const tally = new CopyTally(onProgress);
  const copied: CopiedFile[] = [];
  const cache = options.digests && new CacheUse(options.digests, files);
  const known = (file: FileToCopy) => cache?.knownDigest(file);
  const done = (file: FileToCopy, result: CopyResult) => {
    cache?.copied(file, result.digest, result.size);
    copied.push({
      path: file.path,
      digest: result.digest,
      size: result.size,
      mtime: mtimeMicros(result.mtimeMs),
    });
    tally.fileDone(result.size);
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
  const small = files.filter((f) => f.size < DIRECT_IO_FROM && !known(f));
  const knownSmall = files.filter((f) => f.size < DIRECT_IO_FROM && known(f));
  /**
   * A big file the cache vouches for is copied by the kernel, not hashed;
   * changed meanwhile, it is copied again through the pipeline, hashed.
   */
  const kernelCopies = new Set<string>();
  const kernelBytes = () => {
    let bytes = 0;
    for (const dst of kernelCopies) bytes += fileSize(dst);
    return bytes;
  };
  tally.inFlight = kernelBytes;
  const copyBig = async (f: FileToCopy, copy: (job: CopyJob) => Promise<CopyResult>) => {
    const digest = known(f);
    if (digest === undefined) return done(f, await copy(job(f)));
    const j = job(f);
    // The kernel's copy says nothing as it goes: its progress is the copy's size so far.
    kernelCopies.add(j.dst);
    try {
      await copyFile(j.src, j.dst);
    } finally {
      kernelCopies.delete(j.dst);
    }
    if (!cache!.unchanged(f)) return done(f, await copy(j));
    const { size, mtimeMs } = statSync(j.dst);
    done(f, { digest, size, mtimeMs });
  };
  const starting = big.length > 0 && options.workers !== false
    ? BigFilePipeline.start()
    : Promise.resolve(undefined);
  tally.report();
  if (big.length > 0) tally.watch();
  try {
    // Big files start as soon as the workers are up, or here if they cannot be.
    const bigDone = starting.then(async (pipeline) => {
      if (!pipeline) return await copyBigFilesHere(big, copyBig, tally);
      tally.inFlight = () => pipeline.bytesInFlight() + kernelBytes();
      await Promise.all(big.map((f) => copyBig(f, (j) => pipeline.copy(j, umask))));
    });
    const buffer = new DirectBuffer();
    const copyKnown = (f: FileToCopy) => {
      const dst = job(f).dst;
      copyFileSync(f.src, dst);
      if (!cache!.unchanged(f)) return done(f, copySmallFile(job(f), buffer, umask));
      const { size, mtimeMs } = statSync(dst);
      done(f, { digest: known(f)!, size, mtimeMs });
    };
    await eachInSlices(knownSmall, copyKnown, options.signal);
    await eachInSlices(small, (f) => done(f, copySmallFile(job(f), buffer, umask)), options.signal);
    await bigDone;
    cache?.finish();
  } finally {
    tally.stop();
    (await starting)?.close();
  }
  return copied;
}

/**
 * Calls `copy` on each file on this thread, yielding now and then so progress
 * and workers are heard. Files the digest cache vouches for are copied by the
 * kernel (copyFile: `copy_file_range` on Linux), unhashed; the rest are hashed.
 */
async function eachInSlices(
  files: readonly FileToCopy[],
  copy: (f: FileToCopy) => void,
  signal?: AbortSignal,
): Promise<void> {
  let sliceStart = performance.now();
  for (const file of files) {
    if (signal?.aborted) throw new RunInterrupted(signal.reason);
    copy(file);
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
  copyBig: (f: FileToCopy, copy: (job: CopyJob) => Promise<CopyResult>) => Promise<void>,
  tally: CopyTally,
): Promise<void> {
  const buffers: [DirectBuffer, DirectBuffer] = [new DirectBuffer(), new DirectBuffer()];
  const umask = process.umask();
  let written = 0;
  const onWritten = (bytes: number) => void (written = bytes);
  tally.inFlight = () => written;
  for (const file of files) {
    await copyBig(file, (job) => copyBigFile(job, buffers, umask, onWritten));
    written = 0;
  }
}

function makeParentDirs(files: readonly FileToCopy[], runDir: string): void {
  const dirs = new Set<string>();
  for (const f of files) dirs.add(dirname(f.path));
  // Sorted, so each mkdir finds its parent made.
  for (const dir of [...dirs].sort()) mkdirSync(join(runDir, dir), { recursive: true });
}

type HalfReply =
  | { id: number; result: Partial<CopyResult> & { size: number } }
  | { id: number; aborted: true }
  | { id: number; error: { message: string; code?: string } };

/**
 * Where the worker module is: beside this one when it runs as lib/copy/copy.ts
 * (deno run, deno compile); relative to the entry point when a bundler has made
 * this module part of it (bun build --compile, which must list the worker as
 * an entry point too).
 */
function copyWorkerUrl(): string {
  const here = import.meta.url;
  return new URL(here.endsWith("/copy.ts") ? "./worker.ts" : "./lib/copy/worker.ts", here)
    .href;
}

/** How long workers may take to load before big files are copied on this thread instead. */
const WORKER_START_MS = 10_000;

/**
 * The big-file pipeline: a reader worker and a writer worker sharing a chunk
 * ring, copying one file at a time while this thread copies small files.
 */
class BigFilePipeline {
  #ring = ChunkRing.allocate();
  #reader: Worker;
  #writer: Worker;
  #ready: Promise<unknown>;
  #waiting = new Map<Worker, (reply: HalfReply) => void>();
  #nextId = 0;
  #queue: Promise<unknown> = Promise.resolve();
  /** The file being copied, for progress. */
  #current: CopyJob | undefined;
  /** Start timeouts still pending: close() clears them, or they would hold the process open. */
  #startTimers = new Set<ReturnType<typeof setTimeout>>();

  /**
   * A pipeline whose workers have loaded, or undefined where this runtime lacks
   * Worker or SharedArrayBuffer, or the workers fail to start.
   */
  static async start(): Promise<BigFilePipeline | undefined> {
    if (typeof Worker === "undefined" || typeof SharedArrayBuffer === "undefined") return undefined;
    let pipeline: BigFilePipeline | undefined;
    try {
      pipeline = new BigFilePipeline();
      await pipeline.#ready;
      return pipeline;
    } catch {
      pipeline?.close();
      return undefined;
    }
  }

  private constructor() {
    const reader = this.#spawn("reader");
    const writer = this.#spawn("writer");
    this.#reader = reader.worker;
    this.#writer = writer.worker;
    this.#ready = Promise.all([reader.ready, writer.ready]);
  }

  #spawn(role: "reader" | "writer"): { worker: Worker; ready: Promise<void> } {
    const worker = new Worker(copyWorkerUrl(), { type: "module" });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("copy worker did not start")),
        WORKER_START_MS,
      );
      this.#startTimers.add(timer);
      worker.onerror = (event) => {
        event.preventDefault();
        clearTimeout(timer);
        reject(new Error(`copy worker failed to start: ${event.message}`));
      };
      worker.onmessage = (event: MessageEvent<{ ready?: true }>) => {
        if (!event.data.ready) return;
        clearTimeout(timer);
        this.#listen(worker);
        resolve();
      };
    });
    worker.postMessage({ role, ring: this.#ring.shared });
    return { worker, ready };
  }

  /** Once loaded: replies go to whoever waits on this worker; a crash aborts the file. */
  #listen(worker: Worker): void {
    worker.onmessage = (event: MessageEvent<HalfReply>) => this.#waiting.get(worker)?.(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#ring.abort();
      this.#waiting.get(worker)?.({
        id: -1,
        error: { message: `copy worker failed: ${event.message}` },
      });
    };
  }

  /** Copies one file; calls queue up, since the ring serves one file at a time. */
  copy(job: CopyJob, umask: number): Promise<CopyResult> {
    const result = this.#queue.then(() => this.#copyNow(job, umask));
    this.#queue = result.catch(() => {});
    return result;
  }

  /**
   * Bytes written of the file being copied, from the ring's count of chunks
   * written; 0 between files, so a finished file is never counted twice.
   */
  bytesInFlight(): number {
    const job = this.#current;
    return job ? Math.min(this.#ring.chunksWritten() * CHUNK_BYTES, job.size) : 0;
  }

  async #copyNow(job: CopyJob, umask: number): Promise<CopyResult> {
    this.#ring.reset();
    const id = this.#nextId++;
    this.#current = job;
    const [read, written] = await Promise.all(
      [this.#reader, this.#writer].map((worker) =>
        new Promise<HalfReply>((resolve) => {
          this.#waiting.set(worker, resolve);
          worker.postMessage({ id, job, umask });
        })
      ),
    ).finally(() => this.#current = undefined);
    // The side that failed has the error; the other only knows it was aborted.
    for (const reply of [read, written]) {
      if ("error" in reply) {
        throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
      }
    }
    if (!("result" in read) || !("result" in written)) throw new Error("copy aborted");
    return {
      digest: read.result.digest!,
      size: read.result.size,
      mtimeMs: written.result.mtimeMs!,
    };
  }

  close(): void {
    for (const timer of this.#startTimers) clearTimeout(timer);
    this.#reader.terminate();
    this.#writer.terminate();
  }
}

/** A file's size now, 0 while it is not there yet. */
function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
