/**
 * How messages and tables name a path, a label, a metric or an op: on one line,
 * with every character that could move the cursor, drive the terminal or
 * disguise the text spelled as an escape, so a file named with a newline or an
 * escape sequence can neither split a one-line error nor rewrite the user's
 * screen, and `evil\u202etxt.exe` does not pass for `evilexe.txt`. Backslashes
 * stay as they are: JSON would double each one of a Windows path.
 *
 * @example
 * ```ts
 * quotePath("conf/a\nb.yaml"); // => "\"conf/a\\nb.yaml\""
 * escapeControl("\x1b[2J"); // => "\\x1b[2J"
 * ```
 */
export function quotePath(path: string): string {
  return `"${escapeControl(path)}"`;
}

/**
 * What {@link escapeControl} escapes: control characters (C0, DEL, C1), the
 * line and paragraph separators U+2028 and U+2029, the bidirectional marks and
 * overrides (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), and U+FFFD,
 * which stands for bytes of a name that were not UTF-8.
 */
const HIDDEN =
  // deno-lint-ignore no-control-regex
  /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffd]/g;

/**
 * `text` with each character of {@link HIDDEN} spelled as an escape: `\n`,
 * `\r`, `\t`, `\0`, else `\xHH` up to U+00FF and `\uHHHH` above.
 */
export function escapeControl(text: string): string {
  return text.replace(HIDDEN, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    if (c === "\0") return "\\0";
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Each line of `text` escaped, its line breaks kept: for output of many lines. */
export function escapeLines(text: string): string {
  return text.split("\n").map(escapeControl).join("\n");
}
