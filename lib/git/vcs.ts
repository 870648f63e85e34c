/**
 * Version control as runstage sees it: git only. Where a work tree is (so source
 * code selection can honour its ignore files), where a run's source code comes from
 * (`--source worktree | git:REF | auto`), what a work tree holds that its commit
 * does not, and the provenance a run records in its meta `vcs`. Running git and
 * extracting a commit's files live in lib/git/tree.ts; what callers need of it is
 * exported here too.
 *
 * Refs are user input: they follow `--end-of-options`, or are checked before they
 * reach an argv.
 */

import { Buffer } from "node:buffer";
import { lstat, realpath, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { RunstageError } from "../errors.ts";
import { gitFailed, GitNotFoundError, type GitRepo, inDir, inRepo, runGit } from "./tree.ts";
import { comparePaths } from "../fs/pathorder.ts";
import { forEachConcurrent } from "../fs/pool.ts";
import type { VcsMeta } from "../run/vcs.ts";

export type { VcsMeta };

export { extractCommit, type ExtractedTree, GitNotFoundError, type GitRepo } from "./tree.ts";

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
    `source ${source} needs a git repository, but ${projectDir} is in none: ` +
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

/** `dir` relative to `root`, `/`-separated; "" for the root itself. */
function treePath(root: string, dir: string): string {
  return relative(root, dir).split(sep).join("/");
}

// ---------------------------------------------------------------------------
// The state of a work tree

export interface WorkTreeState {
  /** HEAD's commit; null while the current branch has no commit yet. */
  commit: string | null;
  /** The current branch; null when HEAD is detached. */
  branch: string | null;
  dirty: boolean;
  /**
   * Project-relative `/` paths under the project dir that differ from HEAD:
   * modified, staged, deleted, both sides of a rename, untracked but not ignored.
   * Sorted byte-wise. An untracked nested repository is one entry ending in `/`.
   */
  changed: string[];
  /**
   * A binary-safe patch of `changed` against HEAD (against nothing when there is no
   * HEAD), paths relative to the project dir: `git apply` in a copy of the project dir
   * at that commit gives the work tree back (in a checkout, from its root with
   * `--directory=<prefix>`). Raw bytes: a text file need not be UTF-8.
   */
  diff: Uint8Array;
  /** Paths of `changed` whose content is not in `diff`: submodules, nested repos, big untracked files. */
  omitted: string[];
}

export interface WorkTreeOptions {
  /** Dirs never counted as changes, such as a runs home inside the project. */
  exclude?: string[];
  /** Untracked files larger than this stay out of the diff (listed in `omitted`). */
  maxUntrackedBytes?: number;
}

/**
 * The largest untracked file whose content the diff carries. An untracked data set
 * or model file is not code, and a diff of it would take as much room in meta.
 */
export const MAX_UNTRACKED_DIFF_BYTES = 1024 * 1024;

/** How many `git diff --no-index` run at once for untracked files. */
const UNTRACKED_DIFFS_AT_ONCE = 8;

/** One path that differs from HEAD, as `git status` reports it. */
interface StatusEntry {
  /** Relative to the project dir. */
  path: string;
  kind: "tracked" | "untracked" | "submodule";
}

/**
 * How the work tree at `projectDir` differs from HEAD, limited to the project dir.
 * Reads only, the index included: `git status` runs with `--no-optional-locks`, so
 * it does not store refreshed stat data, and tracked changes come from the plumbing
 * `git diff-index`, which never writes the index (porcelain `git diff` does).
 */
export async function describeWorkTree(
  repo: GitRepo,
  projectDir: string,
  options: WorkTreeOptions = {},
): Promise<WorkTreeState> {
  if (!repo.workTree) throw new Error(`describeWorkTree: ${repo.gitDir} has no work tree`);
  const real = await realpath(projectDir);
  const projectPrefix = treePath(repo.workTree, real);
  const pathspec = [".", ...(await excludePathspecs(real, options.exclude ?? []))];
  const status = await readStatus(real, projectPrefix, pathspec);
  const changed = [...new Set(status.entries.map((e) => e.path))].sort(comparePaths);
  const omitted = status.entries.filter((e) => e.kind === "submodule").map((e) => e.path);

  const patches: Uint8Array[] = [];
  if (status.entries.some((e) => e.kind === "tracked")) {
    const base = status.commit ?? await emptyTree(real);
    patches.push(await trackedDiff(real, base, pathspec));
  }
  const untracked = status.entries.filter((e) => e.kind === "untracked").map((e) => e.path);
  const max = options.maxUntrackedBytes ?? MAX_UNTRACKED_DIFF_BYTES;
  const untrackedPatches = await untrackedDiffs(real, untracked.sort(comparePaths), max);
  for (const { path, patch } of untrackedPatches) {
    if (patch) patches.push(patch);
    else omitted.push(path);
  }
  return {
    commit: status.commit,
    branch: status.branch,
    dirty: changed.length > 0,
    changed,
    diff: Buffer.concat(patches),
    omitted: omitted.sort(comparePaths),
  };
}

/** `:(exclude)` pathspecs, relative to the project dir, for excluded dirs inside it. */
async function excludePathspecs(projectReal: string, exclude: string[]): Promise<string[]> {
  const specs: string[] = [];
  for (const dir of exclude) {
    const real = await realpath(dir).catch(() => resolve(dir));
    const rel = relative(projectReal, real);
    const outside = rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
    if (!rel || outside) continue;
    specs.push(`:(exclude,literal)${rel.split(sep).join("/")}`);
  }
  return specs;
}

/** `git status --porcelain=v2`: HEAD, the branch, and every path that differs, in one run. */
async function readStatus(projectReal: string, projectPrefix: string, pathspec: string[]) {
  const args = [
    "status",
    "--porcelain=v2",
    "--branch",
    "-z",
    "--untracked-files=all",
    "--no-renames",
    "--",
    ...pathspec,
  ];
  const out = await runGit(inDir(projectReal), args);
  if (out.code !== 0) throw gitFailed(inDir(projectReal), args, out);
  const records = new TextDecoder().decode(out.stdout).split("\0");
  let commit: string | null = null;
  let branch: string | null = null;
  const entries: StatusEntry[] = [];
  const under = projectPrefix ? `${projectPrefix}/` : "";
  const add = (treePath: string, kind: StatusEntry["kind"]) => {
    if (treePath.startsWith(under)) entries.push({ path: treePath.slice(under.length), kind });
  };
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    if (record.startsWith("# branch.oid ")) {
      const oid = record.slice("# branch.oid ".length);
      commit = oid === "(initial)" ? null : oid;
    } else if (record.startsWith("# branch.head ")) {
      const head = record.slice("# branch.head ".length);
      branch = head === "(detached)" ? null : head;
    } else if (record.startsWith("? ")) {
      add(record.slice(2), "untracked");
    } else if (/^[12u] /.test(record)) {
      // `1 XY sub mH mI mW hH hI path`; `2` adds a score and the old path as the next
      // record (renames are off, but a config could not turn them back on); `u` has
      // three stages.
      const fields = record[0] === "1" ? 8 : record[0] === "2" ? 9 : 10;
      const parts = splitFields(record, fields);
      const kind = parts[2].startsWith("S") ? "submodule" : "tracked";
      add(parts[fields], kind);
      if (record[0] === "2") add(records[++i], kind);
    }
  }
  return { commit, branch, entries };
}

