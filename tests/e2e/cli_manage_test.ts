/**
 * Managing runs through the real CLI: runs filters and columns, show, cat,
 * label, delete / restore / purge, select and diff; their errors; runs homes
 * holding half-written runs; and `runs` on a thousand runs (how fast is
 * measured by `deno task bench --only runs`).
 */
import assert from "node:assert/strict";
import { runName } from "../../lib/run/identity.ts";
import {
  type Cli,
  cliFor,
  fails,
  json,
  ok,
  rows,
  runstage,
  runstageCommand,
} from "../support/cli.ts";
import { listTree, snapshot, withProject, withTempDir, writeTree } from "../support/fixtures.ts";

const GAGE = `
[a]
exec = "echo out of a; echo err of a >&2"
[b]
exec = ["true"]
[sleepy]
exec = ["sleep", "60"]
`;

/** Runs `op` for real and returns its id. */
async function runOp(cli: Cli, op: string): Promise<string> {
  const r = await cli("run", op);
  assert.equal(r.code, 0, r.stderr);
  return /\(([0-9a-f-]{36})\)/.exec(r.stderr)![1];
}

interface FakeRun {
  id: string;
  initialized: number;
  op?: string;
  /** `proc/exit`, or absent for a run still staged. */
  exit?: number;
  label?: string;
  metrics?: Record<string, number | string>;
}

/** The meta files a finished run has, written directly: fast, and every value chosen. */
function fakeRunFiles(r: FakeRun): Record<string, string> {
  const meta: Record<string, string> = {
    __schema__: "1",
    id: r.id,
    name: runName(r.id),
    opref: `2 proj ${r.op ?? "train"}`,
    initialized: String(r.initialized),
    staged: String(r.initialized + 1),
  };
  if (r.exit !== undefined) {
    meta.started = String(r.initialized + 2);
    meta.stopped = String(r.initialized + 3);
    meta["proc/exit"] = String(r.exit);
  }
  if (r.label !== undefined) meta.label = r.label;
  if (r.metrics) meta["summary.json"] = JSON.stringify({ metrics: r.metrics, source: "run-dir" });
  return Object.fromEntries(Object.entries(meta).map(([k, v]) => [`${r.id}.meta/${k}`, v]));
}

