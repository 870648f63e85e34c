/**
 * git as runstage runs it, and a commit's files written out straight from git's
 * object store for `--source git:REF`: no checkout, so the user's index, work tree
 * and HEAD are never read or written, and a bare repository works the same.
 *
 * Every git command runs as `git --no-optional-locks -C DIR|--git-dir=DIR ...`, with
 * the variables that could point git at another repository (GIT_DIR and friends)
 * removed, so a runstage started from a git hook still reads the project's repo and
 * never writes the user's index.
 *
 * Extraction: one `git ls-tree` lists the project's subtree; one `git cat-file
 * --batch` streams the blobs, and each is written through in chunks as it arrives,
 * so the memory it takes does not grow with a blob's size. Blobs are written
 * as stored: no smudge filters (Git LFS files stay pointers), no end-of-line
 * conversion. Higher-level git (origins, work tree state, provenance) is lib/git/vcs.ts.
 */
import { Buffer } from "node:buffer";
import { type ChildProcess, spawn, type StdioOptions } from "node:child_process";
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
import process from "node:process";
import { RunstageError } from "../errors.ts";

// ---------------------------------------------------------------------------
// Repositories

export interface GitRepo {
  /** The git dir, absolute and real (`.git`, a bare repo, or `.git/worktrees/X`). */
  gitDir: string;
  /** The work tree root, absolute and real; undefined for a bare repo. */
  workTree?: string;
  bare: boolean;
  /** The project dir relative to the work tree root, `/`-separated; "" at the root and when bare. */
  prefix: string;
}

// ---------------------------------------------------------------------------
// Running git

/** Raised when there is no `git` to run; callers that can do without git catch it. */
export class GitNotFoundError extends RunstageError {
  constructor() {
    super("git not found: install git to use --source git:REF");
    this.name = "GitNotFoundError";
  }
}

/** What a finished git command left: its exit code and both outputs. */
export interface GitOutput {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** Variables that would make git use another repository, index or work tree than ours. */
const REPOSITORY_VARIABLES = [
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_COMMON_DIR",
  "GIT_NAMESPACE",
  "GIT_PREFIX",
];

function gitEnv(): Record<string, string | undefined> {
  // LC_ALL=C: the one message runstage recognises ("not a git repository") is English.
  const env: Record<string, string | undefined> = { ...process.env, LC_ALL: "C" };
  for (const name of REPOSITORY_VARIABLES) delete env[name];
  return env;
}

/** `-C DIR`: git finds the repository from a directory, as a user in it would. */
export function inDir(dir: string): string[] {
  return ["-C", dir];
}

/** `--git-dir=DIR`: git reads this repository's objects and refs, and no work tree. */
export function inRepo(repo: GitRepo): string[] {
  return [`--git-dir=${repo.gitDir}`];
}

/**
 * Starts `git <where> <args>`. A missing git surfaces as an "error" event with
 * code ENOENT (the cwd is never given, `where` says where git works).
 */
export function spawnGit(where: string[], args: string[], stdio: StdioOptions) {
  return spawn("git", ["--no-optional-locks", ...where, ...args], {
    env: gitEnv(),
    stdio,
    windowsHide: true,
  });
}

/**
 * Runs git to the end; any exit code is returned, a missing git is GitNotFoundError.
 * `where` is `inDir(...)` or `inRepo(...)` plus any global options (`-c k=v`), `args`
 * the command and its arguments.
 */
export function runGit(where: string[], args: string[], input?: string): Promise<GitOutput> {
  return new Promise((resolve, reject) => {
    const child = spawnGit(where, args, [input === undefined ? "ignore" : "pipe", "pipe", "pipe"]);
    const stdout: Uint8Array[] = [];
    const stderr: Uint8Array[] = [];
    child.stdout!.on("data", (chunk: Uint8Array) => stdout.push(chunk));
    child.stderr!.on("data", (chunk: Uint8Array) => stderr.push(chunk));
    child.on("error", (err: NodeJS.ErrnoException) => {
      reject(err.code === "ENOENT" ? new GitNotFoundError() : err);
    });
    child.on("close", (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat(stderr).toString("utf8"),
      });
    });
    if (input !== undefined) {
      child.stdin!.on("error", () => {}); // git may exit before reading it all; its code says why.
      child.stdin!.end(input);
    }
  });
}

/** A git failure the user can look into: which command, where, and git's own first line. */
export function gitFailed(where: string[], args: string[], out: GitOutput): RunstageError {
  const gitDir = where.find((arg) => arg.startsWith("--git-dir="));
  const place = gitDir ? gitDir.slice("--git-dir=".length) : where[where.indexOf("-C") + 1];
  return new RunstageError(`git ${args[0]} failed in ${place}: ${gitMessage(out.stderr)}`);
}

function gitMessage(stderr: string): string {
  const line = stderr.split("\n").map((l) => l.trim()).find((l) => l) ?? "no message";
  return line.replace(/^(fatal|error): /, "");
}

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
      warnings.push(`skipped ${record.subarray(tab + 1).toString("utf8")}: its name is not UTF-8`);
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
      this.warnings.push(`skipped ${entry.path}: its dir is a link out of the tree`);
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
      `skipped ${entry.path}: another path of the commit took its place ` +
        "(names that differ only in case?)",
    );
    return undefined;
  }
}

