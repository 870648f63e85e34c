/** lib/sweep/values.ts: sweep syntax in flag values, expanded into trials. */
import assert from "node:assert/strict";
import { expandSweep, isSweep, parseFlagSweep } from "../../../lib/sweep/values.ts";
import { RunstageError } from "../../../lib/errors.ts";

const values = (arg: string) => {
  const sweep = parseFlagSweep(arg);
  assert.equal(sweep.kind, "list");
  return sweep.kind === "list" ? sweep.values : [];
};

Deno.test("a list keeps each value's flag type", () => {
  assert.deepEqual(values("x=[1,0.5,true,abc,'007']"), [1, 0.5, true, "abc", "007"]);
  assert.deepEqual(values("x=['a,b',c]"), ["a,b", "c"]);
});

Deno.test("a quoted value and a plain value are fixed, as they are", () => {
  assert.deepEqual(parseFlagSweep("name='[a,b]'"), { kind: "fixed", arg: "name='[a,b]'" });
  assert.deepEqual(parseFlagSweep("lr=0.1"), { kind: "fixed", arg: "lr=0.1" });
  assert.deepEqual(parseFlagSweep("data=abc123"), { kind: "fixed", arg: "data=abc123" });
  assert.equal(isSweep(["lr=0.1", "name='[a,b]'"]), false);
  assert.equal(isSweep(["lr=[0.1]"]), true);
});

Deno.test("range, linspace and logspace expand to lists, both ends included", () => {
  assert.deepEqual(values("n=range[1:5]"), [1, 2, 3, 4, 5]);
  assert.deepEqual(values("n=range[0:1:0.1]"), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  assert.deepEqual(values("x=linspace[0:1:3]"), [0, 0.5, 1]);
  assert.deepEqual(values("x=logspace[-3:-1:3]"), [0.001, 0.01, 0.1]);
});

Deno.test("a grid is the cartesian product, the first flag varying slowest", () => {
  const trials = expandSweep(["a=[1,2]", "fixed=x", "b=[p,q]"], { seed: 1 });
  assert.deepEqual(trials.map((t) => t.args), [
    ["fixed=x", "a=1", "b=p"],
    ["fixed=x", "a=1", "b=q"],
    ["fixed=x", "a=2", "b=p"],
    ["fixed=x", "a=2", "b=q"],
  ]);
  assert.deepEqual(trials[3].swept, { a: 2, b: "q" });
});

Deno.test("a string that reads as a number stays a string in a trial's argument", () => {
  const [trial] = expandSweep(["s=['5']"], { seed: 1 });
  assert.deepEqual(trial.args, ["s='5'"]);
});

Deno.test("max-runs below the grid takes a seeded random subset in grid order", () => {
  const args = ["a=range[1:4]", "b=[x,y]"];
  const first = expandSweep(args, { seed: 7, maxRuns: 3 });
  assert.equal(first.length, 3);
  assert.deepEqual(expandSweep(args, { seed: 7, maxRuns: 3 }), first);
  const all = expandSweep(args, { seed: 7 }).map((t) => t.args.join(" "));
  const picked = first.map((t) => all.indexOf(t.args.join(" ")));
  assert.ok(picked.every((i) => i >= 0));
  assert.deepEqual(picked, [...picked].sort((x, y) => x - y));
  assert.equal(new Set(picked).size, 3);
});

Deno.test("samplers draw within range, repeat with the seed, differ with another", () => {
  const args = ["lr=loguniform[0.001:0.1]", "d=uniform[0:1]", "act=choice[relu,tanh]"];
  const trials = expandSweep(args, { seed: 42, maxRuns: 8 });
  assert.equal(trials.length, 8);
  for (const { swept } of trials) {
    assert.ok((swept.lr as number) >= 0.001 && (swept.lr as number) <= 0.1);
    assert.ok((swept.d as number) >= 0 && (swept.d as number) < 1);
    assert.ok(["relu", "tanh"].includes(swept.act as string));
  }
  assert.deepEqual(expandSweep(args, { seed: 42, maxRuns: 8 }), trials);
  assert.notDeepEqual(expandSweep(args, { seed: 43, maxRuns: 8 }), trials);
  assert.equal(expandSweep(["d=uniform[0:1]"], { seed: 1 }).length, 20);
});

Deno.test("malformed sweep values are one-line errors saying how to write them", () => {
  for (
    const arg of ["n=range[1:x]", "n=range[5:1]", "x=[1,,2]", "x=linspace[0:1:0]", "x=uniform[1]"]
  ) {
    assert.throws(() => parseFlagSweep(arg), (err: Error) => {
      assert.ok(err instanceof RunstageError, arg);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  }
});
