/**
 * The digest cache: SHA-256 digests of project files remembered across
 * stagings, so re-staging an unchanged project copies files without hashing
 * them (hashing the 768 MiB bench file is 0.45-0.49 s, the floor of a first
 * staging: docs/performance.md).
 *
 * An entry is keyed as git's index keys a clean file: device, inode, size,
 * mtime and ctime. A change after hashing moves the ctime (utimes cannot set
 * it back), a rename over the file brings a new inode. Deno's node:fs gives
 * `mtimeNs` to the millisecond and `ctimeNs` to the second (Deno 2.9.6), Node
 * to the nanosecond; the rule below holds at whatever resolution they have.
 *
 * "Racy git": a file changed in the same clock tick as it was hashed keeps its
 * mtime and ctime. So each copy first takes a stamp, the times of a marker file
 * written before any file is read, and an entry is recorded only when the
 * file's mtime and ctime are both strictly older than the stamp's, compared at
 * the resolution both come in: any later change then gives a ctime at or past
 * the stamp, which no recorded entry has. Racy files are simply hashed again
 * next time. A file's own stamp may be older than the marker (selection's stat,
 * vouch.ts): the rule needs only the file read after the marker is written.
 *
 * The cache is a hint, never evidence: `verify` never reads it. A missing,
 * corrupt or foreign-version file reads as empty; it is written to a temp file
 * and renamed, and holds at most MAX_ENTRIES (the newest kept).
 */
import { type BigIntStats, closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { fstatSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";

/** The first line of a cache file; a file with any other is ignored. */
export const DIGEST_CACHE_HEADER = "runstage digest cache 1";
/** At ~110 bytes an entry, the file stays under about 22 MB. */
export const MAX_ENTRIES = 200_000;

/** What a file's stat must still say for its remembered digest to hold. */
export interface FileStamp {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * A file's stamp as selection took it (lib/source/select.ts), with the dev and
 * ino of the dir it was listed in, stat'ed before the listing: the copy checks
 * that its path still leads to that dir before recording (vouch.ts).
 */
export interface SelectedStamp extends FileStamp {
  dirDev: bigint;
  dirIno: bigint;
}

/** The stamp in a file's bigint stats. */
export function stampOf(s: BigIntStats): FileStamp {
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
}

/** A selected file's stamp: its stats, and those of the dir it was listed in. */
export function selectedStamp(s: BigIntStats, dir: BigIntStats): SelectedStamp {
  const { dev, ino, size, mtimeNs, ctimeNs } = s;
  return { dev, ino, size, mtimeNs, ctimeNs, dirDev: dir.dev, dirIno: dir.ino };
}

/** The file's stamp, or undefined when it cannot be stat'ed (the copy reports that). */
export function fileStamp(path: string): FileStamp | undefined {
  try {
    return stampOf(statSync(path, { bigint: true }));
  } catch {
    return undefined;
  }
}

function keyOf(s: FileStamp): string {
  return `${s.dev} ${s.ino}`;
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs &&
    a.dev === b.dev && a.ino === b.ino;
}

interface Entry {
  stamp: FileStamp;
  digest: string;
}

const LINE = /^(\d+) (\d+) (\d+) (\d+) (\d+) ([0-9a-f]{64})$/;

/** Entries of a cache file's text; a file that is not wholly well-formed gives none. */
export function parseDigestCache(text: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  const lines = text.split("\n");
  if (lines[0] !== DIGEST_CACHE_HEADER || lines.at(-1) !== "") return new Map();
  for (const line of lines.slice(1, -1)) {
    const m = LINE.exec(line);
    if (!m) return new Map();
    const [dev, ino, size, mtimeNs, ctimeNs] = m.slice(1, 6).map(BigInt);
    const stamp = { dev, ino, size, mtimeNs, ctimeNs };
    entries.set(keyOf(stamp), { stamp, digest: m[6] });
  }
  return entries;
}

function formatEntry({ stamp: s, digest }: Entry): string {
  return `${s.dev} ${s.ino} ${s.size} ${s.mtimeNs} ${s.ctimeNs} ${digest}\n`;
}

/** The digest cache of one runs home, loaded once per staging and saved after it. */
export class DigestCache {
  #entries: Map<string, Entry>;
  #changed = false;
  /** The marker's times: files not older than these are racy, never recorded. */
  #racyFrom: { mtimeNs: bigint; ctimeNs: bigint } | undefined;

  private constructor(readonly path: string, entries: Map<string, Entry>) {
    this.#entries = entries;
  }

  /** The cache at `path`: empty when missing, unreadable, corrupt or of another version. */
  static open(path: string): DigestCache {
    let text = "";
    try {
      text = readFileSync(path, "utf8");
    } catch {
      // No cache yet, or one we cannot read: start empty.
    }
    return new DigestCache(path, parseDigestCache(text));
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Takes the stamp before any file is read: the times of a marker file just
   * written beside the cache. Without one (a runs home we cannot write),
   * nothing is recorded.
   */
  startStaging(): void {
    const marker = `${this.path}.stamp-${process.pid}`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      const fd = openSync(marker, "w");
      try {
        writeSync(fd, "");
        const s = fstatSync(fd, { bigint: true });
        this.#racyFrom = { mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
      } finally {
        closeSync(fd);
      }
      rmSync(marker, { force: true });
    } catch {
      this.#racyFrom = undefined;
    }
  }

  /** The remembered digest of a file whose stat still says `stamp`. */
  digestOf(stamp: FileStamp): string | undefined {
    const entry = this.#entries.get(keyOf(stamp));
    return entry && sameStamp(entry.stamp, stamp) ? entry.digest : undefined;
  }

  /** Remembers `digest` for a file stat'ed as `stamp` before it was read, unless racy. */
  record(stamp: FileStamp, digest: string): void {
    const from = this.#racyFrom;
    if (!from || stamp.mtimeNs >= from.mtimeNs || stamp.ctimeNs >= from.ctimeNs) return;
    const key = keyOf(stamp);
    const old = this.#entries.get(key);
    if (!old || old.digest !== digest || !sameStamp(old.stamp, stamp)) this.#changed = true;
    this.#entries.delete(key); // re-inserted last: the most recently used are kept when trimming
    this.#entries.set(key, { stamp, digest });
  }

  /**
   * Writes the cache atomically (temp file, then rename), when anything was
   * recorded. A failure leaves the old cache; it never fails the staging.
   */
  save(): void {
    if (!this.#changed) return;
    const kept = [...this.#entries.values()].slice(-MAX_ENTRIES);
    const temp = `${this.path}.tmp-${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      const fd = openSync(temp, "w");
      try {
        writeSync(fd, [DIGEST_CACHE_HEADER + "\n", ...kept.map(formatEntry)].join(""));
      } finally {
        closeSync(fd);
      }
      renameSync(temp, this.path);
    } catch {
      rmSync(temp, { force: true });
    }
  }
}

/** Where a runs home keeps its digest cache. */
export function digestCachePath(runsHome: string): string {
  return join(runsHome, ".cache", "digests");
}
