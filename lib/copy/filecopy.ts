/**
 * Copying one file while hashing it: the unit of work of lib/copy/copy.ts, run on the
 * main thread for small files and in copy workers for big ones. One read per
 * chunk feeds both the hash and the write.
 *
 * Big files are written with O_DIRECT where the file system allows it. On our
 * VMs, putting a gigabyte into the page cache costs seconds of kernel time when
 * the hypervisor has reclaimed free memory, and the run dir's copy is not read
 * back soon; direct writes skip that cost. Direct I/O needs a buffer address
 * aligned to the device's block size, which JavaScript cannot see, so
 * `DirectBuffer` finds the aligned offset inside a slightly larger buffer by
 * probing once; any file system or platform that refuses falls back to
 * ordinary writes.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  openSync,
  readSync,
  writeSync,
} from "node:fs";
import { open } from "node:fs/promises";

export interface CopyJob {
  src: string;
  dst: string;
  mode: number;
  size: number;
  /** `false` when the digest is already known (the digest cache): the copy is not hashed. */
  hash?: boolean;
}

export interface CopyResult {
  size: number;
  /** "" when the job asked for no hash. */
  digest: string;
  /** The copy's mtime in milliseconds, as fs.Stats gives it. */
  mtimeMs: number;
}

/** Files at least this big are written with direct I/O, where it works. */
export const DIRECT_IO_FROM = 8 * 1024 * 1024;
export const CHUNK_BYTES = 4 * 1024 * 1024;
/** Direct I/O lengths and offsets are multiples of this (covers 512 and 4096 byte blocks). */
export const BLOCK = 4096;
/** A chunk plus room to slide it to an aligned address. */
export const DIRECT_BUFFER_BYTES = CHUNK_BYTES + 2 * BLOCK;
/** Probe steps: ArrayBuffer backing stores are at least 16-byte aligned. */
const PROBE_STEP = 16;

/** A chunk buffer, and the offset in it that direct I/O accepts once probed. */
export class DirectBuffer {
  /** undefined: not probed yet; -1: direct I/O refused. */
  alignedOffset: number | undefined;

  /** `raw` may be a slot of shared memory; it must hold `DIRECT_BUFFER_BYTES`. */
  constructor(readonly raw: Uint8Array = new Uint8Array(DIRECT_BUFFER_BYTES)) {}

  /** The view a copy reads into and writes from: aligned when direct I/O is on. */
  view(direct: boolean): Uint8Array {
    const offset = direct ? this.alignedOffset! : 0;
    return this.raw.subarray(offset, offset + CHUNK_BYTES);
  }

  /**
   * Finds an offset whose address direct I/O accepts, writing trial blocks at
   * position 0 of `fd` (the copy overwrites them). Returns false if none works.
   */
  probe(fd: number): boolean {
    if (this.alignedOffset === undefined) {
      this.alignedOffset = -1;
      for (let offset = 0; offset < 2 * BLOCK; offset += PROBE_STEP) {
        try {
          writeSync(fd, this.raw, offset, BLOCK, 0);
          this.alignedOffset = offset;
          break;
        } catch {
          // EINVAL: not aligned here (or no direct I/O at all).
        }
      }
    }
    return this.alignedOffset >= 0;
  }
}

export const O_DIRECT: number | undefined = (constants as Record<string, number>).O_DIRECT;
export const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC;

/** Direct writes must be whole blocks: the tail is padded, then truncated away. */
export function writeLength(n: number, direct: boolean): number {
  return direct ? Math.ceil(n / BLOCK) * BLOCK : n;
}

/** Copies a small file with synchronous calls: for these, setting up async I/O costs more than it saves. */
export function copySmallFile(job: CopyJob, buffer: DirectBuffer, umask: number): CopyResult {
  const input = openSync(job.src, "r");
  try {
    const out = openSync(job.dst, WRITE_FLAGS, job.mode);
    try {
      const hash = createHash("sha256");
      const buf = buffer.view(false);
      let pos = 0;
      for (let n; (n = readSync(input, buf, 0, buf.length, pos)) > 0; pos += n) {
        hash.update(buf.subarray(0, n));
        writeSync(out, buf, 0, n, pos);
      }
      if (job.mode & umask) fchmodSync(out, job.mode);
      return { digest: hash.digest("hex"), size: pos, mtimeMs: fstatSync(out).mtimeMs };
    } finally {
      closeSync(out);
    }
  } finally {
    closeSync(input);
  }
}

/**
 * Copies a big file as a pipeline: while chunk k is being written (async, off
 * this thread), chunk k+1 is read and hashed into the other buffer. Writes are
 * direct where the file system allows it. `onWritten` hears the bytes written
 * so far, once per chunk.
 */
export async function copyBigFile(
  job: CopyJob,
  buffers: [DirectBuffer, DirectBuffer],
  umask: number,
  onWritten?: (bytes: number) => void,
): Promise<CopyResult> {
  const input = openSync(job.src, "r");
  const direct = openDirect(job, buffers);
  const out = await open(job.dst, direct ? WRITE_FLAGS | O_DIRECT! : WRITE_FLAGS, job.mode);
  try {
    const hash = job.hash === false ? undefined : createHash("sha256");
    const views = buffers.map((b) => b.view(direct));
    let writing: Promise<unknown> = Promise.resolve();
    let pos = 0;
    for (let i = 0;; i ^= 1) {
      const n = readSync(input, views[i], 0, CHUNK_BYTES, pos);
      if (n === 0) break;
      hash?.update(views[i].subarray(0, n));
      await writing; // the other buffer's write: done before that buffer is reused
      onWritten?.(pos);
      const length = writeLength(n, direct);
      writing = out.write(views[i], 0, length, pos);
      pos += n;
    }
    await writing;
    if (direct) await out.truncate(pos);
    if (job.mode & umask) await out.chmod(job.mode);
    return { digest: hash?.digest("hex") ?? "", size: pos, mtimeMs: (await out.stat()).mtimeMs };
  } finally {
    closeSync(input);
    await out.close();
  }
}

/**
 * Whether the copy can use direct I/O: the file system accepts O_DIRECT and both
 * buffers have an aligned offset. Probing writes trial blocks into `job.dst`,
 * which the copy then truncates and overwrites.
 */
export function openDirect(job: CopyJob, buffers: DirectBuffer[]): boolean {
  if (O_DIRECT === undefined || buffers.some((b) => b.alignedOffset === -1)) return false;
  let fd: number;
  try {
    fd = openSync(job.dst, WRITE_FLAGS | O_DIRECT, job.mode);
  } catch {
    return false; // The file system has no direct I/O.
  }
  try {
    return buffers.every((b) => b.probe(fd));
  } finally {
    closeSync(fd);
  }
}
