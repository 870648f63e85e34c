/**
 * The run archive: what `runstage export` writes and `runstage import` reads.
 * A tar file (ustar, pax headers for long or non-ASCII names), gzipped or not,
 * whose first entry is an index, `runstage-index.json`, naming the runs and
 * every entry that follows with its type, mode, and for files size and SHA-256,
 * for symlinks their target. Each run is its three parts under the names they
 * have in a runs home: `<id>/`, `<id>.meta/` and `<id>.project`.
 *
 * This module is the format and its rules, shared by both directions: reading
 * a run's parts as entries, and checking an index and each path and link
 * target an archive holds, so that nothing it describes can land outside the
 * archive's own runs.
 */
import type { Stats } from "node:fs";
import { lstat, readdir, readlink, realpath, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { mtimeMicros } from "../run/fileslog.ts";
import { hashFile } from "../run/manifest.ts";
import { comparePaths } from "../fs/pathorder.ts";
import { forEachConcurrent } from "../fs/pool.ts";
import { RUN_ID_PATTERN, runName } from "../run/identity.ts";

export const INDEX_NAME = "runstage-index.json";
export const ARCHIVE_FORMAT = "runstage-archive";
export const ARCHIVE_VERSION = 1;
/** An index this big would be millions of entries: refuse rather than hold it. */
export const MAX_INDEX_BYTES = 256 * 1024 * 1024;

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

/** Files hashed at once, as the manifest does: enough to keep a disk and two cores busy. */
const HASH_CONCURRENCY = 8;

/** A run id as runstage writes them: `runName` alone checks only the first 8 digits. */

/** The archive paths of a run's parts, meta dir first (it is what makes a run listed). */
export function runPartPaths(id: string): string[] {
  return [`${id}.meta`, id, `${id}.project`];
}

// --- reading runs as entries ----------------------------------------------------------------

/** A link whose target is outside the runs being archived (or dangling there). */
export interface OutsideLink {
  path: string;
  /** As read from the link. */
  target: string;
  /** Where it leads on this machine; undefined when it leads nowhere. */
  real?: string;
  realIsFile: boolean;
}

export interface DescribedRun {
  entries: ArchiveEntry[];
  /** Where each file entry's content is read from: its own path, or a dereferenced link's file. */
  sources: Map<string, string>;
  outsideLinks: OutsideLink[];
  /** Paths that are neither file, dir nor symlink (fifos, sockets, devices). */
  special: string[];
}

/**
 * A run's parts in the runs home as archive entries, files hashed. A link
 * into the parts of `options.within` (the runs archived together) is
 * rewritten relative to its own dir, the one form import accepts; any other
 * link is reported in `outsideLinks`, unless dereferenced. Parts the run
 * lacks (a half-written run) are simply not there.
 */
export async function describeRun(
  runsHome: string,
  id: string,
  options: DescribeOptions,
): Promise<DescribedRun> {
  // Real paths, so a runs home reached through a link still contains its runs' link targets.
  const realHome = await realpath(runsHome);
  const walk: Walk = {
    home: realHome,
    roots: new Set(options.within.flatMap(runPartPaths)),
    dereference: options.dereference ?? false,
    out: { entries: [], sources: new Map(), outsideLinks: [], special: [] },
  };
  for (const part of runPartPaths(id).sort(comparePaths)) await describePath(walk, part);
  const out = walk.out;
  const files = out.entries.filter((e): e is FileEntry => e.type === "file");
  await forEachConcurrent(files, HASH_CONCURRENCY, async (entry) => {
    entry.sha256 = await hashFile(out.sources.get(entry.path)!);
  });
  return out;
}

export interface DescribeOptions {
  /** The run ids whose parts links may point into: the runs archived together. */
  within: readonly string[];
  /** Store a link to a file outside them as that file's content. */
  dereference?: boolean;
}

interface Walk {
  home: string;
  roots: Set<string>;
  dereference: boolean;
  out: DescribedRun;
}

async function describePath(walk: Walk, path: string): Promise<void> {
  const abs = join(walk.home, path);
  const st = await lstat(abs).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  });
  if (st === undefined) return;
  if (st.isDirectory()) {
    walk.out.entries.push({ path, type: "dir", mode: st.mode & 0o777 });
    const names = (await readdir(abs)).sort(comparePaths);
    for (const name of names) await describePath(walk, `${path}/${name}`);
  } else if (st.isFile()) {
    pushFile(walk.out, path, abs, st);
  } else if (st.isSymbolicLink()) {
    await describeLink(walk, path);
  } else {
    walk.out.special.push(path);
  }
}