function fakeId(n: number): string {
  return `${n.toString(16).padStart(8, "0")}-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

// --- runs ----------------------------------------------------------------------------

Deno.test("runs: --op, --status, --label, --limit filter and keep the indexes show takes", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    const runs: FakeRun[] = [
      { id: fakeId(1), initialized: 1e15, op: "a", exit: 0 },
      { id: fakeId(2), initialized: 2e15, op: "b", exit: 1, label: "Baseline try" },
      { id: fakeId(3), initialized: 3e15, op: "a" },
      { id: fakeId(4), initialized: 4e15, op: "a", exit: -15, label: "baseline" },
      { id: fakeId(5), initialized: 5e15, op: "b", exit: 0 },
    ];
    for (const r of runs) await writeTree(home, fakeRunFiles(r));
    const all = await json<{ index: number; id: string; status: string }[]>(cli("runs", "--json"));
    assert.deepEqual(
      all.map((r) => [r.index, r.id, r.status]),
      [
        [1, fakeId(5), "completed"],
        [2, fakeId(4), "terminated"],
        [3, fakeId(3), "staged"],
        [4, fakeId(2), "error"],
        [5, fakeId(1), "completed"],
      ],
    );
    const listed = async (...args: string[]) =>
      (await json<{ index: number }[]>(cli("runs", "--json", ...args))).map((r) => r.index);
    assert.deepEqual(await listed("--op", "a"), [2, 3, 5]);
    assert.deepEqual(await listed("--op", "nope"), []);
    assert.deepEqual(await listed("--status", "completed"), [1, 5]);
    assert.deepEqual(await listed("--status", "error,terminated"), [2, 4]);
    assert.deepEqual(await listed("--status", "staged", "--status", "error"), [3, 4]);
    assert.deepEqual(await listed("--label", "BASELINE"), [2], "the label exactly, any case");
    assert.deepEqual(await listed("--label", "BASEL"), [2, 4], "no label is BASEL: contains it");
    assert.deepEqual(await listed("--label", "try"), [4]);
    assert.deepEqual(await listed("--limit", "2"), [1, 2]);
    assert.deepEqual(await listed("--op", "a", "--limit", "2"), [2, 3]);
    assert.deepEqual(await listed("--op", "a", "--status", "completed"), [5]);

    // The text table shows the same indexes, and they are what show takes.
    const table = rows(await ok(cli("runs", "--op", "a")));
    assert.match(table[0], /^#\s+NAME\s+OP\s+STATUS\s+STARTED\s+LABEL$/);
    assert.deepEqual(table.slice(1).map((r) => r.split(/\s+/)[0]), ["[2]", "[3]", "[5]"]);
    assert.match(
      table[1],
      new RegExp(`^\\[2\\]\\s+${runName(fakeId(4))}\\s+a\\s+terminated\\s+\\S+ \\S+\\s+baseline$`),
    );
    const shown = await json<{ id: string }>(cli("show", "3", "--json"));
    assert.equal(shown.id, fakeId(3));

    const none = await cli("runs", "--op", "nope");
    assert.equal(none.code, 0);
    assert.equal(none.stdout, "");
    assert.match(none.stderr, /no runs match the filters/);
    await fails(
      cli,
      home,
      ["runs", "--status", "finished"],
      /unknown status "finished": one of completed, error/,
      2,
    );
    await fails(cli, home, ["runs", "--limit", "0"], /--limit.*1 or more/, 2);
    await fails(cli, home, ["runs", "--limit", "x"], /--limit.*1 or more/, 2);
  });
});

Deno.test("runs: metric columns from meta summary.json, first seen first, at most 6; --json has all", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    // Without labels or metrics the table is the plain one.
    await writeTree(home, fakeRunFiles({ id: fakeId(1), initialized: 1e15, exit: 0 }));
    assert.match(rows(await ok(cli("runs")))[0], /^#\s+NAME\s+OP\s+STATUS\s+STARTED$/);

    await writeTree(home, {
      ...fakeRunFiles({
        id: fakeId(2),
        initialized: 2e15,
        exit: 0,
        metrics: { loss: 0.123456, acc: 0.9, step: 100 },
      }),
      ...fakeRunFiles({
        id: fakeId(3),
        initialized: 3e15,
        exit: 0,
        metrics: { acc: 0.5, m1: 1, m2: 2, m3: 3, m4: "n/a" },
      }),
    });
    const table = rows(await ok(cli("runs")));
    // Newest run's metrics first, then those only older runs have; six columns at most.
    assert.match(table[0], /^#\s+NAME\s+OP\s+STATUS\s+STARTED\s+acc\s+m1\s+m2\s+m3\s+m4\s+loss$/);
    assert.doesNotMatch(table[0], /step/);
    assert.match(table[1], /completed\s+\S+ \S+\s+0\.5\s+1\s+2\s+3\s+n\/a$/);
    assert.match(table[2], /completed\s+\S+ \S+\s+0\.9\s+0\.1235$/);
    assert.match(table[3], /completed\s+\S+ \S+$/);
    const listed = await json<{ metrics: object; label: null }[]>(cli("runs", "--json"));
    assert.deepEqual(listed[1].metrics, { loss: 0.123456, acc: 0.9, step: 100 });
    assert.deepEqual(listed[2].metrics, {});
    assert.equal(listed[2].label, null);
  });
});

// --- label ---------------------------------------------------------------------------

Deno.test("label: set, clear, shown by runs and show, and names runs", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    const [oldest, middle, newest] = [
      await runOp(cli, "a"),
      await runOp(cli, "b"),
      await runOp(cli, "a"),
    ];
    assert.equal(
      await ok(cli("label", "1", "Best run")),
      `Labelled 1 run "Best run": ${runName(newest)}\n`,
    );
    // Exactly the text: no newline, UTF-8.
    assert.equal(await Deno.readTextFile(`${home}/${newest}.meta/label`), "Best run");
    await ok(cli("label", "2:3", "base-ü"));
    assert.equal(await Deno.readTextFile(`${home}/${oldest}.meta/label`), "base-ü");

    const table = rows(await ok(cli("runs")));
    assert.match(table[0], /^#\s+NAME\s+OP\s+STATUS\s+STARTED\s+LABEL$/);
    assert.match(table[1], /\s+Best run$/);
    assert.match(table[2], /\s+base-ü$/);
    assert.deepEqual(
      (await json<{ label: string }[]>(cli("runs", "--json"))).map((r) => r.label),
      ["Best run", "base-ü", "base-ü"],
    );
    // A label names runs: one, or every run carrying it.
    assert.equal((await json<{ id: string }>(cli("show", "Best run", "--json"))).id, newest);
    assert.equal(await ok(cli("select", "Best run")), `${newest}\n`);
    await fails(cli, home, ["select", "base-ü"], /"base-ü" names 2 runs \(.*\): name one run/);
    const show = await ok(cli("show", "1"));
    assert.match(show, /^label:\s+Best run$/m);

    // Relabel, then clear: the file goes.
    await ok(cli("label", "Best run", "Best run v2"));
    assert.equal(await Deno.readTextFile(`${home}/${newest}.meta/label`), "Best run v2");
    assert.equal(
      await ok(cli("label", "1", "--clear")),
      `Cleared the label of 1 run: ${runName(newest)}\n`,
    );
    await assert.rejects(Deno.stat(`${home}/${newest}.meta/label`), Deno.errors.NotFound);
    await ok(cli("label", "base-ü", "--clear"));
    assert.ok(!(await listTree(home)).some((p) => p.endsWith("/label")));
    assert.match(rows(await ok(cli("runs")))[0], /^#\s+NAME\s+OP\s+STATUS\s+STARTED$/);
    assert.equal((await json<{ label: null }>(cli("show", middle, "--json"))).label, null);

    await fails(cli, home, ["label", "1"], /label takes RUN\.\.\. TEXT/, 2);
    await fails(
      cli,
      home,
      ["label", "--clear"],
      /label takes RUN\.\.\. TEXT \(or RUN\.\.\. --clear\)/,
      2,
    );
    // With --clear every argument is a RUN: a text among them is a run that is not there.
    await fails(cli, home, ["label", "1", "x", "--clear"], /no run matches "x"/);
    await fails(cli, home, ["label", "1", " "], /a label cannot be empty/, 2);
    await fails(cli, home, ["label", "1", "two\nlines"], /a label is one line/, 2);
    // Nine digits: no run id can start so (the ninth character of an id is "-").
    await fails(
      cli,
      home,
      ["label", "123456789", "x"],
      /no run at index 123456789: there are 3 runs/,
    );
  });
});

// --- show ----------------------------------------------------------------------------

Deno.test("show: label, config, summary and files, as text and JSON", async () => {
  await withProject({ "gage.toml": GAGE, "train.py": "print(1)\n" }, async (project, home) => {
    const cli = cliFor(project, home);
    const id = await runOp(cli, "a");
    const meta = `${home}/${id}.meta`;
    // Written as the config and summary features write them.
    await Deno.writeTextFile(`${meta}/config.json`, '{\n  "epochs": 3,\n  "lr": 0.1\n}');
    await Deno.writeTextFile(
      `${meta}/summary.json`,
      JSON.stringify({ metrics: { acc: 0.875, loss: 0.25 }, source: "run-dir" }),
    );
    await ok(cli("label", "1", "tuned"));
    const d = await json<Record<string, unknown>>(cli("show", "1", "--json"));
    assert.equal(d.id, id);
    assert.equal(d.label, "tuned");
    assert.deepEqual(d.config, { epochs: 3, lr: 0.1 });
    assert.deepEqual(d.summary, { metrics: { acc: 0.875, loss: 0.25 }, source: "run-dir" });
    assert.deepEqual(d.metrics, { acc: 0.875, loss: 0.25 });
    assert.deepEqual(
      (d.files as { type: string; path: string }[]).map((f) => `${f.type} ${f.path}`),
      ["s gage.toml", "s train.py"],
    );
    const text = await ok(cli("show", "1"));
    assert.match(text, /^label:\s+tuned$/m);
    assert.match(text, /^config:\n {2}epochs\s+3\n {2}lr\s+0\.1\n/m);
    assert.match(text, /^summary \(from run-dir\):\n {2}acc\s+0\.875\n {2}loss\s+0\.25\n/m);
    assert.match(text, /^files \(2\):\n {2}s\s+gage\.toml\n {2}s\s+train\.py\n/m);

    await Deno.remove(`${meta}/summary.json`);
    assert.equal((await json<{ summary: null }>(cli("show", "1", "--json"))).summary, null);
    assert.doesNotMatch(await ok(cli("show", "1")), /^summary/m);
  });
});

// --- cat -----------------------------------------------------------------------------

Deno.test("cat: a run-dir file, or a phase's output; paths that leave the run dir are refused", async () => {
  await withProject({
    "gage.toml":
      `${GAGE}\n[staged]\nexec.copy-sourcecode = "echo copying"\nexec.run = "echo ran"\n`,
    "data/in.txt": "line 1\nline 2",
  }, async (project, home) => {
    const cli = cliFor(project, home);
    const id = await runOp(cli, "staged");
    const runDir = `${home}/${id}`;
    assert.equal(await ok(cli("cat", "1", "data/in.txt")), "line 1\nline 2");
    assert.equal(await ok(cli("cat", "1", "./data/../data/in.txt")), "line 1\nline 2");
    assert.equal(await ok(cli("cat", "1", "--output")), "ran\n");
    for (const phase of ["run", "40_run"]) {
      assert.equal(await ok(cli("cat", "1", "--output", phase)), "ran\n");
    }
    for (const phase of ["copy-sourcecode", "stage-sourcecode", "10_sourcecode"]) {
      assert.equal(await ok(cli("cat", "1", "--output", phase)), "copying\n");
    }
    // Byte for byte, binary included.
    const bytes = new Uint8Array([0, 255, 10, 13, 0x80]);
    await Deno.writeFile(`${runDir}/blob.bin`, bytes);
    const [cmd, args] = runstageCommand(["-C", project, "--runs", home, "cat", "1", "blob.bin"]);
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    assert.deepEqual(out.stdout, bytes);

    await Deno.writeTextFile(`${home}/secret.txt`, "outside");
    await Deno.symlink(`${home}/secret.txt`, `${runDir}/link-out`);
    await Deno.symlink("data/in.txt", `${runDir}/link-in`);
    assert.equal(await ok(cli("cat", "1", "link-in")), "line 1\nline 2");
    for (
      const path of [
        "../secret.txt",
        `${home}/secret.txt`,
        "data/../../secret.txt",
        "link-out",
        "/etc/passwd",
      ]
    ) {
      await fails(
        cli,
        home,
        ["cat", "1", path],
        /leads outside the run dir of \w+-\w+: give a path inside it/,
      );
    }
    await fails(
      cli,
      home,
      ["cat", "1", "nope.txt"],
      /has no file "nope.txt": see its files with "runstage show/,
    );
    await fails(cli, home, ["cat", "1", "data"], /"data" in run .* is not a file/);
    await fails(cli, home, ["cat", "1", "."], /leads outside the run dir|is not a file/);
    await fails(
      cli,
      home,
      ["cat", "1", "--output", "init-runtime"],
      /has no output for phase init-runtime/,
    );
    await fails(
      cli,
      home,
      ["cat", "1", "--output", "train"],
      /unknown phase "train": one of copy-sourcecode, /,
      2,
    );
    await fails(cli, home, ["cat"], /cat needs a PATH in the run dir, or --output/, 2);
    // One argument without --output is a PATH of the latest run.
    await fails(cli, home, ["cat", "1"], /has no file "1": see its files with/);
    await fails(cli, home, ["cat", "1", "x", "--output"], /a PATH or --output, not both/, 2);
  });
});

// --- select --------------------------------------------------------------------------

Deno.test("select: the id, or the absolute run dir or meta dir, one line for scripts", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    const older = await runOp(cli, "a");
    const newer = await runOp(cli, "b");
    assert.equal(await ok(cli("select", "1")), `${newer}\n`);
    assert.equal(await ok(cli("select", older.slice(0, 6))), `${older}\n`);
    assert.equal(await ok(cli("select", "2", "--run-dir")), `${home}/${older}\n`);
    assert.equal(await ok(cli("select", runName(newer), "--meta-dir")), `${home}/${newer}.meta\n`);
    // A relative --runs still prints an absolute path, usable from any dir.
    const parent = home.slice(0, home.lastIndexOf("/"));
    const base = home.slice(home.lastIndexOf("/") + 1);
    const rel = await runstage(["-C", project, "--runs", base, "select", "1", "--meta-dir"], {
      cwd: parent,
    });
    assert.equal(rel.stdout, `${home}/${newer}.meta\n`, rel.stderr);
    // The path is the run dir: a script can cd there.
    const sh = await new Deno.Command("sh", {
      args: [
        "-c",
        `cd "$(${
          runstageCommand([]).flat().join(" ")
        } -C ${project} --runs ${home} select 1 --run-dir)" && pwd`,
      ],
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(sh.stdout), `${home}/${newer}\n`);
    await fails(
      cli,
      home,
      ["select", "1", "--run-dir", "--meta-dir"],
      /--run-dir or --meta-dir, not both/,
      2,
    );
    await fails(cli, home, ["select", "1:2"], /"1:2" names 2 runs/);
  });
});

