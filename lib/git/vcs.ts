/**
 * Version control as runstage sees it: git only. Where a work tree is (so source
 * code selection can honour its ignore files), where a run's source code comes from
 * (`--source worktree | git:REF | auto`), what a work tree holds that its commit
 * does not, and the provenance a run records in its meta `vcs`.
 *
 * The parts live in modules of their own: running git in command.ts, extracting
 * a commit's files in tree.ts, a work tree's changes in worktree.ts, remotes in
 * remote.ts. This module is the entry point: what callers need of them is
 * exported here too.
 *
 * Refs are user input: they follow `--end-of-options`, or are checked before they
 * reach an argv.
 */

import { realpath, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { RunstageError } from "../errors.ts";
import { gitFailed, GitNotFoundError, type GitRepo, inDir, inRepo, runGit } from "./command.ts";
import { remoteUrl } from "./remote.ts";
import { describeWorkTree, treePath } from "./worktree.ts";
import type { VcsMeta } from "../run/vcs.ts";
import { quotePath } from "../fs/quote.ts";

export type { VcsMeta };

export { extractCommit, type ExtractedTree } from "./tree.ts";
export { GitNotFoundError, type GitRepo } from "./command.ts";
export { redactRemoteUrl, remoteUrl } from "./remote.ts";
export {
  describeWorkTree,
  MAX_UNTRACKED_DIFF_BYTES,
  type WorkTreeOptions,
  type WorkTreeState,
} from "./worktree.ts";

// ---------------------------------------------------------------------------
// The work tree root, found without git

/**
 * The root of the git work tree holding `dir`: the nearest ancestor (or `dir` itself)
 * with a `.git` directory or file. A `.git` file is how linked work trees and
 * submodules point at their git dir, so it marks a work tree root just the same.
 * Undefined outside any work tree. `dir` is taken as given: pass a real path if the
 * work tree should be found from where a symlinked dir really lives.
 */
export async function findGitWorkTree(dir: string): Promise<string | undefined> {
  let current = resolve(dir);
  while (true) {
    if (await holdsGitMarker(current)) return current;
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

async function holdsGitMarker(dir: string): Promise<boolean> {
  try {
    const st = await stat(join(dir, ".git"));
    return st.isDirectory() || st.isFile();
  } catch {
    // Missing or unreadable: either way git could not use it from here.
    return false;
  }
}

// ---------------------------------------------------------------------------
// Source origins

/** The variables CI systems name the commit under test in, first set one wins. */
export const CI_COMMIT_VARIABLES: readonly string[] = Object.freeze([
  "GITHUB_SHA",
  "CI_COMMIT_SHA",
  "BUILDKITE_COMMIT",
  "GIT_COMMIT",
  "CIRCLE_SHA1",
]);

/** Where a run's source code comes from; `requested` is the spec as the user gave it. */
export type SourceOrigin =
  | { mode: "worktree"; requested: string }
  | { mode: "git"; ref: string; requested: string; ciVariable?: string };

const SOURCE_SPECS = "use worktree, git:REF or auto";

/**
 * Reads a `--source` spec: `worktree`, `git:REF`, or `auto`, which is the commit a
 * CI system names (CI_COMMIT_VARIABLES) when `CI` is set, else the work tree.
 */
export function parseSourceOrigin(
  spec: string,
  env: Record<string, string | undefined>,
): SourceOrigin {
  if (spec === "worktree") return { mode: "worktree", requested: spec };
  if (spec.startsWith("git:")) {
    const ref = spec.slice("git:".length);
    if (!ref) {
      throw new RunstageError(
        `invalid source "git:": name a commit, branch or tag, as in git:main`,
      );
    }
    return { mode: "git", ref, requested: spec };
  }
  if (spec === "auto") {
    const ci = ciCommit(env);
    if (!ci) return { mode: "worktree", requested: spec };
    return { mode: "git", ref: ci.commit, requested: spec, ciVariable: ci.variable };
  }
  throw new RunstageError(`invalid source ${JSON.stringify(spec)}: ${SOURCE_SPECS}`);
}

function ciCommit(env: Record<string, string | undefined>) {
  if (!ciIsSet(env.CI)) return undefined;
  for (const variable of CI_COMMIT_VARIABLES) {
    const commit = env[variable]?.trim();
    if (commit) return { variable, commit };
  }
  return undefined;
}

/** CI systems set `CI=true` (or `1`); `CI=false` is how people switch it off locally. */
function ciIsSet(value: string | undefined): boolean {
  const v = value?.trim().toLowerCase();
  return !!v && v !== "false" && v !== "0";
}

// ---------------------------------------------------------------------------
// Repositories and commits

/**
 * The git repository holding `projectDir` (a dir in a work tree, or a bare repo
 * dir itself), or undefined outside any. A project dir inside a git dir counts as
 * bare: there is no work tree to speak of.
 */
export async function openGitRepo(projectDir: string): Promise<GitRepo | undefined> {
  const real = await realpath(projectDir);
  const args = [
    "rev-parse",
    "--absolute-git-dir",
    "--is-bare-repository",
    "--is-inside-work-tree",
    "--show-cdup",
  ];
  const out = await runGit(inDir(real), args);
  if (out.code !== 0) {
    if (/not a git repository/i.test(out.stderr)) return undefined;
    throw gitFailed(inDir(real), args, out);
  }
  const [gitDir, bare, insideWorkTree, cdup] = new TextDecoder().decode(out.stdout).split("\n");
  const realGitDir = await realpath(gitDir);
  if (bare === "true" || insideWorkTree !== "true") {
    return { gitDir: realGitDir, bare: true, prefix: "" };
  }
  const workTree = resolve(real, cdup);
  return { gitDir: realGitDir, workTree, bare: false, prefix: treePath(workTree, real) };
}

/**
 * `openGitRepo` for a source that needs git: not being in a repository is the
 * user's to fix. `requested` is the source spec, for the message.
 */
export async function requireGitRepo(projectDir: string, requested: string): Promise<GitRepo> {
  const repo = await openGitRepo(projectDir);
  if (repo) return repo;
  const source = JSON.stringify(requested);
  throw new RunstageError(
    `source ${source} needs a git repository, but ${quotePath(projectDir)} is in none: ` +
      "use a clone or --source worktree",
  );
}

/** The full commit id `ref` names (a commit, branch, tag or any git revision). */
export async function resolveCommit(repo: GitRepo, ref: string): Promise<string> {
  const out = await runGit(inRepo(repo), [
    "rev-parse",
    "--verify",
    "--quiet",
    "--end-of-options",
    `${ref}^{commit}`,
  ]);
  const commit = new TextDecoder().decode(out.stdout).trim();
  if (out.code !== 0 || !commit) {
    throw new RunstageError(
      `unknown git ref ${JSON.stringify(ref)} in ${repoPlace(repo)}: ` +
        "name a commit, branch or tag (see git log)",
    );
  }
  return commit;
}

/**
 * The branch `ref` names, as git would show it: `main` for a local branch (`main`,
 * `refs/heads/main`), `origin/main` for a remote-tracking one; null for a tag, a
 * commit id or an expression such as `main~2`, which name no branch.
 */
export async function refBranch(repo: GitRepo, ref: string): Promise<string | null> {
  // rev-parse has no --end-of-options for --symbolic-full-name; no ref starts with "-".
  if (ref.startsWith("-")) return null;
  const out = await runGit(inRepo(repo), ["rev-parse", "--symbolic-full-name", ref, "--"]);
  if (out.code !== 0) return null;
  const full = new TextDecoder().decode(out.stdout).split("\n")[0];
  const branch = /^refs\/(?:heads|remotes)\/(.+)$/.exec(full);
  return branch ? branch[1] : null;
}

function repoPlace(repo: GitRepo): string {
  return repo.workTree ?? repo.gitDir;
}
// ---------------------------------------------------------------------------
// Provenance: meta `vcs`

export interface VcsReading {
  vcs: VcsMeta;
  /**
   * The patch that turns `commit` into the run's work tree (WorkTreeState.diff); only
   * for a dirty worktree origin, and only when it has content.
   */
  diff?: Uint8Array;
  /** Things worth saying that do not stop the run, such as no git to ask. */
  warnings: string[];
}

export interface ReadVcsOptions {
  /** The repository, when the caller has opened it already. */
  repo?: GitRepo;
  /** git origin: the commit the ref resolved to (and was extracted from). */
  commit?: string;
  /** Dirs never counted as work tree changes: the runs home, at least. */
  exclude?: string[];
}

/**
 * The provenance of a run whose source comes from `origin` for the project at
 * `projectDir`. A worktree origin needs no git: without a work tree, or without a
 * git to ask (a warning then), it records nulls. A git origin needs both.
 */
export async function readVcs(
  origin: SourceOrigin,
  projectDir: string,
  options: ReadVcsOptions = {},
): Promise<VcsReading> {
  if (origin.mode === "git") return await readGitOriginVcs(origin, projectDir, options);
  return await readWorkTreeVcs(origin, projectDir, options);
}

async function readGitOriginVcs(
  origin: Extract<SourceOrigin, { mode: "git" }>,
  projectDir: string,
  options: ReadVcsOptions,
): Promise<VcsReading> {
  const repo = options.repo ?? await requireGitRepo(projectDir, origin.requested);
  const [commit, branch, remote] = await Promise.all([
    options.commit ?? resolveCommit(repo, origin.ref),
    refBranch(repo, origin.ref),
    remoteUrl(repo),
  ]);
  const vcs: VcsMeta = {
    origin: "git",
    requested: origin.requested,
    ...(origin.ciVariable ? { ciVariable: origin.ciVariable } : {}),
    ref: origin.ref,
    commit,
    branch,
    dirty: false,
    changed: [],
    omitted: [],
    remote,
    path: repo.prefix,
  };
  return { vcs, warnings: [] };
}

async function readWorkTreeVcs(
  origin: SourceOrigin,
  projectDir: string,
  options: ReadVcsOptions,
): Promise<VcsReading> {
  const outside: VcsMeta = {
    origin: "worktree",
    requested: origin.requested,
    commit: null,
    branch: null,
    dirty: null,
    changed: [],
    omitted: [],
    remote: null,
    path: null,
  };
  // No .git above: not a work tree, and no reason to require git.
  if (!options.repo && !(await findGitWorkTree(await realpath(projectDir)))) {
    return { vcs: outside, warnings: [] };
  }
  // The run's code is the work tree whatever git says: a git that is missing or
  // refuses the repository (safe.directory in a container) costs the provenance, not
  // the run.
  try {
    const repo = options.repo ?? await openGitRepo(projectDir);
    if (!repo?.workTree) return { vcs: outside, warnings: [] };
    const [state, remote] = await Promise.all([
      describeWorkTree(repo, projectDir, { exclude: options.exclude }),
      remoteUrl(repo),
    ]);
    const vcs: VcsMeta = {
      ...outside,
      commit: state.commit,
      branch: state.branch,
      dirty: state.dirty,
      changed: state.changed,
      omitted: state.omitted,
      remote,
      path: repo.prefix,
    };
    return { vcs, ...(state.diff.length > 0 ? { diff: state.diff } : {}), warnings: [] };
  } catch (err) {
    if (!(err instanceof RunstageError)) throw err;
    const why = err instanceof GitNotFoundError ? "git not found (install git)" : err.message;
    return { vcs: outside, warnings: [`${why}: the run records no commit`] };
  }
}