function isLfsPointer(content: Uint8Array): boolean {
  return content.length <= 1024 && content.length >= LFS_POINTER.length &&
    LFS_POINTER.every((byte, i) => content[i] === byte);
}

// ---------------------------------------------------------------------------
// Reading blobs

/**
 * `git cat-file --batch` over a list of object ids, read in order: a header
 * `<oid> blob <size>\n`, then exactly `size` bytes, then `\n`. Content is handed
 * on in the chunks the pipe delivers; nothing more than a chunk is held.
 */
class BlobStream {
  #child: ChildProcess;
  #bytes: ByteReader;
  #exit: Promise<{ code: number | null; error?: Error }>;
  #stderr: Uint8Array[] = [];
  #where: string[];

  constructor(repo: GitRepo, oids: string[]) {
    this.#where = inRepo(repo);
    // --buffer: all ids are known up front, so git need not flush after each object.
    this.#child = spawnGit(this.#where, ["cat-file", "--batch", "--buffer"], [
      "pipe",
      "pipe",
      "pipe",
    ]);
    this.#exit = new Promise((resolve) => {
      this.#child.on("close", (code) => resolve({ code }));
      this.#child.on("error", (error) => resolve({ code: null, error }));
    });
    this.#child.stderr!.on("data", (chunk: Uint8Array) => this.#stderr.push(chunk));
    this.#child.stdin!.on("error", () => {}); // git exited early: its stderr says why.
    this.#child.stdin!.end(oids.map((oid) => `${oid}\n`).join(""));
    this.#bytes = new ByteReader(this.#child.stdout!);
  }

  /** The next object's header: checks it is `oid` and a blob, returns its size. */
  async next(oid: string): Promise<number> {
    const header = await this.#bytes.line();
    if (header === undefined) throw await this.#failure();
    const [got, type, size] = header.split(" ");
    if (got !== oid || type !== "blob" || !/^\d+$/.test(size ?? "")) {
      throw new RunstageError(
        `git object ${oid} is missing or not a file (${header}): ` +
          "the repository is incomplete, fetch it again",
      );
    }
    return Number(size);
  }

  /** The content of the current blob, `size` bytes, chunk by chunk. */
  async read(size: number, sink: (chunk: Uint8Array) => Promise<void> | void): Promise<void> {
    if (!(await this.#bytes.take(size, sink)) || !(await this.#bytes.take(1, () => {}))) {
      throw await this.#failure();
    }
  }

  async readWhole(size: number): Promise<Uint8Array> {
    const content = new Uint8Array(size);
    let at = 0;
    await this.read(size, (chunk) => {
      content.set(chunk, at);
      at += chunk.length;
    });
    return content;
  }

  skip(size: number): Promise<void> {
    return this.read(size, () => {});
  }

  /** After the last blob: git must have exited cleanly. */
  async finish(): Promise<void> {
    const exit = await this.#exit;
    if (exit.code !== 0) throw await this.#failure();
  }

  /** Stops git if it still runs (an error while writing); harmless once it has exited. */
  abort(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill();
  }

  async #failure(): Promise<Error> {
    const exit = await this.#exit;
    if (exit.error) return exit.error;
    const stderr = Buffer.concat(this.#stderr).toString("utf8");
    return gitFailed(this.#where, ["cat-file"], {
      code: exit.code ?? 1,
      stdout: new Uint8Array(),
      stderr: stderr || "output ended early",
    });
  }
}

/** Pull-based reading of a byte stream: lines and exact byte counts, across chunks. */
class ByteReader {
  #chunks: AsyncIterator<Uint8Array>;
  #head: Uint8Array = new Uint8Array();

  constructor(stream: AsyncIterable<Uint8Array>) {
    this.#chunks = stream[Symbol.asyncIterator]();
  }

  /** The next line without its `\n`; undefined at the end of the stream. */
  async line(): Promise<string | undefined> {
    const parts: Uint8Array[] = [];
    while (true) {
      const nl = this.#head.indexOf(10);
      if (nl !== -1) {
        parts.push(this.#head.subarray(0, nl));
        this.#head = this.#head.subarray(nl + 1);
        return Buffer.concat(parts).toString("utf8");
      }
      parts.push(this.#head);
      if (!(await this.#more())) return undefined;
    }
  }

  /** Hands the next `n` bytes to `sink`; false when the stream ends first. */
  async take(n: number, sink: (chunk: Uint8Array) => Promise<void> | void): Promise<boolean> {
    let left = n;
    while (left > 0) {
      if (this.#head.length === 0 && !(await this.#more())) return false;
      const piece = this.#head.subarray(0, Math.min(left, this.#head.length));
      this.#head = this.#head.subarray(piece.length);
      left -= piece.length;
      await sink(piece);
    }
    return true;
  }

  async #more(): Promise<boolean> {
    const next = await this.#chunks.next();
    if (next.done) return false;
    this.#head = next.value;
    return true;
  }
}
