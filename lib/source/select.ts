/**
 * Source code selection: which files of the project dir `copy-sourcecode` stages
 * into a run dir, from the op's `sourcecode` rules (their syntax: rules.ts).
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
 * - A file or dir whose name is not UTF-8 cannot be opened (lib/fs/names.ts):
 *   where a rule would have wanted it, it is skipped with a warning naming it.
 * - Only regular files and dirs, or links to them, are considered (no fifos,
 *   sockets or devices). A symlinked file is selected as a file: `src` is the link,
 *   size and mode are the target's. A broken link that an include rule would
 *   have wanted is skipped with a warning. A symlinked dir is followed (out of the
 *   project only on purpose, below); a link
 *   back to a dir in its own ancestor chain (by real path) is a loop, skipped with
 *   a warning.
 *
 * ## Links out of the project
 *
 * A link whose target's real path is outside the project dir's is taken only on
 * purpose, so that `key -> ~/.ssh/id_ed25519` is not copied into every run:
 *
 * - a file link is selected only when the rule that decides it is one the user
 *   wrote; where a default rule would select it, it is skipped with a note
 *   naming it (its content is not even read);
 * - a dir link is followed only when a user's include rule names it in its
 *   fixed part, the part before the first wildcard (`data/**`, `data/*.csv`,
 *   `data dir`): a wildcard alone (`**\/*.py`) never leads out of the project.
 *   Otherwise, where the walk would have entered it, it is skipped with a note.
 *
 * ## A bounded walk
 *
 * A dir no include file rule can match anything in is never read: with
 * `["train.py", "conf/*.yaml"]` only the project dir and `conf` are (see
 * lib/fs/globreach.ts). Exclude rules and dir rules never widen the walk; a dir
 * it does not look at counts toward no rule's max-matches. The walk stops at
 * its next dir once `options.signal` is aborted (RunInterrupted).
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
import type { BigIntStats } from "node:fs";
import { realpath } from "node:fs/promises";
import { resolve } from "node:path";
import { type SelectedStamp, selectedStamp } from "../copy/digests.ts";
import { NOT_UTF8 } from "../fs/names.ts";
import { quotePath } from "../fs/quote.ts";
import { realPathOrResolved } from "../fs/stat.ts";
import { type Descend, isWithin, type WalkedDir, type WalkEntry, walkTree } from "../fs/walk.ts";
import type { SourcecodeSpec } from "../gagefile/opdef.ts";
import { type GitIgnores, loadGitIgnores } from "./gitignore.ts";
import {
  activate,
  type ActiveRule,
  conditionFailure,
  holdsSentinel,
  OpenFileBudget,
  overMaxMatches,
  startsBinary,
} from "./match.ts";
import { planSelection, type SourceRule } from "./rules.ts";

export { DEFAULT_SOURCECODE_RULES, parseSourcecodeRules, type SourceRule } from "./rules.ts";

export interface SourceFile {
  /** Relative to the project dir, `/`-separated; the path in the run dir as-is. */
  path: string;
  /** Absolute path to read from. */
  src: string;
  size: number;
  /** Permission bits, the exec bits included. */
  mode: number;
  /**
   * Its stat when selected, the digest cache's key (lib/copy/vouch.ts), so the
   * copy need not stat it again; none for a link, whose target may change.
   */
  stamp?: SelectedStamp;
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
  /** Things the user should know: links not taken, broken links, unreadable files. */
  warnings: string[];
}

export interface SelectOptions {
  /** Dirs never walked, by real path: the runs home, for one. */
  exclude?: string[];
  /** Stops the walk at its next dir (RunInterrupted). */
  signal?: AbortSignal;
  /** Called with each dir's project-relative path as it is read: a hook for tests. */
  onDirRead?: (rel: string) => void;
}

/** How many examples a left-out reason keeps. */
const LEFT_OUT_EXAMPLES = 3;
/**
 * Files open at once while probing content: a dir can hold thousands of files and
 * probing them all at once would run out of file descriptors.
 */
const OPEN_FILES_AT_ONCE = 64;