function pushFile(out: DescribedRun, path: string, source: string, st: Stats): void {
  out.entries.push({
    path,
    type: "file",
    mode: st.mode & 0o777,
    size: st.size,
    sha256: "", // hashed for all files at once, concurrently
    mtime: mtimeMicros(st.mtimeMs),
  });
  out.sources.set(path, source);
}

/**
 * A link into the archived runs becomes a relative link; one to a file
 * elsewhere becomes that file when dereferencing; any other is left to the
 * caller in `outsideLinks`.
 */
async function describeLink(walk: Walk, path: string): Promise<void> {
  const abs = join(walk.home, path);
  const target = await readlink(abs);
  const real = await realpath(abs).catch(() => undefined);
  // A dangling link still names a place: keep it when that place is ours.
  const lands = real ?? join(dirname(abs), target);
  const inHome = relative(walk.home, lands).split(sep).join("/");
  if (!inHome.startsWith("../") && walk.roots.has(inHome.split("/")[0])) {
    const rel = relative(dirname(abs), lands).split(sep).join("/");
    walk.out.entries.push({ path, type: "symlink", target: rel === "" ? "." : rel });
    return;
  }
  const st = real === undefined ? undefined : await stat(real);
  if (st?.isFile() && walk.dereference) return pushFile(walk.out, path, real!, st);
  walk.out.outsideLinks.push({ path, target, real, realIsFile: st?.isFile() ?? false });
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

// --- checking what an archive holds ----------------------------------------------------------

/**
 * Why an archive path cannot be one of ours, or undefined: it must be
 * relative, `/`-separated, with no empty, `.` or `..` segment.
 */
export function unsafePathReason(path: string): string | undefined {
  if (path === "") return "has an empty name";
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path) || isAbsolute(path)) {
    return "is an absolute path";
  }
  if (path.includes("\0")) return "has a NUL byte in its name";
  const segments = path.split("/");
  if (segments.includes("..")) return `has a ".." segment`;
  if (segments.some((s) => s === "" || s === ".")) {
    return `is not a plain path (empty or "." segment)`;
  }
  return undefined;
}

/**
 * Why a symlink entry's target could lead outside the archive's runs, or
 * undefined. The target is walked from the link's dir one segment at a time,
 * as the system resolves it: every step must stay inside a part of the
 * archive's runs (the runs home between them is only passed through by
 * `..`), and no step but the last may be a link, since `..` after a link
 * climbs from wherever that link leads.
 */
export function linkEscapeReason(
  link: string,
  target: string,
  entries: ReadonlyMap<string, ArchiveEntry>,
  roots: ReadonlySet<string>,
): string | undefined {
  if (target === "") return "has an empty target";
  if (target.startsWith("/") || /^[A-Za-z]:/.test(target)) {
    return `links to the absolute path "${target}"`;
  }
  const at = link.split("/").slice(0, -1);
  const steps = target.split("/");
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (step === "" || step === ".") continue;
    if (step === "..") {
      if (at.length === 0) return `links to "${target}", outside the runs home`;
      at.pop();
      continue;
    }
    at.push(step);
    if (!roots.has(at[0])) return `links to "${target}", outside the archive's runs`;
    const last = steps.slice(i + 1).every((s) => s === "" || s === ".");
    if (!last && entries.get(at.join("/"))?.type === "symlink") {
      return `links to "${target}" through the link "${at.join("/")}"`;
    }
  }
  if (at.length === 0) return `links to "${target}", the runs home itself`;
  return undefined;
}

