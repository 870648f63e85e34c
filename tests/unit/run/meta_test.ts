/**
 * Typed meta access (lib/run/meta.ts, lib/run/metafile.ts) and where a run
 * came from (lib/run/projectdir.ts): each meta file read back as its type,
 * absent or half-written content read as absent, writes atomic and, when
 * recorded, logged; `<id>.project` and meta `live` resolved.
 */
import assert from "node:assert/strict";
import { makeRun, type Run } from "../../../lib/run/identity.ts";
import { initRunMeta, runMeta } from "../../../lib/run/meta.ts";
import {
  clearLiveProject,
  liveProjectDir,
  readProjectRef,
  recordedProjectDir,
  recordLiveProject,
} from "../../../lib/run/projectdir.ts";
import type { VcsMeta } from "../../../lib/run/vcs.ts";
import { listTree, withTempDir } from "../../support/fixtures.ts";

const LOG_STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} /;

function withRun(fn: (run: Run, dir: string) => Promise<void>): Promise<void> {
  return withTempDir(async (dir) => {
    const run = makeRun(`${dir}/runs`);
    await Deno.mkdir(run.metaDir, { recursive: true });
    await fn(run, dir);
  }, { prefix: "runstage-meta-" });
}

const metaText = (run: Run, name: string) => Deno.readTextFile(`${run.metaDir}/${name}`);
const putMeta = (run: Run, name: string, text: string) =>
  Deno.writeTextFile(`${run.metaDir}/${name}`, text);

async function runnerLog(run: Run): Promise<string[]> {
  const text = await Deno.readTextFile(`${run.metaDir}/log/runner`);
  return text.split("\n").slice(0, -1).map((line) => line.replace(LOG_STAMP, ""));
}

const VCS: VcsMeta = {
  origin: "worktree",
  requested: "worktree",
  commit: "a".repeat(40),
  branch: "main",
  dirty: false,
  changed: [],
  omitted: [],
  remote: null,
  path: "",
};

Deno.test("meta files read back as their types; absent reads as undefined", async () => {
  await withRun(async (run) => {
    assert.equal(runMeta.staged.read(run), undefined);
    assert.equal(runMeta.staged.exists(run), false);
    runMeta.staged.write(run, 1_700_000_000_123_456);
    assert.equal(await metaText(run, "staged"), "1700000000123456");
    assert.equal(runMeta.staged.read(run), 1_700_000_000_123_456);

    runMeta.exit.write(run, -15);
    assert.equal(runMeta.exit.read(run), -15);
    runMeta.lock.write(run, { pid: 4242, host: "node-7", start: "99" });
    assert.equal(await metaText(run, "proc/lock"), "4242 node-7 99");
    assert.deepEqual(runMeta.lock.read(run), { pid: 4242, host: "node-7", start: "99" });
    runMeta.lock.remove(run);
    assert.equal(runMeta.lock.exists(run), false);

    runMeta.opref.write(run, { namespace: "proj", name: "train" });
    assert.equal(await metaText(run, "opref"), "2 proj train");
    assert.deepEqual(runMeta.opref.read(run), { namespace: "proj", name: "train" });

    runMeta.config.write(run, { "b.x": 1, a: "two", c: null });
    assert.equal(
      await metaText(run, "config.json"),
      '{\n  "a": "two",\n  "b.x": 1,\n  "c": null\n}',
    );
    assert.deepEqual(runMeta.config.read(run), { a: "two", "b.x": 1, c: null });

    runMeta.vcs.write(run, VCS);
    assert.deepEqual(runMeta.vcs.read(run), VCS);
    const patch = new Uint8Array([0xff, 0x00, 0x0a]);
    runMeta.vcsDiff.write(run, patch);
    assert.deepEqual([...runMeta.vcsDiff.read(run)!], [...patch]);
  });
});

