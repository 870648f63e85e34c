/**
 * The run archive: what `runstage export` writes and `runstage import` reads.
 * A tar file (ustar, pax headers for long or non-ASCII names), gzipped or not,
 * whose first entry is an index, `runstage-index.json`, naming the runs and
 * every entry that follows with its type, mode, and for files size and SHA-256,
 * for symlinks their target. Each run is its three parts under the names they
 * have in a runs home: `<id>/`, `<id>.meta/` and `<id>.project`.
 *
 * This module is the format's rules, shared by both directions: which paths and
 * link targets an archive may hold, so that nothing it describes can land
 * outside the archive's own runs; parsing and checking an index; and reading a
 * run's files back out of its entries. The shapes (index, entries, a run's
 * parts) are in entry.ts and reading runs from disk as entries in describe.ts,
 * split off to keep each part about one thing; both are re-exported here, so
 * export, import and tests take the whole format from this module.
 */
import { Buffer } from "node:buffer";
import { isAbsolute } from "node:path";
import { RUN_ID_PATTERN, runName } from "../run/identity.ts";
import {
  ARCHIVE_FORMAT,
  ARCHIVE_VERSION,
  type ArchivedRun,
  type ArchiveEntry,
  type ArchiveIndex,
  ArchiveRefusal,
  type FileEntry,
  INDEX_NAME,
  MAX_INDEX_ENTRIES,
  runPartPaths,
} from "./entry.ts";
import { quotePath } from "../fs/quote.ts";

export * from "./entry.ts";
export * from "./describe.ts";

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
 * Why a name is refused for holding a control character (C0, DEL, C1), or
 * undefined: such a name could pass for another in a listing or a message,
 * or drive the terminal that shows it, so archives do not carry them.
 */
export function controlCharacterReason(path: string): string | undefined {
  return hasControlCharacter(path) ? "has a control character in its name" : undefined;
}

/**
 * Why import refuses an entry for its name or link target alone, or undefined:
 * export asks it too, so that it never writes an archive import would refuse.
 */
export function entryTextReason(entry: ArchiveEntry): string | undefined {
  if (entry.type === "symlink" && hasControlCharacter(entry.target)) {
    return "has a control character in its link target";
  }
  return controlCharacterReason(entry.path);
}

/** Whether `text` holds a control character: C0, DEL or C1. */
export function hasControlCharacter(text: string): boolean {
  // deno-lint-ignore no-control-regex
  return /[\x00-\x1f\x7f-\x9f]/.test(text);
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
    return `links to the absolute path ${quotePath(target)}`;
  }
  const at = link.split("/").slice(0, -1);
  const steps = target.split("/");
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (step === "" || step === ".") continue;
    if (step === "..") {
      if (at.length === 0) return `links to ${quotePath(target)}, outside the runs home`;
      at.pop();
      continue;
    }
    at.push(step);
    if (!roots.has(at[0])) return `links to ${quotePath(target)}, outside the archive's runs`;
    const last = steps.slice(i + 1).every((s) => s === "" || s === ".");
    if (!last && entries.get(at.join("/"))?.type === "symlink") {
      return `links to ${quotePath(target)} through the link ${quotePath(at.join("/"))}`;
    }
  }
  if (at.length === 0) return `links to ${quotePath(target)}, the runs home itself`;
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

/** Why an index is refused for its size alone, before any of it is checked. */
export function tooManyEntries(count: number): ArchiveRefusal {
  return new ArchiveRefusal(
    `its index lists ${count} entries, more than runstage imports from one archive` +
      ` (${MAX_INDEX_ENTRIES}): export the runs into several archives`,
  );
}

/**
 * How many entries an index's bytes hold, counted without parsing them: each
 * entry has one `"path":` key, and no string value can hold that unescaped.
 */
