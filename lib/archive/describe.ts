/**
 * Runs on disk as archive entries: what export writes and what import compares
 * a run already in the runs home against. Walks a run's three parts in byte
 * order, hashes every file, rewrites links into the runs archived together as
 * relative ones, and reports what an archive cannot hold (links leading
 * elsewhere, fifos, devices) for the caller to refuse. It is the one part of
 * the format that reads the file system, so it lives apart from the rules.
 */
import type { Stats } from "node:fs";
import { lstat, readdir, readlink, realpath, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { mtimeMicros } from "../run/fileslog.ts";
import { hashFile } from "../run/manifest.ts";
import { comparePaths } from "../fs/pathorder.ts";
import { forEachConcurrent } from "../fs/pool.ts";
import { checkAborted } from "../interrupt.ts";
import { type ArchiveEntry, type FileEntry, runPartPaths } from "./entry.ts";
import { realPathOrUndefined } from "../fs/stat.ts";

/** Files hashed at once, as the manifest does: enough to keep a disk and two cores busy. */
const HASH_CONCURRENCY = 8;

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
    signal: options.signal,
    out: { entries: [], sources: new Map(), outsideLinks: [], special: [] },
  };
  for (const part of runPartPaths(id).sort(comparePaths)) await describePath(walk, part);
  const out = walk.out;
  const files = out.entries.filter((e): e is FileEntry => e.type === "file");
  options.onFound?.(files.reduce((n, e) => n + e.size, 0));
  await forEachConcurrent(files, HASH_CONCURRENCY, async (entry) => {
    checkAborted(options.signal);
    entry.sha256 = await hashFile(out.sources.get(entry.path)!, options.signal, options.onHashed);
  });
  return out;
}

export interface DescribeOptions {
  /** The run ids whose parts links may point into: the runs archived together. */
  within: readonly string[];
  /** Store a link to a file outside them as that file's content. */
  dereference?: boolean;
  /** Aborting stops the walk and the hashing (RunInterrupted). */
  signal?: AbortSignal;
  /** For progress: hears the bytes of the run's files once walked, then each chunk hashed. */
  onFound?: (bytes: number) => void;
  onHashed?: (bytes: number) => void;
}

interface Walk {
  home: string;
  roots: Set<string>;
  dereference: boolean;
  signal?: AbortSignal;
  out: DescribedRun;
}

async function describePath(walk: Walk, path: string): Promise<void> {
  checkAborted(walk.signal);
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
  const real = realPathOrUndefined(abs);
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
