/**
 * `import` against archives crafted to be wrong: tampered, truncated, with
 * entries that climb out, links that escape, duplicates, foreign types,
 * entries the index does not know or misses, and a run that disagrees with its
 * own manifest. Each is refused on one line naming the entry, and the runs
 * home is byte-for-byte what it was, or still absent. Also: importing twice is
 * a no-op, and a run id already there with other content is refused.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { type ArchiveEntry, linkEscapeReason, parseIndex } from "../../lib/archive/format.ts";
import { onlyRun, runstage } from "../support/cli.ts";
import { sha256File, withProject, withTempDir } from "../support/fixtures.ts";
import { indexOf, readTar, type TarEntry, withIndex, writeTar } from "../support/tar.ts";

// --- crafting archives ------------------------------------------------------------------------

const text = (s: string) => new TextEncoder().encode(s);

// --- the runs home, byte for byte -------------------------------------------------------------

/** Every entry under `dir` with its type, mode, size and digest or target; "absent" if none. */
async function snapshot(dir: string): Promise<string> {
  const lines: string[] = [];
  async function walk(abs: string, rel: string) {
    const entries = [];
    for await (const e of Deno.readDir(abs)) entries.push(e.name);
    for (const name of entries.sort()) {
      const path = `${abs}/${name}`;
      const at = rel ? `${rel}/${name}` : name;
      const info = await Deno.lstat(path);
      const mode = (info.mode! & 0o7777).toString(8);
      if (info.isSymlink) lines.push(`${at} link ${await Deno.readLink(path)}`);
      else if (info.isDirectory) {
        lines.push(`${at}/ dir ${mode}`);
        await walk(path, at);
      } else lines.push(`${at} file ${mode} ${info.size} ${await sha256File(path)}`);
    }
  }
  try {
    await walk(dir, "");
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "absent";
    throw err;
  }
  return lines.join("\n");
}

// --- fixtures ---------------------------------------------------------------------------------

const PROJECT = {
  "gage.toml": `[train]\nexec = "python3 train.py"\n`,
  "train.py": `open("model.txt", "w").write("weights")\n`,
  // Random, so its bytes are found in the tar; text under the size limit, so it is source code.
  "data.txt": randomBytes(45_000).toString("hex"),
};

interface Fixture {
  dir: string;
  /** The run in `good`. */
  id: string;
  /** A plain tar of one completed run. */
  good: string;
  /** The same, gzipped. */
  goodGz: string;
  /** A runs home holding another run: it must stay byte-for-byte the same. */
  home: string;
}

/** A completed run exported, and a runs home that holds a different run. */
async function withFixture(fn: (fx: Fixture) => Promise<void>): Promise<void> {
  await withProject(PROJECT, async (project, runsHome) => {
    await withTempDir(async (dir) => {
      const run = (args: string[], home = runsHome) =>
        runstage(["--runs", home, "-C", project, ...args]);
      assert.equal((await run(["run"])).code, 0);
      const { id } = await onlyRun(runsHome);
      const fx: Fixture = {
        dir,
        id,
        good: `${dir}/good.tar`,
        goodGz: `${dir}/good.tar.gz`,
        home: `${dir}/home`,
      };
      assert.equal((await run(["export", id, "-o", fx.good])).code, 0);
      assert.equal((await run(["export", id, "-o", fx.goodGz])).code, 0);
      assert.equal((await run(["run"], fx.home)).code, 0);
      await fn(fx);
    });
  });
}

/**
 * Imports `archive` into the fixture's home and into an absent one: each
 * refused with exit 1 and one line matching `pattern`, each home as it was.
 */
async function assertImportRefused(fx: Fixture, archive: string, pattern: RegExp) {
  const before = await snapshot(fx.home);
  const absent = `${fx.dir}/absent/runs`;
  for (const home of [fx.home, absent]) {
    const result = await runstage(["--runs", home, "import", archive], { cwd: fx.dir });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, /^runstage: cannot import /);
    assert.match(result.stderr, pattern);
  }
  assert.equal(await snapshot(fx.home), before, "the runs home is unchanged");
  assert.equal(await snapshot(`${fx.dir}/absent`), "absent", "no runs home was made");
}