export async function selectSourcecode(
  projectDir: string,
  spec: SourcecodeSpec,
  options: SelectOptions = {},
): Promise<SourceSelection> {
  const { patterns, rules, builtin } = planSelection(spec);
  const selection: SourceSelection = { patterns, files: [], leftOut: [], warnings: [] };
  if (rules.length === 0) return selection;

  const abs = resolve(projectDir);
  const real = await realpath(abs);
  const walk = new SourceWalk(rules, builtin, real, await loadGitIgnores(real));
  await walkTree(abs, {
    links: "follow",
    statFiles: true,
    statDirs: true,
    skipNames: [".git"],
    unreadable: "warn",
    warn: (message) => walk.warnings.push(message),
    exclude: (options.exclude ?? []).map(realPathOrResolved),
    signal: options.signal,
    onDirRead: options.onDirRead,
    visit: (dir, descend) => walk.visitDir(dir, descend),
  });
  return { ...selection, files: walk.files, leftOut: walk.leftOut(), warnings: walk.warnings };
}

/** A rule whose glob matched a path, and why its conditions failed, if they did. */
interface Outcome {
  active: ActiveRule;
  failure?: string;
  /** A default rule would take a link out of the project: it is not taken. */
  linkOut?: boolean;
}

/**
 * One entry of a dir, classified with everything that needs I/O done, so a dir's
 * entries can be prepared in parallel and then decided in order: max-matches
 * counts make the decision order-dependent.
 */
type Entry =
  | { kind: "file"; entry: WalkEntry; file: SourceFile; outcomes: Outcome[] }
  | { kind: "dir"; entry: WalkEntry; outcomes: Outcome[] }
  | { kind: "skipped"; warning?: string };

class SourceWalk {
  readonly files: SourceFile[] = [];
  readonly warnings: string[] = [];
  readonly #leftOut = new Map<string, LeftOut>();
  /** Last rule first: the first one that matches decides. */
  readonly #fileRules: ActiveRule[];
  readonly #dirRules: ActiveRule[];
  readonly #budget = new OpenFileBudget(OPEN_FILES_AT_ONCE);
  /** The git ignore levels of the dirs being walked, by project-relative path. */
  readonly #ignoreLevels = new Map<string, GitIgnores["levels"]>();

  constructor(
    rules: SourceRule[],
    builtin: number,
    readonly projectReal: string,
    readonly git: GitIgnores | undefined,
  ) {
    const lastFirst = rules.map((rule, i) => activate(rule, i < builtin)).reverse();
    this.#fileRules = lastFirst.filter((a) => !a.rule.dir);
    this.#dirRules = lastFirst.filter((a) => a.rule.dir);
  }

