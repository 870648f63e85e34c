/**
 * A commit's files written out straight from git's object store for
 * `--source git:REF`: no checkout, so the user's index, work tree and HEAD are
 * never read or written, and a bare repository works the same.
 *
 * Extraction: one `git ls-tree` lists the project's subtree; one `git cat-file
 * --batch` streams the blobs, and each is written through in chunks as it arrives,
 * so the memory it takes does not grow with a blob's size. Blobs are written
 * as stored: no smudge filters (Git LFS files stay pointers), no end-of-line
 * conversion.
 *
 * Running git is command.ts and reading `cat-file --batch` is blobs.ts, both
 * split off to keep this module about which files land where; what callers
 * used to import from here about running git is re-exported. Higher-level git
 * (origins, work tree state, provenance) is lib/git/vcs.ts.
 */
import { Buffer } from "node:buffer";
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname, join, sep } from "node:path";
import { RunstageError } from "../errors.ts";
import { BlobStream } from "./blobs.ts";
import { gitFailed, type GitOutput, type GitRepo, inRepo, runGit } from "./command.ts";
import { quotePath } from "../fs/quote.ts";

export {
  gitFailed,
  GitNotFoundError,
  type GitOutput,
  type GitRepo,
  inDir,
  inRepo,
  runGit,
  spawnGit,
} from "./command.ts";

// ---------------------------------------------------------------------------
// Extracting a commit

export interface ExtractedTree {
  /** `dest/<prefix>`: the project dir of the extracted tree. */
  projectDir: string;
  /** Files and symlinks written. */
  files: number;
  /** Entries not written and why (submodules, unsafe paths), and LFS pointers. */
  warnings: string[];
}

/** One blob of a tree, as `git ls-tree` names it. */
interface TreeEntry {
  mode: string;
  oid: string;
  /** Relative to the root of the commit, `/`-separated. */
  path: string;
}

/** Blobs up to this size are read whole and written in one call; larger ones stream. */
const WHOLE_BLOB_BYTES = 64 * 1024;

/** What a Git LFS pointer file starts with; such a file is at most 1024 bytes. */
const LFS_POINTER = new TextEncoder().encode("version https://git-lfs.github.com/spec/");

/**
 * Writes the tree of `commit` at `repo.prefix` into `dest/<prefix>`, together with
 * every `.gitignore` of the commit in the dirs above the prefix, in their places,
 * so ignore rules select the same files as in a checkout. `dest` must be an empty
 * dir. It also gets an empty `.git` dir: source code selection takes the nearest dir
 * holding `.git` as the work tree root whose ignore files apply (see findGitWorkTree),
 * and the root must be `dest`, not whatever repository the temp dir is in.
 *
 * Regular files keep their exec bit (modes as a checkout makes them, under the
 * umask), symlinks get their stored target, submodules are skipped with a warning.
 * On error `dest` may hold part of the tree: the caller removes it.
 */
export async function extractCommit(
  repo: GitRepo,
  commit: string,
  dest: string,
): Promise<ExtractedTree> {
  if (readdirSync(dest).length > 0) throw new Error(`extractCommit: ${dest} is not empty`);
  const warnings: string[] = [];
  const entries = await listProjectEntries(repo, commit, warnings);
  mkdirSync(join(dest, ".git"));
  const writer = new TreeWriter(dest, warnings);
  // Files first, links last: no file is ever written through a link of the tree.
  const files = entries.filter((e) => e.mode !== "120000");
  const links = entries.filter((e) => e.mode === "120000");
  const blobs = new BlobStream(repo, [...files, ...links].map((e) => e.oid));
  try {
    for (const entry of files) await writer.writeFile(entry, await blobs.next(entry.oid), blobs);
    for (const entry of links) await writer.writeLink(entry, await blobs.next(entry.oid), blobs);
    await blobs.finish();
  } finally {
    blobs.abort();
  }
  warnings.push(...writer.lfsWarning());
  return { projectDir: join(dest, ...splitPath(repo.prefix)), files: writer.written, warnings };
}

// ---------------------------------------------------------------------------
// Listing

/**
 * The blobs to write: those under the prefix and the `.gitignore` files above it.
 * Submodules and paths that are unsafe to write are left out with a warning.
 */
async function listProjectEntries(
  repo: GitRepo,
  commit: string,
  warnings: string[],
): Promise<TreeEntry[]> {
  const ignoreFiles = ignoreFilesAbove(repo.prefix);
  const paths = repo.prefix ? [repo.prefix, ...ignoreFiles] : [];
  // Literal pathspecs: a project dir named `[x]` means that dir, not a glob.
  const where = [...inRepo(repo), "--literal-pathspecs"];
  const args = ["ls-tree", "-r", "-z", "--full-tree", commit, "--", ...paths];
  const out = await runGit(where, args);
  if (out.code !== 0) throw gitFailed(where, args, out);

  const under = repo.prefix ? `${repo.prefix}/` : "";
  const listed = parseLsTree(out, warnings).filter((e) =>
    e.path.startsWith(under) || ignoreFiles.includes(e.path)
  );
  if (under && !listed.some((e) => e.path.startsWith(under))) {
    throw new RunstageError(
      `commit ${commit.slice(0, 12)} has no ${JSON.stringify(repo.prefix)}: ` +
        "the project dir is not in that commit, name a later one",
    );
  }
  return listed.filter((entry) => {
    const skip = skipReason(entry);
    if (skip) warnings.push(`skipped ${skip}`);
    return !skip;
  });
}

/** `.gitignore`, `a/.gitignore`, ... for every dir above `prefix` (`a/b`), the root included. */
function ignoreFilesAbove(prefix: string): string[] {
  if (!prefix) return [];
  const segments = splitPath(prefix);
  return segments.map((_, i) => [...segments.slice(0, i), ".gitignore"].join("/"));
}

