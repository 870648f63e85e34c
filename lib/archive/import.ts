/**
 * `runstage import`: runs from an archive that `runstage export` wrote (see
 * lib/archive/format.ts), into a runs home, provably intact or not at all.
 *
 * The archive is streamed once into a dot-named staging dir inside the runs
 * home (which `listRuns` ignores, and from which a rename into place is
 * instant), and checked as it streams: the index first, then every entry
 * against it (its path, type, size, digest, link target), then every run's
 * manifest against its files. Only when all of that holds do the runs move
 * into place, all of them or none. Whatever fails, the staging dir goes, and
 * a runs home that did not exist before does not exist after.
 */
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { chmod, mkdir, open, symlink, utimes } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract, type Header } from "tar-stream";
import {
  type ArchivedRun,
  type ArchiveEntry,
  type ArchiveIndex,
  ArchiveRefusal,
  describeRun,
  entriesByRun,
  type FileEntry,
  INDEX_NAME,
  MAX_INDEX_BYTES,
  parseIndex,
  runPartPaths,
  sameContent,
  type SymlinkEntry,
  unsafePathReason,
} from "./format.ts";
import { RunstageError } from "../errors.ts";
import type { ArchiveProgress } from "./export.ts";
import { readManifest, verifyRunFiles } from "../run/manifest.ts";
import { comparePaths } from "../fs/pathorder.ts";
import { type Run, runAt } from "../run/identity.ts";

export interface ImportOptions {
  onProgress?: (progress: ArchiveProgress) => void;
  /** Aborting stops the import; the runs home is left as it was. */
  signal?: AbortSignal;
}

export type ImportStatus = "imported" | "already present";

export interface ImportedRun {
  id: string;
  name: string;
  status: ImportStatus;
  files: number;
  /** File content bytes. */
  bytes: number;
}

export interface ImportReport {
  file: string;
  runsHome: string;
  /** In the index's order. */
  runs: ImportedRun[];
}

/**
 * Imports the runs of `file` into `runsHome`. Runs already there with the same
 * content are skipped; a run id there with other content refuses the import.
 * Throws a RunstageError naming the first fault; the runs home is then as it
 * was.
 */
export async function importArchive(
  file: string,
  runsHome: string,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const size = archiveSize(file);
  const gzip = await startsWithGzipMagic(file);
  const createdHome = makeRunsHome(runsHome);
  let staging: string | undefined;
  try {
    staging = mkdtempSync(join(runsHome, ".import-"));
    const present = new Set<string>();
    const index = await extractArchive(file, gzip, staging, size, options, async (index) => {
      for (const id of await presentRuns(runsHome, index)) present.add(id);
    });
    const todo = index.runs.filter((r) => !present.has(r.id));
    for (const run of todo) await checkManifest(runAt(staging, run.id, run.name));
    moveIntoPlace(staging, runsHome, todo);
    await applyDirModes(runsHome, index, todo);
    return report(file, runsHome, index, present);
  } catch (err) {
    // A runs home made for this import goes with it, staging dir and all.
    if (createdHome !== undefined) rmSync(createdHome, { recursive: true, force: true });
    throw importError(file, runsHome, err);
  } finally {
    if (staging !== undefined) rmSync(staging, { recursive: true, force: true });
  }
}

function archiveSize(file: string): number {
  const st = statSync(file, { throwIfNoEntry: false });
  if (st === undefined) throw new RunstageError(`cannot import ${file}: no such file`);
  if (!st.isFile()) throw new RunstageError(`cannot import ${file}: not a file`);
  return st.size;
}

