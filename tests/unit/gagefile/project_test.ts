import assert from "node:assert/strict";
import { join } from "node:path";
import { parseGageFile } from "../../../lib/gagefile/parse.ts";
import {
  openProject,
  opNamespace,
  type Project,
  resolveRunsHome,
  selectOp,
} from "../../../lib/gagefile/project.ts";
import {
  assertUserError,
  assertUserErrorAsync,
  withTempDir,
  writeFile,
} from "../../support/fixtures.ts";

/** A project made in memory from Gage file text, for the pure functions. */
function projectWith(text: string | undefined, dir = "/work/proj"): Project {
  return {
    dir,
    gagefile: text === undefined ? undefined : parseGageFile(join(dir, "gage.toml"), text),
  };
}

// --- openProject --------------------------------------------------------------------

Deno.test("openProject finds the nearest ancestor with a Gage file", async () => {
  await withTempDir(async (root) => {
    await writeFile(root, "gage.toml", "[outer]\n");
    const project = join(root, "proj");
    await writeFile(project, ".gage/gage.yaml", "inner: {}\n");
    const deep = join(project, "src", "pkg");
    await Deno.mkdir(deep, { recursive: true });

    const opened = await openProject({ cwd: deep });
    assert.equal(opened.dir, project);
    assert.equal(opened.gagefile?.path, join(project, ".gage/gage.yaml"));
    assert.deepEqual(opened.gagefile?.ops.map((op) => op.name), ["inner"]);
  });
});

Deno.test("openProject at the Gage file's own dir", async () => {
  await withTempDir(async (root) => {
    await writeFile(root, "gage.json", '{"a": {}}');
    const opened = await openProject({ cwd: root });
    assert.equal(opened.dir, root);
    assert.equal(opened.gagefile?.path, join(root, "gage.json"));
  });
});

Deno.test("openProject without any Gage file is the cwd, with no Gage file", async () => {
  await withTempDir(async (root) => {
    const sub = join(root, "sub");
    await Deno.mkdir(sub);
    const opened = await openProject({ cwd: sub });
    // Assumes no Gage file above the system temp dir, as on any sane machine.
    assert.equal(opened.dir, sub);
    assert.equal(opened.gagefile, undefined);
  });
});

Deno.test("openProject -C uses that dir, relative to cwd, without searching up", async () => {
  await withTempDir(async (root) => {
    await writeFile(root, "gage.toml", "[outer]\n");
    await Deno.mkdir(join(root, "other"));
    const opened = await openProject({ cwd: root, dir: "other" });
    assert.equal(opened.dir, join(root, "other"));
    assert.equal(opened.gagefile, undefined);

    await writeFile(root, "p2/gage.toml", "[p2op]\n");
    const p2 = await openProject({ cwd: join(root, "other"), dir: "../p2" });
    assert.equal(p2.dir, join(root, "p2"));
    assert.deepEqual(p2.gagefile?.ops.map((op) => op.name), ["p2op"]);
  });
});

Deno.test("openProject -C to a missing dir or a file is a user error", async () => {
  await withTempDir(async (root) => {
    await assertUserErrorAsync(
      openProject({ cwd: root, dir: "nope" }),
      /^-C nope: no such directory; /,
    );
    await writeFile(root, "file.txt", "");
    await assertUserErrorAsync(
      openProject({ cwd: root, dir: "file.txt" }),
      /^-C file\.txt: not a directory; /,
    );
  });
});

Deno.test("openProject reports a malformed Gage file", async () => {
  await withTempDir(async (root) => {
    await writeFile(root, "gage.toml", "[a\n");
    await assertUserErrorAsync(
      openProject({ cwd: root }),
      new RegExp(`^${RegExp.escape(join(root, "gage.toml"))}:1:\\d+: invalid TOML`),
    );
  });
});

// --- resolveRunsHome -------------------------------------------------------------------

