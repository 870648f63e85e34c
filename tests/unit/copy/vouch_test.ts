/**
 * The digest cache with the stamps selection took (lib/copy/vouch.ts): a stamp
 * may be stale by the time the file is copied (a sweep shares one selection),
 * and a stale stamp must never put a wrong digest in a run or in the cache.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type CopiedFile, copySourceFiles } from "../../../lib/copy/copy.ts";
import { DigestCache, fileStamp } from "../../../lib/copy/digests.ts";
import { selectSourcecode } from "../../../lib/source/select.ts";
import { sha256File, withTempDir, writeTree } from "../../support/fixtures.ts";

const HOUR_AGO = new Date(Date.now() - 3600_000);
/** Big enough for the big-file path (8 MiB and up). */
const BIG = new Uint8Array(9 * 1024 * 1024).map((_, i) => (i * 7) % 251);

/**
 * Sets the files' times an hour back and waits past the second: their ctime
 * (to the second in Deno) is then older than any staging's marker, so a copy
 * records them.
 */
async function age(dir: string, paths: string[]) {
  for (const p of paths) await Deno.utime(join(dir, p), HOUR_AGO, HOUR_AGO);
  await new Promise((resolve) => setTimeout(resolve, 1100));
}

/** Other bytes of the same size, the mtime set back: only the ctime tells. */
async function rewriteKeepingSizeAndMtime(path: string) {
  const before = await Deno.stat(path);
  const bytes = await Deno.readFile(path);
  bytes[0] ^= 0xff;
  await Deno.writeFile(path, bytes);
  await Deno.utime(path, before.atime!, before.mtime!);
}

/** One staging's copy: the runs home's cache opened, used and saved, as project.ts does. */
async function copyWithCache(
  files: Parameters<typeof copySourceFiles>[0],
  dst: string,
  cachePath: string,
): Promise<Map<string, CopiedFile>> {
  const digests = DigestCache.open(cachePath);
  const copied = await copySourceFiles(files, dst, undefined, { digests });
  digests.save();
  return new Map(copied.map((c) => [c.path, c]));
}

Deno.test("a selection stamp carries the file's stat and its dir's identity; a link has none", async () => {
  await withTempDir(async (dir) => {
    await writeTree(dir, { "sub/a.txt": "abc", "target.txt": "t" });
    await Deno.symlink("target.txt", join(dir, "link.txt"));
    const { files } = await selectSourcecode(dir, ["**/*"]);
    const byPath = new Map(files.map((f) => [f.path, f]));
    const { dirDev, dirIno, ...stamp } = byPath.get("sub/a.txt")!.stamp!;
    assert.deepEqual(stamp, fileStamp(join(dir, "sub/a.txt")));
    assert.equal(stamp.size, 3n);
    const sub = await Deno.stat(join(dir, "sub"));
    assert.deepEqual([dirDev, dirIno], [BigInt(sub.dev), BigInt(sub.ino!)]);
    assert.equal(byPath.get("link.txt")!.stamp, undefined, "a link is stamped when copied");
  });
});

for (const name of ["small.txt", "big.bin"]) {
  Deno.test(`a file (${name}) changed between selection and copy is not given the digest its selection stamp has in the cache`, async () => {
    await withTempDir(async (dir) => {
      const project = join(dir, "project");
      const cachePath = join(dir, "home", ".cache", "digests");
      await writeTree(project, { "small.txt": "the bytes it was hashed with\n", "big.bin": BIG });
      await age(project, ["small.txt", "big.bin"]);
      const first = await copyWithCache(
        (await selectSourcecode(project, ["**/*"])).files,
        join(dir, "run1"),
        cachePath,
      );
      const oldDigest = first.get(name)!.digest;
      assert.equal(
        DigestCache.open(cachePath).digestOf(fileStamp(join(project, name))!),
        oldDigest,
        "the first copy recorded it",
      );
      // Selected while the cache still holds the file's stamp, changed before the copy.
      const { files } = await selectSourcecode(project, ["**/*"]);
      await rewriteKeepingSizeAndMtime(join(project, name));
      const second = await copyWithCache(files, join(dir, "run2"), cachePath);
      const now = await sha256File(join(project, name));
      assert.notEqual(now, oldDigest);
      assert.equal(second.get(name)!.digest, now);
      assert.equal(await sha256File(join(dir, "run2", name)), now);
      const cache = DigestCache.open(cachePath);
      assert.notEqual(cache.digestOf(fileStamp(join(project, name))!), oldDigest);
    });
  });
}