/** `<mode> SP <type> SP <oid> TAB <path>` records, NUL-terminated; paths are raw bytes. */
function parseLsTree(out: GitOutput, warnings: string[]): TreeEntry[] {
  const entries: TreeEntry[] = [];
  const bytes = Buffer.from(out.stdout.buffer, out.stdout.byteOffset, out.stdout.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let start = 0;
  while (start < bytes.length) {
    const end = bytes.indexOf(0, start);
    const record = bytes.subarray(start, end === -1 ? bytes.length : end);
    start = end === -1 ? bytes.length : end + 1;
    const tab = record.indexOf(9);
    const [mode, , oid] = record.subarray(0, tab).toString("latin1").split(" ");
    try {
      entries.push({ mode, oid, path: utf8.decode(record.subarray(tab + 1)) });
    } catch {
      // Runs name files by UTF-8 paths (log/files, manifest); this one has none.
      warnings.push(
        `skipped ${quotePath(record.subarray(tab + 1).toString("utf8"))}: its name is not UTF-8`,
      );
    }
  }
  return entries;
}

/** Why an entry is not written, or undefined to write it. */
function skipReason(entry: TreeEntry): string | undefined {
  if (entry.mode === "160000") return `submodule ${entry.path}: submodules are not copied`;
  if (!["100644", "100755", "100664", "120000"].includes(entry.mode)) {
    return `${entry.path}: unknown git file mode ${entry.mode}`;
  }
  // git itself refuses to check these out: they would write outside the tree or into .git.
  if (splitPath(entry.path).some((s) => s === "." || s === ".." || s.toLowerCase() === ".git")) {
    return `${entry.path}: not a path git checks out`;
  }
  return undefined;
}

function splitPath(path: string): string[] {
  return path.split("/").filter(Boolean);
}

// ---------------------------------------------------------------------------
// Writing

// Writes are synchronous: a tree is thousands of small files, and in Deno a sync
// write costs a fraction of an async one (as in lib/copy/copy.ts), with nothing else
// to do meanwhile but wait for git's next blob.

/** Errors that mean another entry of the tree already took a path (case-folding file systems). */
const COLLISIONS = new Set(["EEXIST", "ENOTDIR", "EISDIR"]);

class TreeWriter {
  written = 0;
  #dirs = new Set<string>();
  #lfsPointers: string[] = [];
  #realDest: string;

  constructor(readonly dest: string, readonly warnings: string[]) {
    this.#realDest = realpathSync(dest);
  }

  async writeFile(entry: TreeEntry, size: number, blobs: BlobStream): Promise<void> {
    const abs = this.#prepare(entry);
    // A checkout's modes: rw for everyone, and x for executables, less the umask.
    const mode = entry.mode === "100755" ? 0o777 : 0o666;
    if (!abs) return await blobs.skip(size);
    if (size <= WHOLE_BLOB_BYTES) {
      const content = await blobs.readWhole(size);
      if (isLfsPointer(content)) this.#lfsPointers.push(entry.path);
      this.#collisionSafe(entry, () => writeFileSync(abs, content, { mode, flag: "wx" }));
      return;
    }
    let fd: number;
    try {
      fd = openSync(abs, "wx", mode);
    } catch (err) {
      this.#collision(entry, err);
      return await blobs.skip(size);
    }
    try {
      await blobs.read(size, (chunk) => {
        for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at, chunk.length - at);
      });
    } finally {
      closeSync(fd);
    }
    this.written++;
  }

  async writeLink(entry: TreeEntry, size: number, blobs: BlobStream): Promise<void> {
    const abs = this.#prepare(entry);
    const target = await blobs.readWhole(size);
    if (!abs) return;
    // Links are made last, but on a case-folding file system `A` (a link) and `a/x`
    // share a dir: never make a link through another one, out of the tree.
    const parent = realpathSync(dirname(abs));
    const root = this.#realDest;
    if (parent !== root && !parent.startsWith(root + sep)) {
      this.warnings.push(`skipped ${quotePath(entry.path)}: its dir is a link out of the tree`);
      return;
    }
    this.#collisionSafe(entry, () => symlinkSync(Buffer.from(target).toString("utf8"), abs));
  }

  lfsWarning(): string[] {
    const n = this.#lfsPointers.length;
    if (n === 0) return [];
    return [
      `${n} file${n === 1 ? " is a" : "s are"} Git LFS pointer${n === 1 ? "" : "s"} ` +
      `(${this.#lfsPointers[0]}${n > 1 ? ", ..." : ""}): git:REF copies what git stores; ` +
      "use --source worktree after git lfs pull for the content",
    ];
  }

  /** The path to write to, its dir made; undefined when another entry is in the way. */
  #prepare(entry: TreeEntry): string | undefined {
    const abs = join(this.dest, ...splitPath(entry.path));
    const dir = dirname(abs);
    if (this.#dirs.has(dir)) return abs;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      return this.#collision(entry, err);
    }
    this.#dirs.add(dir);
    return abs;
  }

  #collisionSafe(entry: TreeEntry, write: () => void): void {
    try {
      write();
      this.written++;
    } catch (err) {
      this.#collision(entry, err);
    }
  }

  #collision(entry: TreeEntry, err: unknown): undefined {
    if (!COLLISIONS.has((err as NodeJS.ErrnoException).code ?? "")) throw err;
    this.warnings.push(
      `skipped ${quotePath(entry.path)}: another path of the commit took its place ` +
        "(names that differ only in case?)",
    );
    return undefined;
  }
}

function isLfsPointer(content: Uint8Array): boolean {
  return content.length <= 1024 && content.length >= LFS_POINTER.length &&
    LFS_POINTER.every((byte, i) => content[i] === byte);
}
