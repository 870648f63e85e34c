/**
 * Source code rules: `sourcecode` as written in a Gage file, parsed and
 * validated, with the defaults merged in. How a walk decides with them is at
 * the top of select.ts.
 *
 * ## Rules
 *
 * A rule is `[-]GLOB [tokens]`, separated by whitespace (so a glob cannot hold a
 * space: match one with `?`). A leading `-` makes it an exclude rule. GLOB is a
 * picomatch glob with `dot: true`, matched against the project-relative,
 * `/`-separated path: `*` stays within a segment, `**` crosses them, `?`, `[...]`
 * and `{a,b}` work as usual. Globs are anchored at the project dir: `train.py` is
 * only the root file, `**\/*.py` is any Python file. A leading `/` or `!` is
 * rejected rather than silently never matching (exclude with `-`).
 *
 * Tokens:
 * - `text` / `binary`: the file's content is text / binary. Binary means a NUL
 *   byte in the first 8000 bytes; content is read only when a rule needs it.
 * - `size<N`, `size>N`: the file's size in bytes.
 * - `dir`: the rule applies to directories only; rules without it apply to files
 *   only. `text`, `binary` and `size` do not fit a dir rule.
 * - `sentinel=GLOB` (dir rules only): the rule matches a dir only when a path
 *   matching GLOB, relative to the dir, exists inside it (`bin/activate`, `.nocopy`).
 * - `max-matches=N`: the rule matches at most N paths, counted in traversal order
 *   (which is path order); the (N+1)th path is not matched by it. A rule counts
 *   only the paths it decides: a later rule that matches a path first takes it.
 */
// @ts-types="@types/picomatch"
import picomatch from "picomatch";
import { RunstageError } from "../errors.ts";
import type { SourcecodeSpec } from "../gagefile/opdef.ts";

export interface SourceRule {
  include: boolean;
  glob: string;
  /** true: text files only; false: binary files only; undefined: either. */
  text?: boolean;
  dir: boolean;
  sizeLt?: number;
  sizeGt?: number;
  sentinel?: string;
  maxMatches?: number;
  /** The rule as written. */
  source: string;
}

export const DEFAULT_SOURCECODE_RULES: string[] = Object.freeze([
  "**/* text size<100000 max-matches=500",
  "-**/.* dir",
  "-**/* dir sentinel=bin/activate",
  "-**/* dir sentinel=.nocopy",
  "-**/__pycache__ dir",
  "-**/node_modules dir",
  "-**/summary.json",
]) as string[];

/**
 * The rules in effect for `spec`, in order, validated: the user's rules with the
 * defaults merged in as described at the top of this file.
 */
export function parseSourcecodeRules(spec: SourcecodeSpec): SourceRule[] {
  return planSelection(spec).rules;
}

/**
 * The rules in effect, in order, and how many of the first ones are defaults
 * rather than the user's: a link out of the project is taken only by a rule the
 * user wrote (see select.ts).
 */
export interface SelectionPlan {
  /** The rules as the user wrote them, or the defaults. */
  patterns: string[];
  rules: SourceRule[];
  /** `rules[0..builtin)` are defaults. */
  builtin: number;
}

export function planSelection(spec: SourcecodeSpec): SelectionPlan {
  if (spec === undefined || spec === true) {
    const rules = DEFAULT_SOURCECODE_RULES.map(parseSourceRule);
    return { patterns: [...DEFAULT_SOURCECODE_RULES], rules, builtin: rules.length };
  }
  // As in Gage, an empty list is no source code, like false, not the defaults.
  if (spec === false || (Array.isArray(spec) && spec.length === 0)) {
    return { patterns: [], rules: [], builtin: 0 };
  }
  const patterns = typeof spec === "string" ? [spec] : checkPatternList(spec);
  const userRules = patterns.map(parseSourceRule);
  const defaults = DEFAULT_SOURCECODE_RULES.map(parseSourceRule);
  // Only a file include replaces the default include: a user's include dir rule
  // re-opens a dir for the default file rule, it says nothing about which files.
  const includesFiles = userRules.some((r) => r.include && !r.dir);
  const base = includesFiles ? defaults.filter((r) => !r.include) : defaults;
  return { patterns, rules: [...base, ...userRules], builtin: base.length };
}

