/**
 * Where a run's source code comes from: the project's work tree, or the tree of
 * a git commit. A commit is extracted into a temp dir that then stands in for
 * the project dir, so the op definition, the config files and the `sourcecode`
 * rules (with the commit's own .gitignore files) are read from the commit the
 * same way they are read from a work tree: one selection for every origin.
 * lib/stage/sources/ has a stager per kind of source built on these.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { findGageFile, parseGageFile } from "../gagefile/parse.ts";
import type { OpDef } from "../gagefile/opdef.ts";
import { type Project, selectOp } from "../gagefile/project.ts";
import { extractCommit } from "../git/tree.ts";
import {
  openGitRepo,
  parseSourceOrigin,
  readVcs,
  resolveCommit,
  type SourceOrigin,
} from "../git/vcs.ts";
import type { RunVcs } from "../run/vcs.ts";
import { quotePath } from "../fs/quote.ts";

export type { SourceOrigin };
export type WorktreeOrigin = Extract<SourceOrigin, { mode: "worktree" }>;
export type GitOrigin = Extract<SourceOrigin, { mode: "git" }>;

export interface SourceRequest {
  project: Project;
  /**
   * The op from the project's Gage file; absent when the project dir has none (a
   * bare repo), and then `opName` (or the default op) is read from the commit.
   */
  op?: OpDef;
  opName?: string;
  /** `--source` as given; else the op's `source`; else the work tree. */
  source?: string;
  /** Where CI variables are read from. */
  env: Record<string, string | undefined>;
  /** Dirs that are not the project's source (the runs home): never counted as changes. */
  exclude?: string[];
}

export interface RunSource {
  origin: SourceOrigin;
  /** The project as the run's code sees it: the project itself, or the extracted commit. */
  project: Project;
  /** The op as that project defines it (a commit's Gage file wins over the work tree's). */
  op: OpDef;
  /** Meta `vcs`; null only for a run reusing the source of a run that recorded none. */
  vcs: RunVcs | null;
  /** A dirty work tree's changes against its commit. */
  diff?: Uint8Array;
  warnings: string[];
  /** Removes the extracted tree, if there is one. */
  dispose(): Promise<void>;
}

/** The origin a request names: `--source`, else the op's `source`, else the work tree. */
export function requestedOrigin(req: SourceRequest): SourceOrigin {
  return parseSourceOrigin(req.source ?? req.op?.source ?? "worktree", req.env);
}

/** The work tree as a run's source: the project itself, with its provenance. */
export async function openWorktreeSource(
  req: SourceRequest,
  origin: WorktreeOrigin,
): Promise<RunSource> {
  const { vcs, diff, warnings } = await readVcs(origin, req.project.dir, {
    exclude: req.exclude,
  });
  return {
    origin,
    project: req.project,
    op: req.op ?? selectOp(req.project, req.opName),
    vcs,
    diff,
    warnings,
    dispose: () => Promise.resolve(),
  };
}

/**
 * A git commit as a run's source: its tree extracted into a temp dir that
 * stands in for the project dir. The caller disposes of it.
 */
export async function openCommitSource(req: SourceRequest, origin: GitOrigin): Promise<RunSource> {
  const repo = await openGitRepo(req.project.dir);
  if (!repo) {
    throw new RunstageError(
      `--source ${origin.requested} needs a git repository: ${quotePath(req.project.dir)}` +
        ` is not in one;` +
        ` use --source worktree`,
    );
  }
  const commit = await resolveCommit(repo, origin.ref);
  const tree = await mkdtemp(join(tmpdir(), "runstage-src-"));
  const dispose = () => rm(tree, { recursive: true, force: true });
  try {
    const extracted = await extractCommit(repo, commit, tree);
    const project = await commitProject(req.project, extracted.projectDir, commit);
    const name = req.op?.name ?? req.opName;
    const op = project.gagefile === req.project.gagefile
      ? req.op ?? selectOp(project, name)
      : opInCommit(project, name);
    const { vcs, warnings } = await readVcs(origin, req.project.dir, { repo, commit });
    return { origin, project, op, vcs, warnings: [...warnings, ...extracted.warnings], dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/**
 * The extracted commit as a project. Its Gage file is named in errors as
 * `git:<commit>/<file>` beside the project dir, not by its temp path.
 */
async function commitProject(project: Project, dir: string, commit: string): Promise<Project> {
  const file = findGageFile(dir);
  if (file === undefined) return { dir, gagefile: project.gagefile };
  const label = join(project.dir, `git:${commit.slice(0, 12)}`, relative(dir, file));
  return { dir, gagefile: parseGageFile(label, await readFile(file, "utf8")) };
}

/** The op as the commit's Gage file defines it; one it lacks is the user's to fix. */
function opInCommit(project: Project, name: string | undefined): OpDef {
  try {
    return selectOp(project, name);
  } catch (err) {
    if (!(err instanceof RunstageError) || name === undefined) throw err;
    const where = relative(process.cwd(), project.gagefile!.path);
    throw new RunstageError(
      `op "${name}" is not defined in ${quotePath(where)}` +
        `: pick a commit that has it, or --source worktree`,
    );
  }
}
