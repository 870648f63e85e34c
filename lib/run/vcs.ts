/**
 * Meta `vcs`, the run format's record of where a run's source code came from
 * (docs/run-format.md). lib/git/vcs.ts reads a repository to fill it; the runs
 * listing, `show` and `diff` read it back.
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
