/**
 * The shapes of a run archive, as lib/archive/format.ts describes it: the
 * index and its entries, the paths of a run's three parts, the error an
 * archive is refused with, and when two runs' entries are the same content.
 * They live apart from the format's rules so that reading runs from disk
 * (describe.ts) and checking an archive (format.ts) share them without
 * depending on each other.
 */

export const INDEX_NAME = "runstage-index.json";
export const ARCHIVE_FORMAT = "runstage-archive";
export const ARCHIVE_VERSION = 1;
/**
 * The most an index may hold, in bytes and in entries. Import holds the index
 * in memory (about 1.5 KB an entry once parsed), so a bigger one is refused
 * before it is read (its size) or parsed (its entries, counted in its bytes),
 * and export refuses to write one. 250,000 entries is a run of about as many
 * files; more must travel in several archives.
 */
export const MAX_INDEX_BYTES = 64 * 1024 * 1024;
export const MAX_INDEX_ENTRIES = 250_000;

export interface DirEntry {
  path: string;
  type: "dir";
  /** Permission bits, 0..0o777. */
  mode: number;
}

export interface FileEntry {
  path: string;
  type: "file";
  mode: number;
  size: number;
  sha256: string;
  /** Modification time, integer microseconds (as log/files has it); import restores it. */
  mtime: number;
}

export interface SymlinkEntry {
  path: string;
  type: "symlink";
  /** Relative to the link's dir, `/`-separated, and within the archive's runs. */
  target: string;
}

export type ArchiveEntry = DirEntry | FileEntry | SymlinkEntry;
export type EntryType = ArchiveEntry["type"];

export interface ArchivedRun {
  id: string;
  name: string;
}

export interface ArchiveIndex {
  format: typeof ARCHIVE_FORMAT;
  version: number;
  /** The runstage version that wrote the archive. */
  runstage: string;
  /** ISO 8601, UTC. */
  created: string;
  runs: ArchivedRun[];
  /** In archive order: a dir before what it holds. */
  entries: ArchiveEntry[];
}

/** Why an archive or a run cannot be archived; the command says which file and what follows. */
export class ArchiveRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArchiveRefusal";
  }
}

/** The archive paths of a run's parts, meta dir first (it is what makes a run listed). */
export function runPartPaths(id: string): string[] {
  return [`${id}.meta`, id, `${id}.project`];
}

/**
 * Whether two descriptions of one run are the same run: same entries with the
 * same types, modes, sizes, digests and targets. Times are not content.
 */
export function sameContent(a: readonly ArchiveEntry[], b: readonly ArchiveEntry[]): boolean {
  if (a.length !== b.length) return false;
  const byPath = new Map(b.map((e) => [e.path, e]));
  return a.every((x) => {
    const y = byPath.get(x.path);
    if (y === undefined || y.type !== x.type) return false;
    if (x.type === "symlink") return x.target === (y as SymlinkEntry).target;
    if (x.mode !== (y as DirEntry | FileEntry).mode) return false;
    return x.type === "dir" ||
      (x.size === (y as FileEntry).size && x.sha256 === (y as FileEntry).sha256);
  });
}
