/**
 * Listing runs and naming them (lib/run/listing.ts), and the trash's moves
 * (lib/run/trash.ts), on runs homes written by hand so every id, time and label is
 * chosen by the test.
 */
import assert from "node:assert/strict";
import {
  filterRuns,
  latestRun,
  listRuns,
  resolveRun,
  resolveRuns,
  type RunInfo,
} from "../../../lib/run/listing.ts";
import { runAt, runName } from "../../../lib/run/identity.ts";
import { runMeta } from "../../../lib/run/meta.ts";
import { deleteRuns, purgeRuns, restoreRuns } from "../../../lib/run/trash.ts";
import { assertUserError, listTree, withTempDir, writeTree } from "../../support/fixtures.ts";

/** Ids chosen so that prefixes `aaaa` and `bbbb` each name two runs. */
const IDS = [
  "aaaa0001-0000-4000-8000-000000000001",
  "aaaa0002-0000-4000-8000-000000000002",
  "bbbb0003-0000-4000-8000-000000000003",
  "bbbb0004-0000-4000-8000-000000000004",
  "cccc0005-0000-4000-8000-000000000005",
];

interface FakeRun {
  id: string;
  initialized?: number;
  op?: string;
  label?: string;
  exit?: string;
  summary?: string;
}

/** A run as a runs home holds it once written: meta files, run dir, project link. */
async function writeRun(home: string, r: FakeRun): Promise<void> {
  const meta: Record<string, string> = { id: r.id };
  if (r.initialized !== undefined) meta.initialized = String(r.initialized);
  if (r.op) meta.opref = `2 proj ${r.op}`;
  if (r.label !== undefined) meta.label = r.label;
  if (r.exit !== undefined) meta["proc/exit"] = r.exit;
  if (r.summary !== undefined) meta["summary.json"] = r.summary;
  await writeTree(home, {
    ...Object.fromEntries(Object.entries(meta).map(([k, v]) => [`${r.id}.meta/${k}`, v])),
    [`${r.id}/out.txt`]: `output of ${r.id}`,
    [`${r.id}.project`]: "file:/somewhere",
  });
}

/** Five runs: IDS[4] is the newest (index 1), IDS[0] the oldest (index 5). */
async function withFiveRuns(fn: (home: string) => Promise<void> | void): Promise<void> {
  await withTempDir(async (home) => {
    const labels = ["base", "base", "best", undefined, "aaaa0002"];
    for (const [i, id] of IDS.entries()) {
      await writeRun(home, { id, initialized: 1000 + i, op: i % 2 ? "b" : "a", label: labels[i] });
    }
    await fn(home);
  });
}

const ids = (runs: RunInfo[]) => runs.map((r) => r.run.id);

Deno.test("listRuns: newest first by initialized, indexes from 1, labels and ops read", async () => {
  await withFiveRuns((home) => {
    const runs = listRuns(home);
    assert.deepEqual(ids(runs), [...IDS].reverse());
    assert.deepEqual(runs.map((r) => r.index), [1, 2, 3, 4, 5]);
    assert.deepEqual(runs.map((r) => r.op), ["a", "b", "a", "b", "a"]);
    assert.deepEqual(runs.map((r) => r.label), ["aaaa0002", undefined, "best", "base", "base"]);
    assert.ok(runs.every((r) => r.status === "pending" && !r.deleted));
    assert.equal(runs[0].run.name, runName(IDS[4]));
  });
});

Deno.test("resolveRuns: index, slice, id, prefix, name and label", async () => {
  await withFiveRuns((home) => {
    const newestFirst = [...IDS].reverse();
    const resolve = (...specs: string[]) => ids(resolveRuns(home, specs));
    assert.deepEqual(resolve("1"), [IDS[4]]);
    assert.deepEqual(resolve("5"), [IDS[0]]);
    assert.deepEqual(resolve("1:3"), newestFirst.slice(0, 3));
    assert.deepEqual(resolve(":2"), newestFirst.slice(0, 2));
    assert.deepEqual(resolve("4:"), newestFirst.slice(3));
    assert.deepEqual(resolve("2:2"), [newestFirst[1]]);
    assert.deepEqual(resolve("3:99"), newestFirst.slice(2), "an end past the last run stops there");
    assert.deepEqual(resolve(":"), newestFirst);
    assert.deepEqual(resolve(IDS[2]), [IDS[2]]);
    assert.deepEqual(resolve("cccc"), [IDS[4]]);
    assert.deepEqual(resolve("bbbb0004"), [IDS[3]]);
    assert.deepEqual(resolve(runName(IDS[1])), [IDS[1]]);
    assert.deepEqual(resolve("best"), [IDS[2]]);
    // A shared label names every run carrying it, newest first.
    assert.deepEqual(resolve("base"), [IDS[1], IDS[0]]);
    // Several specs: in the order given, each run once.
    assert.deepEqual(resolve("5", "1:2", "1", "cccc"), [IDS[0], IDS[4], IDS[3]]);
    assert.equal(resolveRun(home, "2").run.id, IDS[3]);
    assert.equal(resolveRun(home, "best").run.id, IDS[2]);
  });
});

