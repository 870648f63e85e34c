/**
 * `export` and `import` through the real CLI: runs that leave one runs home as
 * an archive and arrive in another intact, runnable and verifiable, and the
 * exports refused before anything is written.
 */
import assert from "node:assert/strict";
import { onlyRun, runstage } from "../support/cli.ts";
import { listTree, sha256File, withProject, withTempDir } from "../support/fixtures.ts";

const GAGE = `[train]
default = true
[train.exec]
run = "python3 train.py"
`;
const TRAIN = `import os
print("trained in", os.getcwd() == os.environ["RUN_DIR"])
open("model.txt", "w").write("weights")
`;
const PROJECT = { "gage.toml": GAGE, "train.py": TRAIN, "tool.sh": "#!/bin/sh\necho tool\n" };

/** `runstage --runs HOME ARGS` in `cwd`, asserting it succeeds. */
async function ok(home: string, args: string[], cwd?: string) {
  const result = await runstage(["--runs", home, ...args], { cwd });
  assert.equal(result.code, 0, `runstage ${args.join(" ")}: ${result.stderr}`);
  return result;
}

/** Asserts a failed command: exit 1, one line on stderr matching `pattern`, nothing on stdout. */
function assertRefused(result: { code: number; stdout: string; stderr: string }, pattern: RegExp) {
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stdout, "");
  assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
  assert.match(result.stderr, pattern);
}

/** Every file of a dir by path, with its digest: equal trees hold the same bytes. */
/** Every file of a runs home with its digest; not the digest cache, which export leaves behind. */
async function digests(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const path of await listTree(dir)) {
    if (path.endsWith("/") || path.startsWith(".cache/")) continue;
    const info = await Deno.lstat(`${dir}/${path}`);
    out[path] = info.isSymlink ? `-> ${await Deno.readLink(`${dir}/${path}`)}` : await sha256File(
      `${dir}/${path}`,
    );
  }
  return out;
}

Deno.test("a run exported and imported into a fresh runs home is the same run, and verifies", async () => {
  await withProject(PROJECT, async (project, runsHome) => {
    await Deno.chmod(`${project}/tool.sh`, 0o755);
    await ok(runsHome, ["-C", project, "run"]);
    const { id } = await onlyRun(runsHome);
    await withTempDir(async (elsewhere) => {
      const archive = `${elsewhere}/run.tar.gz`;
      const exported = await ok(runsHome, ["-C", project, "export", "1", "-o", archive]);
      assert.match(exported.stdout, /^\S+ {2}\d+ files, [\d.]+ \S*B\nExported 1 run \(/);
      // gzip whatever the name says: the magic bytes are what import goes by.
      const bytes = await Deno.readFile(archive);
      assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b]);

      const home = `${elsewhere}/new/runs`; // does not exist yet
      const imported = await ok(home, ["import", archive], elsewhere);
      assert.match(imported.stdout, new RegExp(`^\\S+ {2}imported, \\d+ files`));
      assert.match(imported.stdout, /Imported 1 run into /);

      assert.deepEqual(await digests(`${home}`), await digests(runsHome));
      for (const part of [id, `${id}.meta`]) {
        assert.equal(
          (await Deno.stat(`${home}/${part}`)).mode,
          (await Deno.stat(`${runsHome}/${part}`)).mode,
        );
      }
      assert.equal((await Deno.stat(`${home}/${id}/tool.sh`)).mode! & 0o777, 0o755);
      // File mtimes travel too, so `start` can trust the manifest's digests of staged files.
      for (const file of ["train.py", "model.txt"]) {
        assert.deepEqual(
          (await Deno.stat(`${home}/${id}/${file}`)).mtime,
          (await Deno.stat(`${runsHome}/${id}/${file}`)).mtime,
        );
      }
      const verify = await ok(home, ["verify", "1"], elsewhere);
      assert.match(verify.stdout, /files verified/);
      const [info] = JSON.parse((await ok(home, ["runs", "--json"], elsewhere)).stdout);
      assert.equal(info.id, id);
      assert.equal(info.status, "completed");
      assert.match((await ok(home, ["show", "1"], elsewhere)).stdout, /model\.txt/);
      // Nothing of the import is left beside the runs.
      assert.deepEqual((await listTree(home)).filter((p) => !p.startsWith(id)), []);
    });
  });
});

Deno.test("a run staged on one machine, exported, imported elsewhere, starts without its project", async () => {
  await withProject(PROJECT, async (project, runsHome) => {
    await ok(runsHome, ["-C", project, "stage"]);
    const { id } = await onlyRun(runsHome);
    await withTempDir(async (elsewhere) => {
      const archive = `${elsewhere}/staged.tar`;
      await ok(runsHome, ["-C", project, "export", id.slice(0, 8), "-o", archive]);
      // Machine B: no project, another runs home.
      await Deno.remove(project, { recursive: true });
      await Deno.mkdir(project); // withProject removes it afterwards
      const home = `${elsewhere}/runs`;
      await ok(home, ["import", archive], elsewhere);
      const started = await ok(home, ["start", "1"], elsewhere);
      assert.equal(started.stdout, "trained in True\n");
      assert.equal(await Deno.readTextFile(`${home}/${id}/model.txt`), "weights");
      const [info] = JSON.parse((await ok(home, ["runs", "--json"], elsewhere)).stdout);
      assert.equal(info.status, "completed");
      // Staging's own files are not mistaken for changes the run made.
      const files = await Deno.readTextFile(`${home}/${id}.meta/log/files`);
      assert.doesNotMatch(files, /^m /m);
      await ok(home, ["verify", "1"], elsewhere);
    });
  });
});

