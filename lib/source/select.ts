/**
 * Source code selection: which files of the project dir `copy-sourcecode` stages
 * into a run dir, from the op's `sourcecode` patterns.
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
 *
 * ## Deciding
 *
 * The last rule that matches a path decides: include selects a file, exclude
 * drops it; a file no rule matches is not selected. A directory is descended into
 * unless the last matching dir rule excludes it, so `.github dir` placed after the
 * default `-**\/.* dir` re-opens `.github`.
 *
 * Spec: undefined or `true` are the defaults below; `false` selects nothing; a
 * string is one rule, a list is rules. When the user's rules include no files
 * (only excludes and dir rules, or an empty list), the defaults apply followed by
 * the user's rules: `[".github dir"]` is the defaults plus `.github`. When they
 * include files, the default include rule and its limits are dropped, but the
 * default excludes still come first, then the user's rules, which may re-open a
 * dir.
 *
 * ## Always
 *
 * - `options.exclude` dirs (the runs home, for one) are never descended into,
 *   compared by real path, so a runs home inside the project is not copied.
 * - `.git` entries, the git dir and the gitlink file of linked work trees and
 *   submodules, are never selected nor descended into.
 * - In a git work tree (nearest ancestor holding `.git`, found from the project
 *   dir's real path), what git ignores is skipped: `.git/info/exclude`, the
 *   `.gitignore` files from the work tree root down to the project dir, and those
 *   inside it, each deeper one taking precedence, matched case-sensitively with
 *   paths relative to its own dir and dirs tested with a trailing `/`. Only paths
 *   inside the project dir are tested: a project dir that git ignores as a whole
 *   is treated as outside the work tree, or nothing would ever be selected. The
 *   global `core.excludesFile` is not read.
 * - Only regular files and dirs, or links to them, are considered (no fifos,
 *   sockets or devices). A symlinked file is selected as a file: `src` is the link,
 *   size and mode are the target's. A broken link that an include rule would
 *   have wanted is skipped with a warning. A symlinked dir is followed; a link
 *   back to a dir in its own ancestor chain (by real path) is a loop, skipped with
 *   a warning.
 *
 * ## Left out
 *
 * A file is reported as left out, never silently dropped, when it is not selected
 * only because a condition (size, text/binary, max-matches) of an include rule
 * failed, where that rule's glob matched and no later rule matched the file. The
 * reason is the last such rule's first failing condition, max-matches first (a
 * full rule reads no content), then size, then text/binary. Files dropped by an
 * exclude rule, or matched by no glob, are not left out.
 */

// @ts-types="@types/picomatch"
import picomatch from "picomatch";
import ignore from "ignore";
import { type Dirent, lstatSync, readdirSync, realpathSync, type Stats, statSync } from "node:fs";
import { open, readdir, readFile, realpath } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { RunstageError } from "../errors.ts";
import { comparePaths } from "../fs/pathorder.ts";
import type { SourcecodeSpec } from "../gagefile/opdef.ts";
import { findGitWorkTree } from "../git/vcs.ts";

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

export interface SourceFile {
  /** Relative to the project dir, `/`-separated; the path in the run dir as-is. */
  path: string;
  /** Absolute path to read from. */
  src: string;
  size: number;
  /** Permission bits, the exec bits included. */
  mode: number;
}

export interface LeftOut {
  /** Why, e.g. `larger than 100000 bytes (size<100000)`, `not text`. */
  reason: string;
  count: number;
  /** The first 3 paths, in path order. */
  examples: string[];
}