/** The first `n` space-separated fields and the rest of the record (a path may hold spaces). */
function splitFields(record: string, n: number): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let k = 0; k < n; k++) {
    const space = record.indexOf(" ", start);
    parts.push(record.slice(start, space));
    start = space + 1;
  }
  parts.push(record.slice(start));
  return parts;
}

/** The id of the empty tree in this repository's hash (SHA-1 or SHA-256). */
async function emptyTree(projectReal: string): Promise<string> {
  const out = await runGit(inDir(projectReal), ["hash-object", "-t", "tree", "--stdin"], "");
  if (out.code !== 0) throw gitFailed(inDir(projectReal), ["hash-object"], out);
  return new TextDecoder().decode(out.stdout).trim();
}

/**
 * Options that make a patch `git apply` can take, whatever the user's config says
 * (diff.noprefix, diff.external, textconv drivers, color.diff, diff.context).
 * `--binary` carries binary files whole; text is raw bytes, whatever its encoding.
 */
const PATCH_OPTIONS = [
  "--binary",
  "--no-ext-diff",
  "--no-textconv",
  "--no-color",
  "--src-prefix=a/",
  "--dst-prefix=b/",
  "--unified=3",
];

/** Non-ASCII names as they are in patch headers, not as octal escapes: easier on `patch`. */
const READABLE_PATHS = ["-c", "core.quotePath=false"];

