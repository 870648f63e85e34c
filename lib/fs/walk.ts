/**
 * The one walk of a project tree, shared by source selection, config discovery
 * and dependencies, so that all three are bounded and can be stopped alike.
 *
 * - **Order and concurrency.** Depth first, one dir at a time, its entries in
 *   path order (a dir sorts as `name/`, so files come out in byte order of
 *   their whole paths). There is no concurrency: the caller's `visit` sees a
 *   dir's entries and calls `descend` for the dirs it wants, in the order it
 *   wants, so decisions that count (max-matches) stay in path order.
 * - **Pruning.** `enter` decides per dir whether to read it at all; a caller
 *   derives it from where its globs can match (see globreach.ts), so a dir no
 *   glob can reach is never read, however big.
 * - **Links.** `links: "follow"` reports a link as what it points to (a file
 *   with the target's stats, a dir that can be entered, or `broken`); `"report"`
 *   reports it as kind `link` and never enters it. Whether a followed link may
 *   lead out of the project is the caller's decision: every entry carries its
 *   real path. A dir whose real path is already on the way down is a loop and
 *   is not entered (`descend` says `loop`).
 * - **Names that are not UTF-8** cannot be opened by the name read (names.ts):
 *   such an entry is reported as kind `undecodable`, for the caller to note.
 * - **Unreadable dirs.** `ignore` passes over them, `warn` passes over them
 *   with a warning, `error` throws a RunstageError naming the dir.
 * - **Stopping.** Every dir read is a checkpoint (`checkAborted`, which throws
 *   RunInterrupted), and every {@link YIELD_EVERY} entries the walk yields to
 *   the event loop, so a signal handler runs even in a scan of a huge tree.
 *
 * Metadata calls are synchronous: in Deno a sync stat costs about a third of an
 * async one, and a walk has nothing else to do meanwhile; the yields between
 * dirs keep the process responsive. Stats are bigint ones (exact inode numbers
 * and nanosecond times, for the digest cache's key: lib/copy/digests.ts); in
 * Deno they cost what number ones do, 5 µs a file, so the copy need not stat
 * each file a second time for its key (36 ms of a 1.1 s staging of 6,000 files).
 */
import { type BigIntStats, type Dirent, readdirSync } from "node:fs";
import { join, sep } from "node:path";
import { setImmediate } from "node:timers";
import { RunstageError } from "../errors.ts";
import { checkAborted } from "../interrupt.ts";
import { isUndecodableName } from "./names.ts";
import { comparePaths } from "./pathorder.ts";
import { quotePath } from "./quote.ts";
import { bigStatOrUndefined, realPathOrUndefined } from "./stat.ts";

/**
 * How many entries (a dir read counts as one) a walk handles between yields to
 * the event loop. A yield (setImmediate) costs about 3 µs, a dir read tens.
 */
export const YIELD_EVERY = 256;

/**
 * `file`, `dir`: a plain one, or a followed link to one. `link`: a link not
 * followed. `broken`: a followed link to nothing. `other`: fifo, socket, device.
 * `undecodable`: anything whose name is not UTF-8, which cannot be opened.
 */
export type EntryKind = "file" | "dir" | "link" | "broken" | "other" | "undecodable";

export interface WalkEntry {
  name: string;
  /** Relative to the walk's root, `/`-separated. */
  rel: string;
  /** The path as found, through the links on the way. */
  abs: string;
  kind: EntryKind;
  /** Whether the entry itself is a symlink. */
  link: boolean;
  /** Where it really is, every link resolved; undefined for `broken` and `link`. */
  real?: string;
  /** A file's stats (its target's, for a link): always for links, with `statFiles` for the rest. */
  stats?: BigIntStats;
}

export interface WalkedDir {
  /** The path as found; for the root, as given. */
  abs: string;
  real: string;
  /** Relative to the walk's root; "" for the root. */
  rel: string;
  /** In path order. */
  entries: WalkEntry[];
  /** With `statDirs`: the dir's stats (through links) taken just before it was read. */
  stats?: BigIntStats;
}

/** What came of a `descend`: read and visited, or why not. */
export type Descent = "entered" | "pruned" | "excluded" | "loop" | "unreadable" | "not-a-dir";

export type Descend = (entry: WalkEntry) => Promise<Descent>;

export interface WalkOptions {
  links: "follow" | "report";
  /** Whether to read a dir below the root; every dir when not given. */
  enter?: (entry: WalkEntry) => boolean;
  /** Called with each dir read, the root first; it calls `descend` for the dirs to walk. */
  visit: (dir: WalkedDir, descend: Descend) => Promise<void> | void;
  unreadable: "ignore" | "warn" | "error";
  /** Where `unreadable: "warn"` warnings go: `skipped unreadable dir REL`. */
  warn?: (message: string) => void;
  /** Real paths of dirs never read, nor anything below them (the runs home). */
  exclude?: string[];
  /** Names left out of every listing, as if absent (`.git`). */
  skipNames?: string[];
  /** Stat plain files too, for their size and mode; links are always statted. */
  statFiles?: boolean;
  /**
   * Stat each dir just before reading it: its dev and ino say later whether
   * its path still leads to the dir that was read (lib/copy/vouch.ts).
   */
  statDirs?: boolean;
  signal?: AbortSignal;
  /** Called with each dir's path just before it is read: a hook for tests and progress. */
  onDirRead?: (rel: string) => void;
}

