/**
 * The work tree linked, for a live run: each source file in the run dir is a
 * symlink to its real path in the project, so an edit there is what the next
 * `start` runs, without restaging. Meta `live` names the project dir the links
 * point into (lib/stage/live.ts refreshes, reopens and freezes live runs).
 */
import { mkdirSync, realpathSync, statSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import type { CopiedFile, FileToCopy } from "../../copy/copy.ts";
import { mtimeMicros } from "../../run/fileslog.ts";
import type { Run } from "../../run/identity.ts";
import { hashFile } from "../../run/manifest.ts";
import { recordLiveProject } from "../../run/projectdir.ts";
import {
  openWorktreeSource,
  type SourceRequest,
  type WorktreeOrigin,
} from "../../source/origin.ts";
import { ProjectStager } from "./project.ts";

export class LiveStager extends ProjectStager {
  readonly kind = "live";

  static async open(req: SourceRequest, origin: WorktreeOrigin): Promise<LiveStager> {
    return new LiveStager(await openWorktreeSource(req, origin));
  }

  override place(files: readonly FileToCopy[], runDir: string): Promise<CopiedFile[]> {
    return linkSourceFiles(files, runDir);
  }

  override recordSource(run: Run): void {
    super.recordSource(run);
    recordLiveProject(run, this.source.project.dir);
  }
}

/** Links each file into the run dir (at its run-dir path) to its real path in the project. */
export async function linkSourceFiles(
  files: readonly FileToCopy[],
  runDir: string,
): Promise<CopiedFile[]> {
  const linked: CopiedFile[] = [];
  for (const file of files) {
    const dst = join(runDir, file.path);
    mkdirSync(dirname(dst), { recursive: true });
    // The real path, so the link still holds when the project is reached through a link.
    const target = realpathSync(file.src);
    symlinkSync(target, dst);
    const st = statSync(target);
    linked.push({
      path: file.path,
      digest: await hashFile(target),
      size: st.size,
      mtime: mtimeMicros(st.mtimeMs),
    });
  }
  return linked;
}
