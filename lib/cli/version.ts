import config from "../../deno.json" with { type: "json" };
import { type BuildInfo, currentBuild, runtimeText } from "../buildinfo.ts";

export const VERSION: string = config.version;

/**
 * `runstage --version`: the version, where it was built from and what runs it.
 * `runstage 0.1.0 (commit 1a2b3c4d5e6f, bun 1.4.5 compile)` for a binary,
 * `runstage 0.1.0 (source, deno 2.9.6)` from source.
 */
export function versionText(
  build: BuildInfo | undefined = currentBuild(),
  runtime: string = runtimeText(),
): string {
  if (!build) return `runstage ${VERSION} (source, ${runtime})`;
  const commit = `${build.commit}${build.dirty ? "-dirty" : ""}`;
  return `runstage ${VERSION} (commit ${commit}, ${runtime} compile)`;
}
