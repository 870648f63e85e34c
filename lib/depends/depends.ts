/**
 * Dependencies: files a run needs that are not its source code, put into the
 * run dir in the `resolve-dependencies` phase, so log/files and the manifest
 * type them `d`. An op lists them in `depends`:
 *
 * - `project-files`: project files matching `files`, copied (or, with
 *   `link = true`, symlinked) to the same paths in the run dir;
 * - `run-files`: files of another run: the latest completed run of `op` in
 *   this project, or the run the user picks with the flag `NAME=RUN`.
 *
 * `resolveDepends` does every check and finds every file before a run is
 * written; `applyDepends` then only copies. Gage's shapes (`depends` as one
 * table, `files` as one string, `run-select = "op = NAME"`, a type implied by
 * its attributes) are read too. The full semantics are in
 * docs/depends-and-summary.md.
 *
 * The parts: entries.ts reads `depends`, resolve.ts finds the runs and files
 * (projectfiles.ts walks the project), apply.ts puts them into the run dir.
 */
export {
  type Dependency,
  dependencyFlagNames,
  type DependencyType,
  type ProjectFilesDependency,
  readDepends,
  type RunFilesDependency,
} from "./entries.ts";
export {
  type DependsContext,
  type ResolvedDependency,
  resolveDepends,
  type ResolvedFile,
} from "./resolve.ts";
export { applyDepends, dependsMeta } from "./apply.ts";