// --- diff ----------------------------------------------------------------------------

Deno.test("diff: config, summary metrics and source files that differ; text and JSON; exit 0", async () => {
  await withProject({
    "gage.toml": GAGE,
    "train.py": "v1\n",
    "gone.py": "old\n",
    "same.py": "same\n",
  }, async (project, home) => {
    const cli = cliFor(project, home);
    const a = await runOp(cli, "a");
    await Deno.writeTextFile(`${project}/train.py`, "v2\n");
    await Deno.remove(`${project}/gone.py`);
    await Deno.writeTextFile(`${project}/new.py`, "new\n");
    const b = await runOp(cli, "a");
    const meta = (id: string) => `${home}/${id}.meta`;
    await Deno.writeTextFile(
      `${meta(a)}/config.json`,
      '{"epochs": 3, "lr": 0.1, "old": "x", "same": 1}',
    );
    await Deno.writeTextFile(
      `${meta(b)}/config.json`,
      '{"epochs": "3", "lr": 0.2, "new": true, "same": 1}',
    );
    await Deno.writeTextFile(`${meta(a)}/summary.json`, '{"metrics": {"loss": 0.5, "acc": 0.9}}');
    await Deno.writeTextFile(`${meta(b)}/summary.json`, '{"metrics": {"loss": 0.25, "acc": 0.9}}');

    const d = await json<Record<string, unknown>>(cli("diff", "2", "1", "--json"));
    assert.deepEqual(d.a, { id: a, name: runName(a) });
    assert.deepEqual(d.b, { id: b, name: runName(b) });
    assert.deepEqual(d.config, [
      { key: "epochs", a: 3, b: "3" },
      { key: "lr", a: 0.1, b: 0.2 },
      { key: "new", b: true },
      { key: "old", a: "x" },
    ]);
    assert.deepEqual(d.metrics, [{ key: "loss", a: 0.5, b: 0.25 }]);
    assert.deepEqual(d.sourcecode, {
      added: ["new.py"],
      removed: ["gone.py"],
      changed: ["train.py"],
    });

    assert.equal(
      await ok(cli("diff", a, b)),
      [
        `--- ${runName(a)} (${a})`,
        `+++ ${runName(b)} (${b})`,
        "config:",
        '  epochs: 3 -> "3"',
        "  lr: 0.1 -> 0.2",
        "  new: (absent) -> true",
        '  old: "x" -> (absent)',
        "summary:",
        "  loss: 0.5 -> 0.25",
        "sourcecode:",
        "  + new.py",
        "  - gone.py",
        "  ~ train.py",
        "",
      ].join("\n"),
    );
    // The other way round, the changes turn around.
    const back = await json<{ sourcecode: object }>(cli("diff", b, a, "--json"));
    assert.deepEqual(back.sourcecode, {
      added: ["gone.py"],
      removed: ["new.py"],
      changed: ["train.py"],
    });
    // A run against itself: nothing differs, still exit 0.
    assert.match(
      await ok(cli("diff", "1", "1")),
      /^no differences in config, summary or source code$/m,
    );
    // A run without a manifest yet: source code is not compared, the rest is.
    await Deno.remove(`${meta(b)}/manifest`);
    const partial = await json<{ sourcecode: null; metrics: unknown[] }>(
      cli("diff", a, b, "--json"),
    );
    assert.equal(partial.sourcecode, null);
    assert.equal(partial.metrics.length, 1);
    assert.match(
      await ok(cli("diff", a, b)),
      /^sourcecode: not compared \(a run has no manifest yet\)$/m,
    );
    await fails(cli, home, ["diff", "1"], /missing required argument 'run2'/, 2);
    await fails(cli, home, ["diff", "1", "zzz"], /no run matches "zzz"/);
  });
});

