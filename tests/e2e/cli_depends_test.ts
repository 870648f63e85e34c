/**
 * Dependencies and run summaries end to end through the CLI: project files
 * copied and linked into a run, run files taken from another op's run (the
 * newest completed, or one picked with NAME=RUN), the errors that leave the runs
 * home as it was, and the summary a run reports in meta and in `runs`.
 */
import assert from "node:assert/strict";
import { runstage, runstageIn as cli } from "../support/cli.ts";
import { exists, listTree, sha256File, withProject } from "../support/fixtures.ts";

interface RunRow {
  index: number;
  id: string;
  name: string;
  op: string;
  status: string;
  metrics: Record<string, number | string>;
  runDir: string;
  metaDir: string;
}

async function listRuns(project: string, runsHome: string): Promise<RunRow[]> {
  const result = await cli(project, runsHome, "runs", "--json");
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

/** Runs `args` and returns the new run's row from `runs --json`. */
async function runOp(
  project: string,
  runsHome: string,
  args: string[],
  options: { env?: Record<string, string>; code?: number } = {},
): Promise<RunRow> {
  const result = await runstage(["-C", project, "--runs", runsHome, "run", ...args], {
    env: options.env,
  });
  assert.equal(result.code, options.code ?? 0, result.stderr);
  const m = /running \S+ as \S+ \(([0-9a-f-]{36})\)/.exec(result.stderr);
  assert.ok(m, result.stderr);
  const row = (await listRuns(project, runsHome)).find((r) => r.id === m[1]);
  assert.ok(row, `run ${m[1]} not listed`);
  return row;
}

/** log/files lines as "EVENT TYPE PATH" (mtime dropped). */
async function filesLog(metaDir: string): Promise<string[]> {
  const text = await Deno.readTextFile(`${metaDir}/log/files`);
  return text.trimEnd().split("\n").map((line) => line.replace(/^(\S \S) (\d+|-) /, "$1 "));
}

/** The manifest as "TYPE PATH" lines and a path -> digest map. */
async function manifest(metaDir: string) {
  const text = await Deno.readTextFile(`${metaDir}/manifest`);
  const lines = text.trimEnd().split("\n").map((l) => l.split(" "));
  return {
    entries: lines.map(([type, , ...path]) => `${type} ${path.join(" ")}`),
    digests: new Map(lines.map(([, digest, ...path]) => [path.join(" "), digest])),
  };
}

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(path));
}

/** Asserts a failed command: non-zero, one line on stderr, nothing on stdout. */
function assertOneLineError(result: { code: number; stdout: string; stderr: string }) {
  assert.notEqual(result.code, 0, result.stderr);
  assert.equal(result.stdout, "");
  assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
}

