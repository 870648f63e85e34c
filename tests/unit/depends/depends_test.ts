/**
 * lib/depends/depends.ts: reading `depends` (runstage's shape and Gage's), resolving
 * project files and other runs' files before a run is written, putting them in
 * the run dir, and the meta `deps.json`. Projects and runs are real dirs in a
 * temp dir; runs are made with lib/run/meta.ts as runstage makes them, so their
 * order, op and status come from their meta files.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { parseGageFile } from "../../../lib/gagefile/parse.ts";
import {
  applyDepends,
  type Dependency,
  dependencyFlagNames,
  dependsMeta,
  readDepends,
  type ResolvedDependency,
  resolveDepends,
} from "../../../lib/depends/depends.ts";
import { initRunMeta, writeMeta } from "../../../lib/run/meta.ts";
import type { OpDef } from "../../../lib/gagefile/opdef.ts";
import { opNamespace } from "../../../lib/gagefile/project.ts";
import { makeRun, type Run } from "../../../lib/run/identity.ts";
import { assertUserError, assertUserErrorAsync } from "../../support/fixtures.ts";

// --- fixtures ---------------------------------------------------------------------

interface Fixture {
  projectDir: string;
  runsHome: string;
}

/** A project dir with the default runs home inside it, removed afterwards. */
async function withProject(
  files: Record<string, string>,
  fn: (fx: Fixture) => Promise<void>,
): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "runstage-depends-" }));
  try {
    const projectDir = `${dir}/my project`;
    await writeFiles(projectDir, files);
    await fn({ projectDir, runsHome: `${projectDir}/.gage/runs` });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  await Deno.mkdir(root, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, content);
  }
}

function opdef(name: string, raw: Record<string, unknown> = {}): OpDef {
  return { name, default: false, exec: {}, sourcecode: undefined, env: {}, raw };
}

/**
 * A run of `op` as runstage writes one, with `files` in its run dir; `exit`
 * null leaves it staged. Runs made later are newer (meta timestamps rise).
 */
async function makeOpRun(
  fx: Fixture,
  op: string,
  files: Record<string, string>,
  exit: number | null = 0,
  namespace = opNamespace(fx.projectDir),
): Promise<Run> {
  const run = makeRun(fx.runsHome);
  initRunMeta(run, {
    opref: { namespace, name: op },
    opdef: opdef(op),
    config: {},
    cmd: undefined,
    env: {},
  }, fx.projectDir);
  await writeFiles(run.runDir, files);
  writeMeta(run, "staged", "1");
  if (exit !== null) writeMeta(run, "proc/exit", String(exit));
  return run;
}

function deps(raw: unknown, name = "train"): Dependency[] {
  return readDepends(opdef(name, { depends: raw }));
}

async function resolve(
  fx: Fixture,
  raw: unknown,
  picks: Record<string, string> = {},
): Promise<ResolvedDependency[]> {
  return await resolveDepends(deps(raw), { ...fx, picks });
}

/** Run-dir paths of each resolved dependency. */
function tos(resolved: ResolvedDependency[]): string[][] {
  return resolved.map((r) => r.files.map((f) => f.to));
}

