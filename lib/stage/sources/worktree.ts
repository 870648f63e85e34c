/** The work tree as a run's source: the project's files as they are, copied. */
import {
  openWorktreeSource,
  type SourceRequest,
  type WorktreeOrigin,
} from "../../source/origin.ts";
import { ProjectStager } from "./project.ts";

export class WorktreeStager extends ProjectStager {
  readonly kind = "worktree";

  static async open(req: SourceRequest, origin: WorktreeOrigin): Promise<WorktreeStager> {
    return new WorktreeStager(await openWorktreeSource(req, origin));
  }
}
