/** `start`: a staged run runs later, or elsewhere, from its run dir and meta dir alone. */
import assert from "node:assert/strict";
import { onlyRun, runstage } from "../support/cli.ts";
import { withProject, withTempDir } from "../support/fixtures.ts";

const GAGE = `[train]
env = { GREETING = "hi" }
config = "train.py"
[train.exec]
run = "python3 train.py"
finalize-run = "echo finalized > final.txt"
`;
const TRAIN = `lr = 0.1
import os
print("lr", lr, os.environ["GREETING"], os.environ["RUN_ID"])
open("model.txt", "w").write(str(lr))
print("--- summary ---\\nloss: 0.5\\n---")
`;

Deno.test("a staged run starts later with its staged config, env and phases", async () => {
  await withProject({ "gage.toml": GAGE, "train.py": TRAIN }, async (project, runsHome) => {
    const staged = await runstage(["-C", project, "--runs", runsHome, "stage", "train", "lr=0.3"]);
    assert.equal(staged.code, 0, staged.stderr);
    const { id, runDir, metaDir } = await onlyRun(runsHome);
    const started = await runstage(["-C", project, "--runs", runsHome, "start", "1"]);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(started.stdout, `lr 0.3 hi ${id}\n--- summary ---\nloss: 0.5\n---\n`);
    assert.equal(await Deno.readTextFile(`${runDir}/final.txt`), "finalized\n");
    const [info] = JSON.parse(
      (await runstage(["--runs", runsHome, "-C", project, "runs", "--json"])).stdout,
    );
    assert.equal(info.status, "completed");
    assert.deepEqual(info.metrics, { loss: 0.5 });
    const manifest = await Deno.readTextFile(`${metaDir}/manifest`);
    assert.match(manifest, /^s [0-9a-f]{64} train\.py$/m);
    assert.match(manifest, /^g [0-9a-f]{64} model\.txt$/m);
    assert.equal((await runstage(["--runs", runsHome, "-C", project, "verify", "1"])).code, 0);

    const again = await runstage(["-C", project, "--runs", runsHome, "start", "1"]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /^runstage: run \S+ is completed: only a staged run can be started/);
  });
});

Deno.test("a staged run copied to another runs home starts there without its project", async () => {
  await withProject({ "gage.toml": GAGE, "train.py": TRAIN }, async (project, runsHome) => {
    assert.equal((await runstage(["-C", project, "--runs", runsHome, "stage", "train"])).code, 0);
    const { id } = await onlyRun(runsHome);
    await withTempDir(async (elsewhere) => {
      // Another machine: a plain copy (new mtimes), and no project at all.
      const copy = await new Deno.Command("cp", { args: ["-r", runsHome, `${elsewhere}/runs`] })
        .output();
      assert.ok(copy.success);
      await Deno.remove(project, { recursive: true });
      await Deno.mkdir(project); // withProject removes it afterwards
      const home = `${elsewhere}/runs`;
      const started = await runstage(["--runs", home, "start", id.slice(0, 8)], { cwd: elsewhere });
      assert.equal(started.code, 0, started.stderr);
      assert.match(started.stdout, /^lr 0\.1 hi /);
      const files = (await Deno.readTextFile(`${home}/${id}.meta/log/files`)).trimEnd().split("\n");
      assert.ok(
        !files.some((l) => l.startsWith("m ")),
        `staged files not reported as changed: ${files}`,
      );
      const verify = await runstage(["--runs", home, "verify", "1"], { cwd: elsewhere });
      assert.equal(verify.code, 0, verify.stdout);
    });
  });
});
