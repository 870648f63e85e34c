/**
 * What a killed command leaves hidden in a runs home, and tidying it up. An
 * `import` stages into `.import-<owner>-XXXXXX`, a `delete`, `restore` or
 * `purge` claims each run in `.claim-...` (lib/run/claim.ts); a command ended
 * with kill -9 cannot remove them, and no listing shows them. So every command
 * that writes to a runs home first sweeps it: a staging dir whose owner is
 * surely gone (lib/run/owner.ts) is removed, a claim whose owner is gone is
 * finished. A live command's dirs, and those of another host's commands, are
 * never touched.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { finishDeadClaims } from "./claim.ts";
import { namesOfGoneOwners, OWNER_TAG, ownerTag } from "./owner.ts";

const IMPORT_STAGING = new RegExp(`^\\.import-(${OWNER_TAG})-[A-Za-z0-9]{6}$`);

/** The name prefix of this process's import staging dir; mkdtemp adds six characters. */
export function importStagingPrefix(): string {
  return `.import-${ownerTag()}-`;
}

export interface Swept {
  /** Import staging dirs removed. */
  staging: string[];
  /** Claims finished (lib/run/claim.ts). */
  claims: string[];
}

/**
 * Removes the import staging dirs and finishes the claims of commands that
 * died in `runsHome`. Quiet when the runs home is not there or cannot be read:
 * the command that called it will say so in its own terms.
 */
export function sweepRunsHome(runsHome: string): Swept {
  const staging = namesOfGoneOwners(runsHome, IMPORT_STAGING);
  for (const name of staging) rmSync(join(runsHome, name), { recursive: true, force: true });
  return { staging, claims: finishDeadClaims(runsHome) };
}