Deno.test("labels: one rule for runs --label and naming a RUN: exact first, else contained", async () => {
  await withFiveRuns(async (home) => {
    await Deno.writeTextFile(`${home}/${IDS[3]}.meta/label`, "Baseline 2");
    const runs = listRuns(home);
    const labelled = (text: string) => ids(filterRuns(runs, { label: text }));
    // Exactly "base", ignoring case: not also a run whose label only contains it.
    assert.deepEqual(labelled("BASE"), [IDS[1], IDS[0]]);
    assert.deepEqual(ids(resolveRuns(home, ["BASE"])), [IDS[1], IDS[0]]);
    // No run is labelled "bas": every run whose label contains it.
    assert.deepEqual(labelled("bas"), [IDS[3], IDS[1], IDS[0]]);
    assert.deepEqual(ids(resolveRuns(home, ["bas"])), [IDS[3], IDS[1], IDS[0]]);
    assert.deepEqual(labelled("es"), [IDS[2]]);
    assert.deepEqual(ids(resolveRuns(home, ["es"])), [IDS[2]]);
    // Part of a label never hides an id prefix: "aaaa" is one of two ids, not the label "aaaa0002".
    assert.deepEqual(labelled("aaaa"), [IDS[4]]);
    assertUserError(() => resolveRuns(home, ["aaaa"]), /^"aaaa" names 2 runs/);
  });
});

Deno.test("resolveRuns: an exact id or name beats a label, a label beats an id prefix", async () => {
  await withFiveRuns(async (home) => {
    // IDS[4] is labelled "aaaa0002", which is also a prefix of IDS[1]: the label wins.
    assert.deepEqual(ids(resolveRuns(home, ["aaaa0002"])), [IDS[4]]);
    // A label equal to another run's name does not hide that run.
    await Deno.writeTextFile(`${home}/${IDS[3]}.meta/label`, runName(IDS[2]));
    assert.deepEqual(ids(resolveRuns(home, [runName(IDS[2])])), [IDS[2]]);
    await Deno.writeTextFile(`${home}/${IDS[3]}.meta/label`, IDS[0]);
    assert.deepEqual(ids(resolveRuns(home, [IDS[0]])), [IDS[0]]);
  });
});

