/**
 * Per-step scalars end to end (lib/stage/scalars.ts, meta `scalars`): a
 * Python op's `step:`/`loss:` lines become a history with steps, live while
 * it runs; `output-scalars` turns it off or sets patterns; the run's own
 * scalars.jsonl is read at its end; `scalars` prints them as a table, JSON or
 * CSV; `compare --scalars` shows last/min/max; export and import carry them.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { cliFor, onlyRun, spawnRunstage } from "../support/cli.ts";
import { exists, withProject, withTempDir } from "../support/fixtures.ts";

interface ScalarRow {
  time: number;
  step: number | null;
  key: string;
  value: number;
}

const TRAIN = [
  "import sys, time",
  "for step in range(1, 4):",
  "    print(f'step: {step}')",
  "    print(f'loss: {1.0 / step:.4f}')",
  "    print(f'acc: {step / 10}')",
  "print('not a scalar: here')",
  "print('final: 5', file=sys.stderr)",
].join("\n");

const GAGE = `[train]\nexec = "python3 train.py"\n`;

Deno.test("scalars: a Python op's step:/loss: lines become a history with steps", async () => {
  await withProject({ "gage.toml": GAGE, "train.py": TRAIN + "\n" }, async (project, home) => {
    const cli = cliFor(project, home);
    assert.equal((await cli("run")).code, 0);
    const rows = JSON.parse((await cli("scalars", "--json")).stdout) as ScalarRow[];
    assert.deepEqual(rows.map((r) => [r.step, r.key, r.value]), [
      [1, "loss", 1],
      [1, "acc", 0.1],
      [2, "loss", 0.5],
      [2, "acc", 0.2],
      [3, "loss", 0.3333],
      [3, "acc", 0.3],
      [3, "final", 5],
    ]);
    assert.ok(rows.every((r) => Number.isInteger(r.time) && r.time > 1e15));
    const csv = (await cli("scalars", "--csv", "--key", "loss")).stdout;
    assert.equal(csv.split("\r\n")[0], "step,key,value,time");
    assert.match(csv.split("\r\n")[1], /^1,loss,1,\d+$/);
    const table = (await cli("scalars")).stdout.split("\n");
    assert.match(table[0], /^STEP\s+KEY\s+VALUE\s+TIME$/);
    assert.match(table[1], /^1\s+loss\s+1\s+\d{4}-/);

    // With no other summary, the last value of each scalar is the run's metrics.
    const summary = JSON.parse(
      readFileSync(`${(await onlyRun(home)).metaDir}/summary.json`, "utf8"),
    );
    assert.deepEqual(summary, { metrics: { acc: 0.3, final: 5, loss: 0.3333 }, source: "scalars" });

    const compared = JSON.parse(
      (await cli("compare", "--scalars", "last,min,max", "--json")).stdout,
    );
    assert.deepEqual(
      [
        compared[0].metrics["loss:last"],
        compared[0].metrics["loss:min"],
        compared[0].metrics["loss:max"],
      ],
      [0.3333, 0.3333, 1],
    );
    const bad = await cli("compare", "--scalars", "median");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad --scalars "median": each one of last, min, max/);
  });
});

Deno.test("scalars: a running run's history grows while it runs", async () => {
  const waiting = TRAIN.split("\n").slice(0, 4).join("\n") +
    "\nimport os\nwhile not os.path.exists('go'): time.sleep(0.05)\nprint('loss: 0.01')\n";
  await withProject({ "gage.toml": GAGE, "train.py": waiting }, async (project, home) => {
    const cli = cliFor(project, home);
    const run = spawnRunstage(["--runs", home, "run"], { cwd: project });
    await run.readUntil(/loss: 0\.3333\n/);
    const { runDir, metaDir } = await onlyRun(home);
    const live = readFileSync(`${metaDir}/scalars`, "utf8").trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(live.map((s) => s.value), [1, 0.5, 0.3333]);
    await Deno.writeTextFile(`${runDir}/go`, "");
    assert.equal((await run.result).code, 0);
    const done = JSON.parse((await cli("scalars", "--json")).stdout) as ScalarRow[];
    assert.deepEqual(done.at(-1), { ...done.at(-1)!, step: 3, key: "loss", value: 0.01 });
  });
});

Deno.test("scalars: output-scalars off, patterns, a table of keys; the run's scalars.jsonl", async () => {
  const cases: [string, string, [number | null, string, number][]][] = [
    ["false", "print('loss: 1')", []],
    [
      String.raw`'epoch \step: \key=\value'`.replace(/'/g, '"').replace(/\\/g, "\\\\"),
      "print('epoch 4: loss=0.25')\nprint('loss: 9')",
      [[4, "loss", 0.25]],
    ],
    [
      '{ "val_loss" = "val=([0-9.]+)" }',
      "print('step: 2')\nprint('val=0.5 train=0.7')",
      [[2, "val_loss", 0.5]],
    ],
    [
      "true",
      "import json\nopen('scalars.jsonl','w').write(json.dumps({'step': 7, 'f1': 0.9, 'note': 'x'}) + '\\nnot json\\n')",
      [[7, "f1", 0.9]],
    ],
  ];
  for (const [setting, script, expected] of cases) {
    const gage = `[train]\nexec = "python3 train.py"\noutput-scalars = ${setting}\n`;
    await withProject({ "gage.toml": gage, "train.py": script + "\n" }, async (project, home) => {
      const cli = cliFor(project, home);
      const r = await cli("run");
      assert.equal(r.code, 0, `${setting}: ${r.stderr}`);
      const rows = JSON.parse((await cli("scalars", "--json")).stdout) as ScalarRow[];
      assert.deepEqual(rows.map((s) => [s.step, s.key, s.value]), expected, setting);
      if (script.includes("not json")) {
        assert.match(r.stderr, /1 line of scalars\.jsonl skipped: each line must be a JSON object/);
      }
    });
  }
});

Deno.test("scalars: a bad pattern is one line at staging; export and import carry the history", async () => {
  await withProject(
    { "gage.toml": `[train]\nexec = "true"\noutput-scalars = "loss=(\\\\d+"\n` },
    async (project, home) => {
      const r = await cliFor(project, home)("run");
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^runstage: .*op "train": attribute "output-scalars": bad pattern "loss=\(\\d\+"/,
      );
      assert.equal(
        await exists(`${home}`) && (await Array.fromAsync(Deno.readDir(home))).length,
        0,
      );
    },
  );
  await withProject({ "gage.toml": GAGE, "train.py": TRAIN + "\n" }, async (project, home) => {
    const cli = cliFor(project, home);
    assert.equal((await cli("run")).code, 0);
    await withTempDir(async (other) => {
      const archive = `${other}/runs.tar`;
      assert.equal((await cli("export", "1", "-o", archive)).code, 0);
      const there = cliFor(project, `${other}/home`);
      const imported = await there("import", archive);
      assert.equal(imported.code, 0, imported.stderr);
      assert.equal(
        (await there("scalars", "--csv")).stdout,
        (await cli("scalars", "--csv")).stdout,
      );
      assert.equal((await there("verify", "1")).code, 0);
    });
  });
});