// --- delete, restore, purge ----------------------------------------------------------

Deno.test("delete and restore: a round trip leaves the runs home byte for byte as it was", async () => {
  await withProject({ "gage.toml": GAGE, "train.py": "x\n" }, async (project, home) => {
    const cli = cliFor(project, home);
    const ids = [await runOp(cli, "a"), await runOp(cli, "b"), await runOp(cli, "a")];
    await ok(cli("label", "1", "keep"));
    const before = await snapshot(home);

    const deleted = await ok(cli("delete", "2:3"));
    assert.equal(
      deleted,
      `Deleted 2 runs: ${runName(ids[1])}, ${runName(ids[0])}` +
        ` (undo with "runstage restore ${runName(ids[1])} ${runName(ids[0])}")\n`,
    );
    // The three parts of each run moved, untouched, into the trash.
    const trash = await snapshot(`${home}/.trash`);
    const partsOf = (snap: string[], id: string) => snap.filter((e) => e.startsWith(id));
    for (const id of ids.slice(0, 2)) {
      assert.deepEqual(partsOf(trash, id), partsOf(before, id));
      assert.ok(partsOf(trash, id).some((e) => e.startsWith(`${id}/`)));
      assert.ok(partsOf(trash, id).some((e) => e.startsWith(`${id}.project`)));
    }
    assert.deepEqual(
      (await json<{ id: string }[]>(cli("runs", "--json"))).map((r) => r.id),
      [ids[2]],
    );
    const everything = await json<{ id: string; status: string; index: number | null }[]>(
      cli("runs", "--all", "--json"),
    );
    assert.deepEqual(everything.map((r) => [r.id, r.status, r.index]), [
      [ids[2], "completed", 1],
      [ids[1], "deleted", null],
      [ids[0], "deleted", null],
    ]);
    const allText = rows(await ok(cli("runs", "--all")));
    assert.match(allText[2], new RegExp(`^\\s+${runName(ids[1])}\\s+b\\s+deleted`));
    assert.deepEqual(
      (await json<{ id: string; index: number }[]>(cli("runs", "--deleted", "--json")))
        .map((r) => [r.id, r.index]),
      [[ids[1], 1], [ids[0], 2]],
    );
    assert.deepEqual(
      (await json<unknown[]>(cli("runs", "--all", "--status", "deleted", "--json"))).length,
      2,
    );
    // Only live runs are named by show, select, delete.
    await fails(cli, home, ["show", runName(ids[0])], /no run matches/);
    await fails(cli, home, ["delete", runName(ids[0])], /no run matches/);

    assert.equal(await ok(cli("restore", "2")), `Restored 1 run: ${runName(ids[0])}\n`);
    assert.equal(
      await ok(cli("restore", ids[1].slice(0, 8))),
      `Restored 1 run: ${runName(ids[1])}\n`,
    );
    assert.deepEqual(await snapshot(home), before, "the round trip changed the runs home");

    // Delete several by several specs, restore all by one slice.
    // "1" and "keep" name the same run: it is deleted once.
    assert.match(
      await ok(cli("delete", "1", ids[1].slice(0, 8), runName(ids[0]), "keep")),
      /^Deleted 3 runs: /,
    );
    assert.deepEqual(await json(cli("runs", "--json")), []);
    await ok(cli("restore", ":"));
    assert.deepEqual(await snapshot(home), before);

    await fails(cli, home, ["restore", "1"], /no deleted runs in .*: the trash is empty/);
    await ok(cli("delete", "1"));
    await fails(cli, home, ["restore", "zzz"], /no deleted run matches "zzz".*runs --deleted/);
    await fails(
      cli,
      home,
      // Nine digits: past the last index an all-digit spec may be an id prefix, and
      // no id can start so (its ninth character is "-"); "2" would name a run whose
      // id starts with 2 one time in sixteen.
      ["restore", "123456789"],
      /no run at index 123456789: there is 1 run \(see "runstage runs --deleted"\)/,
    );
    await fails(cli, home, ["delete", "3:1"], /bad slice "3:1"/);
    await fails(
      cli,
      home,
      ["delete", "1", "123456789"],
      /no run at index 123456789: there are 2 runs/,
    );
    await fails(
      cli,
      home,
      ["delete"],
      /name the runs \(RUN\.\.\.\) or select them with --where/,
      2,
    );
  });
});