// --- tests ------------------------------------------------------------------------------------

Deno.test("import refuses a damaged or hostile archive and leaves the runs home as it was", async (t) => {
  await withFixture(async (fx) => {
    const id = fx.id;
    const good = await readTar(fx.good);
    const crafted = `${fx.dir}/crafted.tar`;
    const craft = (entries: TarEntry[], gzip = false) => writeTar(crafted, entries, gzip);
    const at = (path: string) => good.findIndex((e) => e.header.name.replace(/\/$/, "") === path);

    await t.step("the untouched archive imports (the control)", async () => {
      await craft(good, true);
      const result = await runstage(["--runs", `${fx.dir}/control`, "import", crafted]);
      assert.equal(result.code, 0, result.stderr);
    });

    await t.step("a tampered file, the index unchanged", async () => {
      const entries = structuredClone(good);
      const data = entries[at(`${id}/train.py`)].data;
      data[0] ^= 0xff;
      await craft(entries);
      await assertImportRefused(
        fx,
        crafted,
        new RegExp(`entry "${id}/train\\.py" does not match its SHA-256 in the index \\(tampered`),
      );
    });

    await t.step("a tar.gz cut in half", async () => {
      const bytes = await Deno.readFile(fx.goodGz);
      await Deno.writeFile(crafted, bytes.subarray(0, Math.floor(bytes.length / 2)));
      await assertImportRefused(
        fx,
        crafted,
        /the archive is truncated or corrupt \(gzip: unexpected end of file, (in|after) entry "[^"]+"\)/,
      );
    });

    await t.step("a plain tar cut inside a file", async () => {
      const bytes = await Deno.readFile(fx.good);
      const data = PROJECT["data.txt"];
      const start = Buffer.from(bytes).indexOf(data.slice(0, 64));
      assert.ok(start > 0);
      await Deno.writeFile(crafted, bytes.subarray(0, start + data.length / 2));
      await assertImportRefused(
        fx,
        crafted,
        new RegExp(`truncated or corrupt \\(.*, in entry "${id}/data\\.txt"\\)`),
      );
    });

    await t.step("a tar cut between entries: the index lists what never came", async () => {
      await craft(good.slice(0, at(`${id}/train.py`)));
      await assertImportRefused(
        fx,
        crafted,
        new RegExp(`entry "${id}/train\\.py" of the index is missing from the archive`),
      );
    });

    await t.step('an entry "../evil"', async () => {
      await craft([...good, { header: { name: "../evil", type: "file" }, data: text("x") }]);
      await assertImportRefused(fx, crafted, /entry "\.\.\/evil" has a "\.\." segment/);
    });

    await t.step("an absolute path", async () => {
      const evil = `/tmp/evil-${crypto.randomUUID()}`;
      await craft([...good, { header: { name: evil, type: "file" }, data: text("x") }]);
      await assertImportRefused(fx, crafted, new RegExp(`entry "${evil}" is an absolute path`));
      await assert.rejects(Deno.lstat(evil), Deno.errors.NotFound);
    });

    await t.step("a symlink out of the runs home, in the index and the tar", async () => {
      const link = {
        header: { name: `${id}/link`, type: "symlink" as const, linkname: "../../etc" },
      };
      await craft(
        withIndex([...good, { ...link, data: new Uint8Array() }], (index) => {
          index.entries.push({ path: `${id}/link`, type: "symlink", target: "../../etc" });
        }),
      );
      await assertImportRefused(
        fx,
        crafted,
        new RegExp(`the symlink "${id}/link" links to "\\.\\./\\.\\./etc", outside the runs home`),
      );
    });

    await t.step("a symlink whose target differs from the index's", async () => {
      await craft(
        withIndex(
          [...good, {
            header: { name: `${id}/link`, type: "symlink", linkname: "../../etc" },
            data: new Uint8Array(),
          }],
          (index) =>
            index.entries.push({ path: `${id}/link`, type: "symlink", target: "train.py" }),
        ),
      );
      await assertImportRefused(
        fx,
        crafted,
        new RegExp(
          `symlink "${id}/link" points to "\\.\\./\\.\\./etc", the index says "train\\.py"`,
        ),
      );
    });

    await t.step("a duplicate entry", async () => {
      await craft([...good, good[at(`${id}/train.py`)]]);
      await assertImportRefused(fx, crafted, new RegExp(`entry "${id}/train\\.py" appears twice`));
    });

    await t.step("a hard link", async () => {
      const hard = { name: `${id}/hard`, type: "link" as const, linkname: `${id}/train.py` };
      await craft([...good, { header: hard, data: new Uint8Array() }]);
      await assertImportRefused(
        fx,
        crafted,
        new RegExp(`entry "${id}/hard" is a hard link: runstage archives hold only files, dirs`),
      );
    });

    await t.step("a fifo", async () => {
      await craft([...good, {
        header: { name: `${id}/pipe`, type: "fifo" },
        data: new Uint8Array(),
      }]);
      await assertImportRefused(fx, crafted, new RegExp(`entry "${id}/pipe" is a fifo`));
    });

    await t.step("an entry the index does not list", async () => {
      await craft([...good, {
        header: { name: `${id}/extra.txt`, type: "file" },
        data: text("x"),
      }]);
      await assertImportRefused(
        fx,
        crafted,
        new RegExp(`entry "${id}/extra\\.txt" is not in the archive's index`),
      );
    });

    await t.step("a run whose files agree with the index but not with its manifest", async () => {
      const changed = text(`open("model.txt", "w").write("other")\n`);
      const digest = Array.from(
        new Uint8Array(await crypto.subtle.digest("SHA-256", changed)),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("");
      const entries = structuredClone(good);
      entries[at(`${id}/train.py`)].data = changed;
      await craft(withIndex(entries, (index) => {
        const entry = index.entries.find((e) => e.path === `${id}/train.py`)!;
        Object.assign(entry, { size: changed.length, sha256: digest });
      }));
      await assertImportRefused(
        fx,
        crafted,
        /run \S+ does not match its own manifest \(modified "train\.py"\); nothing was imported/,
      );
    });

    await t.step("an index that is not JSON, or not first", async () => {
      await craft([{ header: good[0].header, data: text("{ not json") }, ...good.slice(1)]);
      await assertImportRefused(fx, crafted, /its index runstage-index\.json is not JSON/);
      await craft([...good.slice(1), good[0]]);
      await assertImportRefused(fx, crafted, /it does not start with runstage-index\.json/);
    });

    await t.step("a file that is not an archive at all", async () => {
      await Deno.writeTextFile(crafted, "hello\n".repeat(200));
      await assertImportRefused(fx, crafted, /the archive is truncated or corrupt \(Invalid tar/);
    });
  });
});

Deno.test("importing the same archive twice is a no-op that says so", async () => {
  await withFixture(async (fx) => {
    const home = `${fx.dir}/home2`;
    const first = await runstage(["--runs", home, "import", fx.goodGz]);
    assert.equal(first.code, 0, first.stderr);
    const before = await snapshot(home);
    const again = await runstage(["--runs", home, "import", fx.good, "--json"]);
    assert.equal(again.code, 0, again.stderr);
    const report = JSON.parse(again.stdout);
    assert.deepEqual(report.imported, []);
    assert.deepEqual(report.skipped.map((r: { id: string }) => r.id), [fx.id]);
    assert.equal(report.skipped[0].reason, "already present");
    const plain = await runstage(["--runs", home, "import", fx.goodGz]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^\S+ {2}already present, skipped\nNothing to import: its run is/);
    assert.equal(await snapshot(home), before);

    // Along with a new run, the present one is skipped and the new one imported.
    const other = (await onlyRun(fx.home)).id;
    const both = `${fx.dir}/both.tar`;
    const otherTar = `${fx.dir}/other.tar`;
    const exported = await runstage(["--runs", fx.home, "export", other, "-o", otherTar]);
    assert.equal(exported.code, 0, exported.stderr);
    const merged = await readTar(fx.good);
    const second = await readTar(otherTar);
    await writeTar(
      both,
      withIndex([...merged, ...second.slice(1)], (index) => {
        const added = indexOf(second);
        index.runs.push(...added.runs);
        index.entries.push(...added.entries);
      }),
    );
    const mixed = await runstage(["--runs", home, "import", both]);
    assert.equal(mixed.code, 0, mixed.stderr);
    assert.match(mixed.stdout, /already present, skipped\n.*imported, \d+ files/);
    assert.match(mixed.stdout, /Imported 1 run into .* \(1 already present\)\n$/);
  });
});

Deno.test("a run id already in the runs home with other content refuses the whole import", async () => {
  await withFixture(async (fx) => {
    const home = `${fx.dir}/home2`;
    assert.equal((await runstage(["--runs", home, "import", fx.good])).code, 0);
    // The same run, labelled here: its meta dir differs from the archive's.
    assert.equal((await runstage(["--runs", home, "label", "1", "mine"])).code, 0);
    const before = await snapshot(home);
    const result = await runstage(["--runs", home, "import", fx.good]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(
        `^runstage: cannot import: run \\S+ \\(${fx.id}\\) is already in ${home} with different` +
          ` content; purge or delete it there first`,
      ),
    );
    assert.equal(await snapshot(home), before);
  });
});

// --- the index's own rules ----------------------------------------------------------------------

const ID = "60a825b1-0000-4000-8000-000000000000";

function entryMap(entries: ArchiveEntry[]): Map<string, ArchiveEntry> {
  return new Map(entries.map((e) => [e.path, e]));
}

Deno.test("a link target is walked step by step: no way out through .. or another link", () => {
  const roots = new Set([ID, `${ID}.meta`, `${ID}.project`]);
  const entries = entryMap([
    { path: ID, type: "dir", mode: 0o755 },
    { path: `${ID}/deep`, type: "dir", mode: 0o755 },
    { path: `${ID}/x`, type: "dir", mode: 0o755 },
    // A link that goes up less far than it sits: `l/..` is `x`'s parent, not `deep`.
    { path: `${ID}/deep/l`, type: "symlink", target: "../x" },
  ]);
  const reason = (link: string, target: string) => linkEscapeReason(link, target, entries, roots);
  assert.equal(reason(`${ID}/deep/l`, "../x"), undefined);
  assert.equal(reason(`${ID}/a`, `../${ID}.meta/manifest`), undefined);
  assert.equal(reason(`${ID}/a`, "deep/l"), undefined, "a link to a link is fine");
  assert.match(reason(`${ID}/m`, "deep/l/../../x")!, /through the link ".*deep\/l"/);
  assert.match(reason(`${ID}/a`, "../../etc/passwd")!, /outside the runs home/);
  assert.match(reason(`${ID}/a`, "../other/file")!, /outside the archive's runs/);
  assert.match(reason(`${ID}/a`, "/etc/passwd")!, /absolute path/);
  assert.match(reason(`${ID}/a`, "..")!, /the runs home itself/);
});

Deno.test("an index must name real runs and hold its entries inside them", () => {
  const index = (runs: unknown, entries: unknown[]) =>
    JSON.stringify({ format: "runstage-archive", version: 1, runs, entries });
  const run = [{ id: ID, name: "kafom-fikud" }];
  const meta = { path: `${ID}.meta`, type: "dir", mode: 0o755 };
  assert.equal(parseIndex(index(run, [meta])).runs[0].name, "kafom-fikud");
  const refused = (text: string, pattern: RegExp) => assert.throws(() => parseIndex(text), pattern);
  refused(index([{ id: ID, name: "other-name" }], [meta]), /is not named "other-name"/);
  refused(index(run, []), /has no meta dir/);
  refused(index(run, [meta, meta]), /is listed twice/);
  refused(index(run, [meta, { path: `${ID}/a/b`, type: "dir", mode: 0 }]), /parent .* not a dir/);
  refused(
    index(run, [meta, { path: "other/x", type: "dir", mode: 0 }]),
    /not part of a listed run/,
  );
  refused(
    index(run, [meta, { path: `${ID}.meta/f`, type: "file", mode: 0o644, size: 1 }]),
    /no valid sha256/,
  );
  refused(
    JSON.stringify({ format: "runstage-archive", version: 2, runstage: "9.0.0", runs: run }),
    /archive format 2, newer than this runstage reads \(1\): import it with runstage 9\.0\.0/,
  );
});
