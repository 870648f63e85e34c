/**
 * Faults and hostile archives for `export` and `import` (issue 10, points 4
 * and 11): an import or export killed with kill -9 leaves its hidden staging
 * dir or temp file, and the next command that writes there removes it, never
 * that of an import or export still at work; archives that would land a run
 * without its manifest, files the manifest does not list, or names with
 * control characters are refused before anything moves; an archive bigger
 * than the free space is refused before it is extracted, and a disk that
 * fills anyway is "disk full"; an index too big to be an index is refused
 * before it is parsed.
 */
import assert from "node:assert/strict";
import { rows, runstage, type Spawned, spawnRunstage } from "../support/cli.ts";
import { exists, listTree, withProject, withTempDir } from "../support/fixtures.ts";
import { ownerTag, startTicks, waitFor } from "../support/process.ts";
import { skipUnlessRoot, withTmpfs } from "../support/tmpfs.ts";
import { fileEntry, indexOf, readTar, type TarEntry, withIndex, writeTar } from "../support/tar.ts";

/** The op writes a file of BIG_MB MiB: an archive that takes a moment to write and read. */
const BIG_MB = 32;
const PROJECT = {
  "gage.toml": `[big]\nexec = "python3 big.py"\n[small]\nexec = "python3 small.py"\n`,
  "big.py": `import os
with open("big.bin", "wb") as f:
    for _ in range(${BIG_MB}):
        f.write(os.urandom(1 << 20))
`,
  "small.py": `open("out.txt", "w").write("small")\n`,
};

/** The names in `dir` that `match` takes; [] when there is no such dir. */
function namesIn(dir: string, match: RegExp): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => match.test(n)).sort();
  } catch {
    return [];
  }
}

/** Waits until `dir` holds a name `match` takes that is not in `known`; returns it. */
async function waitForNew(
  proc: Spawned,
  dir: string,
  match: RegExp,
  known: string[] = [],
): Promise<string> {
  let found: string | undefined;
  const isNew = () => (found = namesIn(dir, match).find((n) => !known.includes(n))) !== undefined;
  await waitFor(isNew, { spawned: proc, everyMs: 1, what: `a new ${match} in ${dir}` });
  return found!;
}

/** kill -9, and its end. */
async function kill9(proc: Spawned): Promise<void> {
  proc.child.kill("SIGKILL");
  const out = await proc.result;
  assert.equal(out.signal, "SIGKILL", "it was killed while at work");
}

interface Archives {
  dir: string;
  /** An archive of the big run. */
  big: string;
  /** An archive of a small run. */
  small: string;
  /** Runs home of the exported runs. */
  home: string;
  project: string;
}

async function withArchives(fn: (a: Archives) => Promise<void>): Promise<void> {
  await withProject(PROJECT, async (project, home) => {
    await withTempDir(async (dir) => {
      const cli = (...args: string[]) => runstage(["-C", project, "--runs", home, ...args]);
      for (const op of ["big", "small"]) assert.equal((await cli("run", op)).code, 0);
      const a = { dir, big: `${dir}/big.tar`, small: `${dir}/small.tar`, home, project };
      assert.equal((await cli("export", "2", "-o", a.big)).code, 0);
      assert.equal((await cli("export", "1", "-o", a.small)).code, 0);
      await fn(a);
    });
  });
}

const STAGING = /^\.import-/;

Deno.test({
  name:
    "an import killed with kill -9: the next import removes its staging dir, never a live one's",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await withArchives(async (a) => {
      const home = `${a.dir}/home`;
      await Deno.mkdir(home);
      // Killed while it extracts: its staging dir stays behind, hidden.
      const killed = spawnRunstage(["--runs", home, "import", a.big]);
      const dead = await waitForNew(killed, home, STAGING);
      await kill9(killed);
      assert.deepEqual(namesIn(home, STAGING), [dead], "kill -9 left the staging dir");
      // Stopped while it extracts: a live import.
      const live = spawnRunstage(["--runs", home, "import", a.big]);
      const liveDir = await waitForNew(live, home, STAGING, [dead]);
      live.child.kill("SIGSTOP");
      // Staging dirs named for a pid that lives but started at another time (a
      // reused pid), and for another host: the one is dead, the other not ours to judge.
      const reused = `.import-${ownerTag(Deno.pid, "1")}-aaaaaa`;
      const otherHost = `.import-${Deno.pid}.${startTicks(Deno.pid)}.00000000-bbbbbb`;
      for (const name of [reused, otherHost]) await Deno.mkdir(`${home}/${name}`);

      const next = await runstage(["--runs", home, "import", a.small]);
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(
        namesIn(home, STAGING),
        [otherHost, liveDir].sort(),
        "the dead import's staging dir is gone, the live one's and another host's stay",
      );

      live.child.kill("SIGCONT");
      const out = await live.result;
      assert.equal(out.code, 0, out.stderr);
      assert.deepEqual(namesIn(home, STAGING), [otherHost]);
      const runs = await runstage(["--runs", home, "runs", "--json"]);
      assert.equal(JSON.parse(runs.stdout).length, 2, "both archives' runs were imported");
    });
  },
});