/** Tracked changes against `base`, paths relative to the project dir. */
async function trackedDiff(projectReal: string, base: string, pathspec: string[]) {
  // diff-index, not diff: porcelain `git diff` refreshes and rewrites the index even
  // under --no-optional-locks.
  const args = [
    "diff-index",
    "--patch",
    ...PATCH_OPTIONS,
    "--relative",
    "--no-renames",
    "--ignore-submodules=all",
    base,
    "--",
    ...pathspec,
  ];
  const where = [...inDir(projectReal), ...READABLE_PATHS];
  const out = await runGit(where, args);
  if (out.code !== 0) throw gitFailed(where, args, out);
  return out.stdout;
}

/**
 * A creation patch per untracked file; none (undefined) for a nested repository
 * and for files over `maxBytes`.
 */
async function untrackedDiffs(projectReal: string, paths: string[], maxBytes: number) {
  const patches = paths.map((path) => ({ path, patch: undefined as Uint8Array | undefined }));
  await forEachConcurrent(patches, UNTRACKED_DIFFS_AT_ONCE, async (item) => {
    if (item.path.endsWith("/")) return;
    const st = await lstat(join(projectReal, item.path)).catch(() => undefined);
    if (!st || (st.isFile() && st.size > maxBytes)) return;
    const args = [
      "diff",
      "--no-index",
      ...PATCH_OPTIONS,
      "--",
      "/dev/null",
      item.path,
    ];
    const where = [...inDir(projectReal), ...READABLE_PATHS];
    const out = await runGit(where, args);
    // --no-index exits 1 when the two differ, which a new file always does.
    if (out.code !== 0 && out.code !== 1) throw gitFailed(where, args, out);
    item.patch = out.stdout;
  });
  return patches;
}

// ---------------------------------------------------------------------------
// Remotes

/** URL schemes whose user name is part of the address (`ssh://git@host`), not a secret. */
const SSH_SCHEMES = new Set(["ssh", "git+ssh", "ssh+git"]);

/**
 * A remote URL with its credentials removed: user and password of URLs (`https://
 * user:token@host/p` -> `https://host/p`), keeping the user name of ssh URLs but
 * never a password, and their query string and fragment, where tokens hide too.
 * scp-like addresses (`git@host:org/repo.git`) and local paths are kept, less any
 * `:password` before an `@`.
 */
export function redactRemoteUrl(url: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (!scheme) return url.replace(/^([^@/:\\]+):[^@/\\]*@/, "$1@");
  const head = scheme[0];
  const rest = url.slice(head.length).replace(/[?#].*$/s, "");
  const slash = rest.indexOf("/");
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? "" : rest.slice(slash);
  const at = authority.lastIndexOf("@");
  if (at === -1) return head + rest;
  const user = authority.slice(0, at).split(":")[0];
  const keepUser = SSH_SCHEMES.has(scheme[1].toLowerCase()) && user;
  return head + (keepUser ? `${user}@` : "") + authority.slice(at + 1) + path;
}

/**
 * The URL of the remote the current branch tracks, else `origin`, else the first
 * remote configured; redacted. Null when the repository has no remote.
 */
export async function remoteUrl(repo: GitRepo): Promise<string | null> {
  const [branch, config] = await Promise.all([
    currentBranch(repo),
    runGit(inRepo(repo), [
      "config",
      "-z",
      "--get-regexp",
      "^(remote\\..+\\.url|branch\\..+\\.remote)$",
    ]),
  ]);
  // Exit 1: no such key at all.
  if (config.code !== 0) return null;
  const urls = new Map<string, string>();
  let upstream: string | undefined;
  for (const record of new TextDecoder().decode(config.stdout).split("\0")) {
    const nl = record.indexOf("\n");
    if (nl === -1) continue;
    const [key, value] = [record.slice(0, nl), record.slice(nl + 1)];
    const remote = /^remote\.(.+)\.url$/.exec(key);
    // A remote's first url is the one git fetches from.
    if (remote && !urls.has(remote[1])) urls.set(remote[1], value);
    else if (branch !== null && key === `branch.${branch}.remote`) upstream = value;
  }
  const url = (upstream !== undefined ? urls.get(upstream) : undefined) ?? urls.get("origin") ??
    urls.values().next().value;
  return url === undefined ? null : redactRemoteUrl(url);
}

/** The branch HEAD is on, born or not; null when detached. */
async function currentBranch(repo: GitRepo): Promise<string | null> {
  const out = await runGit(inRepo(repo), ["symbolic-ref", "--quiet", "--short", "HEAD"]);
  const branch = new TextDecoder().decode(out.stdout).trim();
  return out.code === 0 && branch ? branch : null;
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
