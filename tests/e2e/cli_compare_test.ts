/**
 * Comparing runs through the real CLI: `compare` (rows, varying flags, sort,
 * JSON, CSV), `runs --json` with config, and `--where` on runs, compare,
 * delete, label and export, on runs homes written by hand so every value is
 * chosen by the test. How fast on 10,000 runs: `deno task bench --only compare`.
 */
import assert from "node:assert/strict";
import { runName } from "../../lib/run/identity.ts";
import { cliFor, fails, json, ok, rows } from "../support/cli.ts";
import { withProject, writeTree } from "../support/fixtures.ts";

const GAGE = `
[train]
exec = ["true"]
[eval]
exec = ["true"]
`;

interface FakeRun {
  n: number;
  op?: string;
  exit?: number;
  label?: string;
  /** The id of the sweep's batch the run is a trial of. */
  batch?: string;
  config?: Record<string, string | number | boolean | null>;
  metrics?: Record<string, number | string>;
}

function fakeId(n: number): string {
  return `${n.toString(16).padStart(8, "0")}-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

/** A finished run's meta, written directly; run n is initialized at n seconds, so higher is newer. */
function fakeRunFiles(r: FakeRun): Record<string, string> {
  const id = fakeId(r.n);
  const initialized = r.n * 1e15;
  const meta: Record<string, string> = {
    __schema__: "1",
    id,
    name: runName(id),
    opref: `2 proj ${r.op ?? "train"}`,
    initialized: String(initialized),
    staged: String(initialized + 1),
    started: String(initialized + 2),
    stopped: String(initialized + 3),
    "proc/exit": String(r.exit ?? 0),
    "config.json": JSON.stringify(r.config ?? {}),
  };
  if (r.label !== undefined) meta.label = r.label;
  if (r.batch !== undefined) {
    meta["batch.json"] = JSON.stringify({ id: r.batch, index: 1, total: 2, sweep: {} });
  }
  if (r.metrics) meta["summary.json"] = JSON.stringify({ metrics: r.metrics, source: "run-dir" });
  return Object.fromEntries(Object.entries(meta).map(([k, v]) => [`${id}.meta/${k}`, v]));
}

/** Four runs: listed newest first as 4, 3, 2, 1 (indexes 1..4). */
const RUNS: FakeRun[] = [
  { n: 1, config: { lr: 0.1, epochs: 5, opt: "adam" }, metrics: { loss: 0.3, acc: 0.8 } },
  { n: 2, config: { lr: 0.2, epochs: 5, opt: "adam" }, metrics: { loss: 0.5 }, label: "best try" },
  { n: 3, config: { lr: 0.05, epochs: 5, opt: "adam" }, exit: 1 },
  { n: 4, op: "eval", config: { lr: 0.01, epochs: 5, opt: "sgd" }, metrics: { loss: 0.2 } },
];

async function withRuns(fn: (cli: ReturnType<typeof cliFor>, home: string) => Promise<void>) {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    for (const r of RUNS) await writeTree(home, fakeRunFiles(r));
    await fn(cliFor(project, home), home);
  });
}

interface CompareRow {
  index: number;
  id: string;
  name: string;
  status: string;
  config: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

const ids = (runs: { id: string }[]) => runs.map((r) => Number.parseInt(r.id.slice(0, 8), 16));

Deno.test("compare --json: every run newest first, the flags that vary, every metric", async () => {
  await withRuns(async (cli) => {
    const runs = await json<CompareRow[]>(cli("compare", "--json", "1:"));
    assert.deepEqual(ids(runs), [4, 3, 2, 1]);
    assert.deepEqual(runs.map((r) => r.index), [1, 2, 3, 4]);
    assert.deepEqual(runs[0].config, { lr: 0.01, opt: "sgd" }, "epochs is 5 everywhere: not shown");
    assert.deepEqual(runs[3].metrics, { loss: 0.3, acc: 0.8 });
    assert.equal(runs[1].status, "error");
    const all = await json<CompareRow[]>(cli("compare", "--json", "--all-flags", "1:"));
    assert.deepEqual(all[0].config, { lr: 0.01, epochs: 5, opt: "sgd" });
    // Named runs: only those; among runs 1 and 2 only lr varies.
    const named = await json<CompareRow[]>(cli("compare", "--json", "3", "4"));
    assert.deepEqual(ids(named), [2, 1]);
    assert.deepEqual(named.map((r) => r.config), [{ lr: 0.2 }, { lr: 0.1 }]);

    const table = rows(await ok(cli("compare", ":")));
    assert.match(table[0], /^#\s+NAME\s+OP\s+STATUS\s+lr\s+opt\s+loss\s+acc$/);
    assert.match(
      table[1],
      new RegExp(`^\\[1\\]\\s+${runName(fakeId(4))}\\s+eval\\s+completed\\s+0.01\\s+sgd\\s+0.2$`),
    );
  });
});

Deno.test("compare with no RUN: the latest run, with every trial of its sweep when a sweep made it", async () => {
  await withRuns(async (cli, home) => {
    // The latest run (4) is no trial: it alone, every flag shown.
    const latest = await json<CompareRow[]>(cli("compare", "--json"));
    assert.deepEqual(ids(latest), [4]);
    assert.deepEqual(latest[0].config, { lr: 0.01, epochs: 5, opt: "sgd" });
    // A sweep's two trials come last, with an older trial of another sweep.
    await writeTree(home, fakeRunFiles({ n: 5, batch: "aaaa", config: { lr: 9 } }));
    await writeTree(home, fakeRunFiles({ n: 6, batch: "bbbb", config: { lr: 0.1 } }));
    await writeTree(home, fakeRunFiles({ n: 7, batch: "bbbb", config: { lr: 0.2 } }));
    assert.deepEqual(ids(await json<CompareRow[]>(cli("compare", "--json"))), [7, 6]);
    // --where looks at every run; a slice names them all.
    assert.deepEqual(ids(await json<CompareRow[]>(cli("compare", "--json", "--where", "lr>1"))), [
      5,
    ]);
    assert.equal((await json<CompareRow[]>(cli("compare", "--json", "1:"))).length, 7);
  });
});

Deno.test("compare --sort: descending, ascending, several keys, missing values last", async () => {
  await withRuns(async (cli) => {
    const sorted = async (...args: string[]) =>
      ids(await json<CompareRow[]>(cli("compare", "1:", "--json", "--sort", ...args)));
    assert.deepEqual(await sorted("loss"), [4, 1, 2, 3], "run 3 has no loss: last");
    assert.deepEqual(await sorted("-loss"), [2, 1, 4, 3], "still last when descending");
    assert.deepEqual(await sorted("lr"), [4, 3, 1, 2]);
    assert.deepEqual(await sorted("opt,-lr"), [2, 1, 3, 4]);
    assert.deepEqual(await sorted("-status,lr"), [3, 4, 1, 2]);
  });
});

Deno.test("compare --csv: RFC 4180 with a header row", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    await writeTree(
      home,
      fakeRunFiles({ n: 1, config: { note: 'a, "b"' }, metrics: { loss: 0.25 } }),
    );
    await writeTree(home, fakeRunFiles({ n: 2, config: { note: "plain" } }));
    const csv = await ok(cliFor(project, home)("compare", "1:", "--csv", "--sort", "note"));
    assert.equal(
      csv,
      "index,name,op,status,note,loss\r\n" +
        `2,${runName(fakeId(1))},train,completed,"a, ""b""",0.25\r\n` +
        `1,${runName(fakeId(2))},train,completed,plain,\r\n`,
    );
  });
});

Deno.test("runs --json has config and metrics; runs --where and compare --where keep the matching runs", async () => {
  await withRuns(async (cli) => {
    const listed = await json<CompareRow[]>(cli("runs", "--json"));
    assert.deepEqual(listed[3].config, { lr: 0.1, epochs: 5, opt: "adam" });
    assert.deepEqual(listed[3].metrics, { loss: 0.3, acc: 0.8 });
    const where = async (expr: string) =>
      ids(await json<CompareRow[]>(cli("runs", "--json", "--where", expr)));
    assert.deepEqual(await where("lr<0.15"), [4, 3, 1]);
    assert.deepEqual(await where("loss<=0.3"), [4, 1]);
    assert.deepEqual(await where("status=completed and op=train"), [2, 1]);
    assert.deepEqual(await where("op=eval or not (loss>0.25)"), [4, 3]);
    assert.deepEqual(await where("label~BEST"), [2]);
    assert.deepEqual(await where("metric.acc>0.5"), [1]);
    assert.deepEqual(await where("lr<0.15 and status=completed"), [4, 1]);
    assert.deepEqual(
      ids(
        await json<CompareRow[]>(cli("compare", "--json", "--where", "opt=adam", "--sort", "-lr")),
      ),
      [2, 1, 3],
    );
    // Indexes stay those of the listing, so they still name the runs.
    assert.deepEqual(
      (await json<CompareRow[]>(cli("runs", "--json", "--where", "op=eval"))).map((r) => r.index),
      [1],
    );
  });
});

Deno.test("--where: a malformed expression is one line that points at the mistake", async () => {
  await withRuns(async (cli, home) => {
    for (const command of ["runs", "compare", "delete", "label", "export"]) {
      const extra = command === "export"
        ? ["-o", `${home}/x.tar`]
        : command === "label"
        ? ["best"]
        : [];
      await fails(
        cli,
        home,
        [command, "--where", "lr<", ...extra],
        /bad --where "lr<": column 4 \(at the end\): expected a value after "lr<"/,
        2,
      );
    }
    await fails(
      cli,
      home,
      ["runs", "--where", "lr<1 op=eval"],
      /column 6 \(at "op=eval"\): expected "and", "or" or the end/,
      2,
    );
    await fails(
      cli,
      home,
      ["compare", "--where", "(lr<1 or op=eval"],
      /column 17 \(at the end\): expected "\)" to close the "\(" at column 1/,
      2,
    );
  });
});

Deno.test("--where on delete, label and export acts on exactly the matching runs", async () => {
  await withRuns(async (cli, home) => {
    await ok(cli("label", "--where", "loss<0.4", "good"));
    const labelled = await json<CompareRow[]>(cli("runs", "--json", "--where", "label=good"));
    assert.deepEqual(ids(labelled), [4, 1]);

    const archive = `${home}/../compare-export-${crypto.randomUUID()}.tar`;
    const exported = await json<{ runs: { id: string }[] }>(
      cli("export", "--where", "op=train and status=completed", "-o", archive, "--json"),
    );
    assert.deepEqual(exported.runs.map((r) => r.id).sort(), [fakeId(1), fakeId(2)]);
    await Deno.remove(archive);

    await ok(cli("delete", "--where", "lr>=0.1"));
    assert.deepEqual(ids(await json<CompareRow[]>(cli("runs", "--json"))), [4, 3]);
    assert.deepEqual(ids(await json<CompareRow[]>(cli("runs", "--json", "--deleted"))), [2, 1]);
    // Named runs and --where: the named runs that match.
    await ok(cli("delete", "1", "2", "--where", "status=error"));
    assert.deepEqual(ids(await json<CompareRow[]>(cli("runs", "--json"))), [4]);
    await fails(cli, home, ["delete", "--where", "lr>5"], /no runs match --where "lr>5"/);
    await fails(
      cli,
      home,
      ["delete"],
      /name the runs \(RUN\.\.\.\) or select them with --where/,
      2,
    );
  });
});
