/** `rerun`: the same op and config again, from the project's current source or the run's own. */
import assert from "node:assert/strict";
import { runstage } from "../support/cli.ts";
import { withProject } from "../support/fixtures.ts";

const GAGE = `[train]\nconfig = "train.py"\nexec = "python3 train.py"\n`;

async function runs(project: string, runsHome: string) {
  return JSON.parse((await runstage(["-C", project, "--runs", runsHome, "runs", "--json"])).stdout);
}

async function sourceDigests(metaDir: string): Promise<string[]> {
  return (await Deno.readTextFile(`${metaDir}/manifest`)).split("\n").filter((l) =>
    l.startsWith("s ")
  );
}

Deno.test("rerun repeats the op with the run's config, flags override it", async () => {
  await withProject(
    { "gage.toml": GAGE, "train.py": 'lr = 0.1\nprint("lr", lr)\n' },
    async (project, runsHome) => {
      const cli = (...args: string[]) => runstage(["-C", project, "--runs", runsHome, ...args]);
      assert.equal((await cli("run", "train", "lr=0.3")).stdout, "lr 0.3\n");
      const again = await cli("rerun", "1");
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, "lr 0.3\n");
      assert.equal((await cli("rerun", "1", "lr=0.4")).stdout, "lr 0.4\n");
      const all = await runs(project, runsHome);
      assert.equal(all.length, 3);
      const configs = await Promise.all(
        all.map((r: { metaDir: string }) => Deno.readTextFile(`${r.metaDir}/config.json`)),
      );
      assert.deepEqual(configs.map((c) => JSON.parse(c).lr), [0.4, 0.3, 0.3]);
      const bad = await cli("rerun", "1", "nope=1");
      assert.notEqual(bad.code, 0);
      assert.equal((await runs(project, runsHome)).length, 3, "a bad flag writes no run");
    },
  );
});

Deno.test("rerun --reuse-source runs the original source exactly; plain rerun takes the current one", async () => {
  await withProject(
    { "gage.toml": GAGE, "train.py": 'lr = 0.1\nprint("first", lr)\n' },
    async (project, runsHome) => {
      const cli = (...args: string[]) => runstage(["-C", project, "--runs", runsHome, ...args]);
      assert.equal((await cli("run", "lr=0.2")).stdout, "first 0.2\n");
      const [original] = await runs(project, runsHome);
      await Deno.writeTextFile(`${project}/train.py`, 'lr = 0.1\nprint("edited", lr)\n');

      assert.equal((await cli("rerun", original.name)).stdout, "edited 0.2\n");
      const reused = await cli("rerun", original.name, "--reuse-source");
      assert.equal(reused.code, 0, reused.stderr);
      assert.equal(reused.stdout, "first 0.2\n");
      const [latest] = await runs(project, runsHome);
      assert.deepEqual(await sourceDigests(latest.metaDir), await sourceDigests(original.metaDir));
      assert.equal((await cli("verify", "1")).code, 0);
    },
  );
});
