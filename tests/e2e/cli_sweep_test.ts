/**
 * Sweeps end to end through the CLI (docs/sweeps.md): a grid, `--needed`, a
 * batch file, a seeded random search and a failing trial, each checked in what
 * the trials left in the runs home (meta config.json, batch.json, proc/exit).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { runstageIn as cli, spawnRunstage } from "../support/cli.ts";
import { withProject } from "../support/fixtures.ts";

/** An op whose config is config.json; it fails when `fail` is true. */
const PROJECT = {
  "gage.toml":
    `[train]\nexec = "python3 -c 'import json,sys; c = json.load(open(\\"config.json\\")); print(json.dumps({\\"loss\\": float(c[\\"lr\\"]) * float(c[\\"epochs\\"])})); sys.exit(c[\\"fail\\"] and 3)'"\n` +
    `config = "config.json"\n`,
  "config.json": `{"lr": 0.01, "epochs": 1, "fail": false}\n`,
};

interface TrialMeta {
  config: Record<string, unknown>;
  batch: { id: string; index: number; total: number; sweep: Record<string, unknown> };
  exit: number | undefined;
}

/** Every run of the runs home's meta, by batch index. */
function trials(runsHome: string): TrialMeta[] {
  return readdirSync(runsHome).filter((n) => n.endsWith(".meta")).map((meta) => {
    const read = (file: string) => readFileSync(`${runsHome}/${meta}/${file}`, "utf8");
    let exit: number | undefined;
    try {
      exit = Number(read("proc/exit"));
    } catch { /* not run */ }
    return { config: JSON.parse(read("config.json")), batch: JSON.parse(read("batch.json")), exit };
  }).sort((a, b) => a.batch.index - b.batch.index);
}

Deno.test("sweep: a 2x2 grid makes exactly the four configs, all complete; --needed then makes none", async () => {
  await withProject(PROJECT, async (project, runsHome) => {
    const r = await cli(project, runsHome, "run", "train", "lr=[0.1,0.2]", "epochs=[1,2]");
    assert.equal(r.code, 0, r.stderr);
    const made = trials(runsHome);
    assert.deepEqual(made.map((t) => [t.config.lr, t.config.epochs]), [
      [0.1, 1],
      [0.1, 2],
      [0.2, 1],
      [0.2, 2],
    ]);
    assert.ok(made.every((t) => t.exit === 0));
    assert.equal(new Set(made.map((t) => t.batch.id)).size, 1);
    assert.deepEqual(made.map((t) => [t.batch.index, t.batch.total]), [[1, 4], [2, 4], [3, 4], [
      4,
      4,
    ]]);
    assert.deepEqual(made[0].batch.sweep.flags, ["lr=[0.1,0.2]", "epochs=[1,2]"]);
    assert.match(r.stdout, /TRIAL\s+NAME\s+FLAGS\s+STATUS\s+loss\n/);
    assert.match(r.stdout, /4\/4\s+\S+\s+lr=0\.2 epochs=2\s+completed\s+0\.4\n/);
    assert.equal(r.stdout.match(/completed/g)?.length, 4);

    const again = await cli(
      project,
      runsHome,
      "run",
      "train",
      "lr=[0.1,0.2]",
      "epochs=[1,2]",
      "--needed",
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /--needed: 4 trials of 4 skipped/);
    assert.equal(trials(runsHome).length, 4);
  });
});

Deno.test("sweep: a 2-row CSV batch makes two runs with those values", async () => {
  await withProject(
    { ...PROJECT, "trials.csv": "lr,epochs\n0.5,3\n0.25,'7'\n" },
    async (project, runsHome) => {
      const r = await cli(project, runsHome, "run", "train", "--batch", `${project}/trials.csv`);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(trials(runsHome).map((t) => [t.config.lr, t.config.epochs, t.batch.total]), [
        [0.5, 3, 2],
        [0.25, "7", 2],
      ]);
    },
  );
});

