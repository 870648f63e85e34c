/**
 * File names that are not UTF-8. The runtime's file APIs (Deno's `node:fs`,
 * Buffer paths included) read names as strings and put U+FFFD in place of each
 * byte that is not UTF-8, so such a file is listed but cannot be opened, copied
 * or hashed by the name read. Walks use this to tell such an entry from a file
 * that vanished since the listing, and report it rather than drop it silently.
 */
import { join } from "node:path";
import { lstatOrUndefined } from "./stat.ts";

/** Whether the entry `name` listed in `dir` has a name that is not UTF-8 (see above). */
export function isUndecodableName(dir: string, name: string): boolean {
  return name.includes("\ufffd") && lstatOrUndefined(join(dir, name)) === undefined;
}

/** Why a file is left out, for notes: the same words wherever it is. */
export const NOT_UTF8 = "its name is not UTF-8 (each byte that is not is shown as \\ufffd)";
