/**
 * `runstage export`: runs into one archive file (see lib/archive/format.ts) that can
 * cross to another machine. Every run is read twice: once to hash it for the
 * index, which comes first in the archive so import can check entries as they
 * stream past, and once to write it, hashed again so that a file changing
 * meanwhile fails the export instead of shipping a lie. The archive is written
 * to a temp file beside the target (tempfile.ts) and renamed at the end: a
 * failed export leaves no half file, and one killed with kill -9 leaves one
 * that the next export to that path removes. A stop signal (options.signal) is heeded between files
 * and between chunks of both passes: the export throws RunInterrupted, having
 * removed its temp file.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, statSync, writeSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { Writable } from "node:stream";
import { createGzip } from "node:zlib";
import { type Pack, pack } from "tar-stream";
import {
  ARCHIVE_FORMAT,
  ARCHIVE_VERSION,
  type ArchiveEntry,
  type ArchiveIndex,
  type DescribedRun,
  describeRun,
  type FileEntry,
  formatIndex,
  INDEX_NAME,
  linkEscapeReason,
  runDirFiles,
  runPartPaths,
} from "./format.ts";
import { RunstageError } from "../errors.ts";
import { checkAborted, RunInterrupted } from "../interrupt.ts";
import { liveProjectDir } from "../run/live.ts";
import { readManifest } from "../run/manifest.ts";
import { comparePaths } from "../fs/pathorder.ts";
import { quotePath } from "../fs/quote.ts";
import { writeFaultKind } from "../fs/writefault.ts";
import type { RunInfo } from "../run/listing.ts";
import { checkNotRunning } from "../run/trash.ts";
import { removeDeadTempFiles, tempFileFor } from "./tempfile.ts";
import { checkImportable, checkIndexBounds } from "./importable.ts";

/**
 * A live run's source files are links into a project on this machine: on another
 * they would point nowhere. Freezing it first makes it a run that travels.
 */
function checkNotLive(runs: RunInfo[]): void {
  const live = runs.find((r) => liveProjectDir(r.run) !== undefined);
  if (live) {
    throw new RunstageError(
      `cannot export run ${live.run.name}: it is live (its source files link into` +
        ` ${liveProjectDir(live.run)}); freeze it first with "runstage restage ${live.run.name}"`,
    );
  }
}

export interface ArchiveProgress {
  /**
   * What is being done: export hashes every file for the index, then writes
   * them; import reads the archive, then checks each run against its manifest.
   */
  step: "hashing" | "writing" | "reading" | "checking";
  /** Bytes of the step done: file content, or for `reading` archive bytes. */
  bytes: number;
  totalBytes: number;
}

export interface ExportOptions {
  /** The archive to write: FILE.tar, or FILE.tar.gz / FILE.tgz for a gzipped one. */
  file: string;
  /** Replace an existing archive file. */
  force?: boolean;
  /** Store links to files outside the exported runs as those files' content. */
  dereference?: boolean;
  /** Recorded in the index. */
  runstageVersion: string;
  onProgress?: (progress: ArchiveProgress) => void;
  /** Aborting stops the export with RunInterrupted; nothing is left behind. */
  signal?: AbortSignal;
}

export interface ExportedRun {
  id: string;
  name: string;
  files: number;
  /** File content bytes. */
  bytes: number;
}

export interface ExportReport {
  file: string;
  /** The archive's size. */
  bytes: number;
  gzip: boolean;
  runs: ExportedRun[];
}

/** Reads a file into the archive this much at a time: memory stays flat on a 10 GB file. */
const CHUNK = 1024 * 1024;

/**
 * Writes `runs` of `runsHome` into one archive. Refuses, before writing
 * anything: a bad archive name, an existing file (without `force`), a running
 * run, a run holding a fifo or device, a link leading outside the exported
 * runs (unless `dereference` and it leads to a file), a run whose files
 * no longer match its manifest, and whatever else import would refuse
 * (importable.ts: control characters in names and meta, an index too big).
 */