/**
 * Parses and checks an index: its format and version, its runs, and every
 * entry: a safe path inside one of its runs, a known type, sane fields, no
 * path twice, a dir as every parent, each run's meta dir present, and links
 * that stay inside the archive's runs. Throws ArchiveRefusal naming the fault.
 */
export function parseIndex(text: string): ArchiveIndex {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ArchiveRefusal(`its index ${INDEX_NAME} is not JSON (${(err as Error).message})`);
  }
  const index = raw as Partial<ArchiveIndex>;
  if (raw === null || typeof raw !== "object" || index.format !== ARCHIVE_FORMAT) {
    throw new ArchiveRefusal(`its ${INDEX_NAME} is not a runstage archive index`);
  }
  if (typeof index.version !== "number" || index.version > ARCHIVE_VERSION) {
    throw new ArchiveRefusal(
      `it is in archive format ${index.version}, newer than this runstage reads` +
        ` (${ARCHIVE_VERSION}): import it with runstage ${
          index.runstage ?? "of the exporting machine"
        }` +
        ` or newer`,
    );
  }
  const runs = checkRuns(index.runs);
  const entries = checkEntries(index.entries, runs);
  return {
    format: ARCHIVE_FORMAT,
    version: index.version,
    runstage: String(index.runstage ?? ""),
    created: String(index.created ?? ""),
    runs,
    entries,
  };
}

function badIndex(what: string): ArchiveRefusal {
  return new ArchiveRefusal(`its index ${INDEX_NAME} is invalid: ${what}`);
}

function checkRuns(value: unknown): ArchivedRun[] {
  if (!Array.isArray(value) || value.length === 0) throw badIndex("it lists no runs");
  const seen = new Set<string>();
  return value.map((run) => {
    const { id, name } = (run ?? {}) as Partial<ArchivedRun>;
    if (typeof id !== "string" || !RUN_ID_PATTERN.test(id)) {
      throw badIndex(`"${id}" is not a run id`);
    }
    if (name !== runName(id)) throw badIndex(`run ${id} is not named "${name}"`);
    if (seen.has(id)) throw badIndex(`run ${id} is listed twice`);
    seen.add(id);
    return { id, name };
  });
}

function checkEntries(value: unknown, runs: ArchivedRun[]): ArchiveEntry[] {
  if (!Array.isArray(value)) throw badIndex("it has no entries");
  const roots = new Set(runs.flatMap((r) => runPartPaths(r.id)));
  const entries = value.map(checkEntry);
  const byPath = new Map<string, ArchiveEntry>();
  for (const entry of entries) {
    if (byPath.has(entry.path)) throw badIndex(`entry "${entry.path}" is listed twice`);
    byPath.set(entry.path, entry);
  }
  for (const entry of entries) checkPlace(entry, byPath, roots);
  for (const run of runs) {
    if (byPath.get(`${run.id}.meta`)?.type !== "dir") {
      throw badIndex(`run ${run.name} has no meta dir "${run.id}.meta"`);
    }
  }
  for (const entry of entries) {
    if (entry.type !== "symlink") continue;
    const reason = linkEscapeReason(entry.path, entry.target, byPath, roots);
    if (reason) throw badIndex(`the symlink "${entry.path}" ${reason}`);
  }
  return entries;
}

/** Where an entry sits: inside one of the runs, under a dir, the part of the right type. */
function checkPlace(
  entry: ArchiveEntry,
  byPath: ReadonlyMap<string, ArchiveEntry>,
  roots: ReadonlySet<string>,
): void {
  const [root] = entry.path.split("/");
  if (!roots.has(root)) throw badIndex(`entry "${entry.path}" is not part of a listed run`);
  if (entry.path === root) {
    const wanted = root.endsWith(".project") ? "file" : "dir";
    if (entry.type !== wanted) throw badIndex(`"${root}" is a ${entry.type}, not a ${wanted}`);
    return;
  }
  const parent = entry.path.slice(0, entry.path.lastIndexOf("/"));
  if (byPath.get(parent)?.type !== "dir") {
    throw badIndex(`the parent of entry "${entry.path}" is not a dir entry`);
  }
}

