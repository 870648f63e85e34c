/**
 * Picks and opens the stager for the source a request names: `--reuse-source`
 * reuses a run's files, `--live` links the work tree, else the origin
 * (`--source`, the op's `source`, the work tree) is copied from the work tree
 * or from a git commit.
 */
import { RunstageError } from "../../errors.ts";
import type { OpDef } from "../../gagefile/opdef.ts";
import type { Project } from "../../gagefile/project.ts";
import type { Run } from "../../run/identity.ts";
import { requestedOrigin, type SourceOrigin, type WorktreeOrigin } from "../../source/origin.ts";
import { GitStager } from "./git.ts";
import { LiveStager } from "./live.ts";
import { ReuseStager } from "./reuse.ts";
import type { SourceStager } from "./stager.ts";
import { WorktreeStager } from "./worktree.ts";

export interface StagerRequest {
  project: Project;
  /** The op from the project's Gage file; absent for a bare repo (see SourceRequest). */
  op?: OpDef;
  opName?: string;
  runsHome: string;
  /** `--source`: worktree, git:REF or auto; the op's `source` when not given. */
  source?: string;
  /** Link the work tree's files instead of copying them (a live run). */
  live?: boolean;
  /** Copy this earlier run's source files instead of selecting from the project. */
  reuseSourceOf?: Run;
  /** Where `--source auto` looks for a CI commit. */
  env: Record<string, string | undefined>;
}

/** The stager for the request's kind of source; the caller disposes of it. */
export async function openStager(req: StagerRequest): Promise<SourceStager> {
  if (req.reuseSourceOf && !req.live) {
    if (!req.op) throw new Error("reusing a run's source needs the op it ran");
    return new ReuseStager(req.reuseSourceOf, req.project, req.op);
  }
  const sourceReq = { ...req, exclude: [req.runsHome] };
  const origin = requestedOrigin(sourceReq);
  if (req.live) {
    checkLiveSource(req, origin);
    return await LiveStager.open(sourceReq, origin);
  }
  return origin.mode === "git"
    ? await GitStager.open(sourceReq, origin)
    : await WorktreeStager.open(sourceReq, origin);
}

/** A live run links to files on disk: only a work tree has them. */
function checkLiveSource(
  req: StagerRequest,
  origin: SourceOrigin,
): asserts origin is WorktreeOrigin {
  if (req.reuseSourceOf) {
    throw new RunstageError(
      "--live links to the project's files, --reuse-source copies a run's: pick one",
    );
  }
  if (origin.mode !== "worktree") {
    throw new RunstageError(
      `--live needs the work tree, but the source is ${origin.requested}:` +
        " use --source worktree with --live, or drop --live",
    );
  }
}