Deno.test("depends project-files: copied files and a linked file, typed d, verified through the link", async () => {
  await withProject({
    "gage.toml": `[train]
exec = "true"

[[train.depends]]
type = "project-files"
files = ["data/*.csv"]

[[train.depends]]
type = "project-files"
name = "base"
files = "models/base.bin"
link = true
`,
    "data/a.csv": "a,b\n1,2\n",
    "data/b.csv": "c\n",
    "data/skip.txt": "not a csv\n",
    "models/base.bin": "weights v1\n",
  }, async (project, runsHome) => {
    const run = await runOp(project, runsHome, ["train"]);
    const { runDir, metaDir } = run;

    for (const path of ["data/a.csv", "data/b.csv"]) {
      const info = await Deno.lstat(`${runDir}/${path}`);
      assert.ok(info.isFile && !info.isSymlink, `${path} is a copy`);
      assert.equal(
        await Deno.readTextFile(`${runDir}/${path}`),
        await Deno.readTextFile(`${project}/${path}`),
      );
    }
    const link = await Deno.lstat(`${runDir}/models/base.bin`);
    assert.ok(link.isSymlink, "models/base.bin is a symlink");
    assert.equal(await Deno.readLink(`${runDir}/models/base.bin`), `${project}/models/base.bin`);

    // Default source code would copy data/ too: a dependency's paths are its own (d), once.
    const log = await filesLog(metaDir);
    assert.deepEqual(log.filter((l) => !l.endsWith("gage.toml")), [
      "a s data/skip.txt",
      "a d data/a.csv",
      "a d data/b.csv",
      "a d models/base.bin",
    ]);
    const { entries, digests } = await manifest(metaDir);
    assert.deepEqual(entries, [
      "s data/skip.txt",
      "s gage.toml",
      "d data/a.csv",
      "d data/b.csv",
      "d models/base.bin",
    ]);
    assert.equal(digests.get("data/a.csv"), await sha256File(`${project}/data/a.csv`));
    assert.equal(digests.get("models/base.bin"), await sha256File(`${project}/models/base.bin`));

    assert.deepEqual(await readJson(`${metaDir}/deps.json`), [
      {
        link: false,
        name: "data/*.csv",
        paths: ["data/a.csv", "data/b.csv"],
        source: "project",
        type: "project-files",
      },
      {
        link: true,
        name: "base",
        paths: ["models/base.bin"],
        source: "project",
        type: "project-files",
      },
    ]);
    const runner = await Deno.readTextFile(`${metaDir}/log/runner`);
    assert.match(
      runner,
      / Resolving dependencies \(see deps\.json\)\n.* Writing meta deps\.json\n/,
    );

    const ok = await cli(project, runsHome, "verify", "1");
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    // The link is hashed through: a change to the project file shows in verify.
    await Deno.writeTextFile(`${project}/models/base.bin`, "weights v2\n");
    const changed = await cli(project, runsHome, "verify", "1");
    assert.equal(changed.code, 1, changed.stdout + changed.stderr);
    assert.match(changed.stdout, /^modified: models\/base\.bin$/m);
  });
});

const PIPELINE = `[prepare]
sourcecode = false
exec = "#!python3\\nimport os, sys\\nos.makedirs('out', exist_ok=True)\\nopen('out/x.txt', 'w').write(os.environ['RUN_ID'])\\nopen('summary.json', 'w').write('{}')\\nsys.exit(int(os.environ.get('FAIL', '0')))"

[train]
sourcecode = false
exec = "true"

[[train.depends]]
type = "run-files"
op = "prepare"
files = ["out/**"]
target = "inputs"
`;

Deno.test("depends run-files: the newest completed run of the op, not a newer failed one", async () => {
  await withProject({ "gage.toml": PIPELINE }, async (project, runsHome) => {
    await runOp(project, runsHome, ["prepare"]);
    const newest = await runOp(project, runsHome, ["prepare"]);
    const failed = await runOp(project, runsHome, ["prepare"], { env: { FAIL: "3" }, code: 3 });
    assert.equal(failed.status, "error");

    const train = await runOp(project, runsHome, ["train"]);
    assert.equal(await Deno.readTextFile(`${train.runDir}/inputs/out/x.txt`), newest.id);
    assert.deepEqual(await listTree(train.runDir), ["inputs/", "inputs/out/", "inputs/out/x.txt"]);
    assert.deepEqual(await readJson(`${train.metaDir}/deps.json`), [
      {
        link: false,
        name: "prepare",
        paths: ["inputs/out/x.txt"],
        source: { id: newest.id, name: newest.name, op: "prepare" },
        type: "run-files",
      },
    ]);
    assert.deepEqual(await filesLog(train.metaDir), ["a d inputs/out/x.txt"]);
    const { entries, digests } = await manifest(train.metaDir);
    assert.deepEqual(entries, ["d inputs/out/x.txt"]);
    assert.equal(digests.get("inputs/out/x.txt"), await sha256File(`${newest.runDir}/out/x.txt`));
    const verify = await cli(project, runsHome, "verify", train.id);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });
});