Deno.test("a dir swapped for another between selection and copy: the file left untouched in the old dir is not recorded with the new file's digest", async () => {
  await withTempDir(async (dir) => {
    const project = join(dir, "project");
    const cachePath = join(dir, "home", ".cache", "digests");
    await writeTree(project, { "out/f.txt": "old bytes\n", "new/f.txt": "NEW BYTES\n" });
    await age(project, ["out/f.txt", "new/f.txt"]);
    const { files } = await selectSourcecode(project, ["out/**"]);
    const oldStamp = fileStamp(join(project, "out/f.txt"))!;
    await Deno.rename(join(project, "out"), join(project, "out.old"));
    await Deno.rename(join(project, "new"), join(project, "out"));
    const copied = await copyWithCache(files, join(dir, "run1"), cachePath);
    assert.equal(copied.get("out/f.txt")!.digest, await sha256File(join(project, "out/f.txt")));
    // The old file keeps its stamp: the cache must not vouch the new bytes for it.
    assert.deepEqual(fileStamp(join(project, "out.old/f.txt")), oldStamp);
    const cache = DigestCache.open(cachePath);
    assert.equal(cache.digestOf(oldStamp), undefined);
    // Swapped back, the old file is staged with its own digest.
    await Deno.rename(join(project, "out"), join(project, "new"));
    await Deno.rename(join(project, "out.old"), join(project, "out"));
    const again = await copyWithCache(
      (await selectSourcecode(project, ["out/**"])).files,
      join(dir, "run2"),
      cachePath,
    );
    assert.equal(again.get("out/f.txt")!.digest, await sha256File(join(project, "out/f.txt")));
  });
});

Deno.test("a file whose size is not its selection stamp's is copied whole and not recorded under that stamp", async () => {
  await withTempDir(async (dir) => {
    const project = join(dir, "project");
    const cachePath = join(dir, "home", ".cache", "digests");
    await writeTree(project, { "a.txt": "short\n", "b.txt": "unchanged\n" });
    await age(project, ["a.txt", "b.txt"]);
    const { files } = await selectSourcecode(project, ["**/*"]);
    const stamp = files.find((f) => f.path === "a.txt")!.stamp!;
    await Deno.writeTextFile(join(project, "a.txt"), "longer than it was\n");
    const copied = await copyWithCache(files, join(dir, "run1"), cachePath);
    assert.equal(copied.get("a.txt")!.size, "longer than it was\n".length);
    const cache = DigestCache.open(cachePath);
    assert.equal(cache.digestOf(stamp), undefined);
    assert.equal(
      cache.digestOf(files.find((f) => f.path === "b.txt")!.stamp!),
      await sha256File(join(project, "b.txt")),
      "an unchanged file is recorded with its selection stamp",
    );
  });
});

Deno.test("with an empty cache, a first copy records every aged file under its selection stamp", async () => {
  await withTempDir(async (dir) => {
    const project = join(dir, "project");
    const cachePath = join(dir, "home", ".cache", "digests");
    await writeTree(project, { "a.txt": "a\n", "d/b.txt": "b\n", "big.bin": BIG });
    await age(project, ["a.txt", "d/b.txt", "big.bin"]);
    const { files } = await selectSourcecode(project, ["**/*"]);
    const copied = await copyWithCache(files, join(dir, "run1"), cachePath);
    const cache = DigestCache.open(cachePath);
    assert.equal(cache.size, 3);
    for (const f of files) assert.equal(cache.digestOf(f.stamp!), copied.get(f.path)!.digest);
  });
});