export interface SourceSelection {
  /** The rules as the user wrote them, or the defaults. */
  patterns: string[];
  /** Sorted by path, in byte order. */
  files: SourceFile[];
  leftOut: LeftOut[];
  warnings: string[];
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

/** How many examples a left-out reason keeps. */
const LEFT_OUT_EXAMPLES = 3;
/** How much of a file decides whether it is binary: git looks at as much. */
const BINARY_PROBE_BYTES = 8000;
/**
 * Files open at once while probing content: a dir can hold thousands of files and
 * probing them all at once would run out of file descriptors.
 */
const OPEN_FILES_AT_ONCE = 64;

/**
 * The rules in effect for `spec`, in order, validated: the user's rules with the
 * defaults merged in as described at the top of this file.
 */
export function parseSourcecodeRules(spec: SourcecodeSpec): SourceRule[] {
  return planSelection(spec).rules;
}

export async function selectSourcecode(
  projectDir: string,
  spec: SourcecodeSpec,
  options: { exclude?: string[] } = {},
): Promise<SourceSelection> {
  const { patterns, rules } = planSelection(spec);
  const selection: SourceSelection = { patterns, files: [], leftOut: [], warnings: [] };
  if (rules.length === 0) return selection;

  const abs = resolve(projectDir);
  const real = await realpath(abs);
  const excluded = (options.exclude ?? []).map(realPathOrResolved);
  const git = await loadGitIgnores(real);
  const walk = new SourceWalk(rules, excluded, git?.matcher);
  if (walk.isExcluded(real)) return selection;
  await walk.walkDir({ abs, real, rel: "", chain: [real], ignoreLevels: git?.levels ?? [] });
  return { ...selection, files: walk.files, leftOut: walk.leftOut(), warnings: walk.warnings };
}

// ---------------------------------------------------------------------------
// Rules

function planSelection(spec: SourcecodeSpec): { patterns: string[]; rules: SourceRule[] } {
  if (spec === undefined || spec === true) {
    return {
      patterns: [...DEFAULT_SOURCECODE_RULES],
      rules: DEFAULT_SOURCECODE_RULES.map(parseSourceRule),
    };
  }
  if (spec === false) return { patterns: [], rules: [] };
  const patterns = typeof spec === "string" ? [spec] : checkPatternList(spec);
  const userRules = patterns.map(parseSourceRule);
  const defaults = DEFAULT_SOURCECODE_RULES.map(parseSourceRule);
  // Only a file include replaces the default include: a user's include dir rule
  // re-opens a dir for the default file rule, it says nothing about which files.
  const includesFiles = userRules.some((r) => r.include && !r.dir);
  const base = includesFiles ? defaults.filter((r) => !r.include) : defaults;
  return { patterns, rules: [...base, ...userRules] };
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

// ---------------------------------------------------------------------------
// Matching

/** A rule ready to match, with the count that max-matches limits. */
interface ActiveRule {
  rule: SourceRule;
  matchesPath: (path: string) => boolean;
  sentinel?: Sentinel;
  matched: number;
}

function activate(rule: SourceRule): ActiveRule {
  return {
    rule,
    matchesPath: picomatch(rule.glob, { dot: true }),
    sentinel: rule.sentinel === undefined ? undefined : compileSentinel(rule.sentinel),
    matched: 0,
  };
}

/** Why a matching rule's conditions fail for a file; undefined when they hold. */
async function conditionFailure(
  rule: SourceRule,
  size: number,
  isBinary: () => Promise<boolean>,
): Promise<string | undefined> {
  if (rule.sizeLt !== undefined && !(size < rule.sizeLt)) {
    return `larger than ${rule.sizeLt} bytes (size<${rule.sizeLt})`;
  }
  if (rule.sizeGt !== undefined && !(size > rule.sizeGt)) {
    return `not larger than ${rule.sizeGt} bytes (size>${rule.sizeGt})`;
  }
  if (rule.text !== undefined && (await isBinary()) === rule.text) {
    return rule.text ? "not text" : "not binary";
  }
  return undefined;
}

function overMaxMatches(active: ActiveRule): string | undefined {
  const max = active.rule.maxMatches;
  return max !== undefined && active.matched >= max ? `over max-matches=${max}` : undefined;
}

interface Sentinel {
  glob: string;
  /** The part of the glob without magic, where a search starts. */
  base: string;
  isGlob: boolean;
  matches: (path: string) => boolean;
  /** How many segments deep a match can be. */
  depth: number;
}

function compileSentinel(glob: string): Sentinel {
  const scan = picomatch.scan(glob);
  return {
    glob,
    base: scan.isGlob ? scan.base : glob,
    isGlob: scan.isGlob,
    matches: picomatch(glob, { dot: true }),
    depth: glob.includes("**") ? Infinity : glob.split("/").length,
  };
}

async function holdsSentinel(dir: string, sentinel: Sentinel): Promise<boolean> {
  // The usual sentinels are plain paths: one lstat, no listing.
  if (!sentinel.isGlob) return pathExists(join(dir, sentinel.glob));
  return await searchSentinel(dir, sentinel.base, sentinel);
}

async function searchSentinel(dir: string, rel: string, sentinel: Sentinel): Promise<boolean> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(join(dir, rel), { withFileTypes: true });
  } catch {
    return false;
  }
  for (const d of dirents) {
    const childRel = rel ? `${rel}/${d.name}` : d.name;
    if (sentinel.matches(childRel)) return true;
    if (
      d.isDirectory() && childRel.split("/").length < sentinel.depth &&
      await searchSentinel(dir, childRel, sentinel)
    ) return true;
  }
  return false;
}