Deno.test("depends run-files: prepare=RUN picks a run by index and by name", async () => {
  await withProject({ "gage.toml": PIPELINE }, async (project, runsHome) => {
    const oldest = await runOp(project, runsHome, ["prepare"]);
    const middle = await runOp(project, runsHome, ["prepare"]);
    await runOp(project, runsHome, ["prepare"]);

    // Index 3 of the listing is the oldest of the three.
    const rows = await listRuns(project, runsHome);
    assert.equal(rows[2].id, oldest.id);
    const byIndex = await runOp(project, runsHome, ["train", "prepare=3"]);
    assert.equal(await Deno.readTextFile(`${byIndex.runDir}/inputs/out/x.txt`), oldest.id);
    const deps = await readJson(`${byIndex.metaDir}/deps.json`) as { source: unknown }[];
    assert.deepEqual(deps[0].source, { id: oldest.id, name: oldest.name, op: "prepare" });
    // A pick is not a config flag.
    assert.equal(await Deno.readTextFile(`${byIndex.metaDir}/config.json`), "{}");

    const byName = await runOp(project, runsHome, ["train", `prepare=${middle.name}`]);
    assert.equal(await Deno.readTextFile(`${byName.runDir}/inputs/out/x.txt`), middle.id);
    const deps2 = await readJson(`${byName.metaDir}/deps.json`) as { source: unknown }[];
    assert.deepEqual(deps2[0].source, { id: middle.id, name: middle.name, op: "prepare" });
  });
});

Deno.test("depends run-files: without a completed run, or with a bad pick, one line and the runs home unchanged", async () => {
  await withProject({ "gage.toml": PIPELINE }, async (project, runsHome) => {
    // Only a failed run of prepare: it never counts.
    const failed = await runOp(project, runsHome, ["prepare"], { env: { FAIL: "2" }, code: 2 });
    const before = await listTree(runsHome);
    assert.ok(before.length > 0);

    const missing = await cli(project, runsHome, "run", "train");
    assertOneLineError(missing);
    assert.match(missing.stderr, /no completed run of op prepare: .*prepare=RUN/);
    assert.deepEqual(await listTree(runsHome), before);

    const notCompleted = await cli(project, runsHome, "run", "train", `prepare=${failed.name}`);
    assertOneLineError(notCompleted);
    assert.match(notCompleted.stderr, new RegExp(`prepare=${failed.name} .*completed`));
    assert.deepEqual(await listTree(runsHome), before);

    const nowhere = await cli(project, runsHome, "run", "train", "prepare=nope");
    assertOneLineError(nowhere);
    assert.match(nowhere.stderr, /prepare=nope: no run matches "nope"/);
    assert.deepEqual(await listTree(runsHome), before);
  });
});

Deno.test("depends run-files: a string entry takes every file of the run but its summary.json", async () => {
  await withProject({
    "gage.toml": PIPELINE.replace(/\[\[train\.depends\]\][^]*$/, 'depends = ["prepare"]\n'),
  }, async (project, runsHome) => {
    const prepare = await runOp(project, runsHome, ["prepare"]);
    assert.ok(await exists(`${prepare.runDir}/summary.json`));
    const train = await runOp(project, runsHome, ["train"]);
    assert.deepEqual(await listTree(train.runDir), ["out/", "out/x.txt"]);
    assert.deepEqual(await filesLog(train.metaDir), ["a d out/x.txt"]);
  });
});

