/**
 * A git commit as a run's source: its tree is extracted into a temp dir, which
 * stands in for the project (its Gage file, config files and .gitignore files
 * are the commit's), and copied from there; disposing removes the extraction.
 */
import { type GitOrigin, openCommitSource, type SourceRequest } from "../../source/origin.ts";
import { ProjectStager } from "./project.ts";

export class GitStager extends ProjectStager {
  readonly kind = "git";

  static async open(req: SourceRequest, origin: GitOrigin): Promise<GitStager> {
    return new GitStager(await openCommitSource(req, origin));
  }
}