function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Binary as git sees it: a NUL byte near the start. */
async function startsBinary(path: string): Promise<boolean> {
  const handle = await open(path, "r");
  try {
    const buf = new Uint8Array(BINARY_PROBE_BYTES);
    const { bytesRead } = await handle.read(buf, 0, BINARY_PROBE_BYTES, 0);
    return buf.subarray(0, bytesRead).includes(0);
  } finally {
    await handle.close();
  }
}

/** Caps how many files are open at once for content probes. */
class OpenFileBudget {
  #free: number;
  #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

// ---------------------------------------------------------------------------
// Walking

interface DirVisit {
  abs: string;
  real: string;
  /** Project-relative, `/`-separated; "" for the project dir. */
  rel: string;
  /** Real paths of this dir and its ancestors, to catch symlink loops. */
  chain: string[];
  ignoreLevels: IgnoreLevel[];
}

/** A rule whose glob matched a path, and why its conditions failed, if they did. */
interface Outcome {
  active: ActiveRule;
  failure?: string;
}

/**
 * One entry of a dir, classified with everything that needs I/O done, so a dir's
 * entries can be prepared in parallel and then decided in order: max-matches
 * counts make the decision order-dependent.
 */
type Entry =
  | { kind: "file"; name: string; rel: string; file: SourceFile; outcomes: Outcome[] }
  | { kind: "dir"; name: string; rel: string; abs: string; real: string; outcomes: Outcome[] }
  | { kind: "skipped"; name: string; warning?: string };

class SourceWalk {
  readonly files: SourceFile[] = [];
  readonly warnings: string[] = [];
  readonly #leftOut = new Map<string, LeftOut>();
  /** Last rule first: the first one that matches decides. */
  readonly #fileRules: ActiveRule[];
  readonly #dirRules: ActiveRule[];
  readonly #budget = new OpenFileBudget(OPEN_FILES_AT_ONCE);

  constructor(
    rules: SourceRule[],
    readonly excluded: string[],
    readonly gitIgnores: GitIgnoreMatcher | undefined,
  ) {
    const lastFirst = rules.map(activate).reverse();
    this.#fileRules = lastFirst.filter((a) => !a.rule.dir);
    this.#dirRules = lastFirst.filter((a) => a.rule.dir);
  }

  leftOut(): LeftOut[] {
    return [...this.#leftOut.values()];
  }

  isExcluded(real: string): boolean {
    return this.excluded.some((ex) =>
      real === ex || real.startsWith(ex.endsWith(sep) ? ex : ex + sep)
    );
  }

  async walkDir(dir: DirVisit): Promise<void> {
    const dirents = this.#list(dir);
    if (!dirents) return;
    const ignoreLevels = this.gitIgnores
      ? await this.gitIgnores.withDirIgnores(dir.ignoreLevels, dir.abs, dir.rel, dirents)
      : dir.ignoreLevels;
    const considered = dirents.filter((d) =>
      d.name !== ".git" &&
      !this.gitIgnores?.isIgnored(ignoreLevels, childPath(dir.rel, d.name), d.isDirectory())
    );
    const entries = await Promise.all(considered.map((d) => this.#classify(d, dir)));
    // A dir sorts as "name/", so walking in this order lists files in byte order of
    // their whole paths ("a.txt" before "a/b"), which is also the order max-matches
    // counts in.
    entries.sort((a, b) => comparePaths(sortKey(a), sortKey(b)));
    for (const entry of entries) {
      if (entry.kind === "file") this.#decideFile(entry);
      else if (entry.kind === "dir") await this.#enterDir(entry, dir, ignoreLevels);
      else if (entry.warning) this.warnings.push(entry.warning);
    }
  }

  #list(dir: DirVisit): Dirent[] | undefined {
    try {
      return readdirSync(dir.abs, { withFileTypes: true });
    } catch (e) {
      if (dir.rel === "") throw e;
      this.warnings.push(`skipped unreadable dir ${dir.rel}`);
      return undefined;
    }
  }

  async #enterDir(
    entry: Extract<Entry, { kind: "dir" }>,
    parent: DirVisit,
    ignoreLevels: IgnoreLevel[],
  ): Promise<void> {
    if (!this.#decideDir(entry) || this.isExcluded(entry.real)) return;
    if (parent.chain.includes(entry.real)) {
      this.warnings.push(`skipped symlink loop ${entry.rel}`);
      return;
    }
    await this.walkDir({
      abs: entry.abs,
      real: entry.real,
      rel: entry.rel,
      chain: [...parent.chain, entry.real],
      ignoreLevels,
    });
  }

  async #classify(d: Dirent, parent: DirVisit): Promise<Entry> {
    const rel = childPath(parent.rel, d.name);
    const abs = join(parent.abs, d.name);
    if (d.isDirectory()) return await this.#dirEntry(d.name, rel, abs, join(parent.real, d.name));
    if (d.isFile()) {
      const st = statOrUndefined(abs);
      // Gone since the listing: nothing to copy, nothing to report.
      if (!st) return { kind: "skipped", name: d.name };
      return await this.#fileEntry(d.name, rel, abs, st);
    }
    if (d.isSymbolicLink()) return await this.#linkEntry(d.name, rel, abs);
    return { kind: "skipped", name: d.name };
  }

  async #linkEntry(name: string, rel: string, abs: string): Promise<Entry> {
    const st = statOrUndefined(abs);
    const target = st?.isDirectory() ? realPathOrUndefined(abs) : undefined;
    if (st?.isDirectory() && target) return await this.#dirEntry(name, rel, abs, target);
    if (st?.isFile()) return await this.#fileEntry(name, rel, abs, st);
    if (st) return { kind: "skipped", name };
    const warning = this.#wouldInclude(rel) ? `skipped broken link ${rel}` : undefined;
    return { kind: "skipped", name, warning };
  }