Deno.test("sweep: a seeded random search makes N runs in range, the same with the same seed", async () => {
  await withProject(PROJECT, async (project, runsHome) => {
    const args = [
      "run",
      "train",
      "lr=loguniform[0.001:0.1]",
      "epochs=choice[1,5,9]",
      "--max-runs",
      "3",
      "--seed",
      "11",
    ];
    assert.equal((await cli(project, runsHome, ...args)).code, 0);
    const first = trials(runsHome);
    assert.equal(first.length, 3);
    for (const { config } of first) {
      assert.ok((config.lr as number) >= 0.001 && (config.lr as number) <= 0.1, String(config.lr));
      assert.ok([1, 5, 9].includes(config.epochs as number));
    }
    await withProject({}, async (_, otherHome) => {
      assert.equal((await cli(project, otherHome, ...args)).code, 0);
      assert.deepEqual(trials(otherHome).map((t) => t.config), first.map((t) => t.config));
    });
  });
});

Deno.test("sweep: one failing trial, the rest still run, the sweep exits with its code", async () => {
  await withProject(PROJECT, async (project, runsHome) => {
    const r = await cli(project, runsHome, "run", "train", "fail=[false,true,false]");
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(trials(runsHome).map((t) => t.exit), [0, 3, 0]);
    assert.match(r.stdout, /2\/3\s+\S+\s+fail=true\s+error/);
  });
});

Deno.test("sweep: stage stages every trial of a grid", async () => {
  await withProject(PROJECT, async (project, runsHome) => {
    const r = await cli(project, runsHome, "stage", "train", "lr=range[1:3]");
    assert.equal(r.code, 0, r.stderr);
    const made = trials(runsHome);
    assert.deepEqual(made.map((t) => [t.config.lr, t.exit]), [[1, undefined], [2, undefined], [
      3,
      undefined,
    ]]);
    assert.equal(r.stdout.match(/staged/g)?.length, 3);
  });
});

Deno.test("sweep: runs --batch ID lists the trials of that batch only", async () => {
  await withProject(PROJECT, async (project, runsHome) => {
    const first = await cli(project, runsHome, "stage", "train", "lr=[1,2]");
    const second = await cli(project, runsHome, "stage", "train", "lr=[3,4,5]");
    const id = /^Batch (\S+)$/m.exec(second.stdout)?.[1];
    assert.ok(id, second.stdout);
    assert.notEqual(/^Batch (\S+)$/m.exec(first.stdout)?.[1], id);
    const listed = await cli(project, runsHome, "runs", "--batch", id, "--json");
    assert.equal(listed.code, 0, listed.stderr);
    const ids = (JSON.parse(listed.stdout) as { id: string }[]).map((r) => r.id).sort();
    const batchIds = trials(runsHome).filter((t) => t.batch.id === id);
    assert.equal(ids.length, 3);
    assert.equal(batchIds.length, 3);
    const table = await cli(project, runsHome, "runs", "--batch", id.slice(0, 8));
    assert.equal(table.stdout.trimEnd().split("\n").length, 4, table.stdout);
  });
});

Deno.test("sweep: Ctrl-C stops the running trial, finalized as terminated, and starts no more", async () => {
  await withProject({
    "gage.toml":
      `[wait]\nexec = "python3 -c 'import time; print(\\"ready\\", flush=True); time.sleep(60)'"\n` +
      `free-flags = true\n`,
  }, async (project, runsHome) => {
    const sweep = spawnRunstage(["-C", project, "--runs", runsHome, "run", "wait", "n=[1,2,3]"]);
    await sweep.readUntil(/ready/);
    sweep.child.kill("SIGINT");
    const r = await sweep.result;
    assert.equal(r.code, 130, r.stderr);
    assert.deepEqual(trials(runsHome).map((t) => [t.config.n, t.exit, t.batch.index]), [[
      1,
      -2,
      1,
    ]]);
    assert.match(r.stdout, /1\/3\s+\S+\s+n=1\s+terminated/);
    assert.equal(r.stdout.match(/\bskipped\b/g)?.length, 2, r.stdout);
  });
});