export async function exportRuns(
  runsHome: string,
  runs: RunInfo[],
  options: ExportOptions,
): Promise<ExportReport> {
  const gzip = archiveIsGzip(options.file);
  checkTarget(options.file, options.force ?? false);
  checkNotRunning(runs, "export");
  checkNotLive(runs);
  const ids = runs.map((r) => r.run.id);
  const described: DescribedRun[] = [];
  // The total grows as each run is walked, before its files are hashed.
  const hashing: ArchiveProgress = { step: "hashing", bytes: 0, totalBytes: 0 };
  for (const info of runs) {
    const run = await describeRun(runsHome, info.run.id, {
      within: ids,
      dereference: options.dereference,
      signal: options.signal,
      onFound: (bytes) => void (hashing.totalBytes += bytes),
      onHashed: options.onProgress && ((bytes) => {
        hashing.bytes += bytes;
        options.onProgress!(hashing);
      }),
    });
    checkDescribed(info, run);
    checkImportable(info, run.entries);
    described.push(run);
  }
  // Links may lead into another exported run: check manifests against all the entries.
  const entries = described.flatMap((d) => d.entries);
  checkLinks(entries, ids);
  for (const info of runs) checkManifest(info, entries);
  const index: ArchiveIndex = {
    format: ARCHIVE_FORMAT,
    version: ARCHIVE_VERSION,
    runstage: options.runstageVersion,
    created: new Date().toISOString(),
    runs: runs.map((r) => ({ id: r.run.id, name: r.run.name })),
    entries,
  };
  checkIndexBounds(runs, index);
  const sources = new Map(described.flatMap((d) => [...d.sources]));
  await writeArchive(options.file, gzip, index, sources, options);
  return {
    file: options.file,
    bytes: statSync(options.file).size,
    gzip,
    runs: runs.map((r, i) => exportedRun(r, described[i].entries)),
  };
}

/** `.tar`, `.tar.gz` or `.tgz`: the name says what the file is, to people and to `tar`. */
export function archiveIsGzip(file: string): boolean {
  if (/\.(tar\.gz|tgz)$/.test(file)) return true;
  if (file.endsWith(".tar")) return false;
  throw new RunstageError(
    `cannot export to ${file}: name the archive FILE.tar, or FILE.tar.gz or FILE.tgz to gzip it`,
  );
}

function checkTarget(file: string, force: boolean): void {
  const st = statSync(file, { throwIfNoEntry: false });
  if (st?.isDirectory()) {
    throw new RunstageError(`cannot export to ${file}: it is a directory; give a file name`);
  }
  if (st && !force) {
    throw new RunstageError(
      `cannot export to ${file}: the file exists; pass --force to replace it, or choose another -o`,
    );
  }
  if (!existsSync(dirname(file))) {
    throw new RunstageError(
      `cannot export to ${file}: no directory ${dirname(file)}; create it or choose another -o`,
    );
  }
}

/** What would make the archive unfaithful or unimportable, refused while nothing is written. */
function checkDescribed(info: RunInfo, run: DescribedRun): void {
  const name = info.run.name;
  if (run.special.length > 0) {
    throw new RunstageError(
      `cannot export run ${name}: "${run.special[0]}" is not a file, dir or symlink (a fifo,` +
        ` socket or device); remove it, or export other runs`,
    );
  }
  const link = run.outsideLinks[0];
  if (link !== undefined) {
    const to = link.real ?? `${link.target}, which does not exist`;
    throw new RunstageError(
      `cannot export run ${name}: the symlink ${quotePath(link.path)}` +
        ` leads outside the exported runs` +
        ` (to ${to}); ` +
        (link.realIsFile
          ? `pass --dereference to store the file it links to instead`
          : `only links to files can be stored as their content; replace it with a copy`),
    );
  }
}