  async #dirEntry(name: string, rel: string, abs: string, real: string): Promise<Entry> {
    return { kind: "dir", name, rel, abs, real, outcomes: await this.#dirOutcomes(rel, abs) };
  }

  async #fileEntry(name: string, rel: string, abs: string, st: Stats): Promise<Entry> {
    const file: SourceFile = { path: rel, src: abs, size: st.size, mode: st.mode & 0o7777 };
    try {
      return { kind: "file", name, rel, file, outcomes: await this.#fileOutcomes(file) };
    } catch {
      // Only content probes read here: a file we cannot read we cannot copy either.
      return { kind: "skipped", name, warning: `skipped unreadable file ${rel}` };
    }
  }

  /**
   * The rules that could decide a file, last first, up to the first that surely
   * does (it matches and has no max-matches to run out of).
   */
  async #fileOutcomes(file: SourceFile): Promise<Outcome[]> {
    let binary: Promise<boolean> | undefined;
    const isBinary = () => binary ??= this.#budget.use(() => startsBinary(file.src));
    const outcomes: Outcome[] = [];
    for (const active of this.#fileRules) {
      if (!active.matchesPath(file.path)) continue;
      // A rule already full stays full, so its content condition needs no read.
      const failure = overMaxMatches(active) ??
        await conditionFailure(active.rule, file.size, isBinary);
      outcomes.push({ active, failure });
      if (!failure && active.rule.maxMatches === undefined) break;
    }
    return outcomes;
  }

  async #dirOutcomes(rel: string, abs: string): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    for (const active of this.#dirRules) {
      if (!active.matchesPath(rel)) continue;
      if (active.sentinel && !(await holdsSentinel(abs, active.sentinel))) continue;
      outcomes.push({ active });
      if (active.rule.maxMatches === undefined) break;
    }
    return outcomes;
  }

  #decideFile(entry: Extract<Entry, { kind: "file" }>): void {
    let leftOutReason: string | undefined;
    for (const { active, failure } of entry.outcomes) {
      // A full rule is reported as full even where other conditions fail too, the
      // same whether it filled up before or during this dir.
      const reason = overMaxMatches(active) ?? failure;
      if (reason) {
        if (active.rule.include) leftOutReason ??= reason;
        continue;
      }
      active.matched++;
      if (active.rule.include) {
        this.files.push(entry.file);
        return;
      }
      break;
    }
    if (leftOutReason) this.#noteLeftOut(leftOutReason, entry.rel);
  }

  /** Descend unless the last matching dir rule excludes. */
  #decideDir(entry: Extract<Entry, { kind: "dir" }>): boolean {
    for (const { active } of entry.outcomes) {
      if (overMaxMatches(active)) continue;
      active.matched++;
      return active.rule.include;
    }
    return true;
  }

  /** Whether the last file rule whose glob matches `path` includes it. */
  #wouldInclude(path: string): boolean {
    return this.#fileRules.find((a) => a.matchesPath(path))?.rule.include ?? false;
  }

  #noteLeftOut(reason: string, path: string): void {
    const entry = this.#leftOut.get(reason) ?? { reason, count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < LEFT_OUT_EXAMPLES) entry.examples.push(path);
    this.#leftOut.set(reason, entry);
  }
}

