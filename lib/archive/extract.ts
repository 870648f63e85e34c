/**
 * Streaming an archive into import's staging dir, checking every entry as it
 * arrives: the index first (it must come first, and be valid), then each entry
 * against it: its path, type, size, SHA-256 or link target. A gzip or tar
 * error is reported as a truncated or corrupt archive, naming the entry it
 * struck in. Split from import.ts, which decides what to do with the runs once
 * they are all here: this module only reads the archive and writes the dir.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, mkdir, open, symlink, utimes } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract, type Header } from "tar-stream";
import {
  type ArchiveEntry,
  type ArchiveIndex,
  ArchiveRefusal,
  countIndexEntries,
  type FileEntry,
  INDEX_NAME,
  MAX_INDEX_BYTES,
  MAX_INDEX_ENTRIES,
  parseIndex,
  type SymlinkEntry,
  tooManyEntries,
  unsafePathReason,
} from "./format.ts";
import { RunstageError } from "../errors.ts";
import { checkAborted, RunInterrupted } from "../interrupt.ts";
import type { ArchiveProgress } from "./export.ts";
import { quotePath } from "../fs/quote.ts";

export interface ExtractOptions {
  onProgress?: (progress: ArchiveProgress) => void;
  /** Aborting stops the extraction at the next entry or chunk (RunInterrupted). */
  signal?: AbortSignal;
}

export type IndexCheck = (index: ArchiveIndex) => Promise<void>;

/**
 * Streams the archive into `staging`, checking every entry, and returns its
 * index. `onIndex` runs once the index is read and checked, before any entry
 * is written: a run that cannot be imported fails there, not after the
 * whole archive was written.
 */
export async function extractArchive(
  file: string,
  gzip: boolean,
  staging: string,
  totalBytes: number,
  options: ExtractOptions,
  onIndex: IndexCheck,
): Promise<ArchiveIndex> {
  const progress: ArchiveProgress = { step: "reading", bytes: 0, totalBytes };
  const counter = new Transform({
    transform(chunk: Uint8Array, _encoding, done) {
      progress.bytes += chunk.length;
      options.onProgress?.(progress);
      done(null, chunk);
    },
  });
  const extractor = extract();
  // streamx streams work with node's pipeline; their typings are not node's.
  const sink = extractor as unknown as NodeJS.WritableStream;
  const source = createReadStream(file);
  const fed = gzip
    ? pipeline(source, counter, createGunzip(), sink)
    : pipeline(source, counter, sink);
  fed.catch(() => {}); // awaited below, or superseded by the error that stopped reading
  const reader = new EntryChecker(staging, onIndex, options.signal);
  try {
    for await (const entry of extractor) {
      // tar-stream yields Buffers; its typings say unknown.
      await reader.take(entry.header, entry as AsyncIterable<Uint8Array>);
    }
    await fed;
  } catch (err) {
    extractor.destroy();
    source.destroy();
    if (
      err instanceof ArchiveRefusal || err instanceof RunstageError ||
      err instanceof RunInterrupted || isSystemError(err) || isDiskFull(err)
    ) {
      throw err;
    }
    // A gzip or tar error: the stream that failed says why better than the one it closed.
    const cause = await fed.then(() => undefined, (e) => e);
    if (isDiskFull(cause)) throw cause;
    throw corrupt(cause ?? err, reader.position());
  }
  return reader.finish();
}

/** A write refused for want of space (or of quota): the disk's fault, never the archive's. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/** An error of a system call (a full disk, say), as opposed to one about the archive's bytes. */
export function isSystemError(err: unknown): boolean {
  return err instanceof Error && "syscall" in err;
}

function corrupt(err: unknown, position: string): Error {
  if (isSystemError(err) || isDiskFull(err)) return err as Error;
  const e = err as NodeJS.ErrnoException;
  const what = typeof e.code === "string" && e.code.startsWith("Z_")
    ? `gzip: ${e.message}`
    : e.message;
  return new ArchiveRefusal(`the archive is truncated or corrupt (${what}${position})`);
}

/** What the checker needs of an entry's data: its chunks, in order. */
type EntryData = AsyncIterable<Uint8Array>;

/** Checks each tar entry against the index as it arrives, and writes it into the staging dir. */
class EntryChecker {
  #index: ArchiveIndex | undefined;
  #byPath = new Map<string, ArchiveEntry>();
  #seen = new Set<string>();
  /** The entry being read, else the last one read: where a stream error struck. */
  #current: string | undefined;
  #last: string | undefined;

