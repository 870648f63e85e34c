/**
 * Writing flag values into the run dir's copies of the config files: only the
 * values that differ, in place, each rewrite read back to check it holds
 * exactly the new values, and a unified diff per file for the run's record.
 */
import { existsSync } from "node:fs";
import { chmod, lstat, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { FlagValue } from "./formats/format.ts";
import { RunstageError } from "../errors.ts";
import type { RunConfig } from "../run/meta.ts";
import { type ConfigFileInfo, type ConfigPlan, readConfigFile, readConfigSource } from "./files.ts";
import { formatFlagValue } from "./flags.ts";
import { quotePath } from "../fs/quote.ts";

export interface AppliedConfig {
  /** Relative to the run dir. */
  path: string;
  /** Unified diff, `--- a/PATH` / `+++ b/PATH`, ending with a newline. */
  diff: string;
}

/**
 * Writes `config`'s values into the run dir's copies of the plan's files,
 * replacing only values that differ. Files absent from the run dir are passed
 * over. Returns one diff per file changed, in path order.
 */
export async function applyConfig(
  runDir: string,
  plan: ConfigPlan,
  config: RunConfig,
): Promise<AppliedConfig[]> {
  const applied: AppliedConfig[] = [];
  for (const file of plan.files) {
    const abs = join(runDir, file.path);
    if (!existsSync(abs)) continue;
    const before = await readConfigFile(runDir, file.path);
    const values = Object.fromEntries(
      file.keys.filter((key) => key in config).map((key) => [key, config[key]]),
    );
    const after = await patchConfigText(file, before, values);
    if (after === before) continue;
    await writeRunFile(abs, after);
    applied.push({ path: file.path, diff: await unifiedDiff(file.path, before, after) });
  }
  return applied;
}

/**
 * `text` with `values` written in place of the old ones. Throws when a key is
 * gone from the file, or when the result would not read back as `values`.
 */
export async function patchConfigText(
  file: ConfigFileInfo,
  text: string,
  values: Record<string, FlagValue>,
): Promise<string> {
  const bom = text.charCodeAt(0) === 0xfeff ? text[0] : "";
  const body = text.slice(bom.length);
  const source = await readConfigSource(file.path, file.format, body);
  const leaves = new Map(source.leaves.map((leaf) => [leaf.key, leaf]));
  const edits = [];
  for (const [key, value] of Object.entries(values)) {
    const leaf = leaves.get(key);
    if (leaf === undefined) {
      throw new RunstageError(
        `the run's copy of ${quotePath(file.path)}` +
          ` has no flag "${key}" (did copy-sourcecode change it?); ` +
          `keep the key in the file, or leave it out of attribute "config"`,
      );
    }
    if (leaf.value !== value) edits.push({ leaf, text: source.render(leaf, value) });
  }
  if (edits.length === 0) return text;
  let patched = body;
  for (const { leaf, text } of edits.sort((a, b) => b.leaf.start - a.leaf.start)) {
    patched = patched.slice(0, leaf.start) + text + patched.slice(leaf.end);
  }
  await checkReadsBack(file, patched, values);
  return bom + patched;
}

/** A guard against writing a config that means something else than the flags say. */
async function checkReadsBack(
  file: ConfigFileInfo,
  text: string,
  values: Record<string, FlagValue>,
): Promise<void> {
  const source = await readConfigSource(file.path, file.format, text);
  const leaves = new Map(source.leaves.map((l) => [l.key, l.value]));
  for (const [key, value] of Object.entries(values)) {
    if (leaves.get(key) !== value) {
      const got = leaves.has(key) ? formatFlagValue(leaves.get(key)!) : "nothing";
      throw new RunstageError(
        `writing ${key}=${formatFlagValue(value)} into ${quotePath(file.path)}` +
          ` would read back as ${got}; ` +
          `this is a runstage bug, please report it with the file`,
      );
    }
  }
}

/**
 * Writes a run dir file. A symlink is replaced by a file rather than written
 * through, so the project it may point into is never changed; a read-only copy
 * is made writable for the write and keeps its mode.
 */
async function writeRunFile(path: string, text: string): Promise<void> {
  const link = await lstat(path);
  const { mode } = await stat(path);
  if (link.isSymbolicLink()) await rm(path);
  const readOnly = (mode & 0o200) === 0;
  if (readOnly && !link.isSymbolicLink()) await chmod(path, mode | 0o200);
  await writeFile(path, text, { mode });
  await chmod(path, mode & 0o7777);
}

/** `--- a/PATH` / `+++ b/PATH`, hunks with 3 lines of context. */
export async function unifiedDiff(path: string, before: string, after: string): Promise<string> {
  const { FILE_HEADERS_ONLY, formatPatch, structuredPatch } = await import("diff");
  const patch = structuredPatch(`a/${path}`, `b/${path}`, before, after, undefined, undefined, {
    context: 3,
  });
  return formatPatch(patch, FILE_HEADERS_ONLY);
}
