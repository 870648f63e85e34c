/**
 * What git ignores, for source selection in a git work tree: `.git/info/exclude`
 * and the `.gitignore` files from the work tree root down to the project dir,
 * then those the walk finds inside it, each deeper one taking precedence. Paths
 * are matched case-sensitively, relative to each file's own dir, dirs with a
 * trailing `/`. The global `core.excludesFile` is not read.
 */
import ignore from "ignore";
import { readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { WalkEntry } from "../fs/walk.ts";
import { findGitWorkTree } from "../git/vcs.ts";

/** A work tree's ignore files: those above and at the project dir, and how to add more. */
export interface GitIgnores {
  matcher: GitIgnoreMatcher;
  levels: IgnoreLevel[];
}

/** One ignore file's rules and the work-tree-relative dir they apply under. */
export interface IgnoreLevel {
  /** The dir relative to the work tree root, with a trailing "/"; "" for the root. */
  prefix: string;
  rules: ReturnType<typeof ignore>;
}

export class GitIgnoreMatcher {
  /** `projectPrefix`: the project dir relative to the work tree root, with "/". */
  constructor(readonly projectPrefix: string) {}

  /** The levels in effect inside a dir: its parent's, plus its own `.gitignore`. */
  async withDirIgnores(
    levels: IgnoreLevel[],
    abs: string,
    rel: string,
    entries: WalkEntry[],
  ): Promise<IgnoreLevel[]> {
    if (!entries.some((e) => e.name === ".gitignore" && e.kind !== "dir")) return levels;
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
export async function loadGitIgnores(realProject: string): Promise<GitIgnores | undefined> {
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
