/** How messages and tables show names (lib/fs/quote.ts): one line, nothing the terminal acts on. */
import assert from "node:assert/strict";
import { escapeControl, escapeLines, quotePath } from "../../../lib/fs/quote.ts";

Deno.test("escapeControl spells controls, separators, bidi controls and U+FFFD as escapes", () => {
  assert.equal(escapeControl("a\nb\rc\td\0e"), "a\\nb\\rc\\td\\0e");
  assert.equal(escapeControl("\x1b]0;t\x07\x1b[2J"), "\\x1b]0;t\\x07\\x1b[2J");
  assert.equal(escapeControl("\x7f\x85\x9f"), "\\x7f\\x85\\x9f");
  assert.equal(escapeControl("a\u2028b\u2029c"), "a\\u2028b\\u2029c");
  assert.equal(escapeControl("evil\u202etxt.exe"), "evil\\u202etxt.exe");
  assert.equal(
    escapeControl("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069"),
    "\\u061c\\u200e\\u200f\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069",
  );
  assert.equal(escapeControl("bad\ufffd.txt"), "bad\\ufffd.txt");
});

Deno.test("escapeControl leaves printable text, backslashes and other scripts alone, and is idempotent", () => {
  for (
    const text of ["a b.txt", "C:\\dir\\f", "données/é.csv", "日本語", "😀", "שלום", "a\u200db"]
  ) {
    assert.equal(escapeControl(text), text);
  }
  const once = escapeControl("x\x1b\n\u2028");
  assert.equal(escapeControl(once), once);
});

Deno.test("quotePath: double quotes around the escaped path; escapeLines keeps line breaks", () => {
  assert.equal(quotePath("conf/a\nb.yaml"), '"conf/a\\nb.yaml"');
  assert.equal(escapeLines("a\x1b\nb\u2028"), "a\\x1b\nb\\u2028");
});
