/**
 * Running git as runstage runs it: every command as `git --no-optional-locks
 * -C DIR|--git-dir=DIR ...`, with the variables that could point git at another
 * repository (GIT_DIR and friends) removed, so a runstage started from a git
 * hook still reads the project's repo and never writes the user's index. A
 * missing git is GitNotFoundError; a failed command becomes one line naming the
 * command, the place and git's own first line. Split from tree.ts so that
 * extracting a commit (tree.ts, blobs.ts) and reading a work tree (vcs.ts,
 * worktree.ts) share one way of running git.
 */
import { Buffer } from "node:buffer";
import { spawn, type StdioOptions } from "node:child_process";
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
