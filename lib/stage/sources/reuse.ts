/**
 * An earlier run's own source files as a new run's source (`rerun
 * --reuse-source`): the files of type `s` in its manifest, copied from its run
 * dir. The code is the same, so its provenance is too; `copy-sourcecode` does
 * not run again, as those files already hold what it made the first time.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { RunstageError } from "../../errors.ts";
import type { OpDef } from "../../gagefile/opdef.ts";
import type { Project } from "../../gagefile/project.ts";
import type { Run } from "../../run/identity.ts";
import { readManifest } from "../../run/manifest.ts";
import { runMeta } from "../../run/meta.ts";
import type { SourceSelection } from "../../source/select.ts";
import { ProjectStager } from "./project.ts";
import { quotePath } from "../../fs/quote.ts";

export class ReuseStager extends ProjectStager {
  readonly kind = "reuse";

  /** The source of `original`, for a run of `op` in `project`. */
  constructor(readonly original: Run, project: Project, op: OpDef) {
    super({
      origin: { mode: "worktree", requested: "worktree" },
      project,
      op,
      vcs: runMeta.vcs.read(original) ?? null,
      diff: runMeta.vcsDiff.read(original),
      warnings: [],
      dispose: () => Promise.resolve(),
    });
  }

  override get copyCommand(): undefined {
    return undefined;
  }

  override select(): Promise<SourceSelection> {
    return sourceOfRun(this.original);
  }
}

/** The source files of an earlier run, as a selection to copy from its run dir. */
async function sourceOfRun(source: Run): Promise<SourceSelection> {
  const entries = (readManifest(source) ?? []).filter((e) => e.type === "s");
  const files = await Promise.all(entries.map(async (e) => {
    const src = join(source.runDir, e.path);
    const st = await stat(src).catch(() => {
      throw new RunstageError(
        `cannot reuse the source of run ${source.name}: ${quotePath(e.path)}` +
          ` is missing (see "runstage verify ${source.name}")`,
      );
    });
    return { path: e.path, src, size: st.size, mode: st.mode & 0o7777 };
  }));
  return { patterns: [`(source of run ${source.name})`], files, leftOut: [], warnings: [] };
}
