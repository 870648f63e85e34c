/**
 * How a run gets its source code, behind one interface so staging and
 * restaging never ask which kind of source they hold. One implementation per
 * kind: the work tree copied (worktree.ts), a git commit extracted and copied
 * (git.ts), the work tree linked for a live run (live.ts), and an earlier run's
 * own source files copied for `rerun --reuse-source` (reuse.ts). open.ts picks
 * the kind a request names.
 */
import type { CopiedFile, CopyProgress, FileToCopy } from "../../copy/copy.ts";
import type { ExecCommand } from "../../gagefile/opdef.ts";
import type { Run } from "../../run/identity.ts";
import type { RunSource } from "../../source/origin.ts";
import type { SourceSelection } from "../../source/select.ts";

export type SourceKind = "worktree" | "git" | "live" | "reuse";

export interface PlaceOptions {
  /** Copy progress, for a progress display. */
  onProgress?: (progress: CopyProgress) => void;
  /** Stops a copy at its next file. */
  signal?: AbortSignal;
  /** The runs home, whose digest cache a work-tree copy uses (lib/copy/digests.ts). */
  runsHome?: string;
}

export interface SourceStager {
  readonly kind: SourceKind;
  /**
   * Where the code comes from: the project as the code sees it (an extracted
   * commit for a git source), the op as that project defines it, provenance.
   */
  readonly source: RunSource;
  /**
   * The command `copy-sourcecode` runs once the files are placed, or undefined
   * when it does not run (a reused source already holds what it made).
   */
  readonly copyCommand: ExecCommand | undefined;
  /** The source files a run gets, by run-dir path (the op's path map applied), with notes. */
  select(runsHome: string, signal?: AbortSignal): Promise<SourceSelection>;
  /** Puts the selected files into the run dir; returns each with its digest. */
  place(files: readonly FileToCopy[], runDir: string, options: PlaceOptions): Promise<CopiedFile[]>;
  /** Records in the run's meta where its source came from (`vcs`, `vcs.diff`, `live`). */
  recordSource(run: Run): void;
  /** Releases what opening the source took (an extracted commit). */
  dispose(): Promise<void>;
}
