/**
 * How deep a Gage file nests, checked before and after it is parsed. The
 * parsers (and every walk of a document after them) recurse, so 10,000 levels
 * of `[[[...]]]` would end in a stack overflow, or in a run whose meta cannot
 * be written. A Gage file needs a few levels (op, attribute, table, list);
 * anything past MAX_NESTING is refused with where it gets too deep.
 */
import type { Format, Position } from "./positions.ts";

export const MAX_NESTING = 64;

/**
 * Where the brackets of `text` (`[`, `{`, as YAML's flow style and TOML's inline
 * tables and arrays write them) first go deeper than MAX_NESTING; undefined when
 * they never do. Strings and comments are skipped; a heuristic for YAML's
 * plain scalars, which the check after parsing backs up.
 */
export function tooDeepBrackets(text: string, format: Format): Position | undefined {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") {
      line++;
      lineStart = i + 1;
    } else if (c === '"' || (c === "'" && quoteStarts(text, i, format))) {
      const end = closingQuote(text, i);
      for (let j = i + 1; j < end; j++) {
        if (text[j] === "\n") [line, lineStart] = [line + 1, j + 1];
      }
      i = end;
    } else if (
      c === "#" && format !== "JSON" && (format === "TOML" || /\s/.test(text[i - 1] ?? " "))
    ) {
      while (i + 1 < text.length && text[i + 1] !== "\n") i++;
    } else if (c === "[" || c === "{") {
      if (++depth > MAX_NESTING) return { line, column: i - lineStart + 1 };
    } else if ((c === "]" || c === "}") && depth > 0) depth--;
  }
  return undefined;
}

/** In YAML, `'` starts a string only where a value starts (`don't` is plain text). */
function quoteStarts(text: string, i: number, format: Format): boolean {
  if (format === "TOML") return true;
  if (format === "JSON") return false;
  return i === 0 || /[\s[{,:]/.test(text[i - 1]);
}

/** The index of the quote closing the string opened at `start` (or the text's end). */
function closingQuote(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (quote === '"' && text[i] === "\\") i++;
    else if (text[i] === quote) return i;
  }
  return text.length;
}

/** Whether a parsed document nests deeper than MAX_NESTING (walked without recursion). */
export function nestsTooDeep(doc: unknown): boolean {
  const pending: [unknown, number][] = [[doc, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, depth] = next;
    if (value === null || typeof value !== "object") continue;
    if (depth >= MAX_NESTING) return true;
    for (const child of Object.values(value)) pending.push([child, depth + 1]);
  }
  return false;
}
