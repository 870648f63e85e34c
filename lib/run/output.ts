/**
 * Captured output of a phase: `output/NN_name` holds stdout and stderr line by
 * line in arrival order; `output/NN_name.index` holds one 9-byte record per line:
 * a big-endian u64 timestamp in milliseconds and the stream (0 stdout, 1 stderr).
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";

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

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.#out = openSync(path, "w");
    this.#index = openSync(`${path}.index`, "w");
  }

  /** Takes a chunk as it arrives; writes every line it completes. */
  write(chunk: Uint8Array, stream: Stream, now = Date.now()): void {
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
  }

  /** Writes what is left (a last line with no newline is still a line) and closes. */
  close(now = Date.now()): void {
    const unfinished = ([0, 1] as const).filter((s) => this.#pending[s].length > 0);
    unfinished.forEach((stream, i) => {
      // Only the file's last line may lack its newline, or two lines would read as one.
      const last = i === unfinished.length - 1;
      this.#writeLine(stream, last ? new Uint8Array() : new Uint8Array([NEWLINE]), now);
    });
    closeSync(this.#out);
    closeSync(this.#index);
  }
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
