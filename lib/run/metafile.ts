/**
 * The mechanics of a meta dir beneath the names of its files: a file written
 * atomically and read back (absent reads as undefined, never an error), meta
 * JSON, the runner log, and `MetaFile`, a meta file named once with the type
 * of its content. lib/run/meta.ts names each meta file with one; code outside
 * lib/run/ reads and writes meta through those, never by a file name.
 */
import process from "node:process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { escapeControl } from "../fs/quote.ts";
import { writing } from "../fs/writefault.ts";
import { localIsoTime } from "./clock.ts";
import type { Run } from "./identity.ts";

/** How a meta file's text becomes a value, and a value its content. */
export interface MetaCodec<T> {
  /** The value, or undefined when the text is not one (half-written by another tool, say). */
  parse(text: string): T | undefined;
  format(value: T): string | Uint8Array;
}

/** One meta file: its name in the meta dir and the type of what it holds. */
export class MetaFile<T> {
  constructor(readonly name: string, private readonly codec: MetaCodec<T>) {}

  /** The value, or undefined when the file is absent or does not parse. */
  read(run: Run): T | undefined {
    const text = readMetaText(run, this.name);
    return text === undefined ? undefined : this.codec.parse(text);
  }

  /** Whether the file is there, whatever it holds (a status only asks that). */
  exists(run: Run): boolean {
    return existsSync(join(run.metaDir, this.name));
  }

  /** Writes the value atomically: a reader sees the old content or the new, never half. */
  write(run: Run, value: T): void {
    writeMeta(run, this.name, this.codec.format(value));
  }

  /** Writes the value and notes it in the runner log, as staging and running do. */
  record(run: Run, value: T): void {
    logAndWriteMeta(run, this.name, this.codec.format(value));
  }

  remove(run: Run): void {
    removeMeta(run, this.name);
  }
}

/** A meta file of bytes that need not be UTF-8 (a patch). */
export class BinaryMetaFile extends MetaFile<Uint8Array> {
  constructor(name: string) {
    super(name, { parse: (text) => new TextEncoder().encode(text), format: (bytes) => bytes });
  }

  override read(run: Run): Uint8Array | undefined {
    if (!this.exists(run)) return undefined;
    try {
      return readFileSync(join(run.metaDir, this.name));
    } catch {
      return undefined;
    }
  }
}

/** Text as written. */
export const TEXT: MetaCodec<string> = { parse: (text) => text, format: (text) => text };

/** Text, where an empty file means none. */
export const NON_EMPTY_TEXT: MetaCodec<string> = {
  parse: (text) => text === "" ? undefined : text,
  format: (text) => text,
};

/** Microseconds since the epoch; undefined when empty or not a number yet (`Number("")` is 0). */
export const TIMESTAMP: MetaCodec<number> = {
  parse: (text) => {
    const trimmed = text.trim();
    const n = trimmed ? Number(trimmed) : NaN;
    return Number.isFinite(n) ? n : undefined;
  },
  format: (n) => String(n),
};

/** A whole number (an exit code, a pid); NaN when the file holds something else. */
export const INTEGER: MetaCodec<number> = {
  parse: (text) => Number(text.trim()),
  format: (n) => String(n),
};

/** JSON as meta stores it, checked by `accept` when given; undefined when it does not parse. */
export function jsonCodec<T>(accept?: (value: unknown) => value is T): MetaCodec<T> {
  return {
    parse: (text) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return undefined; // half-written by a tool that does not write atomically
      }
      return accept === undefined || accept(value) ? value as T : undefined;
    },
    format: metaJson,
  };
}

/** Writes a meta file and records it in the runner log. */
export function logAndWriteMeta(run: Run, name: string, content: string | Uint8Array): void {
  logRunner(run, `Writing meta ${name}`);
  writeMeta(run, name, content);
}

export function writeMeta(run: Run, name: string, content: string | Uint8Array): void {
  writeAtomic(join(run.metaDir, name), content);
}

export function removeMeta(run: Run, name: string): void {
  const path = join(run.metaDir, name);
  writing(path, () => rmSync(path, { force: true }));
}

/**
 * A meta file's text, or undefined when it is absent (a run being written).
 * Listing reads a few of these for every run, and most optional files are
 * absent: checking first is several times cheaper than the exception a failed
 * read costs. A file that vanishes between the check and the read is still
 * just absent.
 */
export function readMetaText(run: Run, name: string): string | undefined {
  const path = join(run.metaDir, name);
  if (!existsSync(path)) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Temp file + rename: a reader (or a crash) sees the old file or the new one,
 * never half of one. A write that fails (a full disk, a read-only file system)
 * removes its temp file and throws a WriteFault naming `path`.
 */
export function writeAtomic(path: string, content: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writing(path, () => {
    mkdirSync(dirname(path), { recursive: true });
    try {
      writeFileSync(tmp, content);
      renameSync(tmp, path);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  });
}

/** JSON as meta stores it: keys sorted at every level, 2-space indent, no trailing newline. */
export function metaJson(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 2);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, sortKeys(obj[k])]));
  }
  return value;
}

/** Appends one event to log/runner. Multi-line messages become one line each. */
export function logRunner(run: Run, message: string): void {
  const stamp = localIsoTime();
  // Each line escaped: a name with a control character cannot fake an event.
  const lines = message.split("\n").map((line) => `${stamp} ${escapeControl(line)}\n`).join("");
  const path = join(run.metaDir, "log", "runner");
  writing(path, () => {
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, lines);
  });
}
