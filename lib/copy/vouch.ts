/**
 * One copy's use of the digest cache (digests.ts): which files it vouches for,
 * whether a file copied on its word was left alone meanwhile, and what the
 * copy records.
 *
 * A file's stamp is the one selection took (`FileToCopy.stamp`, from the stat
 * the walk makes anyway), not a stat of its own: a second bigint stat of each
 * file cost 36 ms of the 1.1 s first staging of the bench project's 6,000 files
 * (docs/performance.md). Files without one (a followed link, a caller that does
 * not select) are stat'ed here, before any file is copied, as before.
 *
 * That stamp may be older than the staging (a sweep's trials share one
 * selection), which changes nothing for the racy rule: an entry is recorded
 * only when the stamp's times are older than the staging's marker, so any
 * change with the same times came before the copy read the file, and any later
 * change gives other times. What it does change is how long a path has to lead
 * elsewhere: a dir swapped for another (`mv out out.old; mv out.new out`), a
 * link on the way retargeted, would have the copy read another file while the
 * stamped one lives on untouched, and recording its stamp with that digest
 * would vouch for the wrong bytes later. So an entry with a selection stamp is
 * recorded only after the copy, when the dir the file was listed in, stat'ed
 * once per dir (300 dirs for 6,000 files), is still the dir selection listed
 * (dev and ino). Within a dir, a name that leads to another inode means the old
 * one was unlinked or renamed, which changes its ctime (Linux) or frees it.
 * A file whose size is not its stamp's has changed: it is not recorded either.
 *
 * A file the cache vouches for is stat'ed again after its copy (`unchanged`):
 * changed meanwhile, it is copied again and hashed, and nothing is recorded.
 */
import { dirname } from "node:path";
import { bigStatOrUndefined } from "../fs/stat.ts";
import {
  type DigestCache,
  type FileStamp,
  fileStamp,
  sameStamp,
  type SelectedStamp,
} from "./digests.ts";

/** What a copy's file needs to be looked up and recorded. */
export interface StampedFile {
  src: string;
  stamp?: SelectedStamp;
}

export class CacheUse<F extends StampedFile> {
  /** Stamps taken here, for files selection gave none. */
  readonly #taken = new Map<F, FileStamp>();
  readonly #known = new Map<F, string>();
  /** Files whose stamp no longer holds: nothing is recorded for them. */
  readonly #stale = new Set<F>();
  /** Digests of selection-stamped files, recorded once their dirs are checked. */
  readonly #pending: { file: F; stamp: SelectedStamp; digest: string }[] = [];

  /** Takes the cache's staging marker, then looks each file up (an empty cache: none). */
  constructor(readonly cache: DigestCache, files: readonly F[]) {
    cache.startStaging();
    const lookUp = cache.size > 0;
    for (const file of files) {
      let stamp: FileStamp | undefined = file.stamp;
      if (!stamp) {
        stamp = fileStamp(file.src);
        if (!stamp) continue;
        this.#taken.set(file, stamp);
      }
      const digest = lookUp ? cache.digestOf(stamp) : undefined;
      if (digest) this.#known.set(file, digest);
    }
  }

  /** The digest the cache vouches for: the file may be copied without hashing. */
  knownDigest(file: F): string | undefined {
    return this.#known.get(file);
  }

  /** After a copy on the cache's word: whether the file's stat still says its stamp. */
  unchanged(file: F): boolean {
    const now = fileStamp(file.src);
    if (now && sameStamp(now, this.#stampOf(file)!)) return true;
    this.#stale.add(file); // its new digest is not the old stamp's
    return false;
  }

  /** A file copied, with the digest of what was read (or vouched for) and its size. */
  copied(file: F, digest: string, size: number): void {
    const stamp = this.#stampOf(file);
    if (!stamp || this.#stale.has(file) || stamp.size !== BigInt(size)) return;
    if (file.stamp) this.#pending.push({ file, stamp: file.stamp, digest });
    else this.cache.record(stamp, digest);
  }

  /** After the copy: records the selection-stamped files whose dir is still the one listed. */
  finish(): void {
    const sameDir = new Map<string, boolean>();
    for (const { file, stamp, digest } of this.#pending) {
      const dir = dirname(file.src);
      let same = sameDir.get(dir);
      if (same === undefined) {
        const now = bigStatOrUndefined(dir);
        same = now !== undefined && now.dev === stamp.dirDev && now.ino === stamp.dirIno;
        sameDir.set(dir, same);
      }
      if (same) this.cache.record(stamp, digest);
    }
  }

  #stampOf(file: F): FileStamp | undefined {
    return file.stamp ?? this.#taken.get(file);
  }
}
