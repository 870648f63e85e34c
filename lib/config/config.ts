/**
 * Config flags: `runstage run train lr=0.1 epochs=5`. The full rules, with
 * examples, are in docs/config.md; this is the short form.
 *
 * ## Flags
 *
 * Each flag is `NAME=VALUE` (split at the first `=`; no `=` is an error). The
 * value is typed: `1` and `-3` are ints; `1.5`, `.5`, `1e-3` floats; `true`,
 * `false` (also `True`, `TRUE`, ...) booleans; `null` (`Null`, `NULL`) null;
 * `'x'` and `"x"` the string inside the quotes; anything else, the empty value
 * included, a string. Ints with leading zeros (`007`) or too big for a double to
 * hold exactly, and numbers that overflow (`1e999`), stay strings. There is one
 * number type, as in JSON: `5.0` is the number 5. A flag given twice: the last
 * one counts.
 *
 * ## The `config` attribute
 *
 * A string or a list of entries `[-]GLOB[#KEYPATTERN]`; Gage's tables
 * `{ keys = ENTRIES, description = "..." }` are accepted too, each a group of
 * its own (the consecutive strings of a list form one group).
 *
 * - GLOB is a picomatch glob over project-relative `/` paths, as in sourcecode
 *   rules, except that wildcards never match a name starting with `.` (so the
 *   runs home in `.gage/` is never read; write `.config/*.yaml` to look in a
 *   hidden dir) and the search never enters `node_modules` or `__pycache__`
 *   unless a glob names them. The search reads only dirs a glob can match in,
 *   and a wildcard never leads it out of the project through a link
 *   (discover.ts). A glob without wildcards names one file, which must exist
 *   and be of a known format; files a wildcard glob matches whose format is
 *   unknown are passed over.
 * - Formats by extension: `.json` JSON, `.yaml`/`.yml` YAML, `.toml` TOML, `.py`
 *   Python (module-level assignments). See lib/config/formats/ for each.
 * - KEYPATTERN is a glob over dotted keys: `*` within a segment, `**` any number
 *   of segments, `?` one character. A pattern that matches a table matches
 *   every key inside it: `#model` and `#model.*` both select `model.opt.lr`.
 * - A leading `-` excludes. An entry without GLOB (`-#*.password`, `#seed`)
 *   applies to every file of its group. An entry without `#` applies to every
 *   key of the files it matches.
 * - A file is a config file when an include entry's GLOB matches it. Each of its
 *   keys is decided by the last entry of the group that matches both the file
 *   and the key: include makes the key a flag, exclude does not, and a key no
 *   entry matches is no flag. Later entries win.
 *
 * ## Keys and values
 *
 * A key is the flat dotted path of a scalar leaf through nested tables:
 * `model.lr`. Lists are leaves but not flags; only strings, numbers, booleans
 * and null are. A key segment holding a `.` or `=` cannot be named and is left
 * out. A key that two config files both provide is an error naming both, so a
 * flag always writes exactly one place; exclude it from one of them.
 *
 * ## Resolving and applying
 *
 * `planConfig` reads the defaults from the project's files. `resolveConfig`
 * merges the flags over them: a flag that names no key is an error that lists
 * the keys, unless the op has `free-flags = true` (then it is recorded in the
 * run's config.json and written to no file) or its name is reserved by the
 * caller (then it is copied through as given). `applyConfig` writes the values
 * into the run dir's copies of the files: only values that differ from the copy
 * are replaced, in place, as the format writes the flag's value (a float default
 * given an int flag is written as an int), and each rewrite is read back to
 * check it holds exactly the new values. It returns a unified diff per file.
 */
import { RunstageError } from "../errors.ts";
import type { RunConfig } from "../run/meta.ts";
import type { OpDef } from "../gagefile/opdef.ts";
import type { ConfigFormatName, FlagValue } from "./formats/format.ts";
import { type CompiledEntry, compileGroup, groupSelectsFile, groupSelectsKey } from "./entries.ts";
import { findConfigFiles } from "./discover.ts";
import {
  cannotHold,
  configFormatOf,
  type ConfigPlan,
  FORMAT_BY_EXTENSION,
  readConfigFile,
  readConfigSource,
} from "./files.ts";
import { formatFlagValue } from "./flags.ts";
import { quotePath } from "../fs/quote.ts";

export type { ConfigFormatName, FlagValue };
export { type ConfigFileInfo, configFormatOf, type ConfigPlan } from "./files.ts";
export { formatFlagValue, parseFlags, parseFlagValue } from "./flags.ts";
export { keyMatches } from "./entries.ts";
export { type AppliedConfig, applyConfig, patchConfigText, unifiedDiff } from "./apply.ts";
export { formatOpHelp } from "./help.ts";

// --- Planning ------------------------------------------------------------------------