/** Each trial marks itself started, says "ready", then waits for the other trial (or sleeps). */
const PAIR_PROJECT = {
  "gage.toml": `[pair]\nexec = "python3 pair.py"\nfree-flags = true\n` +
    `[hold]\nexec = "python3 pair.py hold"\nfree-flags = true\n`,
  "pair.py": `import os, sys, time
d = os.path.join(os.environ["PROJECT_DIR"], "started")
os.makedirs(d, exist_ok=True)
open(os.path.join(d, os.environ["RUN_ID"]), "w").close()
print("ready", flush=True)
if sys.argv[1:] == ["hold"]:
    time.sleep(60)
for _ in range(1200):
    if len(os.listdir(d)) >= 2:
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
`,
};

Deno.test("sweep: --parallel 2 runs two trials at once, each output line prefixed with its name", async () => {
  await withProject(PAIR_PROJECT, async (project, runsHome) => {
    const r = await cli(project, runsHome, "run", "pair", "n=[1,2]", "--parallel", "2");
    assert.equal(r.code, 0, r.stderr);
    const made = trials(runsHome);
    assert.deepEqual(made.map((t) => t.exit), [0, 0]);
    const names = readdirSync(runsHome).filter((n) => n.endsWith(".meta"))
      .map((meta) => readFileSync(`${runsHome}/${meta}/name`, "utf8")).sort();
    const readyLines = r.stdout.split("\n").filter((l) => l.endsWith("ready")).sort();
    assert.deepEqual(readyLines, names.map((name) => `[${name}] ready`));
  });
});

Deno.test("sweep: Ctrl-C during --parallel 2 leaves no trial running and the unstarted skipped", async () => {
  await withProject(PAIR_PROJECT, async (project, runsHome) => {
    const args = ["-C", project, "--runs", runsHome, "run", "hold", "n=[1,2,3]", "--parallel", "2"];
    const sweep = spawnRunstage(args);
    await sweep.readUntil(/ready[^]*ready/);
    sweep.child.kill("SIGINT");
    const r = await sweep.result;
    assert.equal(r.code, 130, r.stderr);
    assert.deepEqual(trials(runsHome).map((t) => [t.config.n, t.exit]), [[1, -2], [2, -2]]);
    assert.equal(r.stdout.match(/\bterminated\b/g)?.length, 2, r.stdout);
    assert.match(r.stdout, /3\/3\s+-\s+n=3\s+skipped/);
    const runs = await cli(project, runsHome, "runs", "--json");
    const statuses = (JSON.parse(runs.stdout) as { status: string }[]).map((s) => s.status);
    assert.deepEqual(statuses, ["terminated", "terminated"]);
  });
});

Deno.test("sweep: the project is walked once, by the first trial: a file the first trial adds is in no trial", async () => {
  const project = {
    "gage.toml": `[train]\nexec = "sh -c 'touch \\"$PROJECT_DIR/later.py\\"'"\nfree-flags = true\n`,
    "train.py": "print(1)\n",
  };
  await withProject(project, async (dir, runsHome) => {
    const r = await cli(dir, runsHome, "run", "train", "x=[1,2]");
    assert.equal(r.code, 0, r.stderr);
    const runDirs = readdirSync(runsHome).filter((n) => /^[0-9a-f-]{36}$/.test(n));
    assert.equal(runDirs.length, 2);
    for (const runDir of runDirs) {
      assert.deepEqual(readdirSync(`${runsHome}/${runDir}`).sort(), ["gage.toml", "train.py"]);
    }
    // A run of its own walks the project again and takes it.
    const single = await cli(dir, runsHome, "run", "train");
    assert.equal(single.code, 0, single.stderr);
    const newest = readdirSync(runsHome).filter((n) => /^[0-9a-f-]{36}$/.test(n))
      .find((n) => !runDirs.includes(n))!;
    assert.ok(readdirSync(`${runsHome}/${newest}`).includes("later.py"));
  });
});