Deno.test({
  name: "an export killed with kill -9: the next export to that path removes its temp file",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await withArchives(async (a) => {
      const out = `${a.dir}/out/run.tar`;
      await Deno.mkdir(`${a.dir}/out`);
      const temp = /^\.run\.tar\.tmp-/;
      const exportBig = () =>
        spawnRunstage(["-C", a.project, "--runs", a.home, "export", "2", "-o", out]);
      const killed = exportBig();
      const dead = await waitForNew(killed, `${a.dir}/out`, temp);
      await kill9(killed);
      assert.deepEqual(namesIn(`${a.dir}/out`, temp), [dead], "kill -9 left the temp file");
      const live = exportBig();
      const liveFile = await waitForNew(live, `${a.dir}/out`, temp, [dead]);
      live.child.kill("SIGSTOP");

      const next = await runstage(["-C", a.project, "--runs", a.home, "export", "1", "-o", out]);
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(namesIn(`${a.dir}/out`, temp), [liveFile], "only the live export's stays");

      live.child.kill("SIGCONT");
      const done = await live.result;
      assert.equal(done.code, 0, done.stderr);
      assert.deepEqual(namesIn(`${a.dir}/out`, temp), []);
      assert.ok(await exists(out));
    });
  },
});

// --- point 11: archives that must not be let in ------------------------------------------------

/**
 * Imports `archive` into a runs home holding another run: refused with exit 1 and
 * one line matching `pattern`, the runs home as it was, no staging dir left.
 */
async function assertRefused(a: Archives, archive: string, pattern: RegExp, env = {}) {
  const home = `${a.dir}/refusing`;
  if (!(await exists(home))) {
    assert.equal((await runstage(["--runs", home, "import", a.big])).code, 0);
  }
  const before = await listTree(home);
  const r = await runstage(["--runs", home, "import", archive], { env });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(rows(r.stderr).length, 1, r.stderr);
  assert.match(r.stderr, /^runstage: cannot import /);
  assert.match(r.stderr, pattern);
  assert.deepEqual(await listTree(home), before, "the runs home is as it was");
}

Deno.test("import refuses, before anything moves, a run its manifest does not hold, and control characters in names and meta", async (t) => {
  await withArchives(async (a) => {
    const good = await readTar(a.small);
    const id = indexOf(good).runs[0].id;
    const crafted = `${a.dir}/crafted.tar`;
    const craft = (entries: TarEntry[]) => writeTar(crafted, entries);
    const adding = async (path: string, text: string) => {
      const { tar, index } = await fileEntry(path, text);
      return withIndex([...good, tar], (i) => i.entries.push(index));
    };

    await t.step(
      "a completed run whose manifest was taken out, from the tar and the index",
      async () => {
        const manifest = `${id}.meta/manifest`;
        await craft(withIndex(
          good.filter((e) => e.header.name !== manifest),
          (i) => i.entries = i.entries.filter((e) => e.path !== manifest),
        ));
        await assertRefused(
          a,
          crafted,
          /run \S+ was staged but has no manifest, so its files cannot be verified/,
        );
      },
    );

    await t.step("a run-dir file the manifest does not list", async () => {
      await craft(await adding(`${id}/extra.txt`, "not in the manifest"));
      await assertRefused(
        a,
        crafted,
        /does not match its own manifest \(unexpected "extra\.txt", which the manifest does not list\)/,
      );
    });

    await t.step("a file whose name holds a newline or an escape", async () => {
      for (const name of ["a\nb.txt", "\x1b[2Jc.txt"]) {
        await craft(await adding(`${id}/${name}`, "x"));
        await assertRefused(a, crafted, /has a control character in its name/);
      }
    });

    await t.step("a label that would drive the terminal", async () => {
      await craft(await adding(`${id}.meta/label`, "\x1b[2J\x1b[Hpwned"));
      await assertRefused(a, crafted, /has control characters in its meta file "label"/);
    });
  });
});

Deno.test("an index with too many entries is refused before it is parsed, in little memory", async () => {
  await withArchives(async (a) => {
    const good = await readTar(a.small);
    const { id } = indexOf(good).runs[0];
    // 300,000 entries in about 30 MB of JSON: under the size bound, over the entries bound.
    const index = indexOf(good);
    for (let i = 0; i < 300_000; i++) {
      index.entries.push({ path: `${id}/f${i}`, type: "dir", mode: 0o755 });
    }
    const data = new TextEncoder().encode(JSON.stringify(index));
    await writeTar(`${a.dir}/huge.tar`, [{ header: good[0].header, data }]);
    // A heap of 48 MB: parsing the index would need several times that.
    await assertRefused(
      a,
      `${a.dir}/huge.tar`,
      /its index lists 30\d{4} entries, more than runstage imports from one archive \(250000\): export the runs into several archives/,
      { DENO_V8_FLAGS: "--max-old-space-size=48" },
    );
  });
});

Deno.test({
  name:
    'a disk too small is refused before extracting; a disk that fills anyway is "disk full", not corrupt',
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    if (skipUnlessRoot()) return;
    await withArchives(async (a) => {
      // 8 MB free, and a 32 MB run to import.
      await withTmpfs("size=8m", async (mnt) => {
        const r = await runstage(["--runs", `${mnt}/runs`, "import", a.big]);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(rows(r.stderr).length, 1, r.stderr);
        assert.match(
          r.stderr,
          /^runstage: cannot import .*: the disk is too full: its runs need 3\d\.\d MB and .* has \d\.\d MB free; free some space there, or import into another runs home \(--runs DIR\); nothing was imported\n$/,
        );
        assert.deepEqual(await listTree(mnt), [], "nothing was written");
      });
      // Room for the bytes, but for a few files only: the disk fills while extracting.
      await withTmpfs("size=64m,nr_inodes=12", async (mnt) => {
        const r = await runstage(["--runs", `${mnt}/runs`, "import", a.small]);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(rows(r.stderr).length, 1, r.stderr);
        assert.doesNotMatch(r.stderr, /corrupt|truncated/);
        assert.match(
          r.stderr,
          /^runstage: cannot import .*: the disk is full \(no space left in ".*\/runs"\); nothing was imported; free some space there/,
        );
        assert.deepEqual(await listTree(mnt), [], "nothing is left behind");
      });
    });
  },
});
