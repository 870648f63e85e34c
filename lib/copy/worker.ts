/**
 * A copy worker: one half of the big-file pipeline of lib/copy/copy.ts. The reader
 * reads and hashes each chunk into a shared ring; the writer writes them out.
 * Messages in: `{ role, ring }` once, then `{ id, job, umask }` per file.
 * Messages out: `{ ready: true }` once loaded, then per file `{ id, result }`,
 * `{ id, aborted: true }` (the other side failed) or `{ id, error }`.
 */
import { ChunkRing, CopyAborted, type SharedRing } from "./chunkring.ts";
import type { CopyJob } from "./filecopy.ts";
import { readIntoRing, writeFromRing } from "./halves.ts";

type Role = "reader" | "writer";

interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}

const scope = self as unknown as WorkerScope;
let role: Role;
let ring: ChunkRing;

// Loaded: lib/copy/copy.ts waits for this before handing over any file.
scope.postMessage({ ready: true });

scope.onmessage = ({ data }) => {
  if ("role" in data) {
    role = data.role as Role;
    ring = new ChunkRing(data.ring as SharedRing);
    return;
  }
  const { id, job, umask } = data as { id: number; job: CopyJob; umask: number };
  try {
    const result = role === "reader" ? readIntoRing(job, ring) : writeFromRing(job, ring, umask);
    scope.postMessage({ id, result });
  } catch (err) {
    if (err instanceof CopyAborted) return scope.postMessage({ id, aborted: true });
    ring.abort();
    const e = err as { message?: string; code?: string };
    scope.postMessage({ id, error: { message: e.message ?? String(err), code: e.code } });
  }
};