Deno.test("resolveRuns: every bad spec is a one-line error naming the fix", async () => {
  await withFiveRuns((home) => {
    const fails = (spec: string, ...patterns: (RegExp | string)[]) =>
      assertUserError(() => resolveRuns(home, [spec]), patterns[0], ...patterns.slice(1));
    fails("zzz", /^no run matches "zzz": name a run by index, slice, id, id prefix, name or label/);
    fails("6", /^no run at index 6: there are 5 runs \(see "runstage runs"\)$/);
    fails("0", /^no run at index 0/);
    fails(
      "aaaa",
      /^"aaaa" names 2 runs \(/,
      runName(IDS[0]),
      runName(IDS[1]),
      "give more of the id",
    );
    fails("3:1", /^bad slice "3:1": the start is after the end/);
    fails("0:2", /^bad slice "0:2": indexes start at 1/);
    fails("6:", /^no runs in slice "6:": there are 5 runs/);
    fails("1:x", /^bad slice "1:x": a slice is START:END/);
    fails("1:2:3", /^bad slice "1:2:3"/);
    // A command on one run refuses specs that name several, saying which.
    assertUserError(() => resolveRun(home, "1:2"), /^"1:2" names 2 runs \(.*\): name one run/);
    assertUserError(() => resolveRun(home, "base"), /^"base" names 2 runs/);
  });
  await withTempDir((empty) => {
    assertUserError(() => resolveRuns(empty, ["1"]), /^no runs in .*: stage one with/);
    assertUserError(() => resolveRuns(`${empty}/absent`, ["1"]), /^no runs in /);
    assertUserError(
      () => resolveRuns(empty, ["1"], { deleted: true }),
      /^no deleted runs in .*: the trash is empty$/,
    );
  });
});

Deno.test("listRuns: half-written runs list as far as they are; the trash and strays are not runs", async () => {
  await withFiveRuns(async (home) => {
    const onlyId = "dddd0006-0000-4000-8000-000000000006";
    const empty = "eeee0007-0000-4000-8000-000000000007";
    await writeTree(home, {
      [`${onlyId}.meta/id`]: onlyId,
      // Written by a tool that does not write atomically, caught half-way.
      [`${IDS[0]}.meta/summary.json`]: '{"metrics": {"loss": 0.',
      [`${IDS[1]}.meta/initialized`]: "",
      "not-a-run.meta/id": "x",
      "README": "stray file",
    });
    await Deno.mkdir(`${home}/${empty}.meta`);
    await Deno.mkdir(`${home}/.trash/${IDS[2]}.meta`, { recursive: true });
    await writeTree(home, { [`${IDS[2]}.meta/proc/lock`]: "999999999" });
    const runs = listRuns(home);
    assert.equal(runs.length, 7, "five runs and two half-written ones, nothing else");
    const byId = new Map(runs.map((r) => [r.run.id, r]));
    assert.equal(byId.get(onlyId)?.status, "unknown");
    assert.equal(byId.get(empty)?.status, "unknown");
    assert.equal(byId.get(IDS[1])?.initialized, undefined, "an empty timestamp is not 0");
    assert.deepEqual(byId.get(IDS[0])?.metrics, {}, "half-written summary: no metrics yet");
    assert.equal(byId.get(IDS[2])?.status, "terminated", "a lock naming a dead process");
    // Without initialized (being written), they sort after the runs that have it.
    assert.deepEqual(new Set(ids(runs.slice(4))), new Set([onlyId, empty, IDS[1]]));
    assert.deepEqual(ids(listRuns(home, { deleted: true })), [IDS[2]]);
  });
});

Deno.test("meta summary.json keeps numbers and strings, drops what is not a metric", async () => {
  await withTempDir(async (home) => {
    const id = IDS[0];
    await writeRun(home, {
      id,
      summary: JSON.stringify({
        metrics: { loss: 0.25, step: 3, note: "ok", nested: { x: 1 }, nothing: null, list: [1] },
        source: "run-dir",
      }),
    });
    const run = runAt(home, id, runName(id));
    assert.deepEqual(runMeta.summary.read(run), {
      metrics: { loss: 0.25, step: 3, note: "ok" },
      source: "run-dir",
    });
    await Deno.writeTextFile(`${run.metaDir}/summary.json`, "[1, 2]");
    assert.equal(runMeta.summary.read(run), undefined);
    await Deno.writeTextFile(`${run.metaDir}/summary.json`, '{"source": "output"}');
    assert.deepEqual(runMeta.summary.read(run), { metrics: {}, source: "output" });
  });
});

Deno.test("trash: delete and restore move the three parts and back; purge removes them", async () => {
  await withFiveRuns(async (home) => {
    const before = await listTree(home);
    const deleted = resolveRuns(home, ["1:2"]);
    deleteRuns(home, deleted);
    assert.deepEqual(ids(listRuns(home)), [IDS[2], IDS[1], IDS[0]]);
    const inTrash = listRuns(home, { deleted: true });
    assert.deepEqual(ids(inTrash), [IDS[4], IDS[3]]);
    assert.ok(inTrash.every((r) => r.status === "deleted" && r.deleted));
    assert.deepEqual(await listTree(`${home}/.trash`), [
      `${IDS[3]}.meta/`,
      `${IDS[3]}.meta/id`,
      `${IDS[3]}.meta/initialized`,
      `${IDS[3]}.meta/opref`,
      `${IDS[3]}.project`,
      `${IDS[3]}/`,
      `${IDS[3]}/out.txt`,
      `${IDS[4]}.meta/`,
      `${IDS[4]}.meta/id`,
      `${IDS[4]}.meta/initialized`,
      `${IDS[4]}.meta/label`,
      `${IDS[4]}.meta/opref`,
      `${IDS[4]}.project`,
      `${IDS[4]}/`,
      `${IDS[4]}/out.txt`,
    ]);
    restoreRuns(home, resolveRuns(home, ["1:"], { deleted: true }));
    assert.deepEqual(await listTree(home), before, "the trash is gone with its last run");

    purgeRuns(home, resolveRuns(home, ["cccc"]));
    assert.ok(!(await listTree(home)).some((p) => p.startsWith(IDS[4])));
    deleteRuns(home, resolveRuns(home, ["1"]));
    purgeRuns(home, listRuns(home, { deleted: true }));
    assert.deepEqual(
      await listTree(home),
      before.filter((p) => !p.startsWith(IDS[4]) && !p.startsWith(IDS[3])),
    );
  });
});

Deno.test("trash: a clash or a running run stops the whole command before anything moves", async () => {
  await withFiveRuns(async (home) => {
    // The same run both live and in the trash (copied back by hand, say).
    await writeRun(`${home}/.trash`, { id: IDS[0], initialized: 1 });
    const before = await listTree(home);
    assertUserError(
      () => deleteRuns(home, resolveRuns(home, ["1", IDS[0]])),
      `run ${runName(IDS[0])} is already in the trash`,
    );
    assert.deepEqual(await listTree(home), before);
    assertUserError(
      () => restoreRuns(home, resolveRuns(home, ["1"], { deleted: true })),
      /^cannot restore run .*: .* is also in the runs home/,
    );
    assert.deepEqual(await listTree(home), before);

    await writeTree(home, { [`${IDS[2]}.meta/proc/lock`]: String(Deno.pid) });
    assert.equal(resolveRun(home, IDS[2]).status, "running");
    for (const act of [deleteRuns, purgeRuns]) {
      assertUserError(
        () => act(home, resolveRuns(home, ["1:5"])),
        new RegExp(
          `^cannot (delete|purge) run ${runName(IDS[2])}: it is running \\(pid ${Deno.pid}\\)`,
        ),
      );
      assert.deepEqual(
        await listTree(home),
        [...before, `${IDS[2]}.meta/proc/`, `${IDS[2]}.meta/proc/lock`].sort(),
      );
    }
  });
});

const hasProc = await Deno.stat("/proc/self/stat").then(() => true, () => false);

Deno.test({
  name: "a proc/lock naming a zombie (exited, never reaped) reads as terminated, not running",
  ignore: !hasProc,
  async fn() {
    // sh starts a short sleep, then becomes a long sleep that never reaps it.
    const parent = new Deno.Command("sh", {
      args: ["-c", "sleep 0.1 & echo $!; exec sleep 30"],
      stdout: "piped",
    }).spawn();
    const reader = parent.stdout.getReader();
    try {
      const zombie = Number(new TextDecoder().decode((await reader.read()).value).trim());
      const state = () => {
        const stat = Deno.readTextFileSync(`/proc/${zombie}/stat`);
        return stat[stat.lastIndexOf(")") + 2];
      };
      const deadline = Date.now() + 10_000;
      while (state() !== "Z" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(state(), "Z", "the test made a zombie");
      await withTempDir(async (home) => {
        await writeRun(home, { id: IDS[0], initialized: 1 });
        await writeTree(home, { [`${IDS[0]}.meta/proc/lock`]: String(zombie) });
        assert.equal(listRuns(home)[0].status, "terminated");
        await writeTree(home, { [`${IDS[0]}.meta/proc/lock`]: String(parent.pid) });
        assert.equal(listRuns(home)[0].status, "running", "its live parent does run");
      });
    } finally {
      reader.releaseLock();
      await parent.stdout.cancel();
      parent.kill("SIGTERM");
      await parent.status;
    }
  },
});

Deno.test("resolveRun: an all-digit id prefix past the last index names its run", async () => {
  await withTempDir(async (home) => {
    const digits = "91732520-0000-4000-8000-000000000001";
    await writeRun(home, { id: digits, initialized: 1 });
    await writeRun(home, { id: IDS[0], initialized: 2 });
    assert.equal(resolveRun(home, "91732520").run.id, digits);
    // Within the indexes a number stays an index.
    assert.equal(resolveRun(home, "2").run.id, digits);
    assertUserError(() => resolveRun(home, "3"), "no run at index 3");
  });
});

Deno.test("resolveRuns: a unique prefix of a run name names it, after id prefixes, before label parts", async () => {
  await withFiveRuns(async (home) => {
    const word = (id: string) => runName(id).split("-")[0];
    // "kafom" for "kafom-fikud", as Gage takes it.
    assert.deepEqual(ids(resolveRuns(home, [word(IDS[4])])), [IDS[4]]);
    assert.deepEqual(ids(resolveRuns(home, [runName(IDS[4]).slice(0, 8)])), [IDS[4]]);
    assert.equal(latestRun(home).run.id, IDS[4]);
    // Ambiguous: one line naming the candidates.
    assertUserError(
      () => resolveRuns(home, [word(IDS[0])]),
      new RegExp(`^"${word(IDS[0])}" is the start of 2 run names \\(`),
      runName(IDS[0]),
      runName(IDS[1]),
      "give more of the name",
    );
    // A name prefix comes before a label that only contains the text.
    await Deno.writeTextFile(`${home}/${IDS[2]}.meta/label`, `x ${word(IDS[4])} y`);
    assert.deepEqual(ids(resolveRuns(home, [word(IDS[4])])), [IDS[4]]);
  });
});