Deno.test("two runs go into one archive and both come out, with --json on both sides", async () => {
  await withProject(PROJECT, async (project, runsHome) => {
    await ok(runsHome, ["-C", project, "run"]);
    await ok(runsHome, ["-C", project, "stage"]);
    const runs = JSON.parse((await ok(runsHome, ["-C", project, "runs", "--json"])).stdout);
    await withTempDir(async (elsewhere) => {
      const archive = `${elsewhere}/two.tgz`;
      const exported = JSON.parse(
        (await ok(runsHome, ["-C", project, "export", "1:2", "-o", archive, "--json"])).stdout,
      );
      assert.equal(exported.file, archive);
      assert.equal(exported.gzip, true);
      assert.equal(exported.bytes, (await Deno.stat(archive)).size);
      assert.deepEqual(
        exported.runs.map((r: { id: string }) => r.id),
        runs.map((r: { id: string }) => r.id),
      );
      for (const r of exported.runs) assert.ok(r.files > 0 && r.bytes > 0, JSON.stringify(r));

      const home = `${elsewhere}/runs`;
      const imported = JSON.parse(
        (await ok(home, ["import", archive, "--json"], elsewhere)).stdout,
      );
      assert.deepEqual(imported.skipped, []);
      assert.deepEqual(imported.imported, exported.runs);
      assert.equal(imported.runsHome, home);
      const listed = JSON.parse((await ok(home, ["runs", "--json"], elsewhere)).stdout);
      assert.deepEqual(
        listed.map((r: { id: string; status: string }) => [r.id, r.status]),
        runs.map((r: { id: string; status: string }) => [r.id, r.status]),
      );
      for (const index of ["1", "2"]) await ok(home, ["verify", index], elsewhere);
    });
  });
});

Deno.test("a linked dependency on another exported run travels as a relative link", async () => {
  await withProject({
    "gage.toml": `[prepare]
exec = "echo prepared > data.txt"
[train]
exec = "cat data.txt"
[[train.depends]]
op = "prepare"
link = true
`,
  }, async (project, runsHome) => {
    await ok(runsHome, ["-C", project, "run", "prepare"]);
    await ok(runsHome, ["-C", project, "run", "train"]);
    const [train, prepare] = JSON.parse(
      (await ok(runsHome, ["-C", project, "runs", "--json"])).stdout,
    );
    await withTempDir(async (elsewhere) => {
      const alone = await runstage(
        ["--runs", runsHome, "-C", project, "export", "1", "-o", `${elsewhere}/a.tar`],
      );
      assertRefused(
        alone,
        /^runstage: cannot export run \S+: the symlink "[0-9a-f-]{36}\/data\.txt" leads outside the exported runs \(to \S+data\.txt\); pass --dereference/,
      );
      assert.deepEqual(await listTree(elsewhere), [], "no archive, no temp file");

      await ok(runsHome, ["-C", project, "export", "1", "2", "-o", `${elsewhere}/both.tar`]);
      const home = `${elsewhere}/runs`;
      await ok(home, ["import", `${elsewhere}/both.tar`], elsewhere);
      const link = `${home}/${train.id}/data.txt`;
      assert.ok((await Deno.lstat(link)).isSymlink);
      assert.equal(await Deno.readLink(link), `../${prepare.id}/data.txt`);
      assert.equal(await Deno.readTextFile(link), "prepared\n");
      await ok(home, ["verify", train.id], elsewhere);
    });
  });
});

Deno.test("export --dereference stores a linked project file as a file", async () => {
  await withProject({
    "gage.toml": `[train]
exec = "cat base.bin"
[[train.depends]]
files = "base.bin"
link = true
`,
    "base.bin": "weights v1\n",
  }, async (project, runsHome) => {
    await ok(runsHome, ["-C", project, "run"]);
    const { id } = await onlyRun(runsHome);
    await withTempDir(async (elsewhere) => {
      const archive = `${elsewhere}/deref.tar`;
      assertRefused(
        await runstage(["--runs", runsHome, "-C", project, "export", "1", "-o", archive]),
        /the symlink "[0-9a-f-]{36}\/base\.bin" leads outside the exported runs/,
      );
      await ok(runsHome, ["-C", project, "export", "1", "-o", archive, "--dereference"]);
      await Deno.remove(project, { recursive: true });
      await Deno.mkdir(project);
      const home = `${elsewhere}/runs`;
      await ok(home, ["import", archive], elsewhere);
      const copy = await Deno.lstat(`${home}/${id}/base.bin`);
      assert.ok(copy.isFile && !copy.isSymlink);
      assert.equal(await Deno.readTextFile(`${home}/${id}/base.bin`), "weights v1\n");
      await ok(home, ["verify", "1"], elsewhere);
    });
  });
});

