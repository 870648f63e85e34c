/**
 * Source selection stays in the project, end to end: a link to `/` is never
 * entered when no rule can match in it, a link to a file outside the project is
 * not copied under the default rules (a note names it) but is under a rule
 * that names it, and SIGTERM in the middle of a long scan stops runstage with
 * exit 143 and leaves the runs home as it was.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listTree, onlyRun, spawnRunstage } from "../support/cli.ts";
import { withProject, withTempDir } from "../support/fixtures.ts";
import { cpuTicks, waitFor } from "../support/process.ts";

/** Generous: only a hung runstage reaches it, and then the test fails rather than hangs. */
const WATCHDOG_MS = 60_000;

/** runstage ARGS, killed if it outlives the watchdog. */
async function runstageGuarded(args: string[]) {
  return await spawnRunstage(args, { watchdogMs: WATCHDOG_MS }).result;
}

Deno.test("a link to / is never entered when no rule can match in it", async () => {
  await withProject({
    "gage.toml": '[train]\nexec = "true"\nsourcecode = ["train.py"]\n',
    "train.py": "print('hi')\n",
    "notes.txt": "x\n",
  }, async (project, runsHome) => {
    await Deno.symlink("/", join(project, "root_link"));
    const base = ["-C", project, "--runs", runsHome];
    const preview = await runstageGuarded([...base, "run", "--preview", "--json"]);
    assert.equal(preview.code, 0, preview.stderr);
    const selection = JSON.parse(preview.stdout);
    assert.deepEqual(selection.files.map((f: { path: string }) => f.path), ["train.py"]);
    assert.deepEqual(selection.warnings, []);
    assert.deepEqual(await listTree(runsHome), [], "a preview writes nothing");

    const staged = await runstageGuarded([...base, "stage"]);
    assert.equal(staged.code, 0, staged.stderr);
    assert.doesNotMatch(staged.stderr, /root_link/);
    const { runDir } = await onlyRun(runsHome);
    assert.deepEqual(await listTree(runDir), ["train.py"]);
  });
});

Deno.test("a link to a file outside the project: skipped with a note by default, taken when named", async () => {
  await withTempDir(async (outside) => {
    const key = join(outside, "id_ed25519");
    await Deno.writeTextFile(key, "PRIVATE KEY\n");
    for (
      const [sourcecode, copied] of [["", false], [
        'sourcecode = ["train.py", "key"]\n',
        true,
      ]] as const
    ) {
      await withProject({
        "gage.toml": `[train]\nexec = "true"\n${sourcecode}`,
        "train.py": "print('hi')\n",
      }, async (project, runsHome) => {
        await Deno.symlink(key, join(project, "key"));
        const staged = await runstageGuarded(["-C", project, "--runs", runsHome, "stage"]);
        assert.equal(staged.code, 0, staged.stderr);
        const { runDir } = await onlyRun(runsHome);
        if (copied) {
          assert.deepEqual(await listTree(runDir), ["key", "train.py"]);
          assert.doesNotMatch(staged.stderr, /leads out of the project/);
        } else {
          assert.deepEqual(await listTree(runDir), ["gage.toml", "train.py"]);
          assert.match(
            staged.stderr,
            /note: symlink "key" leads out of the project: not copied; to copy it, name it in a sourcecode rule \("key"\) or in depends\n/,
          );
        }
      });
    }
  });
});

/**
 * A tree that takes minutes to scan and a moment to make: each level's dir
 * holds two links to the next level's, so the walk visits 2^depth dirs (no
 * loop: each path goes down), with no file to read on the way.
 */
async function makeFanOut(root: string, depth: number): Promise<void> {
  for (let level = 0; level <= depth; level++) {
    await Deno.mkdir(join(root, `d${level}`), { recursive: true });
  }
  for (let level = 0; level < depth; level++) {
    for (const name of ["a", "b"]) {
      await Deno.symlink(`../d${level + 1}`, join(root, `d${level}`, name));
    }
  }
}

/** Whether the process catches SIGTERM yet (its handler is installed), from /proc. */
function catchesSigterm(pid: number): boolean {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const caught = BigInt(`0x${/SigCgt:\s*([0-9a-f]+)/.exec(status)![1]}`);
    return ((caught >> 14n) & 1n) === 1n;
  } catch {
    return false;
  }
}

Deno.test("SIGTERM in the middle of a long scan: exit 143, runs home unchanged", async () => {
  await withProject({ "gage.toml": '[train]\nexec = "true"\n' }, async (project, runsHome) => {
    await makeFanOut(join(project, "t"), 20);
    await Deno.writeTextFile(join(runsHome, "keep.txt"), "x\n");
    const before = await listTree(runsHome);
    const scan = spawnRunstage(["-C", project, "--runs", runsHome, "run"], {
      watchdogMs: WATCHDOG_MS,
    });
    const { child, result } = scan;
    // Once the handler is in place, staging has begun; once runstage has spent a
    // good part of a second of CPU since, it is deep in the scan's synchronous
    // work, where only the walk's yields let the handler run.
    await waitFor(() => catchesSigterm(child.pid), { spawned: scan, what: "its SIGTERM handler" });
    const start = cpuTicks(child.pid);
    await waitFor(() => cpuTicks(child.pid) >= start + 30, { spawned: scan, what: "its scan" });
    child.kill("SIGTERM");
    const { code, stderr } = await result;
    assert.equal(code, 143, stderr);
    assert.equal(stderr, "runstage: stopped by SIGTERM\n");
    assert.deepEqual(await listTree(runsHome), before);
  });
});