Deno.test("delete and purge refuse a running run, and leave everything as it was", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    await runOp(cli, "b");
    const [cmd, args] = runstageCommand(["-C", project, "--runs", home, "run", "sleepy"]);
    const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "null", stdin: "null" })
      .spawn();
    let lockPid: number | undefined;
    try {
      const deadline = Date.now() + 30_000;
      while (lockPid === undefined && Date.now() < deadline) {
        const running = (await json<{ status: string; metaDir: string }[]>(cli("runs", "--json")))
          .find((r) => r.status === "running");
        // proc/lock (`<pid> <host> <start>`) names runstage itself while it stages
        // and between phases, and is gone for a moment after staging: wait for the op's.
        const lock = running &&
          await Deno.readTextFile(`${running.metaDir}/proc/lock`).catch(() => undefined);
        const pid = lock ? Number(lock.split(" ")[0]) : undefined;
        if (pid !== undefined && pid !== child.pid) lockPid = pid;
        else await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(lockPid, "the sleepy run shows as running");
      // Let runstage finish writing what it writes as the op starts: the checks
      // below compare the runs home before and after.
      await new Promise((r) => setTimeout(r, 500));
      const message = new RegExp(`it is running \\(pid ${lockPid}\\); wait for it to finish`);
      await fails(
        cli,
        home,
        ["delete", "1:2"],
        new RegExp(`^runstage: cannot delete run .*: ${message.source}`),
      );
      await fails(cli, home, ["purge", "-y", "1"], /cannot purge run .*: it is running/);
      // Labelling a running run is fine: it writes only its own meta file.
      await ok(cli("label", "1", "in flight"));
    } finally {
      if (lockPid) Deno.kill(lockPid, "SIGTERM");
      else child.kill("SIGTERM");
      await child.status;
    }
    const after = await json<{ status: string }[]>(cli("runs", "--json"));
    assert.deepEqual(after.map((r) => r.status), ["terminated", "completed"]);
    await ok(cli("delete", "1"));
  });
});