Deno.test("export refuses what it cannot write faithfully, and writes nothing", async (t) => {
  await withProject(PROJECT, async (project, runsHome) => {
    await ok(runsHome, ["-C", project, "run"]);
    const { id, runDir, metaDir } = await onlyRun(runsHome);
    await withTempDir(async (out) => {
      const exportTo = (file: string, ...more: string[]) =>
        runstage(["--runs", runsHome, "-C", project, "export", "1", "-o", file, ...more]);

      await t.step("a name that is not .tar, .tar.gz or .tgz", async () => {
        assertRefused(await exportTo(`${out}/run.zip`), /name the archive FILE\.tar, or/);
      });

      await t.step("an existing file, unless --force", async () => {
        await Deno.writeTextFile(`${out}/old.tar`, "old");
        assertRefused(
          await exportTo(`${out}/old.tar`),
          /: the file exists; pass --force to replace it/,
        );
        assert.equal(await Deno.readTextFile(`${out}/old.tar`), "old");
        await ok(runsHome, ["-C", project, "export", "1", "-o", `${out}/old.tar`, "--force"]);
        assert.notEqual(await Deno.readTextFile(`${out}/old.tar`), "old");
        await Deno.remove(`${out}/old.tar`);
      });

      await t.step("a run that is running", async () => {
        // A live pid in proc/lock is what makes a run "running".
        const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
        const exit = await Deno.readTextFile(`${metaDir}/proc/exit`);
        await Deno.remove(`${metaDir}/proc/exit`);
        await Deno.writeTextFile(`${metaDir}/proc/lock`, String(sleeper.pid));
        try {
          assertRefused(
            await exportTo(`${out}/running.tar`),
            /^runstage: cannot export run \S+: it is running \(pid \d+\); wait for it/,
          );
        } finally {
          await Deno.remove(`${metaDir}/proc/lock`);
          await Deno.writeTextFile(`${metaDir}/proc/exit`, exit);
          sleeper.kill();
          await sleeper.status;
        }
      });

      await t.step("a run whose files no longer match its manifest", async () => {
        const model = `${runDir}/model.txt`;
        await Deno.writeTextFile(model, "changed");
        assertRefused(
          await exportTo(`${out}/changed.tar`),
          new RegExp(
            `cannot export run \\S+: its files do not match its manifest \\(modified "model\\.txt"\\);` +
              ` see "runstage verify`,
          ),
        );
        await Deno.writeTextFile(model, "weights");
      });

      await t.step("a fifo in the run dir", async () => {
        const fifo = await new Deno.Command("mkfifo", { args: [`${runDir}/pipe`] }).output();
        assert.ok(fifo.success);
        assertRefused(
          await exportTo(`${out}/fifo.tar`),
          new RegExp(`"${id}/pipe" is not a file, dir or symlink`),
        );
        await Deno.remove(`${runDir}/pipe`);
      });

      assert.deepEqual(await listTree(out), [], "no archive and no temp file left");
      await ok(runsHome, ["-C", project, "verify", "1"]);
    });
  });
});

Deno.test("export refuses what import would refuse, naming the run and the path, and writes nothing", async (t) => {
  const gage =
    `[train]\nexec = "python3 train.py"\n[odd]\nexec = "printf x > \\"$(printf 'a\\\\nb.txt')\\""\n`;
  await withProject({ ...PROJECT, "gage.toml": gage }, async (project, runsHome) => {
    await withTempDir(async (out) => {
      const exportTo = (file: string) =>
        runstage(["--runs", runsHome, "-C", project, "export", "1", "-o", file]);

      await t.step("a one-line meta file holding control characters", async () => {
        await ok(runsHome, ["-C", project, "run", "train"]);
        const { id, metaDir } = await onlyRun(runsHome);
        // `label` refuses such a label; a hand or another tool may still write one.
        await Deno.writeTextFile(`${metaDir}/label`, "\x1b[2J\x1b[Hpwned");
        assertRefused(
          await exportTo(`${out}/label.tar`),
          new RegExp(
            `^runstage: cannot export run \\S+: its meta file "${id}\\.meta/label" holds control` +
              ` characters, which import refuses; rewrite it`,
          ),
        );
        await Deno.remove(`${metaDir}/label`);
      });

      await t.step(
        "a file whose name holds a line break (runs record it; archives do not)",
        async () => {
          await ok(runsHome, ["-C", project, "run", "odd"]);
          const id = JSON.parse((await ok(runsHome, ["runs", "--json"])).stdout)[0].id;
          assert.ok(await Deno.stat(`${runsHome}/${id}/a\nb.txt`));
          assertRefused(
            await exportTo(`${out}/odd.tar`),
            new RegExp(
              `^runstage: cannot export run \\S+: "${id}/a\\\\nb\\.txt" has a control character in` +
                ` its name, which import refuses; rename or remove it, or export other runs\\n$`,
            ),
          );
        },
      );

      assert.deepEqual(await listTree(out), [], "no archive and no temp file left");
    });
  });
});
