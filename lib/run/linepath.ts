/**
 * How log/files and the manifest write a path at the end of a line, so that any
 * name a file system allows is one line whoever splits the file: a path is
 * written as it is, unless it holds a character some reader ends a line at or
 * that a terminal acts on (C0 controls, DEL, C1 controls such as U+0085, U+2028,
 * U+2029), or starts with `"`. Then it is written as a JSON string literal with
 * each of those characters escaped (`\n`, `\u0085`, `\u2028`), which any JSON
 * parser decodes back. Runs written before quoting existed read the same: their
 * paths could hold none of these characters raw and keep a line.
 *
 * @example
 * ```ts
 * encodeLinePath("a b.txt"); // => "a b.txt"
 * encodeLinePath("a\nb.txt"); // => "\"a\\nb.txt\""
 * decodeLinePath("\"a\\nb.txt\""); // => "a\nb.txt"
 * ```
 */

// deno-lint-ignore no-control-regex
const NEEDS_QUOTES = /[\x00-\x1f\x7f-\x9f\u2028\u2029]|^"/;
/** What JSON.stringify leaves raw but a line reader or a terminal would not. */
const RAW_IN_JSON = /[\x7f-\x9f\u2028\u2029]/g;

export function encodeLinePath(path: string): string {
  if (!NEEDS_QUOTES.test(path)) return path;
  return JSON.stringify(path).replace(
    RAW_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The path a line's last field names: a quoted one decoded, anything else as written. */
export function decodeLinePath(field: string): string {
  if (!field.startsWith('"')) return field;
  try {
    const path = JSON.parse(field);
    return typeof path === "string" ? path : field;
  } catch {
    return field;
  }
}