export interface PlanOptions {
  /** Dirs never searched, such as the runs home when it lies inside the project. */
  exclude?: string[];
  /** Stops the search at its next dir (RunInterrupted). */
  signal?: AbortSignal;
}

/**
 * The op's config files and flags, with defaults read from the project's files.
 * Throws a RunstageError for a file that does not parse, a named file that is
 * missing, or a key two files provide.
 */
export async function planConfig(
  projectDir: string,
  op: OpDef,
  options: PlanOptions = {},
): Promise<ConfigPlan> {
  const groups = (op.config ?? []).map(compileGroup);
  const plan: ConfigPlan = { files: [], defaults: {} };
  if (groups.length === 0) return plan;
  const includes = groups.flat().filter((e) => !e.exclude && e.fileGlob !== undefined);
  const paths = await findConfigFiles(projectDir, includes.map((e) => e.fileGlob!), options);
  checkNamedFiles(op, includes, paths);
  const providedBy = new Map<string, string>();
  for (const path of paths) {
    const format = configFormatOf(path);
    const inGroups = groups.filter((group) => groupSelectsFile(group, path));
    if (format === undefined || inGroups.length === 0) continue;
    const source = await readConfigSource(path, format, await readConfigFile(projectDir, path));
    const keys: string[] = [];
    for (const leaf of source.leaves) {
      if (!inGroups.some((group) => groupSelectsKey(group, path, leaf.key))) continue;
      const other = providedBy.get(leaf.key);
      if (other !== undefined) throw keyInTwoFiles(op, leaf.key, other, path);
      providedBy.set(leaf.key, path);
      keys.push(leaf.key);
      plan.defaults[leaf.key] = leaf.value;
    }
    if (keys.length > 0) plan.files.push({ path, format, keys });
  }
  return plan;
}

/** A file named without wildcards is meant to be there: its absence is a mistake. */
function checkNamedFiles(op: OpDef, includes: CompiledEntry[], found: string[]): void {
  for (const entry of includes) {
    if (entry.literal === undefined) continue;
    if (!found.includes(entry.literal)) {
      throw new RunstageError(
        `op "${op.name}": config file ${quotePath(entry.literal)}` +
          ` is not a file in the project dir; ` +
          `fix entry ${JSON.stringify(entry.source)} of attribute "config"`,
      );
    }
    if (configFormatOf(entry.literal) === undefined) {
      throw new RunstageError(
        `op "${op.name}": config file ${entry.literal} has no known format; ` +
          `config files end in ${Object.keys(FORMAT_BY_EXTENSION).join(", ")}`,
      );
    }
  }
}

function keyInTwoFiles(op: OpDef, key: string, first: string, second: string): RunstageError {
  return new RunstageError(
    `op "${op.name}": config key "${key}" is in both ${quotePath(first)} and ${quotePath(second)}` +
      `, so a flag ` +
      `could not say which to set; exclude it from one in attribute "config", ` +
      `as in "-${second}#${key}"`,
  );
}

/**
 * The run's config: the defaults with the flags over them. `reserved` names
 * (dependency flags, say) pass through as given, checked against nothing.
 */
export function resolveConfig(
  plan: ConfigPlan,
  flags: RunConfig,
  op: OpDef,
  reserved: string[] = [],
): RunConfig {
  const fileOf = new Map(plan.files.flatMap((f) => f.keys.map((key) => [key, f] as const)));
  const config: RunConfig = { ...plan.defaults };
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(flags)) {
    const file = fileOf.get(name);
    if (file !== undefined && !reserved.includes(name)) {
      const why = cannotHold(file.format, value);
      if (why !== undefined) {
        throw new RunstageError(
          `flag ${name}=${formatFlagValue(value)}: ${why} (${quotePath(file.path)}` +
            `); give another value`,
        );
      }
    } else if (file === undefined && !reserved.includes(name) && !op.freeFlags) {
      unknown.push(name);
    }
    config[name] = value;
  }
  if (unknown.length > 0) throw unknownFlags(op, unknown, [...fileOf.keys()]);
  return config;
}

function unknownFlags(op: OpDef, unknown: string[], keys: string[]): RunstageError {
  const names = unknown.map((name) => `"${name}"`).join(", ");
  const what = unknown.length === 1 ? `unknown flag ${names}` : `unknown flags ${names}`;
  if (keys.length === 0) {
    return new RunstageError(
      `${what} for op "${op.name}", which has no flags; name its config files in attribute ` +
        `"config", or set free-flags = true to record any flag`,
    );
  }
  const hints = unknown.flatMap((name) => keys.filter((k) => k.endsWith("." + name)));
  const hint = hints.length > 0 ? ` (did you mean ${hints.join(" or ")}?)` : "";
  return new RunstageError(
    `${what} for op "${op.name}"${hint}; its flags are: ${keys.join(", ")}`,
  );
}
