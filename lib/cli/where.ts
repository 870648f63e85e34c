/**
 * `--where EXPR` on the commands that act on runs (runs, compare, label,
 * delete, export): the option's help, and the runs it keeps of those named, or
 * of the whole listing when none are named. The language is lib/run/where.ts.
 */
import { RunstageError, UsageError } from "../errors.ts";
import { listRuns, resolveRuns, type RunInfo } from "../run/listing.ts";
import { runsWhere } from "../run/runvalues.ts";
import { quotePath } from "../fs/quote.ts";
import { commandContext, type ContextOptions, type GlobalOptions } from "./context.ts";

export const WHERE_HELP =
  "only runs for which EXPR holds: comparisons on flags, metrics and attributes (lr<0.15," +
  " loss<=0.3, status=completed, op=train, label~best) with and, or, not, parentheses" +
  " (docs/compare.md)";

/**
 * The runs a command acts on: those `specs` name, kept by `where` when given;
 * with no specs, every run of the listing that `where` keeps. None kept is an
 * error: a command told to act on runs that acts on none would hide a typo.
 */
export async function runsNamedWhere(
  globals: GlobalOptions,
  specs: string[],
  where: string | undefined,
  context: ContextOptions = {},
): Promise<{ runsHome: string; runs: RunInfo[] }> {
  if (where === undefined && specs.length === 0) {
    throw new UsageError("name the runs (RUN...) or select them with --where EXPR");
  }
  const { runsHome } = await commandContext(globals, context);
  const runs = specs.length > 0 ? resolveRuns(runsHome, specs) : listRuns(runsHome);
  if (where === undefined) return { runsHome, runs };
  const kept = runsWhere(runs, where);
  if (kept.length === 0) {
    throw new RunstageError(
      `no runs match --where "${where}" in ${quotePath(runsHome)}: check the names and values` +
        ` with "runstage compare --all-flags"`,
    );
  }
  return { runsHome, runs: kept };
}