function childPath(parentRel: string, name: string): string {
  return parentRel ? `${parentRel}/${name}` : name;
}

function sortKey(entry: Entry): string {
  return entry.kind === "dir" ? `${entry.name}/` : entry.name;
}

// Metadata calls are synchronous: a walk has nothing else to do meanwhile, and in
// Deno a sync stat costs about a third of an async one (measured on 6,000 files).
function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function realPathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** An exclude dir that does not exist yet still names where it would be. */
function realPathOrResolved(path: string): string {
  return realPathOrUndefined(path) ?? resolve(path);
}

// ---------------------------------------------------------------------------
// Git ignores

/** One ignore file's rules and the work-tree-relative dir they apply under. */
interface IgnoreLevel {
  /** The dir relative to the work tree root, with a trailing "/"; "" for the root. */
  prefix: string;
  rules: ReturnType<typeof ignore>;
}

class GitIgnoreMatcher {
  /** `projectPrefix`: the project dir relative to the work tree root, with "/". */
  constructor(readonly projectPrefix: string) {}

  /** The levels in effect inside a dir: its parent's, plus its own `.gitignore`. */
  async withDirIgnores(
    levels: IgnoreLevel[],
    abs: string,
    rel: string,
    dirents: Dirent[],
  ): Promise<IgnoreLevel[]> {
    if (!dirents.some((d) => d.name === ".gitignore" && !d.isDirectory())) return levels;
    const level = await readIgnoreLevel(
      join(abs, ".gitignore"),
      this.projectPrefix + (rel ? `${rel}/` : ""),
    );
    return level ? [...levels, level] : levels;
  }

  isIgnored(levels: IgnoreLevel[], rel: string, isDir: boolean): boolean {
    return isIgnoredInTree(levels, this.projectPrefix + rel + (isDir ? "/" : ""));
  }
}

/** Deepest ignore file first: the first one with a say, ignore or un-ignore, decides. */
function isIgnoredInTree(levels: IgnoreLevel[], treePath: string): boolean {
  for (let i = levels.length - 1; i >= 0; i--) {
    const { prefix, rules } = levels[i];
    const result = rules.test(treePath.slice(prefix.length));
    if (result.ignored) return true;
    if (result.unignored) return false;
  }
  return false;
}

async function readIgnoreLevel(file: string, prefix: string): Promise<IgnoreLevel | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return undefined;
  }
  // Git matches case-sensitively unless core.ignorecase says otherwise.
  return { prefix, rules: ignore({ ignorecase: false }).add(text) };
}

/**
 * The ignore files that apply above and at the project dir, or undefined when git
 * has no say: no work tree, or a project dir git ignores as a whole.
 */
async function loadGitIgnores(
  realProject: string,
): Promise<{ matcher: GitIgnoreMatcher; levels: IgnoreLevel[] } | undefined> {
  const root = await findGitWorkTree(realProject);
  if (!root) return undefined;
  const files = [{ file: join(root, ".git", "info", "exclude"), prefix: "" }];
  // The project dir's own .gitignore is read by the walk, like any other dir's.
  for (const dir of dirsAbove(root, realProject)) {
    files.push({ file: join(dir, ".gitignore"), prefix: treePrefix(root, dir) });
  }
  const read = await Promise.all(files.map((f) => readIgnoreLevel(f.file, f.prefix)));
  const levels = read.filter((l): l is IgnoreLevel => l !== undefined);
  const projectPrefix = treePrefix(root, realProject);
  if (projectPrefix && isIgnoredInTree(levels, projectPrefix)) return undefined;
  return { matcher: new GitIgnoreMatcher(projectPrefix), levels };
}

/** `dir` relative to the work tree root, `/`-separated with a trailing "/"; "" for the root. */
function treePrefix(root: string, dir: string): string {
  const rel = relative(root, dir).split(sep).join("/");
  return rel ? `${rel}/` : "";
}

/** `top` and the dirs below it on the way down to `bottom`, `bottom` itself not included. */
function dirsAbove(top: string, bottom: string): string[] {
  const segments = relative(top, bottom).split(sep).filter(Boolean);
  return segments.map((_, i) => join(top, ...segments.slice(0, i)));
}
