/**
 * Output of trials running at once (`run --parallel N`): each trial's lines
 * shown whole, each starting with the trial's prefix, so lines of two trials
 * never mix within a line. A partial last line waits for its newline, or for
 * `flush` when the trial ends.
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import type { OutputEcho } from "../stage/exec.ts";

const NEWLINE = 0x0a;

export interface LineEcho {
  echo: OutputEcho;
  /** Writes what is left of an unfinished line, ended with a newline. */
  flush(): void;
}

/** An echo that writes whole lines to our stdout or stderr, each after `prefix`. */
export function lineEcho(prefix: string): LineEcho {
  const marker = new TextEncoder().encode(prefix);
  const pending: Uint8Array[][] = [[], []];
  const write = (stream: 0 | 1, parts: Uint8Array[]) =>
    (stream === 0 ? process.stdout : process.stderr).write(Buffer.concat([marker, ...parts]));
  return {
    echo(chunk, stream) {
      let start = 0;
      for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
        write(stream, [...pending[stream], chunk.subarray(start, nl + 1)]);
        pending[stream] = [];
        start = nl + 1;
      }
      if (start < chunk.length) pending[stream].push(chunk.slice(start));
    },
    flush() {
      for (const stream of [0, 1] as const) {
        if (pending[stream].length === 0) continue;
        write(stream, [...pending[stream], new Uint8Array([NEWLINE])]);
        pending[stream] = [];
      }
    },
  };
}