Deno.test("summary: the --- summary --- block, in meta summary.json and as columns of runs", async () => {
  await withProject({
    "gage.toml": `[train]
sourcecode = false
exec = "#!python3\\nprint('--- summary ---\\\\nloss: 9\\\\n---')\\nprint('epoch 2')\\nprint('--- summary ---\\\\nloss: 0.123456\\\\nacc: 93\\\\nmodel: resnet\\\\n---')"
`,
  }, async (project, runsHome) => {
    const run = await runOp(project, runsHome, ["train"]);
    assert.equal(
      await Deno.readTextFile(`${run.metaDir}/summary.json`),
      '{\n  "metrics": {\n    "acc": 93,\n    "loss": 0.123456,\n    "model": "resnet"\n  },\n' +
        '  "source": "output"\n}',
    );
    assert.deepEqual(run.metrics, { acc: 93, loss: 0.123456, model: "resnet" });

    const table = await cli(project, runsHome, "runs");
    assert.equal(table.code, 0, table.stderr);
    const [header, row] = table.stdout.trimEnd().split("\n");
    // Columns in the order first seen; non-integers with 4 significant digits.
    assert.match(header, /STARTED\s+acc\s+loss\s+model$/);
    assert.match(row, /completed .*\s93\s+0\.1235\s+resnet$/);
    // The summary is meta: nothing is written into the run dir.
    assert.equal(await exists(`${run.runDir}/summary.json`), false);
  });
});

Deno.test("summary: the run dir's summary.json comes before the output", async () => {
  await withProject({
    "gage.toml": `[train]
sourcecode = false
exec = "#!python3\\nimport json\\njson.dump({'val': {'loss': 0.5}, 'acc': 0.9, 'ok': True, 'skip': None}, open('summary.json', 'w'))\\nprint('--- summary ---\\\\nloss: 9\\\\n---')"
`,
  }, async (project, runsHome) => {
    const run = await runOp(project, runsHome, ["train"]);
    assert.deepEqual(await readJson(`${run.metaDir}/summary.json`), {
      metrics: { "acc": 0.9, "ok": "true", "val.loss": 0.5 },
      source: "run-dir",
    });
    assert.deepEqual(run.metrics, { "acc": 0.9, "ok": "true", "val.loss": 0.5 });
    const { entries } = await manifest(run.metaDir);
    assert.deepEqual(entries, ["g summary.json"]);
  });
});

Deno.test("summary: an output-summary pattern reads metrics from every line, later values win", async () => {
  await withProject({
    "gage.toml": `[kv]
sourcecode = false
output-summary = '(?P<key>\\w+)=(?P<value>\\S+)'
exec = "#!python3\\nprint('step 1 loss=0.4 acc=0.6')\\nprint('step 2 loss=0.3 acc=0.7')\\nprint('--- summary ---\\\\nloss: 9\\\\n---')"

[named]
sourcecode = false
output-summary = 'val loss: (?<val_loss>\\S+)'
exec = "#!python3\\nprint('val loss: 0.8')\\nprint('train loss: 0.5')\\nprint('val loss: 0.25')"

[nomatch]
sourcecode = false
output-summary = 'never (?<x>\\d+)'
exec = "#!python3\\nprint('--- summary ---\\\\nloss: 9\\\\n---')"
`,
  }, async (project, runsHome) => {
    const kv = await runOp(project, runsHome, ["kv"]);
    assert.deepEqual(await readJson(`${kv.metaDir}/summary.json`), {
      metrics: { acc: 0.7, loss: 0.3 },
      source: "output-summary",
    });
    const named = await runOp(project, runsHome, ["named"]);
    assert.deepEqual(await readJson(`${named.metaDir}/summary.json`), {
      metrics: { val_loss: 0.25 },
      source: "output-summary",
    });
    const fallback = await runOp(project, runsHome, ["nomatch"]);
    assert.deepEqual(await readJson(`${fallback.metaDir}/summary.json`), {
      metrics: { loss: 9 },
      source: "output",
    });
    const rows = await listRuns(project, runsHome);
    assert.deepEqual(rows.map((r) => [r.op, r.metrics]), [
      ["nomatch", { loss: 9 }],
      ["named", { val_loss: 0.25 }],
      ["kv", { acc: 0.7, loss: 0.3 }],
    ]);
  });
});