  constructor(
    private readonly staging: string,
    private readonly onIndex: IndexCheck,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** ` in entry "X"` or ` after entry "X"`, for a message about a stream error. */
  position(): string {
    if (this.#current !== undefined) return `, in entry ${quotePath(this.#current)}`;
    return this.#last === undefined ? "" : `, after entry ${quotePath(this.#last)}`;
  }

  async take(header: Header, data: EntryData): Promise<void> {
    this.#current = header.name;
    await this.check(header, data);
    this.#last = header.name;
    this.#current = undefined;
  }

  private async check(header: Header, data: EntryData): Promise<void> {
    checkAborted(this.signal);
    if (this.#index === undefined) return await this.takeIndex(header, data);
    const path = header.type === "directory" ? header.name.replace(/\/$/, "") : header.name;
    const unsafe = unsafePathReason(path);
    if (unsafe) throw new ArchiveRefusal(`entry ${quotePath(path)} ${unsafe}`);
    const type = entryType(header);
    if (typeof type !== "string") {
      throw new ArchiveRefusal(
        `entry ${quotePath(path)}` +
          ` is ${type.what}: runstage archives hold only files, dirs and symlinks`,
      );
    }
    const expected = this.#byPath.get(path);
    if (expected === undefined) {
      throw new ArchiveRefusal(`entry ${quotePath(path)} is not in the archive's index`);
    }
    if (this.#seen.has(path)) throw new ArchiveRefusal(`entry ${quotePath(path)} appears twice`);
    this.#seen.add(path);
    if (expected.type !== type) {
      throw new ArchiveRefusal(
        `entry ${quotePath(path)} is a ${type}, the index says a ${expected.type}`,
      );
    }
    const abs = join(this.staging, path);
    if (expected.type === "dir") await mkdir(abs, { recursive: true });
    else if (expected.type === "symlink") await this.takeLink(header, expected, abs);
    else await this.takeFile(header, data, expected, abs);
  }

  private async takeIndex(header: Header, data: EntryData): Promise<void> {
    if (header.name !== INDEX_NAME || header.type !== "file") {
      throw new ArchiveRefusal(
        `it does not start with ${INDEX_NAME}: not an archive made by "runstage export"`,
      );
    }
    // Bounded before it is read, and its entries counted before it is parsed:
    // refusing an index too big to be one costs next to nothing.
    if (header.size > MAX_INDEX_BYTES) {
      throw new ArchiveRefusal(
        `its index ${INDEX_NAME} is ${header.size} bytes, more than runstage imports from one` +
          ` archive (${MAX_INDEX_BYTES}): export the runs into several archives`,
      );
    }
    const chunks: Uint8Array[] = [];
    for await (const chunk of data) chunks.push(chunk);
    const bytes = concat(chunks);
    const count = countIndexEntries(bytes);
    if (count > MAX_INDEX_ENTRIES) throw tooManyEntries(count);
    const index = parseIndex(new TextDecoder().decode(bytes));
    for (const entry of index.entries) this.#byPath.set(entry.path, entry);
    await this.onIndex(index);
    this.#index = index;
  }

  private async takeLink(header: Header, expected: SymlinkEntry, abs: string) {
    if (header.linkname !== expected.target) {
      throw new ArchiveRefusal(
        `symlink ${quotePath(expected.path)} points to ${quotePath(header.linkname)},` +
          ` the index says ${quotePath(expected.target)} (tampered or corrupt)`,
      );
    }
    await mkdir(dirname(abs), { recursive: true });
    await symlink(expected.target, abs);
  }

  private async takeFile(header: Header, data: EntryData, expected: FileEntry, abs: string) {
    if (header.size !== expected.size) {
      throw new ArchiveRefusal(
        `entry ${quotePath(expected.path)}` +
          ` holds ${header.size} bytes, the index says ${expected.size}` +
          ` (tampered or corrupt)`,
      );
    }
    await mkdir(dirname(abs), { recursive: true });
    // "wx": a path is written once, and never through something already there.
    const fh = await open(abs, "wx", 0o600);
    const hash = createHash("sha256");
    try {
      for await (const chunk of data) {
        checkAborted(this.signal);
        hash.update(chunk);
        await fh.write(chunk);
      }
    } finally {
      await fh.close();
    }
    if (hash.digest("hex") !== expected.sha256) {
      throw new ArchiveRefusal(
        `entry ${quotePath(expected.path)}` +
          ` does not match its SHA-256 in the index (tampered or corrupt)`,
      );
    }
    await chmod(abs, expected.mode);
    const mtime = expected.mtime / 1e6;
    await utimes(abs, mtime, mtime);
  }

  /** The index, once every entry it lists has arrived. */
  finish(): ArchiveIndex {
    if (this.#index === undefined) {
      throw new ArchiveRefusal(`it is empty: not an archive made by "runstage export"`);
    }
    for (const entry of this.#index.entries) {
      if (!this.#seen.has(entry.path)) {
        throw new ArchiveRefusal(
          `entry ${quotePath(entry.path)}` +
            ` of the index is missing from the archive (truncated or incomplete)`,
        );
      }
    }
    return this.#index;
  }
}

/** Our name for a tar entry's type, or what to call one we do not take. */
function entryType(header: Header): ArchiveEntry["type"] | { what: string } {
  switch (header.type) {
    case "file":
      return "file";
    case "directory":
      return "dir";
    case "symlink":
      return "symlink";
    case "link":
      return { what: "a hard link" };
    case "fifo":
      return { what: "a fifo" };
    case "character-device":
    case "block-device":
      return { what: "a device" };
    case "contiguous-file":
      return { what: "a contiguous file" };
    default:
      return { what: "of an unknown type" };
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