export function countIndexEntries(bytes: Uint8Array): number {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let count = 0;
  for (let at = buf.indexOf(PATH_KEY); at !== -1; at = buf.indexOf(PATH_KEY, at + 1)) {
    let next = at + PATH_KEY.length;
    while (
      next < buf.length &&
      (buf[next] === 0x20 || buf[next] === 0x0a || buf[next] === 0x0d || buf[next] === 0x09)
    ) next++;
    if (buf[next] === 0x3a) count++;
  }
  return count;
}

const PATH_KEY = Buffer.from(`"path"`);

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
  if (value.length > MAX_INDEX_ENTRIES) throw tooManyEntries(value.length);
  const roots = new Set(runs.flatMap((r) => runPartPaths(r.id)));
  const entries = value.map(checkEntry);
  const byPath = new Map<string, ArchiveEntry>();
  for (const entry of entries) {
    if (byPath.has(entry.path)) throw badIndex(`entry ${quotePath(entry.path)} is listed twice`);
    byPath.set(entry.path, entry);
  }
  for (const entry of entries) checkPlace(entry, byPath, roots);
  for (const run of runs) {
    if (byPath.get(`${run.id}.meta`)?.type !== "dir") {
      throw badIndex(`run ${run.name} has no meta dir ${quotePath(`${run.id}.meta`)}`);
    }
  }
  for (const entry of entries) {
    if (entry.type !== "symlink") continue;
    const reason = linkEscapeReason(entry.path, entry.target, byPath, roots);
    if (reason) throw badIndex(`the symlink ${quotePath(entry.path)} ${reason}`);
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
  if (!roots.has(root)) {
    throw badIndex(`entry ${quotePath(entry.path)} is not part of a listed run`);
  }
  if (entry.path === root) {
    const wanted = root.endsWith(".project") ? "file" : "dir";
    if (entry.type !== wanted) {
      throw badIndex(`${quotePath(root)} is a ${entry.type}, not a ${wanted}`);
    }
    return;
  }
  const parent = entry.path.slice(0, entry.path.lastIndexOf("/"));
  if (byPath.get(parent)?.type !== "dir") {
    throw badIndex(`the parent of entry ${quotePath(entry.path)} is not a dir entry`);
  }
}

function checkEntry(value: unknown): ArchiveEntry {
  const e = (value ?? {}) as Record<string, unknown>;
  const path = e.path;
  if (typeof path !== "string") throw badIndex(`an entry has no path`);
  const unsafe = unsafePathReason(path) ?? controlCharacterReason(path);
  if (unsafe) throw badIndex(`entry ${quotePath(path)} ${unsafe}`);
  const isMode = (m: unknown): m is number =>
    Number.isInteger(m) && (m as number) >= 0 &&
    (m as number) <= 0o777;
  switch (e.type) {
    case "dir":
      if (!isMode(e.mode)) throw badIndex(`entry ${quotePath(path)} has no valid mode`);
      return { path, type: "dir", mode: e.mode };
    case "file": {
      const { mode, size, sha256, mtime } = e;
      if (!isMode(mode)) throw badIndex(`entry ${quotePath(path)} has no valid mode`);
      if (!Number.isSafeInteger(size) || (size as number) < 0) {
        throw badIndex(`entry ${quotePath(path)} has no valid size`);
      }
      if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) {
        throw badIndex(`entry ${quotePath(path)} has no valid sha256`);
      }
      if (!Number.isSafeInteger(mtime)) {
        throw badIndex(`entry ${quotePath(path)} has no valid mtime`);
      }
      return {
        path,
        type: "file",
        mode,
        size: size as number,
        sha256,
        mtime: mtime as number,
      };
    }
    case "symlink": {
      if (typeof e.target !== "string") throw badIndex(`symlink ${quotePath(path)} has no target`);
      const symlink: ArchiveEntry = { path, type: "symlink", target: e.target };
      const reason = entryTextReason(symlink);
      if (reason) throw badIndex(`entry ${quotePath(path)} ${reason}`);
      return symlink;
    }
    default:
      throw badIndex(
        `entry ${quotePath(path)} has type "${e.type}": only file, dir and symlink are`,
      );
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