Deno.test("purge: refuses without -y when no one can be asked; -y, --deleted, --trash remove for good", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    const ids = [
      await runOp(cli, "a"),
      await runOp(cli, "b"),
      await runOp(cli, "a"),
      await runOp(cli, "b"),
    ];
    // Tests run runstage with stdin from /dev/null: not a terminal.
    await fails(
      cli,
      home,
      ["purge", "1"],
      /purging 1 run cannot be undone and stdin is not a terminal.*pass -y/,
    );
    await fails(cli, home, ["purge", "1:4"], /purging 4 runs cannot be undone/);
    await fails(cli, home, ["purge"], /purge takes RUN\.\.\. or --trash/, 2);
    await fails(cli, home, ["purge", "1", "--trash", "-y"], /purge takes RUN\.\.\. or --trash/, 2);
    await fails(cli, home, ["purge", "--trash", "-y"], /the trash of .* is empty/);

    assert.equal(await ok(cli("purge", "-y", "1")), `Purged 1 run: ${runName(ids[3])}\n`);
    assert.ok(!(await listTree(home)).some((p) => p.startsWith(ids[3])), "every part is gone");

    await ok(cli("delete", "1:2"));
    const trashBefore = await snapshot(`${home}/.trash`);
    await fails(cli, home, ["purge", "--deleted", "1"], /stdin is not a terminal/);
    assert.deepEqual(await snapshot(`${home}/.trash`), trashBefore);
    assert.equal(
      await ok(cli("purge", "--deleted", "--yes", "1")),
      `Purged 1 run: ${runName(ids[2])}\n`,
    );
    await ok(cli("delete", "1"));
    assert.equal(
      await ok(cli("purge", "--trash", "-y")),
      `Purged 2 runs: ${runName(ids[1])}, ${runName(ids[0])}\n`,
    );
    assert.deepEqual(await runsHomeParts(home), [], "the trash goes with its last run");
  });
});