/**
 * Links are rewritten from the real paths they lead to, so they stay inside
 * the exported runs, but for a dangling one named through another link:
 * import would refuse that, so export does.
 */
function checkLinks(entries: ArchiveEntry[], ids: string[]): void {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const roots = new Set(ids.flatMap(runPartPaths));
  for (const entry of entries) {
    if (entry.type !== "symlink") continue;
    const reason = linkEscapeReason(entry.path, entry.target, byPath, roots);
    if (reason) {
      throw new RunstageError(
        `cannot export: the symlink ${quotePath(entry.path)} ${reason}; remove or replace it`,
      );
    }
  }
}

/** A run that no longer matches its manifest would be refused by import: say so now. */
function checkManifest(info: RunInfo, entries: ArchiveEntry[]): void {
  const manifest = readManifest(info.run);
  if (manifest === undefined) return; // not staged: nothing to hold it to
  const files = runDirFiles(info.run.id, entries);
  const expected = new Map(manifest.map((e) => [e.path, e.digest]));
  const problems = [
    ...manifest.filter((e) => !files.has(e.path)).map((e) => `missing ${quotePath(e.path)}`),
    ...manifest.filter((e) => files.has(e.path) && files.get(e.path) !== e.digest)
      .map((e) => `modified ${quotePath(e.path)}`),
    ...[...files.keys()].filter((p) => !expected.has(p))
      .sort(comparePaths).map((p) => `unexpected ${quotePath(p)}`),
  ];
  if (problems.length > 0) {
    throw new RunstageError(
      `cannot export run ${info.run.name}: its files do not match its manifest` +
        ` (${problems[0]}${problems.length > 1 ? `, and ${problems.length - 1} more` : ""});` +
        ` see "runstage verify ${info.run.name}"`,
    );
  }
}

function exportedRun(info: RunInfo, entries: ArchiveEntry[]): ExportedRun {
  const files = entries.filter((e) => e.type === "file");
  return {
    id: info.run.id,
    name: info.run.name,
    files: files.length,
    bytes: files.reduce((n, e) => n + e.size, 0),
  };
}

// --- writing ----------------------------------------------------------------------------------

async function writeArchive(
  file: string,
  gzip: boolean,
  index: ArchiveIndex,
  sources: Map<string, string>,
  options: ExportOptions,
): Promise<void> {
  // What an export to this path that was killed left behind goes first.
  removeDeadTempFiles(file);
  const tmp = tempFileFor(file);
  const tar = pack();
  // A failure reaches us through `written` and each entry's callback, not as an event.
  tar.on("error", () => {});
  // streamx streams pipe into node's; their typings are not node's.
  const bytes = gzip ? tar.pipe(createGzip() as unknown as Writable) : tar;
  const written = writeArchiveFile(tmp, bytes as unknown as AsyncIterable<Uint8Array>);
  // A write error ends the writing while entries still wait on it: let them see it.
  written.catch(() => tar.destroy(new Error("archive write failed")));
  try {
    const totalBytes = index.entries.reduce((n, e) => n + (e.type === "file" ? e.size : 0), 0);
    const progress: ArchiveProgress = { step: "writing", bytes: 0, totalBytes };
    await addEntry(tar, { name: INDEX_NAME, type: "file", mode: 0o644 }, formatIndex(index));
    for (const entry of index.entries) {
      checkAborted(options.signal);
      if (entry.type === "file") {
        await addFile(tar, entry, sources.get(entry.path)!, (n) => {
          progress.bytes += n;
          options.onProgress?.(progress);
          checkAborted(options.signal);
        });
      } else if (entry.type === "dir") {
        await addEntry(tar, { name: entry.path, type: "directory", mode: entry.mode });
      } else {
        await addEntry(tar, { name: entry.path, type: "symlink", linkname: entry.target });
      }
    }
    tar.finalize();
    await written;
    await rename(tmp, file);
  } catch (err) {
    tar.destroy();
    // An entry stopped by a failed write says only that it was closed: the write says why.
    const writeError = await written.then(() => undefined, (e: unknown) => e);
    await rm(tmp, { force: true });
    if (err instanceof RunstageError || err instanceof RunInterrupted) throw err;
    const cause = writeFaultKind(writeError) === undefined ? err : writeError;
    throw new RunstageError(
      `cannot export to ${file}: ${writeFailure(cause, file)}; no archive was written`,
    );
  }
}

