/**
 * A copy worker: copies and hashes the big files lib/copy.ts hands it, one at a
 * time, on its own thread, so big files proceed while the main thread copies
 * small ones. Messages: in `{ id, job, umask }`, out `{ id, result }` or `{ id, error }`.
 */
import { copyBigFile, type CopyJob, DirectBuffer } from "./filecopy.ts";

interface WorkerScope {
  onmessage: ((event: MessageEvent<{ id: number; job: CopyJob; umask: number }>) => void) | null;
  postMessage(message: unknown): void;
}

const scope = self as unknown as WorkerScope;
const buffers: [DirectBuffer, DirectBuffer] = [new DirectBuffer(), new DirectBuffer()];

scope.onmessage = async ({ data: { id, job, umask } }) => {
  try {
    scope.postMessage({ id, result: await copyBigFile(job, buffers, umask) });
  } catch (err) {
    const e = err as { message?: string; code?: string };
    scope.postMessage({ id, error: { message: e.message ?? String(err), code: e.code } });
  }
};