/** Walks the tree at `root`; see the top of this file. */
export async function walkTree(root: string, options: WalkOptions): Promise<void> {
  const real = realPathOrUndefined(root);
  if (real === undefined) return unreadable(new TreeWalk(options), root, "", "ENOENT");
  await new TreeWalk(options).walk({ abs: root, real, rel: "" }, [real]);
}

/** Whether `path` is `dir` or lies below it; both real paths. */
export function isWithin(dir: string, path: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

interface DirRef {
  abs: string;
  real: string;
  rel: string;
}

class TreeWalk {
  #sinceYield = 0;

  constructor(readonly options: WalkOptions) {}

  async walk(dir: DirRef, chain: string[]): Promise<void> {
    await this.#checkpoint();
    if (this.#isExcluded(dir.real)) return;
    const stats = this.options.statDirs ? bigStatOrUndefined(dir.abs) : undefined;
    const dirents = this.#read(dir);
    if (!dirents) return;
    const entries = this.#entries(dir, dirents);
    this.#sinceYield += entries.length + 1;
    const descend: Descend = async (entry) => await this.#descend(entry, chain);
    await this.options.visit({ ...dir, entries, stats }, descend);
  }

  async #descend(entry: WalkEntry, chain: string[]): Promise<Descent> {
    if (entry.kind !== "dir" || entry.real === undefined) return "not-a-dir";
    if (this.options.enter && !this.options.enter(entry)) return "pruned";
    if (this.#isExcluded(entry.real)) return "excluded";
    if (chain.includes(entry.real)) return "loop";
    const read = { abs: entry.abs, real: entry.real, rel: entry.rel };
    let entered = true;
    await this.walk(read, [...chain, entry.real]).catch((err) => {
      if (err !== UNREADABLE) throw err;
      entered = false;
    });
    return entered ? "entered" : "unreadable";
  }

  /** Stops a stopped walk, and lets the event loop run now and then. */
  async #checkpoint(): Promise<void> {
    checkAborted(this.options.signal);
    if (this.#sinceYield < YIELD_EVERY) return;
    this.#sinceYield = 0;
    await new Promise<void>((resolve) => setImmediate(resolve));
    checkAborted(this.options.signal);
  }

  #isExcluded(real: string): boolean {
    return (this.options.exclude ?? []).some((ex) => isWithin(ex, real));
  }

  #read(dir: DirRef): Dirent[] | undefined {
    this.options.onDirRead?.(dir.rel);
    try {
      return readdirSync(dir.abs, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      unreadable(this, dir.abs, dir.rel, code);
      // Below the root, the caller learns of it through `descend`.
      if (dir.rel !== "") throw UNREADABLE;
      return undefined;
    }
  }

  #entries(dir: DirRef, dirents: Dirent[]): WalkEntry[] {
    const skip = this.options.skipNames ?? [];
    const entries: WalkEntry[] = [];
    for (const d of dirents) {
      if (skip.includes(d.name)) continue;
      const entry = this.#entry(dir, d);
      if (entry) entries.push(entry);
    }
    return entries.sort((a, b) => comparePaths(sortKey(a), sortKey(b)));
  }

  /** One listed entry; undefined for a file gone since the listing. */
  #entry(dir: DirRef, d: Dirent): WalkEntry | undefined {
    const name = d.name;
    const rel = dir.rel ? `${dir.rel}/${name}` : name;
    const abs = join(dir.abs, name);
    const real = join(dir.real, name);
    if (isUndecodableName(dir.abs, name)) {
      return { name, rel, abs, kind: "undecodable", link: d.isSymbolicLink() };
    }
    if (d.isDirectory()) return { name, rel, abs, kind: "dir", link: false, real };
    if (d.isFile()) {
      if (!this.options.statFiles) return { name, rel, abs, kind: "file", link: false, real };
      const stats = bigStatOrUndefined(abs);
      return stats && { name, rel, abs, kind: "file", link: false, real, stats };
    }
    if (!d.isSymbolicLink()) return { name, rel, abs, kind: "other", link: false, real };
    if (this.options.links === "report") return { name, rel, abs, kind: "link", link: true };
    return followLink(name, rel, abs);
  }
}

function followLink(name: string, rel: string, abs: string): WalkEntry {
  const stats = bigStatOrUndefined(abs);
  const real = stats && realPathOrUndefined(abs);
  if (!stats || !real) return { name, rel, abs, kind: "broken", link: true };
  const kind = stats.isDirectory() ? "dir" : stats.isFile() ? "file" : "other";
  return { name, rel, abs, kind, link: true, real, stats: kind === "file" ? stats : undefined };
}

/** Thrown from an unreadable dir below the root to its `descend`, never further. */
const UNREADABLE = Symbol("unreadable dir");

function unreadable(walk: TreeWalk, abs: string, rel: string, code: string): void {
  const { unreadable: policy, warn } = walk.options;
  if (policy === "error") {
    throw new RunstageError(
      `cannot list dir ${quotePath(abs)} (${code}): fix its permissions or leave it out`,
    );
  }
  if (policy === "warn") warn?.(`skipped unreadable dir ${quotePath(rel || ".")}`);
}

function sortKey(entry: WalkEntry): string {
  return entry.kind === "dir" ? `${entry.name}/` : entry.name;
}
