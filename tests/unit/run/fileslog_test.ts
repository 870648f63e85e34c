/**
 * `RunFiles` (lib/run/fileslog.ts), the one owner of a run's log/files: each
 * step records through its own method, and what it knows always matches what
 * log/files replays to. Real files in temp dirs, mtimes set explicitly.
 */
import assert from "node:assert/strict";
import { RunFiles, type WrittenFile } from "../../../lib/run/fileslog.ts";
import { makeRun, type Run } from "../../../lib/run/identity.ts";
import { withTempDir } from "../../support/fixtures.ts";

const T = 1_700_000_000_000;
const DIGEST = (c: string) => c.repeat(64);

function withRun(fn: (run: Run) => Promise<void>): Promise<void> {
  return withTempDir(async (dir) => {
    const run = makeRun(`${dir}/runs`);
    await Deno.mkdir(run.runDir, { recursive: true });
    await Deno.mkdir(run.metaDir, { recursive: true });
    await fn(run);
  }, { prefix: "runstage-fileslog-" });
}

/** Writes a run-dir file with mtime `ms` and returns it as a step that wrote it knows it. */
async function put(run: Run, path: string, content: string, ms = T): Promise<WrittenFile> {
  await Deno.writeTextFile(`${run.runDir}/${path}`, content);
  await Deno.utime(`${run.runDir}/${path}`, ms / 1000, ms / 1000);
  return { path, size: new TextEncoder().encode(content).length, mtime: ms * 1000, digest: "" };
}

const filesLog = async (run: Run) =>
  (await Deno.readTextFile(`${run.metaDir}/log/files`)).split("\n").slice(0, -1);

const known = (files: RunFiles) =>
  [...files].map(([path, e]) => `${e.type} ${e.digest?.[0] ?? "-"} ${path}`);

Deno.test("RunFiles: a copy logged without a scan, its digests kept until a step changes a file", async () => {
  await withRun(async (run) => {
    const files = new RunFiles(run);
    const b = { ...await put(run, "b.py", "b"), digest: DIGEST("b") };
    const a = { ...await put(run, "a.py", "a"), digest: DIGEST("a") };
    files.logWritten([b, a], "s");
    assert.deepEqual(await filesLog(run), [`a s ${T * 1000} a.py`, `a s ${T * 1000} b.py`]);
    assert.deepEqual(known(files), ["s a a.py", "s b b.py"]);

    // A phase rewrites a.py and adds venv.txt: a.py loses its digest, venv.txt is runtime.
    await put(run, "a.py", "A!", T + 5);
    await put(run, "venv.txt", "v");
    const changes = await files.logChanges("r");
    assert.deepEqual(changes.map((c) => `${c.event} ${c.type} ${c.path}`), [
      "m s a.py",
      "a r venv.txt",
    ]);
    assert.deepEqual(known(files), ["s - a.py", "s b b.py", "r - venv.txt"]);

    // Digests a copy took are trusted only for files as the log has them.
    files.trustDigests([a, { ...await put(run, "venv.txt", "v"), digest: DIGEST("v") }]);
    assert.deepEqual(known(files), ["s - a.py", "s b b.py", "r v venv.txt"]);
    files.setDigest("a.py", DIGEST("c"));
    assert.deepEqual(files.pathsOfType("s"), ["a.py", "b.py"]);
    assert.equal(files.get("a.py")?.digest, DIGEST("c"));

    // log/files replays to what the object knows (types and mtimes).
    const replayed = RunFiles.replay(run);
    const state = (f: RunFiles) => [...f].map(([p, e]) => `${e.type} ${e.mtime} ${p}`).sort();
    assert.deepEqual(state(replayed), state(files));
  });
});

Deno.test("RunFiles.readBack: digests for files as logged; an edited source is logged as m s", async () => {
  await withRun(async (run) => {
    const files = new RunFiles(run);
    await put(run, "keep.py", "k");
    await put(run, "edit.py", "e");
    await files.logChanges("s");
    const digests = new Map([["keep.py", DIGEST("k")], ["edit.py", DIGEST("e")]]);
    await put(run, "edit.py", "edited", T + 1000);

    const back = await RunFiles.readBack(run, digests);
    assert.deepEqual(known(back), ["s - edit.py", "s k keep.py"]);
    assert.equal(back.get("edit.py")?.size, 6);
    assert.equal(back.get("edit.py")?.mtime, (T + 1000) * 1000);

    const edited = back.logEditedSources();
    assert.deepEqual(edited.map((c) => `${c.event} ${c.type} ${c.path}`), ["m s edit.py"]);
    assert.deepEqual((await filesLog(run)).slice(2), [`m s ${(T + 1000) * 1000} edit.py`]);
    // Logged once: the next scan finds nothing new.
    assert.deepEqual(await back.logChanges("g"), []);
  });
});

Deno.test("RunFiles: after settle, a same-size rewrite of a just-copied file is seen, however soon", async () => {
  // Mtimes reach us to the millisecond: without settle, a rewrite in the same
  // tick as the copy keeps mtime and size, and the copy's digest is trusted.
  await withRun(async (run) => {
    for (let round = 0; round < 20; round++) {
      const files = new RunFiles(run);
      const path = `p${round}.json`;
      await Deno.writeTextFile(`${run.runDir}/${path}`, '{"lr": 0.1}\n');
      const st = await Deno.stat(`${run.runDir}/${path}`);
      const copied = {
        path,
        size: st.size,
        mtime: st.mtime!.getTime() * 1000,
        digest: DIGEST("a"),
      };
      await files.settle([copied]);
      await Deno.writeTextFile(`${run.runDir}/${path}`, '{"lr": 0.5}\n');
      await files.logChanges("s");
      files.trustDigests([copied]);
      assert.equal(files.get(path)?.digest, undefined, `round ${round}`);
    }
  });
});