/** Gzip or not by its first bytes, whatever the file is called. */
async function startsWithGzipMagic(file: string): Promise<boolean> {
  const fh = await open(file, "r").catch((err: NodeJS.ErrnoException) => {
    throw new RunstageError(`cannot import ${file}: cannot read it (${err.code})`);
  });
  try {
    const head = new Uint8Array(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Creates the runs home if needed; returns the outermost dir it created, to remove on failure. */
function makeRunsHome(runsHome: string): string | undefined {
  try {
    return mkdirSync(runsHome, { recursive: true });
  } catch (err) {
    throw new RunstageError(
      `cannot import into ${runsHome}: cannot create it (${(err as NodeJS.ErrnoException).code});` +
        ` pass --runs DIR with a directory you can write`,
    );
  }
}

/** One line for what went wrong; errors of our own checks already are. */
function importError(file: string, runsHome: string, err: unknown): unknown {
  if (err instanceof RunstageError) return err;
  const nothing = "nothing was imported";
  if (err instanceof ArchiveRefusal) {
    return new RunstageError(`cannot import ${file}: ${err.message}; ${nothing}`);
  }
  if (isSystemError(err)) {
    const code = (err as NodeJS.ErrnoException).code;
    return new RunstageError(
      `cannot import ${file}: writing into ${runsHome} failed (${code}); ${nothing}`,
    );
  }
  return err;
}

// --- streaming the archive into the staging dir ------------------------------------------------

type IndexCheck = (index: ArchiveIndex) => Promise<void>;

/**
 * Streams the archive into `staging`, checking every entry, and returns its
 * index. `onIndex` runs once the index is read and checked, before any entry
 * is written: a run that cannot be imported fails there, not after the
 * whole archive was written.
 */
async function extractArchive(
  file: string,
  gzip: boolean,
  staging: string,
  totalBytes: number,
  options: ImportOptions,
  onIndex: IndexCheck,
): Promise<ArchiveIndex> {
  const progress = { bytes: 0, totalBytes };
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
    if (err instanceof ArchiveRefusal || err instanceof RunstageError || isSystemError(err)) {
      throw err;
    }
    // A gzip or tar error: the stream that failed says why better than the one it closed.
    const cause = await fed.then(() => undefined, (e) => e);
    throw corrupt(cause ?? err, reader.position());
  }
  return reader.finish();
}

/** An error of a system call (a full disk, say), as opposed to one about the archive's bytes. */
function isSystemError(err: unknown): boolean {
  return err instanceof Error && "syscall" in err;
}

function corrupt(err: unknown, position: string): Error {
  if (isSystemError(err)) return err as Error;
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
    if (this.#current !== undefined) return `, in entry "${this.#current}"`;
    return this.#last === undefined ? "" : `, after entry "${this.#last}"`;
  }

  async take(header: Header, data: EntryData): Promise<void> {
    this.#current = header.name;
    await this.check(header, data);
    this.#last = header.name;
    this.#current = undefined;
  }

  private async check(header: Header, data: EntryData): Promise<void> {
    if (this.signal?.aborted) throw interrupted();
    if (this.#index === undefined) return await this.takeIndex(header, data);
    const path = header.type === "directory" ? header.name.replace(/\/$/, "") : header.name;
    const unsafe = unsafePathReason(path);
    if (unsafe) throw new ArchiveRefusal(`entry "${path}" ${unsafe}`);
    const type = entryType(header);
    if (typeof type !== "string") {
      throw new ArchiveRefusal(
        `entry "${path}" is ${type.what}: runstage archives hold only files, dirs and symlinks`,
      );
    }
    const expected = this.#byPath.get(path);
    if (expected === undefined) {
      throw new ArchiveRefusal(`entry "${path}" is not in the archive's index`);
    }
    if (this.#seen.has(path)) throw new ArchiveRefusal(`entry "${path}" appears twice`);
    this.#seen.add(path);
    if (expected.type !== type) {
      throw new ArchiveRefusal(`entry "${path}" is a ${type}, the index says a ${expected.type}`);
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
    if (header.size > MAX_INDEX_BYTES) {
      throw new ArchiveRefusal(`its index ${INDEX_NAME} is too large (${header.size} bytes)`);
    }
    const chunks: Uint8Array[] = [];
    for await (const chunk of data) chunks.push(chunk);
    const text = new TextDecoder().decode(concat(chunks));
    const index = parseIndex(text);
    for (const entry of index.entries) this.#byPath.set(entry.path, entry);
    await this.onIndex(index);
    this.#index = index;
  }

  private async takeLink(header: Header, expected: SymlinkEntry, abs: string) {
    if (header.linkname !== expected.target) {
      throw new ArchiveRefusal(
        `symlink "${expected.path}" points to "${header.linkname}",` +
          ` the index says "${expected.target}" (tampered or corrupt)`,
      );
    }
    await mkdir(dirname(abs), { recursive: true });
    await symlink(expected.target, abs);
  }

  private async takeFile(header: Header, data: EntryData, expected: FileEntry, abs: string) {
    if (header.size !== expected.size) {
      throw new ArchiveRefusal(
        `entry "${expected.path}" holds ${header.size} bytes, the index says ${expected.size}` +
          ` (tampered or corrupt)`,
      );
    }
    await mkdir(dirname(abs), { recursive: true });
    // "wx": a path is written once, and never through something already there.
    const fh = await open(abs, "wx", 0o600);
    const hash = createHash("sha256");
    try {
      for await (const chunk of data) {
        if (this.signal?.aborted) throw interrupted();
        hash.update(chunk);
        await fh.write(chunk);
      }
    } finally {
      await fh.close();
    }
    if (hash.digest("hex") !== expected.sha256) {
      throw new ArchiveRefusal(
        `entry "${expected.path}" does not match its SHA-256 in the index (tampered or corrupt)`,
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
          `entry "${entry.path}" of the index is missing from the archive (truncated or incomplete)`,
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

function interrupted(): RunstageError {
  return new RunstageError("import interrupted: nothing was imported", 130);
}

// --- against the runs home ------------------------------------------------------------------------

/**
 * The index's runs already in the runs home with the same content, to skip.
 * A run id there with other content (or only some of its parts) refuses the
 * whole import: which of the two is right is for the user to say.
 */
async function presentRuns(runsHome: string, index: ArchiveIndex): Promise<string[]> {
  const ids = index.runs.map((r) => r.id);
  const byRun = entriesByRun(index);
  const present: string[] = [];
  for (const run of index.runs) {
    const there = runPartPaths(run.id).some((p) => statSync(join(runsHome, p), NO_THROW));
    if (!there) continue;
    const existing = await describeRun(runsHome, run.id, { within: ids });
    const same = existing.outsideLinks.length === 0 && existing.special.length === 0 &&
      sameContent(existing.entries, byRun.get(run.id)!);
    if (!same) {
      throw new RunstageError(
        `cannot import: run ${run.name} (${run.id}) is already in ${runsHome} with different` +
          ` content; purge or delete it there first, or import into another runs home` +
          ` (--runs DIR); nothing was imported`,
      );
    }
    present.push(run.id);
  }
  return present;
}

const NO_THROW = { throwIfNoEntry: false } as const;

/** A run's files against its own manifest, as `verify` would check them after the import. */
async function checkManifest(run: Run): Promise<void> {
  const manifest = readManifest(run);
  if (manifest === undefined) return; // never staged: nothing to hold it to
  const report = await verifyRunFiles(run, manifest);
  const problems = [
    ...report.modified.map((p) => `modified ${p}`),
    ...report.missing.map((p) => `missing ${p}`),
    ...report.unexpected.map((p) => `unexpected ${p}`),
  ];
  if (problems.length > 0) {
    throw new ArchiveRefusal(
      `run ${run.name} does not match its own manifest (${problems[0]}` +
        `${problems.length > 1 ? `, and ${problems.length - 1} more` : ""})`,
    );
  }
}

/**
 * Renames each run's parts from the staging dir into the runs home, meta dir
 * last: it is what makes a run listed, so no one sees a run whose other parts
 * have not arrived. Every target is checked first, and a failed rename undoes
 * the ones before it.
 */
function moveIntoPlace(staging: string, runsHome: string, runs: ArchivedRun[]): void {
  const moves: [from: string, to: string][] = [];
  for (const run of runs) {
    // Meta dir last, as above.
    for (const part of [run.id, `${run.id}.project`, `${run.id}.meta`]) {
      const from = join(staging, part);
      const to = join(runsHome, part);
      if (statSync(to, NO_THROW)) {
        throw new RunstageError(
          `cannot import: ${to} appeared while importing; nothing was imported, import again`,
        );
      }
      if (statSync(from, NO_THROW)) moves.push([from, to]);
    }
  }
  const done: [string, string][] = [];
  try {
    for (const [from, to] of moves) {
      renameSync(from, to);
      done.push([from, to]);
    }
  } catch (err) {
    for (const [from, to] of done.reverse()) renameSync(to, from);
    throw err;
  }
}

/**
 * Dir modes from the index, deepest first, once the runs are in place: a
 * read-only dir set earlier could not have been written into, or moved.
 */
async function applyDirModes(runsHome: string, index: ArchiveIndex, runs: ArchivedRun[]) {
  const roots = new Set(runs.flatMap((r) => runPartPaths(r.id)));
  const dirs = index.entries
    .filter((e) => e.type === "dir" && roots.has(e.path.split("/")[0]))
    .sort((a, b) => comparePaths(b.path, a.path));
  for (const dir of dirs) await chmod(join(runsHome, dir.path), (dir as { mode: number }).mode);
}

function report(
  file: string,
  runsHome: string,
  index: ArchiveIndex,
  present: Set<string>,
): ImportReport {
  const byRun = entriesByRun(index);
  return {
    file,
    runsHome,
    runs: index.runs.map((run) => {
      const files = byRun.get(run.id)!.filter((e): e is FileEntry => e.type === "file");
      return {
        id: run.id,
        name: run.name,
        status: present.has(run.id) ? "already present" : "imported",
        files: files.length,
        bytes: files.reduce((n, e) => n + e.size, 0),
      };
    }),
  };
}
