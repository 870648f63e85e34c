/**
 * Config discovery and project-files dependencies read only the dirs their
 * globs can match in, and a wildcard never leads them out of the project.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { globReach } from "../../../lib/fs/globreach.ts";
import { findConfigFiles } from "../../../lib/config/discover.ts";
import { projectPaths } from "../../../lib/depends/projectfiles.ts";
import { withProject, withTempDir } from "../../support/fixtures.ts";

Deno.test("globReach: the dirs a glob can match below", () => {
  const cases: [string, string[], string[]][] = [
    ["train.py", [""], ["conf", "src"]],
    ["conf/*.yaml", ["", "conf"], ["conf/deep", "data", "confx"]],
    ["conf/**/*.yaml", ["", "conf", "conf/a/b"], ["data"]],
    ["src/*/test/*.py", ["", "src", "src/pkg", "src/pkg/test"], ["src/pkg/lib", "lib"]],
    ["{a,b/c}/*.py", ["", "a", "b", "b/c", "x"], []],
  ];
  for (const [glob, reached, notReached] of cases) {
    const reach = globReach(glob, { dot: true });
    for (const dir of reached) assert.ok(reach.reachesBelow(dir), `${glob} reaches below ${dir}`);
    for (const dir of notReached) assert.ok(!reach.reachesBelow(dir), `${glob} not below ${dir}`);
  }
  assert.ok(!globReach("**/*.yaml", { dot: false }).reachesBelow(".hidden"));
  assert.ok(globReach("**/*.yaml", { dot: true }).reachesBelow(".hidden"));
  assert.ok(globReach("data/*.csv", { dot: true }).names("data"));
  assert.ok(!globReach("**/*.csv", { dot: true }).names("data"));
});

/** A project with a link to `/`, a link to a dir outside, and dirs no glob below needs. */
async function withBigNeighbours(fn: (project: string, runsHome: string) => Promise<void>) {
  await withTempDir(async (outside) => {
    await Deno.writeTextFile(join(outside, "x.yaml"), "a: 1\n");
    await Deno.writeTextFile(join(outside, "x.csv"), "a\n");
    await withProject({
      "conf/a.yaml": "a: 1\n",
      "conf/deep/b.yaml": "b: 1\n",
      "data/a.csv": "a\n",
      "data/raw/b.csv": "b\n",
      "src/c.csv": "c\n",
    }, async (project, runsHome) => {
      await Deno.symlink("/", join(project, "root_link"));
      await Deno.symlink(outside, join(project, "store"));
      await fn(project, runsHome);
    });
  });
}

Deno.test("config discovery reads only dirs a glob can match in, and names links out", async () => {
  await withBigNeighbours(async (project) => {
    const read: string[] = [];
    const onDirRead = (rel: string) => read.push(rel);
    assert.deepEqual(await findConfigFiles(project, ["conf/*.yaml"], { onDirRead }), [
      "conf/a.yaml",
    ]);
    assert.deepEqual(read, ["", "conf"]);
    read.length = 0;
    assert.deepEqual(await findConfigFiles(project, ["**/*.yaml"], { onDirRead }), [
      "conf/a.yaml",
      "conf/deep/b.yaml",
    ]);
    assert.deepEqual(read, ["", "conf", "conf/deep", "data", "data/raw", "src"]);
    assert.deepEqual(await findConfigFiles(project, ["store/*.yaml"]), ["store/x.yaml"]);
  });
});

Deno.test("project-files dependencies read only dirs a pattern can select in", async () => {
  await withBigNeighbours(async (project, runsHome) => {
    const read: string[] = [];
    const onDirRead = (rel: string) => read.push(rel);
    const found = await projectPaths(project, runsHome, ["data/*"], undefined, onDirRead);
    assert.deepEqual(found.sort(), ["data/a.csv", "data/raw/b.csv"]);
    assert.deepEqual(read, ["", "data", "data/raw"]);
    read.length = 0;
    const wild = await projectPaths(project, runsHome, ["**/*.csv"], undefined, onDirRead);
    assert.ok(!wild.some((p) => p.startsWith("root_link/") || p.startsWith("store/")));
    assert.deepEqual(read, ["", "conf", "conf/deep", "data", "data/raw", "src"]);
    // Named in the fixed part: followed (selectPaths then filters what it lists).
    assert.ok((await projectPaths(project, runsHome, ["store/*.csv"])).includes("store/x.csv"));
  });
});
