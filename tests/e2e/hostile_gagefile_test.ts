/**
 * Hostile Gage files and runs homes (issue 10, point 9): deep nesting, an op
 * with nothing to run, `sourcecode = []`, duplicate JSON keys, and a runs home
 * of `/`, of the project dir or of a dir holding it. Each is one line on
 * stderr that writes nothing, or (sourcecode = []) a run with no source.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type CliResult,
  fails,
  listTree,
  onlyRun,
  rows,
  runstage,
  runstageIn,
} from "../support/cli.ts";
import { snapshot, withProject, withTempDir, writeTree } from "../support/fixtures.ts";

const LEVELS = 10_000;

/** Asserts one error line matching `message`, exit 1, nothing on stdout. */
function refused(r: CliResult, message: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(rows(r.stderr).length, 1, r.stderr);
  assert.match(r.stderr, /^runstage: \S/);
  assert.match(r.stderr, message);
}

Deno.test("10,000 levels of nesting in TOML, YAML or JSON: one line, nothing written", async () => {
  const open = "[".repeat(LEVELS);
  const close = "]".repeat(LEVELS);
  const files: [string, string, RegExp][] = [
    ["gage.toml", `[train]\nexec = "true"\nx = ${open}${close}\n`, /gage\.toml:3:\d+: nested/],
    [
      "gage.toml",
      `[train]\nexec = "true"\nx = ${"{a=".repeat(LEVELS)}1${"}".repeat(LEVELS)}\n`,
      /gage\.toml:3:\d+: nested/,
    ],
    ["gage.yaml", `train:\n  exec: "true"\n  x: ${open}${close}\n`, /gage\.yaml:3:\d+: nested/],
    [
      "gage.yaml",
      `train:\n  exec: "true"\n  x:\n    ${"- ".repeat(LEVELS)}1\n`,
      /gage\.yaml(:4:\d+)?: nested/,
    ],
    [
      "gage.json",
      `{"train": {"exec": "true", "x": ${open}${close}}}\n`,
      /gage\.json:1:\d+: nested/,
    ],
    [
      "gage.json",
      `{"train": {"exec": "true", "x": ${'{"a":'.repeat(LEVELS)}1${"}".repeat(LEVELS)}}}\n`,
      /gage\.json:1:\d+: nested/,
    ],
  ];
  for (const [name, text, place] of files) {
    await withProject({ [name]: text }, async (project, runsHome) => {
      const cli = (...args: string[]) => runstageIn(project, runsHome, ...args);
      const message = /nested deeper than 64 levels; a Gage file needs only a few: flatten it$/;
      for (const command of ["run", "stage"]) {
        assert.match(await fails(cli, runsHome, [command], message), place, `${name} ${command}`);
      }
      // check reports it as the file's one problem, on stdout.
      const check = await cli("check");
      assert.equal(check.code, 1, check.stderr);
      assert.match(rows(check.stdout)[0], message);
      assert.match(rows(check.stdout)[0], place);
      assert.deepEqual(await listTree(project), [name], "nothing written in the project");
    });
  }
});

Deno.test("an op with no exec is refused at run (and start) in one line; stage still stages it", async () => {
  const gage =
    '[prep]\nexec.copy-sourcecode = "true"\n[none]\ndescription = "x"\n[typo]\nexe = "echo hi"\n';
  await withProject({ "gage.toml": gage }, async (project, runsHome) => {
    const cli = (...args: string[]) => runstageIn(project, runsHome, ...args);
    await fails(
      cli,
      runsHome,
      ["run", "none"],
      /op "none" has no command to run .*: give it exec = "COMMAND", or stage it without running: runstage stage none$/,
    );
    await fails(cli, runsHome, ["run", "prep"], /op "prep" has no command to run/);
    await fails(
      cli,
      runsHome,
      ["run", "typo"],
      /op "typo" has no command to run .*\("exe" is not an attribute\)/,
    );
    const staged = await cli("stage", "prep");
    assert.equal(staged.code, 0, staged.stderr);
    await fails(cli, runsHome, ["start", "1"], /op "prep" has no command to run/);
    assert.equal(JSON.parse((await cli("runs", "--json")).stdout)[0].status, "staged");
  });
});

