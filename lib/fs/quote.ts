/**
 * How messages name a path: in double quotes, on one line, with control
 * characters escaped, so a file named with a newline or an escape sequence can
 * neither split a one-line error nor drive the user's terminal. Backslashes stay
 * as they are: JSON would double each one of a Windows path.
 *
 * @example
 * ```ts
 * quotePath("conf/a\nb.yaml"); // => "\"conf/a\\nb.yaml\""
 * ```
 */
export function quotePath(path: string): string {
  return `"${escapeControl(path)}"`;
}

/** `text` with each control character (C0, DEL, C1) spelled as an escape. */
export function escapeControl(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    if (c === "\0") return "\\0";
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : c;
  });
}
