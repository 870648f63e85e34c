/**
 * Captured output of a phase: `output/NN_name` holds stdout and stderr line by
 * line in arrival order; `output/NN_name.index` holds one 9-byte record per line:
 * a big-endian u64 timestamp in milliseconds and the stream (0 stdout, 1 stderr).
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { asWriteFault, writing } from "../fs/writefault.ts";

export type Stream = 0 | 1;
export const INDEX_RECORD_SIZE = 9;
const NEWLINE = 0x0a;

export interface OutputLine {
  time: number;
  stream: Stream;
  text: string;
}

export class OutputWriter {
  #out: number;
  #index: number;
  /** A line each stream has started but not finished, kept apart so streams never mix bytes. */
  #pending: [Uint8Array[], Uint8Array[]] = [[], []];
  /**
   * Why writing stopped (a full disk, say). Output arrives in event handlers,
   * where a throw would bring the process down: the first failure is kept, the
   * rest of the output is not written, and `checkWritten` throws it once the
   * phase's process has ended.
   */
  #failure: unknown;
  #otherFailure: unknown;

  /**
   * `onLine` sees each whole line as it is written (the op's scalars are read
   * from them, lib/stage/scalars.ts), newline included but for a last line.
   */
  constructor(
    readonly path: string,
    readonly onLine?: (line: Uint8Array, stream: Stream) => void,
  ) {
    [this.#out, this.#index] = writing(path, () => {
      mkdirSync(dirname(path), { recursive: true });
      return [openSync(path, "w"), openSync(`${path}.index`, "w")];
    });
  }

  /** Takes a chunk as it arrives; writes every line it completes. */
  write(chunk: Uint8Array, stream: Stream, now = Date.now()): void {
    if (this.#failure !== undefined) return;
    try {
      this.#writeLines(chunk, stream, now);
    } catch (err) {
      this.#failure = asWriteFault(err, this.path);
    }
  }

  /**
   * Keeps a failure of the phase's other bookkeeping (its lock, say) for
   * `checkWritten`; the output is still written.
   */
  fail(err: unknown): void {
    this.#otherFailure ??= err;
  }

  /** Throws what stopped the writing, or another failure kept, if there was one. */
  checkWritten(): void {
    const failure = this.#failure ?? this.#otherFailure;
    if (failure !== undefined) throw failure;
  }

  #writeLines(chunk: Uint8Array, stream: Stream, now: number): void {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      this.#writeLine(stream, chunk.subarray(start, nl + 1), now);
      start = nl + 1;
    }
    // Copy the tail: the caller may reuse the chunk's buffer.
    if (start < chunk.length) this.#pending[stream].push(chunk.slice(start));
  }

  #writeLine(stream: Stream, end: Uint8Array, now: number): void {
    const parts = this.#pending[stream];
    for (const part of parts) writeSync(this.#out, part);
    writeSync(this.#out, end);
    this.#pending[stream] = [];
    writeSync(this.#index, indexRecord(now, stream));
    if (this.onLine) this.onLine(parts.length === 0 ? end : joinParts([...parts, end]), stream);
  }

  /**
   * Writes what is left (a last line with no newline is still a line) and
   * closes. A failure to write is kept for `checkWritten`, as in `write`.
   */
  close(now = Date.now()): void {
    const unfinished = ([0, 1] as const).filter((s) => this.#pending[s].length > 0);
    try {
      unfinished.forEach((stream, i) => {
        if (this.#failure !== undefined) return;
        // Only the file's last line may lack its newline, or two lines would read as one.
        const last = i === unfinished.length - 1;
        this.#writeLine(stream, last ? new Uint8Array() : new Uint8Array([NEWLINE]), now);
      });
    } catch (err) {
      this.#failure = asWriteFault(err, this.path);
    }
    closeSync(this.#out);
    closeSync(this.#index);
  }
}

function joinParts(parts: Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.length;
  }
  return whole;
}

export function indexRecord(time: number, stream: Stream): Uint8Array {
  const record = new Uint8Array(INDEX_RECORD_SIZE);
  const view = new DataView(record.buffer);
  view.setBigUint64(0, BigInt(Math.floor(time)));
  view.setUint8(8, stream);
  return record;
}

/** Reads captured output back as lines with their times and streams. */
export function readOutput(path: string): OutputLine[] {
  const text = readFileSync(path);
  const index = readFileSync(`${path}.index`);
  const view = new DataView(index.buffer, index.byteOffset, index.byteLength);
  const decoder = new TextDecoder();
  const lines: OutputLine[] = [];
  let start = 0;
  for (let offset = 0; offset + INDEX_RECORD_SIZE <= index.length; offset += INDEX_RECORD_SIZE) {
    const nl = text.indexOf(NEWLINE, start);
    const end = nl === -1 ? text.length : nl + 1;
    lines.push({
      time: Number(view.getBigUint64(offset)),
      stream: view.getUint8(offset + 8) as Stream,
      text: decoder.decode(text.subarray(start, nl === -1 ? end : nl)),
    });
    start = end;
  }
  return lines;
}
