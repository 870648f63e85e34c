/**
 * The two halves of a pipelined big-file copy, each run in a worker of its own
 * (lib/copy/worker.ts): the reader fills the shared chunk ring and hashes, the
 * writer drains it into the copy. Apart from lib/copy/filecopy.ts so the ring
 * and the file calls do not import each other.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  writeSync,
} from "node:fs";
import type { ChunkRing } from "./chunkring.ts";
import {
  CHUNK_BYTES,
  type CopyJob,
  O_DIRECT,
  openDirect,
  WRITE_FLAGS,
  writeLength,
} from "./filecopy.ts";

/** The reader's half of a pipelined copy: reads and hashes (unless told not to) each chunk into the ring. */
export function readIntoRing(job: CopyJob, ring: ChunkRing): { digest: string; size: number } {
  const input = openSync(job.src, "r");
  try {
    ring.awaitDecision();
    const hash = job.hash === false ? undefined : createHash("sha256");
    let pos = 0;
    for (let index = 0;; index++) {
      const view = ring.slotFor(index);
      const n = readSync(input, view, 0, CHUNK_BYTES, pos);
      hash?.update(view.subarray(0, n));
      ring.putChunk(index, n);
      if (n === 0) return { digest: hash?.digest("hex") ?? "", size: pos };
      pos += n;
    }
  } finally {
    closeSync(input);
  }
}

/** The writer's half of a pipelined copy: opens the copy and writes what the reader hands over. */
export function writeFromRing(
  job: CopyJob,
  ring: ChunkRing,
  umask: number,
): { size: number; mtimeMs: number } {
  const direct = openDirect(job, ring.slots);
  const out = openSync(job.dst, direct ? WRITE_FLAGS | O_DIRECT! : WRITE_FLAGS, job.mode);
  try {
    ring.decide(direct);
    let pos = 0;
    for (let index = 0;; index++) {
      const chunk = ring.takeChunk(index);
      if (!chunk) break;
      writeSync(out, chunk.view, 0, writeLength(chunk.length, direct), pos);
      ring.releaseChunk(index);
      pos += chunk.length;
    }
    if (direct) ftruncateSync(out, pos);
    if (job.mode & umask) fchmodSync(out, job.mode);
    return { size: pos, mtimeMs: fstatSync(out).mtimeMs };
  } finally {
    closeSync(out);
  }
}
