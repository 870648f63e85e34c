/** The `--where` language (lib/run/where.ts) on runs made of plain values. */
import assert from "node:assert/strict";
import { parseWhere, type WhereSubject, type WhereValue } from "../../../lib/run/where.ts";
import { assertUserError } from "../../support/fixtures.ts";

interface Values {
  flags?: Record<string, WhereValue>;
  metrics?: Record<string, WhereValue>;
  attributes?: Record<string, WhereValue>;
}

function subject(v: Values): WhereSubject {
  return {
    flag: (n) => v.flags?.[n],
    metric: (n) => v.metrics?.[n],
    attribute: (n) => v.attributes?.[n],
  };
}

const RUNS: Record<string, Values> = {
  a: {
    flags: { lr: 0.1, opt: "adam" },
    metrics: { loss: 0.3 },
    attributes: { status: "completed", op: "train", label: "Best so far" },
  },
  b: {
    flags: { lr: 0.2, opt: "sgd" },
    metrics: { loss: 0.5 },
    attributes: { status: "error", op: "train" },
  },
  c: {
    flags: { lr: 0.01 },
    metrics: { acc: 0.9 },
    attributes: { status: "completed", op: "eval" },
  },
};

function matching(expression: string): string[] {
  const holds = parseWhere(expression);
  return Object.entries(RUNS).filter(([, v]) => holds(subject(v))).map(([k]) => k);
}

Deno.test("where: comparisons on flags, metrics and attributes", () => {
  assert.deepEqual(matching("lr<0.15"), ["a", "c"]);
  assert.deepEqual(matching("lr <= 0.1"), ["a", "c"]);
  assert.deepEqual(matching("lr>=0.1"), ["a", "b"]);
  assert.deepEqual(matching("lr=0.10"), ["a"], "numbers compare as numbers");
  assert.deepEqual(matching("loss<=0.3"), ["a"], "a run without the metric matches nothing");
  assert.deepEqual(matching("status=completed"), ["a", "c"]);
  assert.deepEqual(matching("op!=train"), ["c"]);
  assert.deepEqual(matching("label~BEST"), ["a"], "~ is contains, ignoring case");
  assert.deepEqual(matching("opt!~ad"), ["b"]);
  assert.deepEqual(matching("opt='adam'"), ["a"]);
  assert.deepEqual(matching('opt == "sgd"'), ["b"]);
});

Deno.test("where: and, or, not and parentheses, and precedence", () => {
  assert.deepEqual(matching("status=completed and op=train"), ["a"]);
  assert.deepEqual(matching("op=eval or loss>0.4"), ["b", "c"]);
  assert.deepEqual(matching("not status=completed"), ["b"]);
  assert.deepEqual(
    matching("op=eval or op=train and status=error"),
    ["b", "c"],
    "and binds tighter",
  );
  assert.deepEqual(matching("(op=eval or op=train) and status=completed"), ["a", "c"]);
  assert.deepEqual(matching("NOT (lr<0.15 AND op=train)"), ["b", "c"]);
});

Deno.test("where: explicit prefixes pick flags, metrics or attributes", () => {
  const run = subject({
    flags: { status: "x", loss: 9 },
    metrics: { loss: 0.1 },
    attributes: { status: "completed" },
  });
  const holds = (e: string) => parseWhere(e)(run);
  assert.equal(holds("status=x"), true, "a bare name is a flag first");
  assert.equal(holds("run.status=completed"), true);
  assert.equal(holds("loss=9"), true);
  assert.equal(holds("metric.loss<0.2"), true);
  assert.equal(holds("config.loss=9"), true);
  assert.equal(holds("configs=1"), false, "not a prefix without the dot");
});

Deno.test("where: a malformed expression names its column and fragment", () => {
  assertUserError(() => parseWhere("lr<"), /column 4 \(at the end\): expected a value after "lr<"/);
  assertUserError(
    () => parseWhere("lr 0.1"),
    /column 4 \(at "0.1"\): expected an operator after "lr"/,
  );
  assertUserError(
    () => parseWhere("(lr<1 or op=a"),
    /column 14.*expected "\)" to close the "\(" at column 1/,
  );
  assertUserError(
    () => parseWhere("lr<1 op=a"),
    /column 6 \(at "op=a"\): expected "and", "or" or the end/,
  );
  assertUserError(() => parseWhere("and lr<1"), /column 1 .*expected a name/);
  assertUserError(() => parseWhere("op='train"), /column 4.*the quote ' is never closed/);
  assertUserError(() => parseWhere(""), /column 1 \(at the end\): expected a name/);
  assert.throws(() => parseWhere("lr<"), (e: Error) => !e.message.includes("\n"));
});
