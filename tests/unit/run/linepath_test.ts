/** Paths at the end of a log/files or manifest line (lib/run/linepath.ts). */
import assert from "node:assert/strict";
import { decodeLinePath, encodeLinePath } from "../../../lib/run/linepath.ts";

// deno-lint-ignore no-control-regex
const SPLITTERS = /\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/;

Deno.test("plain paths are written as they are, backslashes and spaces included", () => {
  for (const path of ["a.txt", "dir/a b.txt", "back\\slash", 'q"uote', "é/日本/😀", " lead"]) {
    assert.equal(encodeLinePath(path), path);
    assert.equal(decodeLinePath(path), path);
  }
});

Deno.test("paths with controls, separators or a leading quote are JSON strings that round-trip", () => {
  const paths = [
    "lf\nname",
    "cr\rname",
    "tab\tname",
    "nel\u0085name",
    "ls\u2028ps\u2029",
    "vt\vff\ffs\x1c",
    "del\x7f",
    "esc\x1b[2J",
    '"quoted"',
  ];
  for (const path of paths) {
    const field = encodeLinePath(path);
    assert.ok(field.startsWith('"'), field);
    assert.ok(!SPLITTERS.test(field), `one line: ${JSON.stringify(field)}`);
    // deno-lint-ignore no-control-regex
    assert.ok(!/[\x00-\x1f\x7f-\x9f]/.test(field), field);
    assert.equal(JSON.parse(field), path);
    assert.equal(decodeLinePath(field), path);
  }
  assert.equal(encodeLinePath("a\u2028b"), '"a\\u2028b"');
});

Deno.test("a field that starts with a quote but is not a JSON string is taken as written", () => {
  assert.equal(decodeLinePath('"unterminated'), '"unterminated');
  assert.equal(decodeLinePath('"a" b'), '"a" b');
});
