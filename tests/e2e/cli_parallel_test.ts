/**
 * Many runstage processes on one runs home at once: runs started together get
 * distinct ids and verify, and `runs --json` read while runs are being written
 * lists them as what they are so far, never failing on a half-written run.
 */
import assert from "node:assert/strict";
import { type CliResult, runstage } from "../support/cli.ts";
import { listTree, withProject } from "../support/fixtures.ts";

const STATUSES = ["completed", "error", "terminated", "running", "staged", "pending", "unknown"];

interface RunRow {
  id: string;
  name: string;
  op: string;
  status: string;
}

/** The run id runstage announces on stderr ("running OP as NAME (ID)"). */
function announcedId(result: CliResult): string {
  const m = /running op as \S+ \(([0-9a-f-]{36})\)/.exec(result.stderr);
  assert.ok(m, result.stderr);
  return m[1];
}

Deno.test("parallel: 20 runs started at once in one runs home all complete, distinct, verified", async () => {
  await withProject({
    "gage.toml": `[op]\nexec = "echo $RUN_ID > out.txt"\n`,
    "src/a.py": "print('a')\n",
    "src/b.txt": "b\n",
  }, async (project, runsHome) => {
    const cli = (...args: string[]) => runstage(["-C", project, "--runs", runsHome, ...args]);
    const results = await Promise.all(Array.from({ length: 20 }, () => cli("run", "op")));
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const ids = results.map(announcedId);
    assert.equal(new Set(ids).size, 20, ids.join("\n"));

    const metas = (await listTree(runsHome)).filter((p) => p.endsWith(".meta/"));
    assert.deepEqual(metas.map((p) => p.slice(0, 36)).sort(), [...ids].sort());
    for (const id of ids) {
      assert.equal(await Deno.readTextFile(`${runsHome}/${id}/out.txt`), `${id}\n`);
      assert.equal(await Deno.readTextFile(`${runsHome}/${id}.meta/proc/exit`), "0");
    }

    const verified = await Promise.all(ids.map((id) => cli("verify", id)));
    for (const [i, v] of verified.entries()) {
      assert.equal(v.code, 0, `${ids[i]}: ${v.stdout}${v.stderr}`);
      assert.match(v.stdout, /: 4 files verified\n$/);
    }

    const listed = await cli("runs", "--json");
    assert.equal(listed.code, 0, listed.stderr);
    const rows: RunRow[] = JSON.parse(listed.stdout);
    assert.equal(rows.length, 20);
    assert.deepEqual(rows.map((r) => r.id).sort(), [...ids].sort());
    assert.ok(rows.every((r) => r.status === "completed" && r.op === "op"), listed.stdout);
  });
});

Deno.test("parallel: runs --json polled while 10 runs are being written never fails", async () => {
  await withProject({
    "gage.toml": `[op]\nexec = "sleep 1; echo done > out.txt"\n`,
    "a.txt": "a\n",
    "b.txt": "b\n",
  }, async (project, runsHome) => {
    const cli = (...args: string[]) => runstage(["-C", project, "--runs", runsHome, ...args]);
    let settled = 0;
    const writers = Array.from({ length: 10 }, () =>
      cli("run", "op").finally(() => {
        settled++;
      }));

    let polls = 0;
    const seen = new Set<string>();
    // Poll at least once after the last run is done, so the final listing is read too.
    for (let last = false; !last;) {
      last = settled === writers.length;
      const listed = await cli("runs", "--json");
      polls++;
      assert.equal(listed.code, 0, `poll ${polls}: ${listed.stderr}`);
      let rows: RunRow[];
      try {
        rows = JSON.parse(listed.stdout);
      } catch (err) {
        throw new Error(`poll ${polls}: not JSON (${err}): ${listed.stdout}`);
      }
      assert.ok(Array.isArray(rows), listed.stdout);
      assert.ok(rows.length <= 10, listed.stdout);
      for (const row of rows) {
        assert.ok(STATUSES.includes(row.status), `poll ${polls}: status ${row.status}`);
        seen.add(row.status);
      }
    }

    const results = await Promise.all(writers);
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    assert.ok(polls >= 2, `only ${polls} polls`);
    // The polls did see runs in the middle of being written, not only finished ones.
    assert.ok([...seen].some((s) => s !== "completed"), [...seen].join(", "));

    const final: RunRow[] = JSON.parse((await cli("runs", "--json")).stdout);
    assert.equal(final.length, 10);
    assert.ok(final.every((r) => r.status === "completed"), JSON.stringify(final));
    assert.equal(new Set(final.map((r) => r.id)).size, 10);
  });
});
