/**
 * Runs whose project is not on this machine (issue 10, point 13): `rerun` of an
 * imported run says so in one line and names the ways on; a run's `.project`
 * never leads a command into a directory that is not the run's project.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ok, rows, runstage } from "../support/cli.ts";
import { snapshot, withTempDir, writeTree } from "../support/fixtures.ts";

const GAGE = '[train]\nexec = "cat data.txt"\nsourcecode = ["data.txt"]\n';

/** A run of `train` in `project` (run or staged), exported and imported into `runsHome`. */
async function importedRun(
  project: string,
  firstHome: string,
  runsHome: string,
  dir: string,
  command = "run",
) {
  await ok(runstage(["-C", project, "--runs", firstHome, command]));
  const archive = join(dir, `runs-${crypto.randomUUID()}.tar`);
  await ok(runstage(["--runs", firstHome, "export", "1", "-o", archive]));
  await ok(runstage(["--runs", runsHome, "import", archive], { cwd: dir }));
}

Deno.test("rerun of an imported run whose project is not here: one line naming --reuse-source and -C", async () => {
  await withTempDir(async (dir) => {
    const project = join(dir, "proj");
    await writeTree(project, { "gage.toml": GAGE, "data.txt": "from the project\n" });
    const home = join(dir, "here-runs");
    await importedRun(project, join(dir, "there-runs"), home, dir);
    // The project stays on the machine the run came from.
    await Deno.remove(project, { recursive: true });
    await Deno.remove(join(dir, "there-runs"), { recursive: true });

    const before = await snapshot(home);
    const r = await runstage(["--runs", home, "rerun", "1"], { cwd: dir });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(rows(r.stderr).length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^runstage: the project of run \S+ is not on this machine \(".*proj" does not exist\): rerun it from its own source files with --reuse-source, or name its project with -C PROJECT\n$/,
    );
    assert.deepEqual(await snapshot(home), before);

    const reused = await runstage(["--runs", home, "rerun", "1", "--reuse-source"], { cwd: dir });
    assert.equal(reused.code, 0, reused.stderr);
    assert.equal(reused.stdout, "from the project\n");
  });
});

Deno.test("a run's .project that leads to a dir other than its project is never walked", async () => {
  await withTempDir(async (dir) => {
    // The runs home inside the project: .project is relative (file:../..).
    const project = join(dir, "proj");
    await writeTree(project, { "gage.toml": GAGE, "data.txt": "from the project\n" });
    const inside = join(project, ".gage", "runs");
    // Imported two levels below a dir with no Gage file, and below another project.
    const cases: [string, RegExp][] = [
      [join(dir, "bare", "a", "b"), /"[^"]*bare" holds no Gage file/],
      [join(dir, "other", "a", "b"), /"[^"]*other" is another project than the run's "proj"/],
    ];
    await writeTree(dir, {
      "bare/data.txt": "not the run's\n",
      "other/gage.toml": GAGE,
      "other/data.txt": "not the run's\n",
    });
    for (const [i, [home, message]] of cases.entries()) {
      await importedRun(project, inside, home, dir, "stage");
      await ok(runstage(["--runs", inside, "purge", "-y", "1"]));
      const before = await snapshot(join(home, "..", ".."));
      for (const command of [["rerun", "1"], ["restage", "1"]]) {
        const r = await runstage(["--runs", home, ...command], { cwd: dir });
        assert.equal(r.code, 1, `case ${i} ${command[0]}: ${r.stderr}`);
        assert.equal(rows(r.stderr).length, 1, r.stderr);
        assert.match(r.stderr, message);
      }
      assert.deepEqual(await snapshot(join(home, "..", "..")), before);
    }
  });
});