async function withRunDir(fn: (runDir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "runstage-depends-run-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// --- reading --------------------------------------------------------------------------

Deno.test("readDepends: the documented TOML shape, typed", () => {
  const text = [
    "[train]",
    "[[train.depends]]",
    'type = "project-files"',
    'files = ["data/*.csv", "-data/skip.csv"]',
    "link = true",
    "[[train.depends]]",
    'type = "run-files"',
    'name = "prepared"',
    'op = "prepare"',
    'description = "Prepared data"',
    'files = ["out/**"]',
    'target = "inputs/"',
  ].join("\n");
  const [op] = parseGageFile("gage.toml", text).ops;
  assert.deepEqual(readDepends(op), [
    {
      type: "project-files",
      entry: 1,
      name: "data/*.csv",
      description: undefined,
      files: ["data/*.csv", "-data/skip.csv"],
      link: true,
      target: "",
    },
    {
      type: "run-files",
      entry: 2,
      name: "prepared",
      description: "Prepared data",
      files: ["out/**"],
      link: false,
      target: "inputs",
      ops: ["prepare"],
    },
  ]);
});

Deno.test("readDepends: Gage's shapes read the same way", () => {
  // One table; files as one string; type implied by files.
  assert.deepEqual(deps({ files: "data.txt" }), [
    {
      type: "project-files",
      entry: 1,
      name: "data.txt",
      description: undefined,
      files: ["data.txt"],
      link: false,
      target: "",
    },
  ]);
  // run-select implies run-files; no files means every file.
  const [one, many] = deps([
    { "run-select": "op = prepare", files: "*.h5" },
    { type: "run-files", "run-select": 'op in [train, "train2"]', name: "model" },
  ]);
  assert.equal(one.type, "run-files");
  assert.deepEqual(one.type === "run-files" && one.ops, ["prepare"]);
  assert.equal(one.name, "prepare");
  assert.deepEqual(one.files, ["*.h5"]);
  assert.deepEqual(many.type === "run-files" && many.ops, ["train", "train2"]);
  assert.deepEqual(many.files, ["**", "-summary.json"]);
  // An op name alone: that op's latest run, every file.
  assert.deepEqual(deps(["prepare"]), [
    {
      type: "run-files",
      entry: 1,
      name: "prepare",
      files: ["**", "-summary.json"],
      link: false,
      target: "",
      ops: ["prepare"],
    },
  ]);
  // A project-files dependency is named by its first include pattern unless named.
  assert.equal(deps({ files: ["-x/skip", "x/**"] })[0].name, "x/**");
  assert.deepEqual(deps(undefined), []);
  assert.deepEqual(deps([]), []);
});

Deno.test("readDepends: errors name the op, the entry and the attribute", () => {
  const cases: [unknown, RegExp][] = [
    [
      [{ files: "a" }, { type: "run-files", op: "prep", file: "x" }],
      /^op "train": depends entry 2: unknown attribute "file" for a run-files dependency; valid attributes are: type, name, description, files, link, target, op, run-select$/,
    ],
    [
      [{ files: 3 }],
      /^op "train": depends entry 1: attribute "files" must be a glob or a non-empty list of globs \(got number\)$/,
    ],
    [[{ files: [] }], /attribute "files" .*\(got empty list\)$/],
    [[{ files: ["ok", 1] }], /\(got list with a number item\)$/],
    [[{ files: ["/etc/passwd"] }], /pattern "\/etc\/passwd" in "files" is absolute/],
    [[{ files: ["../secret"] }], /pattern "..\/secret" in "files" climbs out with \.\./],
    [[{ files: ["!x"] }], /exclude with -, as in -x$/],
    [[{ files: ["-x"] }], /attribute "files" only excludes/],
    [[{ type: "runs-summary" }], /must be "project-files" or "run-files" \(got "runs-summary"\)/],
    [[{ link: true }], /^op "train": depends entry 1: give it a type/],
    [[{ type: "run-files" }], /depends entry 1: a run-files dependency needs op/],
    [[{ op: "a", "run-select": "op = a" }], /give op or run-select, not both/],
    [[{ "run-select": "op = a and started after 1 day ago" }], /run-select .* is not supported/],
    [[{ op: "p", target: "../up" }], /attribute "target" "..\/up" leaves the run dir/],
    [[{ op: "p", target: "/abs" }], /attribute "target" "\/abs" leaves the run dir/],
    [[{ op: "p", target: "a/../../b" }], /leaves the run dir/],
    [[{ op: "p", name: "a b" }], /attribute "name" must be a non-empty string without spaces or =/],
    [[{ op: "p", name: "a=b" }], /attribute "name"/],
    [[{ op: "p", link: "yes" }], /attribute "link" must be true or false \(got string\)$/],
    [[{ op: "has space" }], /attribute "op" must be an op name/],
    [
      [7],
      /^op "train": depends entry 1 must be a table of attributes or an op name \(got number\)$/,
    ],
    [
      [{ op: "a", name: "data" }, { op: "b", name: "data" }],
      /^op "train": depends entries 1 and 2 are both named "data" but read runs of different ops; give each its own name$/,
    ],
  ];
  for (const [raw, pattern] of cases) {
    assertUserError(() => deps(raw), pattern);
  }
});

Deno.test("dependencyFlagNames: each run-files name once, no project-files", () => {
  const list = deps([
    { files: "data/*" },
    { op: "prepare" },
    { op: "prepare", files: "b/*", target: "b" },
    { op: "train", name: "model" },
  ]);
  assert.deepEqual(dependencyFlagNames(list), ["prepare", "model"]);
  assert.deepEqual(dependencyFlagNames(deps([{ files: "x" }])), []);
});

// --- project files ---------------------------------------------------------------------

const PROJECT = {
  "train.py": "print(1)\n",
  "data/a.csv": "a\n",
  "data/b.csv": "b\n",
  "data/notes.txt": "notes\n",
  "data/raw/c.csv": "c\n",
  ".git/x.csv": "not a project file\n",
};

Deno.test("project-files: globs select project paths; the files are copied with their modes", async () => {
  await withProject(PROJECT, async (fx) => {
    await Deno.chmod(`${fx.projectDir}/data/a.csv`, 0o750);
    await Deno.chmod(`${fx.projectDir}/data/b.csv`, 0o600);
    const resolved = await resolve(fx, [{ files: "data/*.csv" }]);
    assert.deepEqual(resolved[0].files, [
      { from: `${fx.projectDir}/data/a.csv`, to: "data/a.csv" },
      { from: `${fx.projectDir}/data/b.csv`, to: "data/b.csv" },
    ]);
    assert.equal(resolved[0].sourceRun, undefined);
    await withRunDir(async (runDir) => {
      const copied = await applyDepends(runDir, resolved);
      for (const [path, mode] of [["data/a.csv", 0o750], ["data/b.csv", 0o600]] as const) {
        const st = await Deno.lstat(`${runDir}/${path}`);
        assert.ok(st.isFile, `${path} is a copy, not a link`);
        assert.equal(st.mode! & 0o777, mode, path);
        assert.equal(
          await Deno.readTextFile(`${runDir}/${path}`),
          path === "data/a.csv" ? "a\n" : "b\n",
        );
      }
      // The digests of the copies, for the manifest, are the files' SHA-256.
      assert.deepEqual(
        copied.map((c) => [c.path, c.digest]).sort(),
        [
          ["data/a.csv", createHash("sha256").update("a\n").digest("hex")],
          ["data/b.csv", createHash("sha256").update("b\n").digest("hex")],
        ],
      );
    });
  });
});

Deno.test("project-files with link = true: symlinks to the project files", async () => {
  await withProject(PROJECT, async (fx) => {
    const resolved = await resolve(fx, [{ files: ["data/a.csv"], link: true, target: "in" }]);
    await withRunDir(async (runDir) => {
      const copied = await applyDepends(runDir, resolved);
      assert.deepEqual(copied, []);
      const st = await Deno.lstat(`${runDir}/in/data/a.csv`);
      assert.ok(st.isSymlink);
      assert.equal(await Deno.readLink(`${runDir}/in/data/a.csv`), `${fx.projectDir}/data/a.csv`);
      assert.equal(await Deno.readTextFile(`${runDir}/in/data/a.csv`), "a\n");
    });
  });
});

Deno.test("project-files: a dir selects all below it; - excludes; .git and the runs home never", async () => {
  await withProject(PROJECT, async (fx) => {
    await makeOpRun(fx, "prepare", { "data/in-run.csv": "run\n" });
    assert.deepEqual(tos(await resolve(fx, [{ files: ["data", "-data/raw"] }])), [
      ["data/a.csv", "data/b.csv", "data/notes.txt"],
    ]);
    assert.deepEqual(tos(await resolve(fx, [{ files: "**/*.csv" }])), [
      ["data/a.csv", "data/b.csv", "data/raw/c.csv"],
    ]);
    assert.deepEqual(tos(await resolve(fx, [{ files: "./data/raw/c.csv" }])), [["data/raw/c.csv"]]);
  });
});

Deno.test("project-files: symlinked data dirs are followed", async () => {
  await withProject(PROJECT, async (fx) => {
    await writeFiles(`${fx.projectDir}/../elsewhere`, { "big.bin": "big\n" });
    await Deno.symlink(`${fx.projectDir}/../elsewhere`, `${fx.projectDir}/store`);
    const [dep] = await resolve(fx, [{ files: "store/**" }]);
    assert.deepEqual(dep.files, [{ from: `${fx.projectDir}/store/big.bin`, to: "store/big.bin" }]);
  });
});

Deno.test("project-files: a pattern matching no file is an error before anything is written", async () => {
  await withProject(PROJECT, async (fx) => {
    await assertUserErrorAsync(
      () => resolve(fx, [{ files: ["data/*.csv", "data/missing.csv"] }]),
      /^dependency "data\/\*\.csv" \(depends entry 1\): "data\/missing\.csv" matches no project file; fix the pattern or create the file$/,
    );
    await assertUserErrorAsync(
      () => resolve(fx, [{ files: ["data/*.csv", "-data/*"] }]),
      /its exclude patterns leave no file/,
    );
    await assert.rejects(Deno.stat(fx.runsHome), Deno.errors.NotFound);
  });
});

// --- run files -------------------------------------------------------------------------

/** Two completed prepare runs, a newer failed one, and newer runs that must not count. */
async function prepareRuns(fx: Fixture) {
  const oldest = await makeOpRun(fx, "prepare", { "out/x.txt": "1\n", "log.txt": "l1\n" });
  const latest = await makeOpRun(fx, "prepare", {
    "out/x.txt": "2\n",
    "out/tmp/scratch": "s\n",
    "log.txt": "l2\n",
    "summary.json": '{"loss": 1}',
    "sub/summary.json": "{}",
  });
  const failed = await makeOpRun(fx, "prepare", { "out/x.txt": "3\n" }, 1);
  const staged = await makeOpRun(fx, "prepare", { "out/x.txt": "4\n" }, null);
  const other = await makeOpRun(fx, "train", { "out/x.txt": "5\n" });
  const otherProject = await makeOpRun(fx, "prepare", { "out/x.txt": "6\n" }, 0, "another");
  return { oldest, latest, failed, staged, other, otherProject };
}

Deno.test("run-files: the latest completed run of the op in this project", async () => {
  await withProject({}, async (fx) => {
    const { latest } = await prepareRuns(fx);
    const [dep] = await resolve(fx, [{ op: "prepare", name: "prepared" }]);
    assert.deepEqual(dep.sourceRun, { id: latest.id, name: latest.name, op: "prepare" });
    // Every file but the run's own summary, which would pass for this run's.
    assert.deepEqual(dep.files, [
      { from: `${latest.runDir}/log.txt`, to: "log.txt" },
      { from: `${latest.runDir}/out/tmp/scratch`, to: "out/tmp/scratch" },
      { from: `${latest.runDir}/out/x.txt`, to: "out/x.txt" },
      { from: `${latest.runDir}/sub/summary.json`, to: "sub/summary.json" },
    ]);
    await withRunDir(async (runDir) => {
      await applyDepends(runDir, [dep]);
      assert.equal(await Deno.readTextFile(`${runDir}/out/x.txt`), "2\n");
    });
  });
});

Deno.test("run-files: globs over the run's paths, under a target dir", async () => {
  await withProject({}, async (fx) => {
    const { latest } = await prepareRuns(fx);
    const [dep] = await resolve(fx, [
      { op: "prepare", files: ["out/**", "-out/tmp/**"], target: "inputs/" },
    ]);
    assert.deepEqual(dep.files, [{ from: `${latest.runDir}/out/x.txt`, to: "inputs/out/x.txt" }]);
    await assertUserErrorAsync(
      () => resolve(fx, [{ op: "prepare", files: ["*.h5"] }]),
      new RegExp(
        `^dependency "prepare" \\(depends entry 1\\): "\\*\\.h5" matches no file of run ` +
          `${latest.name} \\(op prepare\\); fix the pattern, or pick another run with prepare=RUN$`,
      ),
    );
  });
});

Deno.test("run-files: NAME=RUN picks a run by index, name or id prefix", async () => {
  await withProject({}, async (fx) => {
    const { oldest } = await prepareRuns(fx);
    // Six runs, newest first: the oldest is index 6.
    for (const spec of ["6", oldest.name, oldest.id.slice(0, 13)]) {
      const [dep] = await resolve(fx, [{ op: "prepare", name: "prepared" }], { prepared: spec });
      assert.equal(dep.sourceRun?.id, oldest.id, spec);
      assert.equal(dep.files.find((f) => f.to === "out/x.txt")?.from, `${oldest.runDir}/out/x.txt`);
    }
  });
});

Deno.test("run-files: a picked run must be a completed run of the op", async () => {
  await withProject({}, async (fx) => {
    const { failed, staged, other } = await prepareRuns(fx);
    const pick = (spec: string) => () =>
      resolve(fx, [{ op: "prepare", name: "prepared" }], { prepared: spec });
    await assertUserErrorAsync(
      pick(failed.name),
      new RegExp(
        `^prepared=${failed.name} names run ${failed.name}, which is error: ` +
          `pick a completed run of op prepare$`,
      ),
    );
    await assertUserErrorAsync(pick(staged.name), /which is staged: pick a completed run/);
    await assertUserErrorAsync(
      pick(other.name),
      new RegExp(
        `^prepared=${other.name} names run ${other.name} of op train: pick a run of op prepare$`,
      ),
    );
    // Nine digits: past the last index an all-digit spec may be an id prefix, never this one.
    await assertUserErrorAsync(
      pick("123456789"),
      /^prepared=123456789: no run at index 123456789: there are 6 runs/,
    );
    await assertUserErrorAsync(
      () => resolve(fx, [{ op: "prepare", name: "prepared" }], { model: "1" }),
      /^model=1: no run-files dependency is named "model"; pick with prepared=RUN$/,
    );
  });
});

Deno.test("run-files: no completed run of the op names the fix", async () => {
  await withProject({}, async (fx) => {
    await assertUserErrorAsync(
      () => resolve(fx, [{ op: "prepare", name: "prepared" }]),
      /^no completed run of op prepare: run it first, or pass prepared=RUN$/,
    );
    // Failed runs, another op's runs and another project's runs do not count.
    await makeOpRun(fx, "prepare", { a: "1" }, 2);
    await makeOpRun(fx, "train", { a: "1" });
    await makeOpRun(fx, "prepare", { a: "1" }, 0, "another");
    await assertUserErrorAsync(
      () => resolve(fx, [{ op: "prepare", name: "prepared" }]),
      /^no completed run of op prepare: run it first, or pass prepared=RUN$/,
    );
  });
});

Deno.test("two dependencies wanting one run-dir path is an error; the same file twice is not", async () => {
  await withProject(PROJECT, async (fx) => {
    await prepareRuns(fx);
    await writeFiles(fx.projectDir, { "out/x.txt": "project\n" });
    await assertUserErrorAsync(
      () => resolve(fx, [{ files: "out/x.txt" }, { op: "prepare" }]),
      /^depends entries 1 and 2 both provide "out\/x\.txt"; give one a target dir$/,
    );
    await writeFiles(fx.projectDir, { "log.txt/inner": "dir\n" });
    await assertUserErrorAsync(
      () => resolve(fx, [{ files: "log.txt/inner" }, { op: "prepare", files: "log.txt" }]),
      /^depends entries 2 and 1 provide "log\.txt" and "log\.txt\/inner"; give one a target dir$/,
    );
    const same = await resolve(fx, [{ files: "data/a.csv" }, { files: "data/*.csv" }]);
    assert.deepEqual(tos(same), [["data/a.csv"], ["data/a.csv", "data/b.csv"]]);
  });
});

Deno.test("applyDepends replaces a file an earlier phase left, never writing through a link", async () => {
  await withProject(PROJECT, async (fx) => {
    const resolved = await resolve(fx, [{ files: "data/a.csv" }]);
    await withRunDir(async (runDir) => {
      await writeFiles(runDir, { "victim.txt": "keep\n" });
      await Deno.mkdir(`${runDir}/data`);
      await Deno.symlink(`${runDir}/victim.txt`, `${runDir}/data/a.csv`);
      await applyDepends(runDir, resolved);
      assert.ok((await Deno.lstat(`${runDir}/data/a.csv`)).isFile);
      assert.equal(await Deno.readTextFile(`${runDir}/data/a.csv`), "a\n");
      assert.equal(await Deno.readTextFile(`${runDir}/victim.txt`), "keep\n");
    });
  });
});

// --- meta ------------------------------------------------------------------------------

Deno.test("dependsMeta: type, name, source and provided paths of each dependency", async () => {
  await withProject(PROJECT, async (fx) => {
    const { latest } = await prepareRuns(fx);
    const resolved = await resolve(fx, [
      { files: "data/*.csv", link: true },
      { op: "prepare", name: "prepared", files: "out/x.txt", target: "inputs" },
    ]);
    assert.deepEqual(JSON.parse(JSON.stringify(dependsMeta(resolved))), [
      {
        type: "project-files",
        name: "data/*.csv",
        source: "project",
        link: true,
        paths: ["data/a.csv", "data/b.csv"],
      },
      {
        type: "run-files",
        name: "prepared",
        source: { id: latest.id, name: latest.name, op: "prepare" },
        link: false,
        paths: ["inputs/out/x.txt"],
      },
    ]);
  });
});