Deno.test("meta that is empty, half-written or of the wrong shape reads as absent", async () => {
  await withRun(async (run) => {
    // `staged` present but empty: the status sees it, the timestamp is not one yet.
    await putMeta(run, "staged", "");
    assert.equal(runMeta.staged.exists(run), true);
    assert.equal(runMeta.staged.read(run), undefined);
    await putMeta(run, "config.json", '{"a": 1');
    assert.equal(runMeta.config.read(run), undefined);
    await putMeta(run, "config.json", "[1, 2]");
    assert.equal(runMeta.config.read(run), undefined);
    await putMeta(run, "vcs", JSON.stringify({ ...VCS, origin: "svn" }));
    assert.equal(runMeta.vcs.read(run), undefined);
    // Runs staged before `omitted` was recorded still have provenance.
    const { omitted: _, ...old } = VCS;
    await putMeta(run, "vcs", JSON.stringify(old));
    assert.deepEqual(runMeta.vcs.read(run), old);
    await putMeta(run, "opref", "1 proj train");
    assert.equal(runMeta.opref.read(run), undefined);
    await putMeta(run, "label", "");
    assert.equal(runMeta.label.read(run), undefined);
    await putMeta(run, "summary.json", '{"metrics": {"loss": 0.5, "x": {"y": 1}}, "source": 3}');
    assert.deepEqual(runMeta.summary.read(run), { metrics: { loss: 0.5 } });
  });
});

Deno.test("record writes and logs 'Writing meta NAME'; write alone does not log", async () => {
  await withRun(async (run) => {
    runMeta.started.record(run, 5);
    runMeta.label.write(run, "baseline");
    runMeta.summary.record(run, { metrics: { loss: 1 }, source: "output" });
    assert.deepEqual(await runnerLog(run), ["Writing meta started", "Writing meta summary.json"]);
    assert.equal(runMeta.label.read(run), "baseline");
    // Atomic writes leave no temp files behind.
    assert.deepEqual(await listTree(run.metaDir), [
      "label",
      "log/",
      "log/runner",
      "started",
      "summary.json",
    ]);
  });
});

Deno.test("initRunMeta writes meta in the format's order and <id>.project", async () => {
  await withTempDir(async (dir) => {
    const run = makeRun(`${dir}/project/.gage/runs`);
    initRunMeta(run, {
      opref: { namespace: "project", name: "train" },
      opdef: { name: "train", raw: { exec: { run: "true" } } },
      config: { lr: 0.1 },
      cmd: undefined,
      env: { A: "1" },
    }, `${dir}/project`);
    assert.deepEqual(await runnerLog(run), [
      "Writing meta id",
      "Writing meta name",
      "Writing meta opdef.json",
      "Writing meta config.json",
      "Writing meta proc/cmd",
      "Writing meta proc/env",
      "Writing meta opref",
      "Writing meta initialized",
    ]);
    assert.equal(await metaText(run, "__schema__"), "1");
    assert.deepEqual(runMeta.cmd.read(run), []);
    assert.deepEqual(runMeta.env.read(run), { A: "1" });
    assert.deepEqual(runMeta.opdef.read(run), { exec: { run: "true" } });
    assert.equal(typeof runMeta.initialized.read(run), "number");
    assert.equal(await Deno.readTextFile(run.projectRef), "file:../..");
    assert.equal(recordedProjectDir(run), `${dir}/project`);
  });
});

Deno.test("the project a run came from: <id>.project resolved, live recorded and cleared", async () => {
  await withRun(async (run, dir) => {
    // Copied without its .project: the runs home stands in for the project.
    assert.equal(readProjectRef(run), undefined);
    assert.equal(recordedProjectDir(run), run.runsHome);
    await Deno.writeTextFile(run.projectRef, "file:/elsewhere/proj");
    assert.equal(recordedProjectDir(run), "/elsewhere/proj");
    await Deno.writeTextFile(run.projectRef, "file:..");
    assert.equal(recordedProjectDir(run), dir);

    assert.equal(liveProjectDir(run), undefined);
    await Deno.mkdir(`${dir}/real`);
    await Deno.symlink(`${dir}/real`, `${dir}/link`);
    recordLiveProject(run, `${dir}/link`);
    assert.equal(liveProjectDir(run), `${dir}/real`, "the real path is recorded");
    assert.deepEqual(await runnerLog(run), ["Writing meta live"]);
    clearLiveProject(run);
    assert.equal(liveProjectDir(run), undefined);
  });
});
