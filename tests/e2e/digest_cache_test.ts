/**
 * The digest cache (lib/copy/digests.ts) through the CLI: re-staging trusts a
 * remembered digest only while the file's device, inode, size, mtime and ctime
 * are unchanged, records what a fresh staging records, survives a corrupt cache
 * file, and never answers `verify`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cliFor, ok, sha256File } from "../support/cli.ts";
import { withProject } from "../support/fixtures.ts";

const GAGE = JSON.stringify({ t: { exec: "true", sourcecode: ["**/*"] } });
const HOUR_AGO = new Date(Date.now() - 3600_000);
/** Big enough for the big-file path (8 MiB and up). */
const BIG = new Uint8Array(9 * 1024 * 1024).map((_, i) => (i * 7) % 251);

/**
 * Files changed in the second the cache is written are racy and never
 * recorded (ctime comes to the second through node:fs in Deno); waiting past
 * that second lets the first staging record them.
 */
async function ageFiles(project: string, paths: string[]) {
  for (const p of paths) await Deno.utime(join(project, p), HOUR_AGO, HOUR_AGO);
  await new Promise((resolve) => setTimeout(resolve, 1100));
}

function cacheFile(runsHome: string) {
  return join(runsHome, ".cache", "digests");
}

/** The manifest of the newest run, as digest by path. */
async function manifestOf(runsHome: string, stdout: string): Promise<Map<string, string>> {
  const id = /\(([0-9a-f-]{36})\)/.exec(stdout)![1];
  const text = await Deno.readTextFile(join(runsHome, `${id}.meta`, "manifest"));
  return new Map(
    text.trimEnd().split("\n").map((line) => {
      const [, digest, ...path] = line.split(" ");
      return [path.join(" "), digest];
    }),
  );
}

async function assertDigestsOfProject(project: string, manifest: Map<string, string>) {
  for (const [path, digest] of manifest) {
    assert.equal(digest, await sha256File(join(project, path)), `digest of ${path}`);
  }
}

/** Rewrites `path` with other bytes of the same size, its mtime set back to what it was. */
async function rewriteKeepingStat(project: string, path: string, how: "in place" | "rename") {
  const abs = join(project, path);
  const before = await Deno.stat(abs);
  const bytes = await Deno.readFile(abs);
  bytes[0] ^= 0xff;
  if (how === "in place") {
    await Deno.writeFile(abs, bytes);
  } else {
    await Deno.writeFile(`${abs}.new`, bytes);
    await Deno.utime(`${abs}.new`, before.atime!, before.mtime!);
    await Deno.rename(`${abs}.new`, abs);
  }
  await Deno.utime(abs, before.atime!, before.mtime!);
  const after = await Deno.stat(abs);
  assert.equal(after.size, before.size);
  assert.equal(after.mtime!.getTime(), before.mtime!.getTime());
}

const FILES = {
  "gage.json": GAGE,
  "keep.txt": "kept as it is\n",
  "same.txt": "changed in place, mtime set back\n",
  "renamed.txt": "renamed over, mtime set back\n",
  "big.bin": BIG,
};

Deno.test("digest cache: a file changed after it was hashed (same size, mtime set back with utimes, in place or renamed over, small or big) is hashed again", async () => {
  await withProject(FILES, async (project, runs) => {
    const cli = cliFor(project, runs);
    await ageFiles(project, Object.keys(FILES));
    await ok(cli("stage"));
    const cached = (await Deno.readTextFile(cacheFile(runs))).trimEnd().split("\n");
    assert.equal(cached.length, 1 + Object.keys(FILES).length, "every aged file is cached");
    await rewriteKeepingStat(project, "same.txt", "in place");
    await rewriteKeepingStat(project, "renamed.txt", "rename");
    await rewriteKeepingStat(project, "big.bin", "in place");
    const manifest = await manifestOf(runs, await ok(cli("stage")));
    assert.equal(manifest.size, Object.keys(FILES).length);
    await assertDigestsOfProject(project, manifest);
    await ok(cli("verify", "1"));
  });
});

Deno.test("digest cache: a second staging of an unchanged project records the same manifest as a fresh one", async () => {
  await withProject(FILES, async (project, runs) => {
    const cli = cliFor(project, runs);
    await ageFiles(project, Object.keys(FILES));
    const first = await manifestOf(runs, await ok(cli("stage")));
    const second = await manifestOf(runs, await ok(cli("stage")));
    const freshHome = join(runs, "fresh");
    const fresh = await manifestOf(freshHome, await ok(cliFor(project, freshHome)("stage")));
    assert.deepEqual([...second], [...fresh]);
    assert.deepEqual([...first], [...fresh]);
    await assertDigestsOfProject(project, second);
  });
});

Deno.test("digest cache: never answers verify (a run's file changed after staging, or a lying cache entry, fails verify)", async () => {
  await withProject(FILES, async (project, runs) => {
    const cli = cliFor(project, runs);
    await ageFiles(project, Object.keys(FILES));
    await ok(cli("stage"));
    // A cache entry that lies about keep.txt: the staging trusts it (that is
    // what a cache is for), and verify, which always hashes, catches it.
    const keep = await Deno.stat(join(project, "keep.txt"));
    const text = await Deno.readTextFile(cacheFile(runs));
    const lying = text.split("\n").map((line) =>
      line.startsWith(`${keep.dev} ${keep.ino} `)
        ? line.replace(/[0-9a-f]{64}$/, "0".repeat(64))
        : line
    ).join("\n");
    assert.notEqual(lying, text, "keep.txt is in the cache");
    await Deno.writeTextFile(cacheFile(runs), lying);
    const manifest = await manifestOf(runs, await ok(cli("stage")));
    assert.equal(manifest.get("keep.txt"), "0".repeat(64));
    assert.notEqual((await cli("verify", "1")).code, 0, "verify of the lied-about run");
    // A warm cache, and a run's file modified after staging.
    const out = await ok(cli("stage"));
    const id = /\(([0-9a-f-]{36})\)/.exec(out)![1];
    await Deno.writeTextFile(join(runs, id, "same.txt"), "tampered\n");
    const verify = await cli("verify", "1");
    assert.notEqual(verify.code, 0, "verify of the tampered run");
    assert.match(verify.stdout + verify.stderr, /same\.txt/);
  });
});

Deno.test("digest cache: a corrupt or foreign-version cache file is ignored and replaced", async () => {
  await withProject(FILES, async (project, runs) => {
    const cli = cliFor(project, runs);
    await ageFiles(project, Object.keys(FILES));
    await Deno.mkdir(join(runs, ".cache"), { recursive: true });
    const junks = [
      "\0\x01 not a cache",
      "runstage digest cache 1\nnot an entry\n",
      `runstage digest cache 999\n1 2 3 4 5 ${"a".repeat(64)}\n`,
    ];
    for (const junk of junks) {
      await Deno.writeTextFile(cacheFile(runs), junk);
      const manifest = await manifestOf(runs, await ok(cli("stage")));
      await assertDigestsOfProject(project, manifest);
      const cached = await Deno.readTextFile(cacheFile(runs));
      assert.match(cached, /^runstage digest cache 1\n/);
    }
  });
});
