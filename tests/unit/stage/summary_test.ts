/**
 * lib/stage/summary.ts: a run's summary from its run dir's summary.json, the op's
 * output-summary pattern, or the last `--- summary ---` block of its output, in
 * that order. Runs are real dirs in a temp runs home; output is written with
 * lib/run/output.ts's writer so lines carry their streams, as a real run's do.
 */
import assert from "node:assert/strict";
import type { OpDef } from "../../../lib/gagefile/opdef.ts";
import { OutputWriter, type Stream } from "../../../lib/run/output.ts";
import { makeRun, type Run } from "../../../lib/run/identity.ts";
import {
  checkOutputSummary,
  collectSummary,
  parseOutputSummary,
  type RunSummary,
} from "../../../lib/stage/summary.ts";
import { assertUserError } from "../../support/fixtures.ts";

function op(raw: Record<string, unknown> = {}): OpDef {
  return { name: "train", default: false, exec: {}, sourcecode: undefined, env: {}, raw };
}

async function withRun(fn: (run: Run) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "runstage-summary-" });
  try {
    const run = makeRun(`${dir}/runs`);
    await Deno.mkdir(run.runDir, { recursive: true });
    await Deno.mkdir(run.metaDir, { recursive: true });
    await fn(run);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes output/40_run as a run would: each line on its stream, index included. */
function writeOutput(run: Run, lines: (string | [Stream, string])[]): void {
  const writer = new OutputWriter(`${run.metaDir}/output/40_run`);
  const enc = new TextEncoder();
  lines.forEach((line, i) => {
    const [stream, text] = typeof line === "string" ? [0 as Stream, line] : line;
    writer.write(enc.encode(`${text}\n`), stream, 1000 + i);
  });
  writer.close();
}

async function writeRunSummary(run: Run, data: unknown): Promise<void> {
  await Deno.writeTextFile(`${run.runDir}/summary.json`, JSON.stringify(data));
}

async function collect(run: Run, raw: Record<string, unknown> = {}) {
  const warnings: string[] = [];
  const summary = await collectSummary(run, op(raw), (m) => warnings.push(m));
  return { summary, warnings };
}

// --- run dir ----------------------------------------------------------------------

Deno.test("run-dir summary.json: nested objects flatten to dotted keys, numbers stay numbers", async () => {
  await withRun(async (run) => {
    await writeRunSummary(run, {
      loss: 0.25,
      steps: 1200,
      model: "cnn",
      val: { loss: 0.5, acc: { top1: 0.9, top5: 0.99 } },
      converged: true,
      note: null,
      sizes: [1, 2],
      big: "1e3",
    });
    writeOutput(run, ["--- summary ---", "loss: 9", "---"]);
    const { summary, warnings } = await collect(run);
    assert.deepEqual(
      summary,
      {
        source: "run-dir",
        metrics: {
          loss: 0.25,
          steps: 1200,
          model: "cnn",
          "val.loss": 0.5,
          "val.acc.top1": 0.9,
          "val.acc.top5": 0.99,
          converged: "true",
          sizes: "[1,2]",
          // A string in JSON stays a string, even when it reads as a number.
          big: "1e3",
        },
      } satisfies RunSummary,
    );
    assert.deepEqual(warnings, []);
  });
});

Deno.test("run-dir summary.json in Gage's layout: metrics and attributes, values unwrapped", async () => {
  await withRun(async (run) => {
    await writeRunSummary(run, {
      metrics: { loss: { value: 0.5, step: 3 }, acc: 0.9, shared: 1 },
      attributes: { model: "cnn", shared: "attr" },
      run: { label: "first try" },
    });
    const { summary } = await collect(run);
    assert.deepEqual(summary, {
      source: "run-dir",
      metrics: { loss: 0.5, acc: 0.9, model: "cnn", shared: 1 },
    });
  });
});

Deno.test("run-dir summary.json that is not a JSON object is skipped with a warning", async () => {
  for (const text of ["{not json", "[1, 2]"]) {
    await withRun(async (run) => {
      await Deno.writeTextFile(`${run.runDir}/summary.json`, text);
      writeOutput(run, ["--- summary ---", "loss: 0.3", "---"]);
      const { summary, warnings } = await collect(run);
      assert.deepEqual(summary, { source: "output", metrics: { loss: 0.3 } }, text);
      assert.equal(warnings.length, 1, text);
      assert.match(warnings[0], /^summary\.json in the run dir is not (valid JSON|a JSON object)/);
    });
  }
});

// --- summary blocks ---------------------------------------------------------------------

Deno.test("output block: key: value lines, numbers parsed when they are numbers", async () => {
  await withRun(async (run) => {
    writeOutput(run, [
      "epoch 1",
      "--- summary ---",
      "loss: 0.125",
      "  acc :  93  ",
      "lr: 1e-3",
      "delta: -.5",
      "model: resnet: 50",
      "score: nan",
      "hex: 0x10",
      "no colon here",
      "empty:",
      "",
      "---",
      "done",
    ]);
    const { summary } = await collect(run);
    assert.deepEqual(summary, {
      source: "output",
      metrics: {
        loss: 0.125,
        acc: 93,
        lr: 0.001,
        delta: -0.5,
        model: "resnet: 50",
        score: "nan",
        hex: "0x10",
      },
    });
  });
});

Deno.test("output block: the last complete block wins; an unclosed one does not count", async () => {
  await withRun(async (run) => {
    writeOutput(run, [
      "--- summary ---",
      "loss: 1",
      "epoch: 1",
      "---",
      "--- summary ---",
      "loss: 0.5",
      "---",
      "--- summary ---",
      "loss: 0.1",
    ]);
    // Only the second block: the first is not merged in, the third never closed.
    assert.deepEqual((await collect(run)).summary, { source: "output", metrics: { loss: 0.5 } });
  });
});

Deno.test("output block holding JSON, as Gage prints it", async () => {
  await withRun(async (run) => {
    writeOutput(run, [
      "--- summary ---",
      '{"metrics": {"loss": {"value": 0.2}}, "attributes": {"model": "cnn"}}',
      "---",
    ]);
    assert.deepEqual((await collect(run)).summary, {
      source: "output",
      metrics: { loss: 0.2, model: "cnn" },
    });
  });
});

Deno.test("output block: broken JSON is no summary, with a warning", async () => {
  await withRun(async (run) => {
    writeOutput(run, ["--- summary ---", '{"loss": ', "---"]);
    const { summary, warnings } = await collect(run);
    assert.equal(summary, undefined);
    assert.match(warnings.join("\n"), /not valid JSON/);
  });
});

Deno.test("output block: the other stream's lines inside a block are not read into it", async () => {
  await withRun(async (run) => {
    writeOutput(run, [
      "--- summary ---",
      "loss: 0.4",
      [1, "WARNING: slow disk"],
      "acc: 0.8",
      "---",
    ]);
    assert.deepEqual((await collect(run)).summary, {
      source: "output",
      metrics: { loss: 0.4, acc: 0.8 },
    });
  });
});

Deno.test("output block: the block that ends last in the output wins across streams", async () => {
  await withRun(async (run) => {
    writeOutput(run, [
      "--- summary ---",
      [1, "--- summary ---"],
      [1, "loss: 2"],
      "loss: 1",
      [1, "---"],
      "---",
    ]);
    assert.deepEqual((await collect(run)).summary, { source: "output", metrics: { loss: 1 } });
  });
});

Deno.test("output without an index is read as one stream", async () => {
  await withRun(async (run) => {
    await Deno.mkdir(`${run.metaDir}/output`, { recursive: true });
    await Deno.writeTextFile(`${run.metaDir}/output/40_run`, "--- summary ---\nloss: 7\n---\n");
    assert.deepEqual((await collect(run)).summary, { source: "output", metrics: { loss: 7 } });
  });
});

Deno.test("no summary file, no output, or output without a block: no summary", async () => {
  await withRun(async (run) => {
    assert.equal((await collect(run)).summary, undefined);
    writeOutput(run, ["loss: 0.1", "--- summary", "---"]);
    assert.equal((await collect(run)).summary, undefined);
  });
});

// --- output-summary ---------------------------------------------------------------------

Deno.test("output-summary with key and value groups: every match, later values win", async () => {
  await withRun(async (run) => {
    writeOutput(run, [
      "step 1 loss=0.9 acc=0.1",
      "step 2 loss=0.4 acc=0.6 tag=warm",
      "step 3",
    ]);
    const { summary } = await collect(run, {
      "output-summary": String.raw`(?<key>\w+)=(?<value>\S+)`,
    });
    assert.deepEqual(summary, {
      source: "output-summary",
      metrics: { loss: 0.4, acc: 0.6, tag: "warm" },
    });
  });
});

Deno.test("output-summary with named groups: each group is a metric of its name", async () => {
  await withRun(async (run) => {
    writeOutput(run, ["epoch 1 loss: 0.9", "epoch 2 loss: 0.3", [1, "val acc: 0.75"]]);
    const pattern = String.raw`(?:loss: (?<loss>\S+)|val acc: (?<acc>\S+))`;
    assert.deepEqual((await collect(run, { "output-summary": pattern })).summary, {
      source: "output-summary",
      metrics: { loss: 0.3, acc: 0.75 },
    });
    // Python's spelling of a named group, as Gage files write it.
    assert.deepEqual(
      (await collect(run, { "output-summary": String.raw`loss: (?P<loss>\S+)` })).summary,
      { source: "output-summary", metrics: { loss: 0.3 } },
    );
  });
});

Deno.test("output-summary without named groups is Gage's: group 1 holds a JSON summary", async () => {
  await withRun(async (run) => {
    writeOutput(run, ["RESULT", '{"metrics": {"loss": 0.5}}', "END", "loss: 9"]);
    const { summary } = await collect(run, { "output-summary": "RESULT(.*)END" });
    assert.deepEqual(summary, { source: "output-summary", metrics: { loss: 0.5 } });
    // A capture that is not JSON is no summary, and the user is told how to name the group.
    const plain = await collect(run, { "output-summary": String.raw`loss: (\S+)` });
    assert.equal(plain.summary, undefined);
    assert.match(plain.warnings.join("\n"), /caught "9", which is not a JSON object.*\(\?<loss>/);
  });
});

Deno.test("precedence: run-dir summary.json, then output-summary, then the block", async () => {
  await withRun(async (run) => {
    writeOutput(run, ["acc=0.5", "--- summary ---", "loss: 0.2", "---"]);
    const raw = { "output-summary": String.raw`acc=(?<acc>\S+)` };
    await writeRunSummary(run, { loss: 0.1 });
    assert.deepEqual((await collect(run, raw)).summary, {
      source: "run-dir",
      metrics: { loss: 0.1 },
    });
    await Deno.remove(`${run.runDir}/summary.json`);
    assert.deepEqual((await collect(run, raw)).summary, {
      source: "output-summary",
      metrics: { acc: 0.5 },
    });
    // A pattern that matches nothing falls through to the block.
    assert.deepEqual((await collect(run, { "output-summary": "nope=(?<nope>\\S+)" })).summary, {
      source: "output",
      metrics: { loss: 0.2 },
    });
  });
});

Deno.test("output-summary = false (or empty, as in Gage) reads no summary from output", async () => {
  await withRun(async (run) => {
    writeOutput(run, ["--- summary ---", "loss: 0.2", "---"]);
    assert.equal((await collect(run, { "output-summary": false })).summary, undefined);
    assert.equal((await collect(run, { "output-summary": "" })).summary, undefined);
    assert.deepEqual((await collect(run, { "output-summary": true })).summary, {
      source: "output",
      metrics: { loss: 0.2 },
    });
    // The run dir's own summary is still read.
    await writeRunSummary(run, { loss: 0.1 });
    assert.deepEqual((await collect(run, { "output-summary": false })).summary, {
      source: "run-dir",
      metrics: { loss: 0.1 },
    });
  });
});

Deno.test("parseOutputSummary reads text: the last block, or a pattern's matches", () => {
  const text = "--- summary ---\na: 1\n---\nx=2\n--- summary ---\nb: two\n---\n";
  assert.deepEqual(parseOutputSummary(text), { b: "two" });
  assert.deepEqual(parseOutputSummary(text, String.raw`(?<key>x)=(?<value>\d+)`), { x: 2 });
  assert.equal(parseOutputSummary(text, String.raw`y=(?<y>\d+)`), undefined);
  assert.equal(parseOutputSummary("no summary here\n"), undefined);
});

// --- checking ----------------------------------------------------------------------------

Deno.test("checkOutputSummary accepts true, false, absent and the three pattern forms", () => {
  for (
    const setting of [
      undefined,
      true,
      false,
      "",
      String.raw`(?<key>\w+): (?<value>\S+)`,
      String.raw`loss: (?<loss>\S+)`,
      String.raw`loss: (?P<loss>\S+)`,
      "--- summary ---(.*)---",
    ]
  ) {
    checkOutputSummary(op(setting === undefined ? {} : { "output-summary": setting }));
  }
});

Deno.test("checkOutputSummary: a bad pattern is one line naming the op and the fix", () => {
  const check = (setting: unknown) => () => checkOutputSummary(op({ "output-summary": setting }));
  assertUserError(
    check("loss: (?<loss>\\S+"),
    /^op "train": attribute "output-summary" "loss: \(\?<loss>\\S\+" is not a valid regular expression \(.+\); fix the pattern$/,
  );
  assertUserError(check("loss: \\S+"), /has no capture group; name groups key and value/);
  assertUserError(
    check(String.raw`(?<key>\w+)=\S+`),
    /names a group key but none value; capture both, as in \(\?<key>/,
  );
  assertUserError(check(String.raw`=(?<value>\S+)`), /names a group value but none key/);
  assertUserError(check(String.raw`(?<loss>\d*)`), /matches an empty line/);
  assertUserError(
    check(3),
    /^op "train": attribute "output-summary" must be a regular expression or true\/false \(got number\)$/,
  );
  assertUserError(check(["a"]), /\(got list\)$/);
});

// --- Gage's summary file and whole-JSON output ---------------------------------------------

Deno.test("the op's summary attribute names the run-dir file: TOML or JSON, summary.json then unread", async () => {
  await withRun(async (run) => {
    await writeRunSummary(run, { loss: 9 });
    await Deno.mkdir(`${run.runDir}/out`);
    await Deno.writeTextFile(`${run.runDir}/out/m.toml`, "loss = 0.25\n[val]\nacc = 0.9\n");
    const warnings: string[] = [];
    const toml = await collectSummary(
      run,
      { ...op(), summary: "out/m.toml" },
      (m) => warnings.push(m),
    );
    assert.deepEqual(toml, { source: "run-dir", metrics: { loss: 0.25, "val.acc": 0.9 } });
    await Deno.writeTextFile(`${run.runDir}/r.json`, '{"metrics": {"loss": {"value": 0.5}}}');
    const json = await collectSummary(run, { ...op(), summary: "r.json" });
    assert.deepEqual(json, { source: "run-dir", metrics: { loss: 0.5 } });
    await Deno.writeTextFile(`${run.runDir}/out/m.toml`, "loss = \n");
    writeOutput(run, ["--- summary ---", "loss: 0.3", "---"]);
    const broken = await collectSummary(
      run,
      { ...op(), summary: "out/m.toml" },
      (m) => warnings.push(m),
    );
    assert.deepEqual(broken, { source: "output", metrics: { loss: 0.3 } });
    assert.match(warnings.join("\n"), /^out\/m\.toml in the run dir is not valid TOML \(/);
  });
});

Deno.test("output that is one whole JSON object is the summary, as Gage reads it", async () => {
  await withRun(async (run) => {
    writeOutput(run, ["{", '  "loss": 0.125,', [1, "warning: slow"], '  "acc": 0.5', "}"]);
    assert.deepEqual((await collect(run)).summary, {
      source: "output",
      metrics: { loss: 0.125, acc: 0.5 },
    });
  });
  await withRun(async (run) => {
    writeOutput(run, ["epoch 1", '{"loss": 0.125}']);
    assert.equal((await collect(run)).summary, undefined, "JSON after other output is not whole");
    assert.deepEqual(parseOutputSummary('{"loss": 1}\n'), { loss: 1 });
  });
});