Deno.test("runs home precedence: --runs > GAGE_RUNS > $runs-dir > .gage/runs", () => {
  const project = projectWith('"$runs-dir" = "../shared-runs"\n[a]\n');
  const cwd = "/home/me/here";
  const env = { GAGE_RUNS: "env-runs" };
  assert.equal(
    resolveRunsHome(project, { runs: "flag-runs", env, cwd }),
    "/home/me/here/flag-runs",
  );
  assert.equal(resolveRunsHome(project, { env, cwd }), "/home/me/here/env-runs");
  assert.equal(resolveRunsHome(project, { env: {}, cwd }), "/work/shared-runs");
  assert.equal(resolveRunsHome(projectWith("[a]\n"), { env: {}, cwd }), "/work/proj/.gage/runs");
  assert.equal(resolveRunsHome(projectWith(undefined), { env: {}, cwd }), "/work/proj/.gage/runs");
});

Deno.test("runs home paths are absolute and normalized", () => {
  const project = projectWith('"$runs-dir" = "./a/../runs/"\n');
  const cwd = "/x/y";
  assert.equal(resolveRunsHome(project, { runs: "../z/./r/", env: {}, cwd }), "/x/z/r");
  assert.equal(resolveRunsHome(project, { env: { GAGE_RUNS: "/abs//r" }, cwd }), "/abs/r");
  assert.equal(resolveRunsHome(project, { env: {}, cwd }), "/work/proj/runs");
  const absolute = projectWith('"$runs-dir" = "/var/runs"\n');
  assert.equal(resolveRunsHome(absolute, { env: {}, cwd }), "/var/runs");
});

Deno.test("an empty GAGE_RUNS is unset; an empty --runs is an error", () => {
  const project = projectWith("[a]\n");
  assert.equal(
    resolveRunsHome(project, { env: { GAGE_RUNS: "" }, cwd: "/c" }),
    "/work/proj/.gage/runs",
  );
  assertUserError(
    () => resolveRunsHome(project, { runs: "", env: {}, cwd: "/c" }),
    /^--runs needs a directory/,
  );
});

// --- selectOp ------------------------------------------------------------------------------

Deno.test("selectOp by name", () => {
  const project = projectWith("[prepare]\n[train]\n");
  assert.equal(selectOp(project, "train").name, "train");
  assert.equal(selectOp(project, "prepare").name, "prepare");
});

Deno.test("selectOp of an unknown op lists the ops", () => {
  assertUserError(
    () => selectOp(projectWith("[prepare]\n[train]\n"), "trian"),
    /^unknown op "trian" in "\/work\/proj\/gage\.toml"; ops are: prepare, train$/,
  );
  assertUserError(
    () => selectOp(projectWith('"$runs-dir" = "r"\n'), "train"),
    /^unknown op "train": "\/work\/proj\/gage\.toml" has no ops; /,
  );
});

Deno.test("selectOp without a name takes the default op", () => {
  const project = projectWith("[prepare]\n[train]\ndefault = true\n[test]\n");
  assert.equal(selectOp(project, undefined).name, "train");
});

Deno.test("selectOp without a name takes the only op", () => {
  assert.equal(selectOp(projectWith("[solo]\n"), undefined).name, "solo");
});

Deno.test("selectOp without a name among several ops asks to name one", () => {
  assertUserError(
    () => selectOp(projectWith("[prepare]\n[train]\n"), undefined),
    /^no op named and "\/work\/proj\/gage\.toml" has no default op; name one of: prepare, train/,
  );
  assertUserError(() => selectOp(projectWith(""), undefined), /gage\.toml" has no ops; /);
});

Deno.test("selectOp without a Gage file says how to make one", () => {
  assertUserError(
    () => selectOp(projectWith(undefined), "train"),
    /^no Gage file in "\/work\/proj": create gage\.toml with an op, or pass -C DIR$/,
  );
});

// --- opNamespace -----------------------------------------------------------------------------

Deno.test("opNamespace is the project dir's base name, whitespace runs as -", () => {
  assert.equal(opNamespace("/home/me/proj"), "proj");
  assert.equal(opNamespace("/home/me/My  Cool\tProject/"), "My-Cool-Project");
  assert.equal(opNamespace("/home/me dir/a b"), "a-b");
});
