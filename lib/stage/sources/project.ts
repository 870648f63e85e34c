/**
 * What the stagers that take their files from a project have in common: the
 * worktree, git and live stagers select by the op's `sourcecode` rules from
 * the project the source opened (the work tree, or an extracted commit), put
 * the selection where the op's path map says, run `copy-sourcecode` after
 * placing, and record the source's provenance. They differ in how the source
 * is opened and, for a live run, how the files are placed.
 */
import { type CopiedFile, copySourceFiles, type FileToCopy } from "../../copy/copy.ts";
import { DigestCache, digestCachePath } from "../../copy/digests.ts";
import { comparePaths } from "../../fs/pathorder.ts";
import type { ExecCommand } from "../../gagefile/opdef.ts";
import type { Run } from "../../run/identity.ts";
import { runMeta } from "../../run/meta.ts";
import type { RunSource } from "../../source/origin.ts";
import { checkMappedPaths } from "../../source/pathmap.ts";
import { selectSourcecode, type SourceSelection } from "../../source/select.ts";
import type { PlaceOptions, SourceKind, SourceStager } from "./stager.ts";

export abstract class ProjectStager implements SourceStager {
  abstract readonly kind: SourceKind;

  constructor(readonly source: RunSource) {}

  get copyCommand(): ExecCommand | undefined {
    return this.source.op.exec["copy-sourcecode"];
  }

  select(runsHome: string, signal?: AbortSignal): Promise<SourceSelection> {
    return selectRunSource(this.source, runsHome, signal);
  }

  /**
   * Copies the files, with the runs home's digest cache for a work tree (a
   * commit's files are extracted afresh each time: the cache could not help).
   */
  async place(
    files: readonly FileToCopy[],
    runDir: string,
    options: PlaceOptions,
  ): Promise<CopiedFile[]> {
    const digests = this.kind === "worktree" && options.runsHome !== undefined
      ? DigestCache.open(digestCachePath(options.runsHome))
      : undefined;
    const copied = await copySourceFiles(files, runDir, options.onProgress, {
      signal: options.signal,
      digests,
    });
    digests?.save();
    return copied;
  }

  recordSource(run: Run): void {
    // A project under no version control has no provenance to record: no meta vcs.
    const vcs = this.source.vcs;
    if (vcs && (vcs.origin !== "worktree" || vcs.dirty !== null)) runMeta.vcs.record(run, vcs);
    if (this.source.diff) runMeta.vcsDiff.record(run, this.source.diff);
  }

  dispose(): Promise<void> {
    return this.source.dispose();
  }
}

/**
 * The source files a run gets from `source`, by run-dir path (the op's path map
 * applied; two files it puts in one place are an error), with the source's notes.
 */
export async function selectRunSource(
  source: RunSource,
  runsHome: string,
  signal?: AbortSignal,
): Promise<SourceSelection> {
  const { op, project } = source;
  const selection = await selectSourcecode(project.dir, op.sourcecode, {
    exclude: [runsHome],
    signal,
  });
  selection.warnings.push(...source.warnings);
  if (!op.pathMap?.length) return selection;
  const paths = checkMappedPaths(selection.files, op.pathMap);
  const files = selection.files.map((f, i) => ({ ...f, path: paths[i] }));
  return { ...selection, files: files.sort((a, b) => comparePaths(a.path, b.path)) };
}