/** Gage files are user input: a list can hold anything YAML or JSON can. */
function checkPatternList(spec: unknown): string[] {
  if (!Array.isArray(spec)) {
    const help = "use true, false, a pattern or a list of patterns";
    throw new RunstageError(`invalid sourcecode ${JSON.stringify(spec)}: ${help}`);
  }
  for (const item of spec) {
    if (typeof item !== "string") {
      throw new RunstageError(
        `invalid sourcecode pattern ${JSON.stringify(item)}: patterns are strings, as in "**/*.py"`,
      );
    }
  }
  return spec;
}

const TOKEN_HELP = "use text, binary, dir, size<N, size>N, sentinel=GLOB or max-matches=N";

function parseSourceRule(source: string): SourceRule {
  const invalid = (why: string) =>
    new RunstageError(`invalid sourcecode pattern ${JSON.stringify(source)}: ${why}`);
  const [first, ...tokens] = source.trim().split(/\s+/);
  if (!first) throw invalid("the pattern is empty; give a glob, as in **/*.py");
  const include = !first.startsWith("-");
  const glob = include ? first : first.slice(1);
  checkGlob(glob, invalid);
  const rule: SourceRule = { include, glob, dir: false, source };
  for (const token of tokens) applyToken(rule, token, invalid);
  checkTokensFit(rule, invalid);
  return rule;
}

type Invalid = (why: string) => RunstageError;

function checkGlob(glob: string, invalid: Invalid): void {
  if (glob === "") throw invalid("nothing follows the -; exclude with -GLOB, as in -**/*.log");
  if (glob.startsWith("!")) {
    throw invalid(`exclude with a leading -, as in -${glob.slice(1)}`);
  }
  if (glob.startsWith("/")) {
    throw invalid(
      `globs are relative to the project dir; drop the leading /, as in ${glob.slice(1)}`,
    );
  }
  try {
    picomatch(glob, { dot: true });
  } catch (e) {
    throw invalid(`not a valid glob (${(e as Error).message})`);
  }
}

function applyToken(rule: SourceRule, token: string, invalid: Invalid): void {
  const twice = () => invalid(`${token} repeats an earlier token; keep one`);
  if (token === "text" || token === "binary") {
    if (rule.text !== undefined) throw invalid("give at most one of text and binary");
    rule.text = token === "text";
  } else if (token === "dir") {
    rule.dir = true;
  } else if (token.startsWith("size<") || token.startsWith("size>")) {
    const op = token.slice(0, 5);
    const bytes = wholeNumber(token.slice(5));
    if (bytes === undefined) {
      throw invalid(`size takes a whole number of bytes, as in ${op}100000`);
    }
    if (op === "size<") {
      if (rule.sizeLt !== undefined) throw twice();
      rule.sizeLt = bytes;
    } else {
      if (rule.sizeGt !== undefined) throw twice();
      rule.sizeGt = bytes;
    }
  } else if (token.startsWith("sentinel=")) {
    if (rule.sentinel !== undefined) throw twice();
    rule.sentinel = checkSentinel(token.slice(9), invalid);
  } else if (token.startsWith("max-matches=")) {
    if (rule.maxMatches !== undefined) throw twice();
    const max = wholeNumber(token.slice(12));
    if (max === undefined) throw invalid("max-matches takes a whole number, as in max-matches=500");
    rule.maxMatches = max;
  } else {
    throw invalid(`unknown token ${JSON.stringify(token)}; ${TOKEN_HELP}`);
  }
}

function wholeNumber(text: string): number | undefined {
  if (!/^[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

function checkSentinel(glob: string, invalid: Invalid): string {
  const help = "sentinel takes a glob of a path inside the dir, as in sentinel=bin/activate";
  if (glob === "" || glob.startsWith("/") || glob.split("/").includes("..")) throw invalid(help);
  checkGlob(glob, invalid);
  return glob;
}

function checkTokensFit(rule: SourceRule, invalid: Invalid): void {
  const fileOnly = rule.dir ? fileOnlyToken(rule) : undefined;
  if (fileOnly) {
    throw invalid(`${fileOnly} applies to files, not dirs; drop it or drop dir`);
  } else if (!rule.dir && rule.sentinel !== undefined) {
    throw invalid(
      `sentinel applies to dirs; add dir, as in ${rule.glob} dir sentinel=${rule.sentinel}`,
    );
  }
}

function fileOnlyToken(rule: SourceRule): string | undefined {
  if (rule.text !== undefined) return rule.text ? "text" : "binary";
  if (rule.sizeLt !== undefined) return `size<${rule.sizeLt}`;
  if (rule.sizeGt !== undefined) return `size>${rule.sizeGt}`;
  return undefined;
}