/** What a runs home holds besides its digest cache (`.cache/`, kept across purges). */
async function runsHomeParts(home: string): Promise<string[]> {
  return (await listTree(home)).filter((p) => !p.startsWith(".cache/"));
}

/** `script` gives runstage a terminal, so it asks; absent on some systems. */
const hasScript = await new Deno.Command("sh", {
  args: ["-c", "command -v script"],
  stdout: "null",
})
  .output().then((o) => o.success, () => false);

Deno.test({
  name: "purge asks on a terminal: no keeps the runs, yes purges them",
  ignore: !hasScript,
  async fn() {
    await withProject({ "gage.toml": GAGE }, async (project, home) => {
      const cli = cliFor(project, home);
      const id = await runOp(cli, "a");
      await ok(cli("label", "1", "precious"));
      const [cmd, args] = runstageCommand(["-C", project, "--runs", home, "purge", "1"]);
      const quoted = [cmd, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
      const answer = async (text: string) => {
        const child = new Deno.Command("script", {
          args: ["-qec", quoted, "/dev/null"],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const writer = child.stdin.getWriter();
        await writer.write(new TextEncoder().encode(text));
        // Stdin stays open until runstage is done: EOF on a terminal would answer for us.
        const out = await child.output();
        await writer.close().catch(() => {});
        return new TextDecoder().decode(out.stdout);
      };
      const no = await answer("n\n");
      assert.match(no, /precious/, "the runs are listed before the question");
      assert.match(no, /Purge 1 run\? \[y\/N\]/);
      assert.match(no, /nothing purged/);
      assert.equal((await json<unknown[]>(cli("runs", "--json"))).length, 1);
      const yes = await answer("y\n");
      assert.match(yes, new RegExp(`Purged 1 run: ${runName(id)}`));
      assert.deepEqual(await runsHomeParts(home), []);
    });
  },
});

// --- half-written runs and scale -----------------------------------------------------

Deno.test("runs, show and diff read runs homes holding half-written runs without crashing", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    const whole = await runOp(cli, "a");
    const onlyId = fakeId(0xd1);
    const empty = fakeId(0xd2);
    await writeTree(home, {
      [`${onlyId}.meta/id`]: onlyId,
      [`${whole}.meta/summary.json`]: '{"metrics": {"lo',
      "stray.txt": "not a run",
    });
    await Deno.mkdir(`${home}/${empty}.meta`);
    const listed = await json<{ id: string; status: string; op: string }[]>(cli("runs", "--json"));
    assert.deepEqual(listed.map((r) => [r.id, r.status]), [
      [whole, "completed"],
      ...[[onlyId, "unknown"], [empty, "unknown"]].sort(),
    ]);
    const table = rows(await ok(cli("runs", "--all")));
    assert.equal(table.length, 4);
    assert.match(table[2], /^\[2\]\s+\w+-\w+\s+unknown$/);
    for (const id of [onlyId, empty]) {
      const shown = await json<{ status: string; files: unknown[]; summary: null }>(
        cli("show", id, "--json"),
      );
      assert.deepEqual([shown.status, shown.files, shown.summary], ["unknown", [], null]);
      assert.match(await ok(cli("show", id)), /^status:\s+unknown$/m);
      const d = await json<{ sourcecode: null }>(cli("diff", whole, id, "--json"));
      assert.equal(d.sourcecode, null);
      await fails(cli, home, ["cat", id, "--output"], /has no output for phase run/);
      await fails(cli, home, ["cat", id, "x.txt"], /has no file "x.txt"/);
      assert.equal(await ok(cli("select", id, "--run-dir")), `${home}/${id}\n`);
    }
    // A half-written run can be deleted and restored like any other: the parts it has move.
    await ok(cli("delete", onlyId));
    await ok(cli("restore", onlyId));
    assert.deepEqual(await listTree(`${home}/${onlyId}.meta`), ["id"]);
  });
});

