/**
 * The source stagers (lib/stage/sources/) and the one plan for staging and
 * restaging (lib/stage/plan.ts): each kind of source opened from a request,
 * selecting, placing and recording its files through the same interface.
 */
import assert from "node:assert/strict";
import { openProject, selectOp } from "../../../lib/gagefile/project.ts";
import { makeRun, type Run } from "../../../lib/run/identity.ts";
import { runMeta } from "../../../lib/run/meta.ts";
import { liveProjectDir } from "../../../lib/run/projectdir.ts";
import type { VcsMeta } from "../../../lib/run/vcs.ts";
import { planRun } from "../../../lib/stage/plan.ts";
import { openStager, type StagerRequest } from "../../../lib/stage/sources/open.ts";
import type { SourceStager } from "../../../lib/stage/sources/stager.ts";
import {
  assertUserErrorAsync,
  commitAll,
  exists,
  sha256Text,
  withProject,
  writeTree,
} from "../../support/fixtures.ts";

const GAGE = `
[train]
sourcecode = ["train.py", "util.py"]

[train.exec]
copy-sourcecode = "true"
run = "true"
`;

const PROJECT = { "gage.toml": GAGE, "train.py": "print('train')\n", "util.py": "X = 1\n" };

interface Fixture {
  dir: string;
  runsHome: string;
  /** A request for the project's `train` op; add to it. */
  req: StagerRequest;
}

function withStagerProject(fn: (fx: Fixture) => Promise<void>): Promise<void> {
  return withProject(PROJECT, async (dir, runsHome) => {
    const project = await openProject({ cwd: dir, dir });
    const req = { project, op: selectOp(project, "train"), runsHome, env: {} };
    await fn({ dir, runsHome, req });
  });
}

/** Opens a stager, hands it to `fn`, and disposes of it. */
async function withStager(
  req: StagerRequest,
  fn: (stager: SourceStager) => Promise<void>,
): Promise<void> {
  const stager = await openStager(req);
  try {
    await fn(stager);
  } finally {
    await stager.dispose();
  }
}

/** A fresh run in the runs home, meta dir and run dir made. */
async function newRun(runsHome: string): Promise<Run> {
  const run = makeRun(runsHome);
  await Deno.mkdir(run.metaDir, { recursive: true });
  await Deno.mkdir(run.runDir, { recursive: true });
  return run;
}

Deno.test("worktree stager: copies the selected files; outside version control, no vcs meta", async () => {
  await withStagerProject(async ({ runsHome, req }) => {
    await withStager(req, async (stager) => {
      assert.equal(stager.kind, "worktree");
      assert.equal(stager.copyCommand, "true");
      const selection = await stager.select(runsHome);
      assert.deepEqual(selection.files.map((f) => f.path), ["train.py", "util.py"]);
      const run = await newRun(runsHome);
      const placed = await stager.place(selection.files, run.runDir, {});
      assert.deepEqual(placed.map((p) => p.path).sort(), ["train.py", "util.py"]);
      const train = placed.find((p) => p.path === "train.py")!;
      assert.equal(train.digest, await sha256Text("print('train')\n"));
      assert.equal((await Deno.lstat(`${run.runDir}/train.py`)).isFile, true);
      stager.recordSource(run);
      // The project is in no git repository: there is no provenance to record.
      assert.equal(runMeta.vcs.read(run), undefined);
      assert.equal(liveProjectDir(run), undefined);
    });
  });
});

Deno.test("live stager: links the files into the project and marks the run live", async () => {
  await withStagerProject(async ({ dir, runsHome, req }) => {
    await withStager({ ...req, live: true }, async (stager) => {
      assert.equal(stager.kind, "live");
      const run = await newRun(runsHome);
      const selection = await stager.select(runsHome);
      await stager.place(selection.files, run.runDir, {});
      assert.equal(await Deno.readLink(`${run.runDir}/util.py`), `${dir}/util.py`);
      stager.recordSource(run);
      assert.equal(liveProjectDir(run), dir);
    });
  });
});

