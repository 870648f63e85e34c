/** Source selection stays in the project: a bounded walk, links out taken only on purpose. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { RunInterrupted } from "../../../lib/interrupt.ts";
import { selectSourcecode, type SourceSelection } from "../../../lib/source/select.ts";
import { withProject, withTempDir } from "../../support/fixtures.ts";

function paths(selection: SourceSelection): string[] {
  return selection.files.map((f) => f.path);
}

/** Selects with `spec`, recording the dirs the walk reads. */
async function selectReading(dir: string, spec: string[] | undefined) {
  const read: string[] = [];
  const selection = await selectSourcecode(dir, spec, { onDirRead: (rel) => read.push(rel) });
  return { selection, read };
}

Deno.test("the walk reads only dirs an include rule can match in", async () => {
  await withProject({
    "train.py": "x\n",
    "conf/a.yaml": "a: 1\n",
    "conf/deep/b.yaml": "b: 1\n",
    "data/huge/x.csv": "x\n",
    "src/model.py": "x\n",
  }, async (dir) => {
    await Deno.symlink("/", join(dir, "root_link"));
    const { selection, read } = await selectReading(dir, ["train.py", "conf/*.yaml"]);
    assert.deepEqual(paths(selection), ["conf/a.yaml", "train.py"]);
    assert.deepEqual(read, ["", "conf"]);
    assert.deepEqual(selection.warnings, []);
    // `**` reaches everything below its fixed part, and only that.
    const deep = await selectReading(dir, ["conf/**/*.yaml", "-conf/a.yaml"]);
    assert.deepEqual(paths(deep.selection), ["conf/deep/b.yaml"]);
    assert.deepEqual(deep.read, ["", "conf", "conf/deep"]);
  });
});

Deno.test("under the default rules, links out of the project are not taken, with a note", async () => {
  await withTempDir(async (outside) => {
    await Deno.writeTextFile(join(outside, "id_ed25519"), "PRIVATE KEY\n");
    await Deno.mkdir(join(outside, "data"));
    await Deno.writeTextFile(join(outside, "data/a.csv"), "a\n");
    await withProject({ "train.py": "x\n", "shared/b.txt": "x\n" }, async (dir) => {
      await Deno.symlink(join(outside, "id_ed25519"), join(dir, "key"));
      await Deno.symlink(join(outside, "data"), join(dir, "data"));
      await Deno.symlink("shared", join(dir, "inside"));
      for (const spec of [undefined, [".github dir"]]) {
        const { selection, read } = await selectReading(dir, spec);
        assert.deepEqual(paths(selection), ["inside/b.txt", "shared/b.txt", "train.py"]);
        assert.deepEqual(read, ["", "inside", "shared"]);
        assert.deepEqual(selection.warnings, [
          'symlink "data" leads out of the project: not followed; to copy from it, ' +
          'name it in a sourcecode rule ("data/**") or in depends',
          'symlink "key" leads out of the project: not copied; to copy it, ' +
          'name it in a sourcecode rule ("key") or in depends',
        ]);
      }
    });
  });
});

Deno.test("a rule the user wrote takes a link out of the project", async () => {
  await withTempDir(async (outside) => {
    await Deno.writeTextFile(join(outside, "id_ed25519"), "PRIVATE KEY\n");
    await Deno.mkdir(join(outside, "data"));
    await Deno.writeTextFile(join(outside, "data/a.csv"), "a\n");
    await withProject({ "train.py": "x\n" }, async (dir) => {
      await Deno.symlink(join(outside, "id_ed25519"), join(dir, "key"));
      await Deno.symlink(join(outside, "data"), join(dir, "data"));
      const named = await selectSourcecode(dir, ["train.py", "key", "data/*.csv"]);
      assert.deepEqual(paths(named), ["data/a.csv", "key", "train.py"]);
      assert.deepEqual(named.warnings, []);
      // The defaults plus a dir rule naming the link: followed.
      assert.deepEqual(paths(await selectSourcecode(dir, ["data dir"])), [
        "data/a.csv",
        "train.py",
      ]);
      // A wildcard picks a file link, but never leads the walk out of the project.
      const wild = await selectReading(dir, ["**/*"]);
      assert.deepEqual(paths(wild.selection), ["key", "train.py"]);
      assert.deepEqual(wild.read, [""]);
      assert.deepEqual(wild.selection.warnings, [
        'symlink "data" leads out of the project: not followed; to copy from it, ' +
        'name it in a sourcecode rule ("data/**") or in depends',
      ]);
    });
  });
});

Deno.test("an aborted signal stops the selection with RunInterrupted", async () => {
  await withProject({ "train.py": "x\n" }, async (dir) => {
    const controller = new AbortController();
    controller.abort("SIGTERM");
    await assert.rejects(
      selectSourcecode(dir, undefined, { signal: controller.signal }),
      (err) => err instanceof RunInterrupted && err.sig === "SIGTERM",
    );
  });
});