Deno.test("runs --json lists 1,000 runs, newest first, with their statuses", async () => {
  await withTempDir(async (home) => {
    const t0 = 1_700_000_000_000_000;
    for (let i = 0; i < 1000; i++) {
      const id = crypto.randomUUID();
      await writeTree(home, fakeRunFiles({ id, initialized: t0 + i * 1000, exit: i % 7 ? 0 : 1 }));
    }
    await Deno.mkdir(`${home}/${crypto.randomUUID()}`);
    const listed = await json<{ index: number; status: string; initialized: number }[]>(
      runstage(["--runs", home, "runs", "--json"], { cwd: home }),
    );
    assert.equal(listed.length, 1000);
    assert.equal(listed[0].initialized, t0 + 999_000, "newest first");
    assert.equal(listed.filter((r) => r.status === "error").length, 143);
  });
});

// --- help ----------------------------------------------------------------------------

Deno.test("every run-managing command has --help describing how runs are named", async () => {
  for (
    const command of [
      "runs",
      "show",
      "cat",
      "label",
      "delete",
      "restore",
      "purge",
      "select",
      "diff",
    ]
  ) {
    const help = await runstage([command, "--help"]);
    assert.equal(help.code, 0, command);
    assert.match(help.stdout, new RegExp(`^Usage: runstage ${command} `, "m"));
    if (command !== "runs") assert.match(help.stdout, /slice/, `${command} --help names slices`);
  }
  const runsHelp = (await runstage(["runs", "--help"])).stdout;
  for (const flag of ["--op", "--status", "--label", "--limit", "--all", "--deleted", "--json"]) {
    assert.ok(runsHelp.includes(flag), `runs --help has ${flag}`);
  }
});