  leftOut(): LeftOut[] {
    return [...this.#leftOut.values()];
  }

  async visitDir(dir: WalkedDir, descend: Descend): Promise<void> {
    const levels = await this.#dirIgnoreLevels(dir);
    this.#ignoreLevels.set(dir.rel, levels);
    try {
      const considered = dir.entries.filter((e) =>
        // Git sees a link as a file, whatever it points to.
        !this.git?.matcher.isIgnored(levels, e.rel, e.kind === "dir" && !e.link)
      );
      const entries = await Promise.all(considered.map((e) => this.#classify(e, dir.stats)));
      // The walker lists a dir as "name/", so in this order files come in byte
      // order of their whole paths, which is also the order max-matches counts in.
      for (const entry of entries) {
        if (entry.kind === "file") this.#decideFile(entry);
        else if (entry.kind === "dir") await this.#enterDir(entry, descend);
        else if (entry.warning) this.warnings.push(entry.warning);
      }
    } finally {
      this.#ignoreLevels.delete(dir.rel);
    }
  }

  async #dirIgnoreLevels(dir: WalkedDir): Promise<GitIgnores["levels"]> {
    if (!this.git) return [];
    const parent = dir.rel === ""
      ? this.git.levels
      : this.#ignoreLevels.get(dir.rel.slice(0, Math.max(0, dir.rel.lastIndexOf("/")))) ?? [];
    return await this.git.matcher.withDirIgnores(parent, dir.abs, dir.rel, dir.entries);
  }

  async #enterDir(entry: Extract<Entry, { kind: "dir" }>, descend: Descend): Promise<void> {
    if (!this.#decideDir(entry)) return;
    const { rel } = entry.entry;
    if (this.#leavesProject(entry.entry) && !this.#namedByUser(rel)) {
      this.warnings.push(
        `symlink ${quotePath(rel)} leads out of the project: not followed; to copy from it, ` +
          `name it in a sourcecode rule (${quotePath(`${rel}/**`)}) or in depends`,
      );
      return;
    }
    if (await descend(entry.entry) === "loop") {
      this.warnings.push(`skipped symlink loop ${quotePath(rel)}`);
    }
  }

  async #classify(entry: WalkEntry, dirStats?: BigIntStats): Promise<Entry> {
    if (entry.kind === "dir") {
      // A dir no include rule can match anything in is not even looked at.
      if (!this.#reachable(entry.rel)) return { kind: "skipped" };
      return { kind: "dir", entry, outcomes: await this.#dirOutcomes(entry) };
    }
    if (entry.kind === "file" && entry.stats) {
      const { rel, abs, stats } = entry;
      const size = Number(stats.size);
      const file: SourceFile = { path: rel, src: abs, size, mode: Number(stats.mode) & 0o7777 };
      if (!entry.link && dirStats) file.stamp = selectedStamp(stats, dirStats);
      try {
        const outcomes = await this.#fileOutcomes(file, this.#leavesProject(entry));
        return { kind: "file", entry, file, outcomes };
      } catch {
        // Only content probes read here: a file we cannot read we cannot copy either.
        return { kind: "skipped", warning: `skipped unreadable file ${quotePath(rel)}` };
      }
    }
    if (entry.kind === "broken" && this.#wouldInclude(entry.rel)) {
      return { kind: "skipped", warning: `skipped broken link ${quotePath(entry.rel)}` };
    }
    if (
      entry.kind === "undecodable" && (this.#wouldInclude(entry.rel) || this.#reachable(entry.rel))
    ) {
      return {
        kind: "skipped",
        warning: `not copied: ${quotePath(entry.rel)}: ${NOT_UTF8}; rename it to copy it`,
      };
    }
    return { kind: "skipped" };
  }

  /**
   * The rules that could decide a file, last first, up to the first that surely
   * does (it matches and has no max-matches to run out of).
   */
  async #fileOutcomes(file: SourceFile, linkOut: boolean): Promise<Outcome[]> {
    let binary: Promise<boolean> | undefined;
    const isBinary = () => binary ??= this.#budget.use(() => startsBinary(file.src));
    const outcomes: Outcome[] = [];
    for (const active of this.#fileRules) {
      if (!active.reach.matches(file.path)) continue;
      if (linkOut && active.builtin && active.rule.include) {
        // Not taken, so not read either: the target may be a key.
        outcomes.push({ active, linkOut });
        break;
      }
      // A rule already full stays full, so its content condition needs no read.
      const failure = overMaxMatches(active) ??
        await conditionFailure(active.rule, file.size, isBinary);
      outcomes.push({ active, failure });
      if (!failure && active.rule.maxMatches === undefined) break;
    }
    return outcomes;
  }

  async #dirOutcomes(entry: WalkEntry): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    for (const active of this.#dirRules) {
      if (!active.reach.matches(entry.rel)) continue;
      if (active.sentinel && !(await holdsSentinel(entry.abs, active.sentinel))) continue;
      outcomes.push({ active });
      if (active.rule.maxMatches === undefined) break;
    }
    return outcomes;
  }

  #decideFile(entry: Extract<Entry, { kind: "file" }>): void {
    let leftOutReason: string | undefined;
    for (const { active, failure, linkOut } of entry.outcomes) {
      if (linkOut) return this.#noteFileLinkOut(entry.file.path);
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
    if (leftOutReason) this.#noteLeftOut(leftOutReason, entry.file.path);
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

  /** Whether an include file rule can match a path below the dir `rel`. */
  #reachable(rel: string): boolean {
    return this.#fileRules.some((a) => a.rule.include && a.reach.reachesBelow(rel));
  }

  /** Whether an include rule the user wrote names `rel` without wildcards. */
  #namedByUser(rel: string): boolean {
    return [...this.#fileRules, ...this.#dirRules].some((a) =>
      !a.builtin && a.rule.include && a.reach.names(rel)
    );
  }

  #leavesProject(entry: WalkEntry): boolean {
    return entry.link && entry.real !== undefined && !isWithin(this.projectReal, entry.real);
  }

  /** Whether the last file rule whose glob matches `path` includes it. */
  #wouldInclude(path: string): boolean {
    return this.#fileRules.find((a) => a.reach.matches(path))?.rule.include ?? false;
  }

  #noteFileLinkOut(path: string): void {
    this.warnings.push(
      `symlink ${quotePath(path)} leads out of the project: not copied; to copy it, ` +
        `name it in a sourcecode rule (${quotePath(path)}) or in depends`,
    );
  }

  #noteLeftOut(reason: string, path: string): void {
    const entry = this.#leftOut.get(reason) ?? { reason, count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < LEFT_OUT_EXAMPLES) entry.examples.push(path);
    this.#leftOut.set(reason, entry);
  }
}