/** Why the archive could not be written, and what to do, for the one line. */
function writeFailure(err: unknown, file: string): string {
  switch (writeFaultKind(err)) {
    case "full":
      return `the disk is full (no space left in ${quotePath(dirname(file))}); free some space` +
        ` there or choose another -o`;
    case "read-only":
      return `${quotePath(dirname(file))} is on a read-only file system; choose another -o`;
    case "denied":
      return `no permission to write in ${quotePath(dirname(file))}; choose another -o`;
    default:
      return `writing failed (${(err as NodeJS.ErrnoException).code ?? err})`;
  }
}

/**
 * Writes the archive's bytes to `tmp` as they come. Synchronous writes on
 * purpose: under Deno, a failed asynchronous write to a file (a full disk)
 * escapes as an uncaught error instead of failing the stream.
 */
async function writeArchiveFile(tmp: string, bytes: AsyncIterable<Uint8Array>): Promise<void> {
  const fd = openSync(tmp, "wx");
  try {
    for await (const chunk of bytes) {
      for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at);
    }
  } finally {
    closeSync(fd);
  }
}

type Header = Parameters<Pack["entry"]>[0];

/** A dir, link or small file entry; resolves once the pack has taken it. */
function addEntry(tar: Pack, header: Header, content?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    if (content === undefined) tar.entry({ ...header, mtime: new Date() }, done);
    else tar.entry({ ...header, mtime: new Date() }, content, done);
  });
}

/**
 * Streams one file into the archive, hashing it on the way: the content must
 * still be what the index says, or the archive would lie.
 */
async function addFile(
  tar: Pack,
  entry: FileEntry,
  source: string,
  onChunk: (bytes: number) => void,
): Promise<void> {
  let settle!: (err?: Error | null) => void;
  const finished = new Promise<void>((done, fail) => {
    settle = (err) => (err ? fail(err) : done());
  });
  finished.catch(() => {}); // awaited below; a failure before then is handled there
  const sink = tar.entry(
    {
      name: entry.path,
      type: "file",
      mode: entry.mode,
      size: entry.size,
      mtime: new Date(Math.floor(entry.mtime / 1000)),
    },
    (err) => settle(err),
  );
  const fh = await open(source, "r");
  const hash = createHash("sha256");
  let size = 0;
  try {
    while (size < entry.size) {
      // A fresh buffer each time: the pack keeps a chunk until the archive is written.
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, entry.size - size));
      const { bytesRead } = await fh.read(buf, 0, buf.length, size);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      size += bytesRead;
      if (!sink.write(chunk)) await drained(sink);
      onChunk(bytesRead);
    }
  } finally {
    await fh.close();
  }
  if (size !== entry.size || hash.digest("hex") !== entry.sha256) {
    sink.destroy(new Error("changed"));
    throw new RunstageError(
      `cannot export: ${quotePath(entry.path)} changed while it was being exported; export again` +
        ` once nothing writes to the run`,
    );
  }
  sink.end(null); // streamx's typings insist on an argument; null writes nothing
  await finished;
}

function drained(sink: ReturnType<Pack["entry"]>): Promise<void> {
  return new Promise((resolve, reject) => {
    if (sink.destroyed) return reject(new Error("archive entry closed"));
    const onDrain = () => {
      sink.off("close", onClose);
      resolve();
    };
    const onClose = () => {
      sink.off("drain", onDrain);
      reject(new Error("archive entry closed"));
    };
    sink.once("drain", onDrain);
    sink.once("close", onClose);
  });
}