Deno.test("sourcecode = [] copies no source file, as in Gage", async () => {
  for (
    const [name, text] of [
      ["gage.toml", '[train]\nexec = "true"\nsourcecode = []\n'],
      ["gage.yaml", 'train:\n  exec: "true"\n  sourcecode: []\n'],
      ["gage.json", '{"train": {"exec": "true", "sourcecode": []}}\n'],
    ]
  ) {
    await withProject(
      { [name]: text, "train.py": "print(1)\n", "conf/a.yaml": "a: 1\n" },
      async (project, runsHome) => {
        const r = await runstageIn(project, runsHome, "run");
        assert.equal(r.code, 0, r.stderr);
        const { runDir, metaDir } = await onlyRun(runsHome);
        assert.deepEqual(await listTree(runDir), [], name);
        assert.doesNotMatch(await Deno.readTextFile(join(metaDir, "manifest")), /^s /m);
      },
    );
  }
});

Deno.test("a key written twice in a JSON object is an error with its FILE:LINE:COL, as in TOML and YAML", async () => {
  const cases: [string, RegExp][] = [
    [
      '{\n  "train": {"exec": "true"},\n  "train": {"exec": "false"}\n}\n',
      /gage\.json:3:3: invalid JSON: key "train" is written twice in one object \(first at line 2\); keep one$/,
    ],
    [
      '{"train": {\n  "exec": "true",\n  "env": {"A": "1", "A": "2"}\n}}\n',
      /gage\.json:3:21: invalid JSON: key "A" is written twice/,
    ],
  ];
  for (const [text, message] of cases) {
    await withProject({ "gage.json": text }, async (project, runsHome) => {
      const cli = (...args: string[]) => runstageIn(project, runsHome, ...args);
      await fails(cli, runsHome, ["run"], message);
      const check = await cli("check");
      assert.equal(check.code, 1, check.stderr);
      assert.match(rows(check.stdout)[0], message);
    });
  }
});

Deno.test("a runs home of /, of the project dir or of a dir holding it is refused with the reason", async () => {
  await withTempDir(async (dir) => {
    const project = join(dir, "proj");
    await writeTree(project, { "gage.toml": '[train]\nexec = "true"\n', "train.py": "x\n" });
    const cases: [string[], Record<string, string>, string, RegExp][] = [
      [["--runs", "/"], {}, "", /runs home "\/" \(from --runs\) is the file-system root/],
      [[], { GAGE_RUNS: "/" }, "", /runs home "\/" \(from GAGE_RUNS\) is the file-system root/],
      [
        [],
        {},
        '"$runs-dir" = "/"\n',
        /runs home "\/" \(from "\$runs-dir" in ".*gage\.toml"\) is the file-system root/,
      ],
      [["--runs", project], {}, "", /runs home ".*proj" \(from --runs\) is the project dir itself/],
      [[], { GAGE_RUNS: "." }, "", /\(from GAGE_RUNS\) is the project dir itself/],
      [
        [],
        {},
        '"$runs-dir" = "."\n',
        /is the project dir itself: each run would copy the runs before it/,
      ],
      [["--runs", dir], {}, "", /\(from --runs\) holds the project dir ".*proj"/],
      [[], {}, '"$runs-dir" = "../.."\n', /\(from "\$runs-dir" in .*\) holds the project dir/],
    ];
    for (const [args, env, setting, message] of cases) {
      await Deno.writeTextFile(join(project, "gage.toml"), `${setting}[train]\nexec = "true"\n`);
      const before = await snapshot(dir);
      for (const command of [["run"], ["stage"], ["runs"]]) {
        refused(await runstage([...args, ...command], { cwd: project, env }), message);
      }
      const check = await runstage([...args, "check"], { cwd: project, env });
      assert.equal(check.code, 1);
      assert.match(check.stdout, message);
      assert.deepEqual(await snapshot(dir), before, `${args} ${JSON.stringify(env)} ${setting}`);
    }
  });
});