Deno.test("reuse stager: an earlier run's source files and provenance, no copy-sourcecode", async () => {
  await withStagerProject(async ({ runsHome, req }) => {
    const original = await newRun(runsHome);
    await writeTree(original.runDir, { "train.py": "old train\n", "out.bin": "x" });
    const digest = await sha256Text("old train\n");
    await Deno.writeTextFile(
      `${original.metaDir}/manifest`,
      `s ${digest} train.py\ng ${await sha256Text("x")} out.bin\n`,
    );
    const vcs: VcsMeta = {
      origin: "git",
      requested: "git:v1",
      ref: "v1",
      commit: "c".repeat(40),
      branch: null,
      dirty: false,
      changed: [],
      omitted: [],
      remote: null,
      path: "",
    };
    runMeta.vcs.write(original, vcs);

    await withStager({ ...req, reuseSourceOf: original }, async (stager) => {
      assert.equal(stager.kind, "reuse");
      assert.equal(stager.copyCommand, undefined);
      const selection = await stager.select(runsHome);
      assert.deepEqual(selection.files.map((f) => [f.path, f.src]), [
        ["train.py", `${original.runDir}/train.py`],
      ]);
      const run = await newRun(runsHome);
      const placed = await stager.place(selection.files, run.runDir, {});
      assert.deepEqual(placed.map((p) => p.digest), [digest]);
      stager.recordSource(run);
      assert.deepEqual(runMeta.vcs.read(run), vcs);
    });
  });
});

Deno.test("git stager: the commit's tree stands in for the project until disposed of", async () => {
  await withStagerProject(async ({ dir, runsHome, req }) => {
    const commit = await commitAll(dir, "first");
    await Deno.writeTextFile(`${dir}/train.py`, "print('edited, not committed')\n");
    const stager = await openStager({ ...req, source: "git:HEAD" });
    const extracted = stager.source.project.dir;
    try {
      assert.equal(stager.kind, "git");
      assert.notEqual(extracted, dir);
      const selection = await stager.select(runsHome);
      const train = selection.files.find((f) => f.path === "train.py")!;
      assert.equal(await Deno.readTextFile(train.src), "print('train')\n");
      const run = await newRun(runsHome);
      stager.recordSource(run);
      assert.equal(runMeta.vcs.read(run)?.commit, commit);
    } finally {
      await stager.dispose();
    }
    assert.equal(await exists(extracted), false);
  });
});

Deno.test("a live source must be the work tree, and cannot reuse a run's files", async () => {
  await withStagerProject(async ({ runsHome, req }) => {
    const original = await newRun(runsHome);
    await assertUserErrorAsync(
      openStager({ ...req, live: true, reuseSourceOf: original }),
      "pick one",
    );
    await assertUserErrorAsync(
      openStager({ ...req, live: true, source: "git:HEAD" }),
      "--live needs the work tree",
    );
  });
});

Deno.test("planRun: one plan from flags (a new run) or from a run's recorded values (restage)", async () => {
  await withStagerProject(async ({ runsHome, req }) => {
    await withStager(req, async (stager) => {
      const fresh = await planRun(stager, {
        project: req.project,
        runsHome,
        values: { from: "flags", flags: [] },
      });
      assert.deepEqual(fresh.init.opref.name, "train");
      assert.deepEqual(fresh.init.config, {});
      assert.deepEqual(fresh.selection.files.map((f) => f.path), ["train.py", "util.py"]);

      const restaged = await planRun(stager, {
        project: req.project,
        runsHome,
        values: { from: "run", config: { lr: 0.5 }, dependencyPaths: ["util.py"] },
      });
      assert.deepEqual(restaged.init.config, { lr: 0.5 });
      assert.deepEqual(restaged.depends, []);
      // A dependency's files stay the dependency's: the source selection leaves them out.
      assert.deepEqual(restaged.selection.files.map((f) => f.path), ["train.py"]);
    });
  });
});
