/**
 * Path maps and live runs through the CLI: where the map puts the project, that
 * an escaping map writes nothing, that a live run sees edits made after staging,
 * that restage freezes it or refreshes a snapshot, and that verify tells a live
 * run's edits from tampering.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listTree, onlyRun, runstage, sha256File } from "../support/cli.ts";
import { commitAll, withProject, writeTree } from "../support/fixtures.ts";

const NO_CI = ["CI"];

const MAPPED_OP = `[train]
exec = "cat src/myapp/msg.txt"
path-map = { "." = "src/myapp" }
config = "params.json"
`;

Deno.test("a path map puts the project under its run-dir path, in manifest and log too", async () => {
  await withProject(
    { "gage.toml": MAPPED_OP, "msg.txt": "hello\n", "params.json": '{"lr": 0.1}\n' },
    async (project, runs) => {
      const r = await runstage(["--runs", runs, "run", "lr=0.5"], {
        cwd: project,
        unsetEnv: NO_CI,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "hello\n");
      const { runDir, metaDir } = await onlyRun(runs);
      assert.deepEqual(
        (await listTree(runDir)).filter((p) => !p.endsWith("/")),
        ["src/myapp/gage.toml", "src/myapp/msg.txt", "src/myapp/params.json"],
      );
      // The flag is written into the mapped copy, never into the project.
      assert.equal(await Deno.readTextFile(join(runDir, "src/myapp/params.json")), '{"lr": 0.5}\n');
      assert.equal(await Deno.readTextFile(join(project, "params.json")), '{"lr": 0.1}\n');
      const manifest = await Deno.readTextFile(join(metaDir, "manifest"));
      assert.equal(
        manifest,
        `s ${await sha256File(join(runDir, "src/myapp/gage.toml"))} src/myapp/gage.toml\n` +
          `s ${await sha256File(join(runDir, "src/myapp/msg.txt"))} src/myapp/msg.txt\n` +
          `s ${await sha256File(join(runDir, "src/myapp/params.json"))} src/myapp/params.json\n`,
      );
      const log = await Deno.readTextFile(join(metaDir, "log", "files"));
      assert.match(log, /^a s \d+ src\/myapp\/msg\.txt$/m);
      assert.doesNotMatch(log, / msg\.txt$/m);
    },
  );
});

Deno.test("a path map that leaves the run dir fails before anything is written", async () => {
  const escapes = [
    '{ "." = "../outside" }',
    '{ "." = "/tmp/abs" }',
    '{ "data" = "a/../../b" }',
  ];
  for (const map of escapes) {
    await withProject(
      { "gage.toml": `[train]\nexec = "ls"\npath-map = ${map}\n`, "a.txt": "a\n" },
      async (project, runs) => {
        const home = join(runs, "home");
        const r = await runstage(["--runs", home, "run"], { cwd: project });
        assert.equal(r.code, 1, map);
        assert.match(r.stderr, /^runstage: .*path-map.*\n$/, map);
        assert.deepEqual(await listTree(home), [], map);
      },
    );
  }
});

const LIVE_OP = '[train]\nexec = "sh train.sh"\n';

Deno.test("a live run sees an edit made after staging; restage freezes it", async () => {
  await withProject({ "gage.toml": LIVE_OP, "train.sh": "echo v1\n" }, async (project, runs) => {
    const staged = await runstage(["--runs", runs, "stage", "--live"], { cwd: project });
    assert.equal(staged.code, 0, staged.stderr);
    assert.match(staged.stdout, /\(live: its source files link to the project\)/);
    const { id, runDir, metaDir } = await onlyRun(runs);
    assert.equal(await Deno.readLink(join(runDir, "train.sh")), join(project, "train.sh"));
    assert.equal(await Deno.readTextFile(join(metaDir, "live")), project);

    await Deno.writeTextFile(join(project, "train.sh"), "echo v2\n");
    const first = await runstage(["--runs", runs, "start", id], { cwd: project });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, "v2\n");
    // The manifest names the code this start ran.
    const digestV2 = await sha256File(join(project, "train.sh"));
    assert.match(
      await Deno.readTextFile(join(metaDir, "manifest")),
      new RegExp(`^s ${digestV2} train.sh$`, "m"),
    );

    // Edited again: verify calls it live, not tampered; the next start runs it.
    await Deno.writeTextFile(join(project, "train.sh"), "echo v3\n");
    const verifyLive = await runstage(["--runs", runs, "verify", id], { cwd: project });
    assert.equal(verifyLive.code, 0, verifyLive.stdout);
    assert.match(
      verifyLive.stdout,
      /^live: train\.sh \(changed in the project since the last start\)$/m,
    );
    assert.match(verifyLive.stdout, /live run: source files link into /);
    const second = await runstage(["--runs", runs, "start", id], { cwd: project });
    assert.equal(second.stdout, "v3\n", second.stderr);
    const runnerLog = await Deno.readTextFile(join(metaDir, "log", "runner"));
    assert.match(runnerLog, /Live source: 1 linked file changed since the last start/);
    assert.match(await Deno.readTextFile(join(metaDir, "log", "files")), /^m s \d+ train\.sh$/m);

    // restage: a snapshot of the current file, no longer a link, no longer live.
    const restaged = await runstage(["--runs", runs, "restage", id], { cwd: project });
    assert.equal(restaged.code, 0, restaged.stderr);
    assert.match(restaged.stdout, /^Restaged run .*: froze 2 linked source files/);
    assert.equal((await Deno.lstat(join(runDir, "train.sh"))).isSymlink, false);
    assert.equal(await Deno.readTextFile(join(runDir, "train.sh")), "echo v3\n");
    assert.equal((await listTree(metaDir)).includes("live"), false);
    await Deno.writeTextFile(join(project, "train.sh"), "echo v4\n");
    const verifySnapshot = await runstage(["--runs", runs, "verify", id], { cwd: project });
    assert.equal(verifySnapshot.code, 0, verifySnapshot.stdout);
    assert.doesNotMatch(verifySnapshot.stdout, /live/);
    // A snapshot is no longer restartable: it ran.
    const again = await runstage(["--runs", runs, "start", id], { cwd: project });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /only a staged run can be started/);
  });
});

Deno.test("verify tells a live run's edits from tampering with its run dir", async () => {
  await withProject(
    { "gage.toml": LIVE_OP, "train.sh": "echo v1\n", "data.txt": "d\n" },
    async (project, runs) => {
      assert.equal((await runstage(["--runs", runs, "stage", "--live"], { cwd: project })).code, 0);
      const { id, runDir } = await onlyRun(runs);
      await Deno.writeTextFile(join(project, "train.sh"), "echo edited\n");
      // Tampering: a link replaced by a file of other content.
      await Deno.remove(join(runDir, "data.txt"));
      await Deno.writeTextFile(join(runDir, "data.txt"), "forged\n");
      const r = await runstage(["--runs", runs, "verify", id, "--json"], { cwd: project });
      assert.equal(r.code, 1);
      const report = JSON.parse(r.stdout);
      assert.deepEqual(report.live, ["train.sh"]);
      assert.deepEqual(report.modified, ["data.txt"]);
      assert.equal(report.ok, false);
    },
  );
});

Deno.test("restage refreshes a staged snapshot from the project; a run that ran is refused", async () => {
  await withProject(
    { "gage.toml": LIVE_OP, "train.sh": "echo v1\n", "gone.txt": "x\n" },
    async (project, runs) => {
      assert.equal((await runstage(["--runs", runs, "stage"], { cwd: project })).code, 0);
      const { id, runDir, metaDir } = await onlyRun(runs);
      await writeTree(project, { "train.sh": "echo v2\n", "new.txt": "n\n" });
      await Deno.remove(join(project, "gone.txt"));
      const r = await runstage(["--runs", runs, "restage", id], { cwd: project });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        (await listTree(runDir)).filter((p) => !p.endsWith("/")),
        ["gage.toml", "new.txt", "train.sh"],
      );
      const verify = await runstage(["--runs", runs, "verify", id], { cwd: project });
      assert.equal(verify.code, 0, verify.stdout);
      const log = await Deno.readTextFile(join(metaDir, "log", "files"));
      assert.match(log, /^d s - gone\.txt$/m);
      assert.match(log, /^a s \d+ new\.txt$/m);
      const started = await runstage(["--runs", runs, "start", id], { cwd: project });
      assert.equal(started.stdout, "v2\n", started.stderr);
      const refused = await runstage(["--runs", runs, "restage", id], { cwd: project });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^runstage: run .* is completed: only a staged run .*rerun/);
    },
  );
});

Deno.test("--live with a git source is refused before anything is written", async () => {
  await withProject({ "gage.toml": LIVE_OP, "train.sh": "echo\n" }, async (project, runs) => {
    await commitAll(project, "one");
    const home = join(runs, "home");
    const r = await runstage(["--runs", home, "stage", "--live", "--source", "git:HEAD"], {
      cwd: project,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^runstage: --live needs the work tree, but the source is git:HEAD/);
    assert.deepEqual(await listTree(home), []);
  });
});

Deno.test("a live run is exported only once restage has frozen it", async () => {
  await withProject({ "gage.toml": LIVE_OP, "train.sh": "echo v1\n" }, async (project, runs) => {
    assert.equal((await runstage(["--runs", runs, "stage", "--live"], { cwd: project })).code, 0);
    const { id } = await onlyRun(runs);
    const archive = join(project, "..", `${id}.tar`);
    const refused = await runstage(["--runs", runs, "export", id, "-o", archive], { cwd: project });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^runstage: cannot export run .*: it is live .*restage/);
    assert.equal(await Deno.stat(archive).then(() => true, () => false), false);
    assert.equal((await runstage(["--runs", runs, "restage", id], { cwd: project })).code, 0);
    const exported = await runstage(["--runs", runs, "export", id, "-o", archive], {
      cwd: project,
    });
    assert.equal(exported.code, 0, exported.stderr);
    await Deno.remove(archive);
  });
});

Deno.test("a live run that failed while staging cannot be started", async () => {
  const op = '[train]\nexec = { copy-sourcecode = "exit 3", run = "sh train.sh" }\n';
  await withProject({ "gage.toml": op, "train.sh": "echo v1\n" }, async (project, runs) => {
    const staged = await runstage(["--runs", runs, "stage", "--live"], { cwd: project });
    assert.equal(staged.code, 3);
    const { id } = await onlyRun(runs);
    const r = await runstage(["--runs", runs, "start", id], { cwd: project });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^runstage: run .* is error: only a staged run can be started/);
  });
});
