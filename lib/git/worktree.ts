/**
 * What a work tree holds that its commit does not, limited to the project dir:
 * the paths that differ from HEAD and a binary-safe patch `git apply` takes to
 * give them back, for the provenance a worktree-origin run records. It reads
 * only, the index included. Split from vcs.ts, which decides when to ask.
 */
import { Buffer } from "node:buffer";
import { realpath } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { gitFailed, type GitRepo, inDir, runGit } from "./command.ts";
import { comparePaths } from "../fs/pathorder.ts";
import { forEachConcurrent } from "../fs/pool.ts";
import { lstatOrUndefined } from "../fs/stat.ts";

/** `dir` relative to `root`, `/`-separated; "" for the root itself. */
export function treePath(root: string, dir: string): string {
  return relative(root, dir).split(sep).join("/");
}

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
    const st = lstatOrUndefined(join(projectReal, item.path));
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
