/**
 * The project a run came from, resolved in this one place: `<id>.project`
 * (`file:<path>`, relative to the runs home when the runs home lies inside the
 * project, so a project moved with its runs still resolves), and for a live
 * run meta `live`, the project dir its source files link into.
 */
import { readFileSync, realpathSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { MetaFile, NON_EMPTY_TEXT, writeAtomic } from "./metafile.ts";
import type { Run } from "./identity.ts";

/** Meta `live`: the real path of the project dir a live run's source files link into. */
const LIVE = new MetaFile("live", NON_EMPTY_TEXT);

/** Writes `<id>.project` for a run of the project at `projectDir`. */
export function writeProjectRef(run: Run, projectDir: string): void {
  writeAtomic(run.projectRef, projectRefText(run.runsHome, projectDir));
}

/** `file:<path>`: relative to the runs home when it lies inside the project. */
export function projectRefText(runsHome: string, projectDir: string): string {
  const rel = relativeWithin(projectDir, runsHome);
  return `file:${rel === undefined ? projectDir : rel}`;
}

/** `../..` from `inner` up to `outer` when inner is inside outer, else undefined. */
function relativeWithin(outer: string, inner: string): string | undefined {
  const o = outer.endsWith("/") ? outer : outer + "/";
  if (inner !== outer && !inner.startsWith(o)) return undefined;
  const depth = inner === outer ? 0 : inner.slice(o.length).split("/").filter(Boolean).length;
  return depth === 0 ? "." : Array(depth).fill("..").join("/");
}

/** `<id>.project` as written, or undefined when the run was copied without it. */
export function readProjectRef(run: Run): string | undefined {
  try {
    return readFileSync(run.projectRef, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * The project dir as recorded; it may not exist on this machine. A run copied
 * without its `.project` still starts: its project dir is then the runs home.
 */
export function recordedProjectDir(run: Run): string {
  const text = readProjectRef(run) ?? "";
  const path = text.startsWith("file:") ? text.slice(5) : ".";
  return isAbsolute(path) ? path : resolve(run.runsHome, path);
}

/** The project dir a live run links into; undefined for a snapshot run. */
export function liveProjectDir(run: Run): string | undefined {
  return LIVE.read(run);
}

/** Marks the run live: its source files link into `projectDir` (recorded as its real path). */
export function recordLiveProject(run: Run, projectDir: string): void {
  LIVE.record(run, realpathSync(projectDir));
}

/** The run is a snapshot now: its links were replaced by copies. */
export function clearLiveProject(run: Run): void {
  LIVE.remove(run);
}
