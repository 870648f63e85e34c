/**
 * `runstage check` (issue 10, point 10): every problem of the Gage file with its
 * FILE:LINE:COL, not only the first; the runs home commands would use; exit 1
 * on a problem. And `run` notes unknown attributes, one line each.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { rows, runstageIn } from "../support/cli.ts";
import { snapshot, withProject } from "../support/fixtures.ts";

const BAD_TOML = `"$runs-dirr" = "x"

[train]
exec = "python train.py"
sourcode = ["*.py"]
env = { A = [1] }

[eval]
description = 3
exec = { run = "#!\\necho", bogus = "x" }
sourcecode = ["**/*.py", "bad token=1"]
depends = [{ type = "run-files", op = "train" }, { type = "nope" }]
output-summary = "(unclosed"
path-map = { "../out" = "src" }
config = ["/abs.json"]

[none]
description = "nothing to run"
`;

Deno.test("check lists every problem with FILE:LINE:COL and a did-you-mean, prints the runs home, exits 1", async () => {
  await withProject({ "gage.toml": BAD_TOML }, async (project, runsHome) => {
    const before = await snapshot(project);
    const r = await runstageIn(project, runsHome, "check");
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, "");
    const file = join(project, "gage.toml");
    const expected = [
      `${file}:1:1: unknown setting "$runs-dirr" (did you mean $runs-dir?)`,
      `${file}:5:1: op "train": unknown attribute "sourcode" (did you mean sourcecode?)`,
      `${file}:6:9: op "train": attribute "env.A" must be a string, number or boolean (got list with a number item)`,
      `${file}:9:1: op "eval": attribute "description" must be a string (got number)`,
      `${file}:10:10: op "eval": attribute "exec.run": "#!" command names no program: write "#!python" or similar`,
      `${file}:10:28: op "eval": unknown phase "bogus" in attribute "exec"; valid phases are: `,
      `${file}:11:26: op "eval": invalid sourcecode pattern "bad token=1": unknown token "token=1"`,
      `${file}:12:50: op "eval": depends entry 2: attribute "type" must be`,
      `${file}:13:1: op "eval": attribute "output-summary" "(unclosed" is not a valid regular expression`,
      `${file}:14:1: op "eval": path-map key "../out" is outside the project`,
      `${file}:15:1: op "eval": attribute "config": invalid config entry "/abs.json"`,
      `${file}:17:2: op "none" has no exec: runstage run none would refuse it`,
      `runs home: ${runsHome}`,
      `${file}: 3 ops, 12 problems`,
    ];
    const lines = rows(r.stdout);
    assert.equal(lines.length, expected.length, r.stdout);
    expected.forEach((start, i) =>
      assert.ok(lines[i].startsWith(start), `${lines[i]}\n!= ${start}`)
    );
    assert.deepEqual(await snapshot(project), before, "check writes nothing");
  });
});

Deno.test("check finds places in YAML and JSON too, and says --json", async () => {
  const files: Record<string, string> = {
    "gage.yaml": 'train:\n  exec: "true"\n  sourcode: ["*.py"]\n  default: "yes"\n',
    "gage.json":
      '{\n  "train": {\n    "exec": "true",\n    "sourcode": ["*.py"],\n    "default": "yes"\n  }\n}\n',
  };
  for (const [name, text] of Object.entries(files)) {
    await withProject({ [name]: text }, async (project, runsHome) => {
      const r = await runstageIn(project, runsHome, "check", "--json");
      assert.equal(r.code, 1, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.equal(report.runsHome, runsHome);
      assert.deepEqual(report.ops, ["train"]);
      const json = name === "gage.json";
      assert.deepEqual(
        report.problems.map((
          p: { line: number; column: number; message: string },
        ) => [p.line, p.column, p.message]),
        [
          [
            json ? 4 : 3,
            json ? 5 : 3,
            'op "train": unknown attribute "sourcode" (did you mean sourcecode?)',
          ],
          [
            json ? 5 : 4,
            json ? 5 : 3,
            'op "train": attribute "default" must be true or false (got string)',
          ],
        ],
      );
    });
  }
});

Deno.test("check of a sound Gage file: no problems, the runs home, exit 0", async () => {
  const gage = '"$runs-dir" = "../shared-runs"\n[train]\nexec = "true"\nsourcecode = ["*.py"]\n';
  await withProject({ "gage.toml": gage }, async (project) => {
    const r = await runstageIn(project, join(project, ".gage", "runs"), "check");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `runs home: ${project}/.gage/runs\n${project}/gage.toml: 1 op, no problems\n`,
    );
    const own = await runstageIn(project, join(project, "..", "x"), "check");
    assert.match(own.stdout, /^runs home: .*\/x\n/);
  });
});

Deno.test("run notes each unknown attribute of its op in one line, and runs", async () => {
  const gage =
    '[train]\nexec = "echo hi"\nsourcode = ["*.py"]\nflagz = 1\n[other]\nexec = "true"\nbogus = 1\n';
  await withProject({ "gage.toml": gage }, async (project, runsHome) => {
    const r = await runstageIn(project, runsHome, "run", "train");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hi\n");
    const notes = rows(r.stderr).filter((line) => line.startsWith("runstage: note:"));
    const file = join(project, "gage.toml");
    assert.deepEqual(notes, [
      `runstage: note: ${file}:3:1: op "train": unknown attribute "sourcode" (did you mean sourcecode?); it is ignored`,
      `runstage: note: ${file}:4:1: op "train": unknown attribute "flagz"; it is ignored`,
    ]);
  });
});
