/**
 * Meta `vcs`, the run format's record of where a run's source code came from
 * (docs/run-format.md). lib/git/vcs.ts reads a repository to fill it; the runs
 * listing, `show` and `diff` read it back (`runMeta.vcs` in lib/run/meta.ts).
 */

/** Meta `vcs`: where a run's source code came from. Written with metaJson. */
export interface VcsMeta {
  origin: "worktree" | "git";
  /** The source spec as given: `auto`, `worktree` or `git:REF`. */
  requested: string;
  /** The CI variable `auto` took the commit from; only then. */
  ciVariable?: string;
  /** git origin: the ref as given (for `auto`, the CI variable's value). */
  ref?: string;
  commit: string | null;
  /** git origin: the branch the ref names (see refBranch); worktree: the current branch. */
  branch: string | null;
  /** git origin: false; worktree outside a repository: null. */
  dirty: boolean | null;
  /** worktree: the paths that differ from `commit` (WorkTreeState.changed); [] otherwise. */
  changed: string[];
  /** worktree: changed paths whose content the diff does not carry; [] otherwise. */
  omitted: string[];
  /** The remote URL, credentials removed (see remoteUrl). */
  remote: string | null;
  /** The project dir within the repository, "" at its root; null outside a repository. */
  path: string | null;
}

/**
 * Meta `vcs` as read back: runs staged before `omitted` was recorded lack it.
 * What is read from disk is checked against this shape; anything else (a
 * half-written file, another tool's) reads as no provenance, never an error.
 */
export type RunVcs = Omit<VcsMeta, "omitted"> & {
  /** Absent in runs staged before it was recorded. */
  omitted?: string[];
};

/** Whether `v` has the shape of meta `vcs`. */
export function isRunVcs(v: unknown): v is RunVcs {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  const textOrNull = (x: unknown) => x === null || typeof x === "string";
  const optionalText = (x: unknown) => x === undefined || typeof x === "string";
  const paths = (x: unknown) => Array.isArray(x) && x.every((p) => typeof p === "string");
  return (r.origin === "worktree" || r.origin === "git") &&
    typeof r.requested === "string" && optionalText(r.ciVariable) && optionalText(r.ref) &&
    textOrNull(r.commit) && textOrNull(r.branch) && textOrNull(r.remote) && textOrNull(r.path) &&
    (r.dirty === null || typeof r.dirty === "boolean") && paths(r.changed) &&
    (r.omitted === undefined || paths(r.omitted));
}
