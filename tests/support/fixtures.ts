/**
 * Shared test fixtures: temp dirs that clean up after themselves, file trees
 * written in one call, independent listings and digests, and the check that an
 * error is one a user can act on.
 *
 * The `with*` helpers give `fn` real paths (symlinks resolved, as runstage and
 * git report them) unless told `realPath: false`, and remove what they made even
 * when `fn` throws.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { RunstageError } from "../../lib/errors.ts";

/** Files by path relative to a root; text or bytes. */
export type Files = Record<string, string | Uint8Array>;

export interface TempDirOptions {
  /** The temp dir's name prefix; `runstage-test-` unless given. */
  prefix?: string;
  /** Give `fn` the real path (the default), or the path as the system made it. */
  realPath?: boolean;
}

const DEFAULT_PREFIX = "runstage-test-";

/** Runs `fn` in a fresh temp dir that is removed afterwards, even when `fn` throws. */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T> | T,
  options: TempDirOptions = {},
): Promise<T> {
  const made = await Deno.makeTempDir({ prefix: options.prefix ?? DEFAULT_PREFIX });
  try {
    return await fn(options.realPath === false ? made : await Deno.realPath(made));
  } finally {
    await Deno.remove(made, { recursive: true });
  }
}

/** Writes `files` under `root`, making parent dirs as needed. */
export async function writeTree(root: string, files: Files): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const abs = join(root, path);
    await Deno.mkdir(dirname(abs), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(abs, content);
    else await Deno.writeFile(abs, content);
  }
}

/** Writes one file under `root` (making parent dirs) and returns its path. */
export async function writeFile(
  root: string,
  path: string,
  content: string | Uint8Array,
): Promise<string> {
  await writeTree(root, { [path]: content });
  return join(root, path);
}

/**
 * A temp project with the given files (paths relative to it). The caller removes
 * it; the path is as the system made it, not resolved. See also `withProject`.
 */
export async function makeProject(
  files: Files,
  options: { prefix?: string } = {},
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: options.prefix ?? DEFAULT_PREFIX });
  try {
    await writeTree(dir, files);
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw err;
  }
  return dir;
}

/**
 * Runs `fn` on a fresh temp project holding `files` and an empty runs home of its
 * own (outside the project); both are removed afterwards, even when `fn` throws.
 */
export async function withProject<T>(
  files: Files,
  fn: (project: string, runsHome: string) => Promise<T> | T,
  options: TempDirOptions = {},
): Promise<T> {
  return await withTempDir(async (project) => {
    await writeTree(project, files);
    return await withTempDir((runsHome) => fn(project, runsHome), {
      prefix: "runstage-test-runs-",
      realPath: options.realPath,
    });
  }, options);
}

/** Every entry under `dir`, relative, sorted; directories end with `/`. Missing dir: []. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(abs: string, rel: string) {
    for await (const e of Deno.readDir(abs)) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        out.push(`${path}/`);
        await walk(`${abs}/${e.name}`, path);
      } else out.push(path);
    }
  }
  try {
    await walk(dir, "");
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out.sort();
}

/** SHA-256 of a file, computed independently of runstage (WebCrypto). */
export async function sha256File(path: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", await Deno.readFile(path)));
}

/** SHA-256 of a text (UTF-8), computed independently of runstage (WebCrypto). */
export async function sha256Text(text: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function hex(digest: ArrayBuffer): string {
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * What a dir holds: every entry (as listTree has it), each file followed by its
 * SHA-256. Equal snapshots mean nothing was added, removed or changed.
 */
export async function snapshot(dir: string): Promise<string[]> {
  const entries = await listTree(dir);
  return await Promise.all(
    entries.map(async (e) => e.endsWith("/") ? e : `${e} ${await sha256File(`${dir}/${e}`)}`),
  );
}

/** Whether anything, a dangling symlink included, is at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** What an error message must match: a RegExp, or a string it must contain. */
export type MessagePattern = RegExp | string;

/** Asserts `fn` throws a one-line RunstageError matching every pattern. */
export function assertUserError(
  fn: () => unknown,
  pattern: MessagePattern,
  ...more: MessagePattern[]
): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  checkUserError(thrown, [pattern, ...more]);
}

/**
 * Asserts `promise` (or the promise `fn` returns) rejects with a one-line
 * RunstageError matching every pattern.
 */
export async function assertUserErrorAsync(
  promise: Promise<unknown> | (() => Promise<unknown>),
  pattern: MessagePattern,
  ...more: MessagePattern[]
): Promise<void> {
  let thrown: unknown;
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (err) {
    thrown = err;
  }
  checkUserError(thrown, [pattern, ...more]);
}

function checkUserError(thrown: unknown, patterns: MessagePattern[]): void {
  assert.ok(thrown instanceof RunstageError, `expected a RunstageError, got ${thrown}`);
  assert.ok(!thrown.message.includes("\n"), `message is not one line: ${thrown.message}`);
  for (const pattern of patterns) {
    if (typeof pattern === "string") assert.ok(thrown.message.includes(pattern), thrown.message);
    else assert.match(thrown.message, pattern);
  }
}

/**
 * Runs git in `cwd` with the tester's own config kept out (a global excludesFile,
 * a default branch name, a signing key) and a fixed identity; returns stdout.
 */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", ...args],
    cwd,
    env: {
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_AUTHOR_NAME: "Test",
      GIT_AUTHOR_EMAIL: "test@example.com",
      GIT_COMMITTER_NAME: "Test",
      GIT_COMMITTER_EMAIL: "test@example.com",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Commits everything in the work tree at `dir` (made a repo if it is none); returns the commit. */
export async function commitAll(dir: string, message: string): Promise<string> {
  await git(dir, "init", "-q");
  await git(dir, "add", "-A");
  await git(dir, "commit", "-q", "--allow-empty", "-m", message);
  return (await git(dir, "rev-parse", "HEAD")).trim();
}
