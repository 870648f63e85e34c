/**
 * Problems of a Gage file, collected rather than thrown: `runstage check` shows
 * every one of them with its place in the file, `run` refuses on the first
 * error and notes the rest (unknown attributes). A problem names the key path it
 * is about (`["train", "exec", "run"]`), so the place can be looked up in the
 * file's parse tree only when it is shown (positions.ts).
 */
import { RunstageError } from "../errors.ts";

/** Keys from the top of the document: op name, attribute, list index... */
export type KeyPath = readonly (string | number)[];

export interface Problem {
  /** Where in the document it is; its position in the file is looked up from this. */
  at: KeyPath;
  /** One line, without the file's name: `op "train": attribute "exec" must be ...`. */
  message: string;
  /** An error stops `run`; an unknown attribute is only noted there (Gage reads more than we do). */
  kind: "error" | "unknown";
}

export class Problems {
  readonly list: Problem[] = [];

  error(at: KeyPath, message: string): void {
    this.list.push({ at, message, kind: "error" });
  }

  unknown(at: KeyPath, message: string): void {
    this.list.push({ at, message, kind: "unknown" });
  }

  /**
   * `read()`, or undefined when it throws a RunstageError, which becomes an
   * error at `at` (prefixed with `where`, when given), so reading goes on to
   * the next attribute.
   */
  attempt<T>(at: KeyPath, read: () => T, where?: string): T | undefined {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof RunstageError)) throw err;
      this.error(at, where === undefined ? err.message : `${where}: ${err.message}`);
      return undefined;
    }
  }

  get errors(): Problem[] {
    return this.list.filter((p) => p.kind === "error");
  }
}

/** ` (did you mean NAME?)` for the closest of `names` to a misspelled `word`, else "". */
export function didYouMean(word: string, names: readonly string[]): string {
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = editDistance(word.toLowerCase(), name.toLowerCase());
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  // Within a third of the word: "sourcode" finds sourcecode, "x" finds nothing.
  const close = best !== undefined && best.distance <= Math.max(1, Math.floor(word.length / 3));
  return close ? ` (did you mean ${best!.name}?)` : "";
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const replace = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min(previous[j] + 1, row[j - 1] + 1, replace));
    }
    previous = row;
  }
  return previous[b.length];
}
