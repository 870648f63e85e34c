/**
 * Export's temp file: the archive is written beside its target as
 * `.FILE.tmp-<owner>-<random>` and renamed into place at the end. The owner
 * tag (lib/run/owner.ts) is in the name from the moment the file exists, so
 * the temp file of an export that was killed with kill -9, and so could not
 * remove it, is removed by the next export to the same path, and the temp
 * file of an export still at work (here, or on another host) never is.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { namesOfGoneOwners, OWNER_TAG, ownerTag } from "../run/owner.ts";

/** A fresh temp file name beside `file`, owned by this process. */
export function tempFileFor(file: string): string {
  return join(
    dirname(file),
    `.${basename(file)}.tmp-${ownerTag()}-${randomBytes(4).toString("hex")}`,
  );
}

/**
 * Removes the temp files beside `file` left by exports to it whose owner is
 * surely gone; returns their paths. Quiet when the dir cannot be read.
 */
export function removeDeadTempFiles(file: string): string[] {
  const dir = dirname(file);
  const escaped = basename(file).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`^\\.${escaped}\\.tmp-(${OWNER_TAG})-[0-9a-f]{8}$`);
  const removed = namesOfGoneOwners(dir, pattern).map((name) => join(dir, name));
  for (const path of removed) rmSync(path, { force: true });
  return removed;
}