function checkEntry(value: unknown): ArchiveEntry {
  const e = (value ?? {}) as Record<string, unknown>;
  const path = e.path;
  if (typeof path !== "string") throw badIndex(`an entry has no path`);
  const unsafe = unsafePathReason(path);
  if (unsafe) throw badIndex(`entry "${path}" ${unsafe}`);
  const isMode = (m: unknown): m is number =>
    Number.isInteger(m) && (m as number) >= 0 &&
    (m as number) <= 0o777;
  switch (e.type) {
    case "dir":
      if (!isMode(e.mode)) throw badIndex(`entry "${path}" has no valid mode`);
      return { path, type: "dir", mode: e.mode };
    case "file": {
      const { mode, size, sha256, mtime } = e;
      if (!isMode(mode)) throw badIndex(`entry "${path}" has no valid mode`);
      if (!Number.isSafeInteger(size) || (size as number) < 0) {
        throw badIndex(`entry "${path}" has no valid size`);
      }
      if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) {
        throw badIndex(`entry "${path}" has no valid sha256`);
      }
      if (!Number.isSafeInteger(mtime)) throw badIndex(`entry "${path}" has no valid mtime`);
      return {
        path,
        type: "file",
        mode,
        size: size as number,
        sha256,
        mtime: mtime as number,
      };
    }
    case "symlink":
      if (typeof e.target !== "string") throw badIndex(`symlink "${path}" has no target`);
      return { path, type: "symlink", target: e.target };
    default:
      throw badIndex(`entry "${path}" has type "${e.type}": only file, dir and symlink are`);
  }
}

/** The index as the archive's first entry: JSON, 2-space indent. */
export function formatIndex(index: ArchiveIndex): string {
  return JSON.stringify(index, null, 2) + "\n";
}

/** The runs' own entries, by run id (the first segment of each path). */
export function entriesByRun(index: ArchiveIndex): Map<string, ArchiveEntry[]> {
  const byRun = new Map(index.runs.map((r) => [r.id, [] as ArchiveEntry[]]));
  for (const entry of index.entries) {
    const root = entry.path.split("/")[0];
    const id = root.replace(/\.(meta|project)$/, "");
    byRun.get(id)?.push(entry);
  }
  return byRun;
}

/**
 * The run dir's files as `verify` sees them, from a run's entries: path in the
 * run dir to SHA-256. Links to files count as those files (a scan follows
 * them); links to dirs are not entered and dangling links are no files.
 */
export function runDirFiles(id: string, entries: readonly ArchiveEntry[]): Map<string, string> {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const files = new Map<string, string>();
  for (const entry of entries) {
    if (!entry.path.startsWith(`${id}/`)) continue;
    const file = followLinks(entry, byPath);
    if (file !== undefined) files.set(entry.path.slice(id.length + 1), file.sha256);
  }
  return files;
}

/** The file entry a chain of (checked, relative) links ends at, if it ends at one. */
function followLinks(
  entry: ArchiveEntry,
  byPath: ReadonlyMap<string, ArchiveEntry>,
): FileEntry | undefined {
  let at: ArchiveEntry | undefined = entry;
  // As the system does, give up on a chain this long: it is a loop.
  for (let hops = 0; at?.type === "symlink" && hops < 40; hops++) {
    const segments = at.path.split("/").slice(0, -1);
    for (const step of at.target.split("/")) {
      if (step === "..") segments.pop();
      else if (step !== "" && step !== ".") segments.push(step);
    }
    at = byPath.get(segments.join("/"));
  }
  return at?.type === "file" ? at : undefined;
}
