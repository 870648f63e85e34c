import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DIGEST_CACHE_HEADER,
  DigestCache,
  type FileStamp,
  fileStamp,
  MAX_ENTRIES,
  parseDigestCache,
} from "../../../lib/copy/digests.ts";
import { withTempDir } from "../../support/fixtures.ts";

const DIGEST = "ab".repeat(32);
const LONG_AGO: FileStamp = {
  dev: 1n,
  ino: 2n,
  size: 3n,
  mtimeNs: 1_000_000_000n,
  ctimeNs: 1_000_000_000n,
};

Deno.test("digest cache: a file written after the staging's stamp is racy and never recorded", async () => {
  await withTempDir(async (dir) => {
    const cache = DigestCache.open(join(dir, "digests"));
    cache.startStaging();
    const file = join(dir, "f");
    await Deno.writeTextFile(file, "x");
    cache.record(fileStamp(file)!, DIGEST);
    assert.equal(cache.digestOf(fileStamp(file)!), undefined);
    cache.record(LONG_AGO, DIGEST);
    assert.equal(cache.digestOf(LONG_AGO), DIGEST);
  });
});

Deno.test("digest cache: an entry answers only for the same device, inode, size, mtime and ctime", async () => {
  await withTempDir((dir) => {
    const cache = DigestCache.open(join(dir, "digests"));
    cache.startStaging();
    cache.record(LONG_AGO, DIGEST);
    for (const field of ["size", "mtimeNs", "ctimeNs", "ino"] as const) {
      assert.equal(
        cache.digestOf({ ...LONG_AGO, [field]: LONG_AGO[field] + 1n }),
        undefined,
        field,
      );
    }
  });
});

Deno.test("digest cache: nothing is recorded without a stamp, and saving keeps the newest MAX_ENTRIES", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "sub", "digests");
    const unstamped = DigestCache.open(path);
    unstamped.record(LONG_AGO, DIGEST);
    assert.equal(unstamped.digestOf(LONG_AGO), undefined);
    const cache = DigestCache.open(path);
    cache.startStaging();
    for (let i = 0n; i <= BigInt(MAX_ENTRIES); i++) cache.record({ ...LONG_AGO, ino: i }, DIGEST);
    cache.save();
    const text = await Deno.readTextFile(path);
    assert.ok(text.startsWith(DIGEST_CACHE_HEADER + "\n"));
    const reopened = DigestCache.open(path);
    assert.equal(reopened.size, MAX_ENTRIES);
    assert.equal(reopened.digestOf({ ...LONG_AGO, ino: 0n }), undefined, "the oldest went");
    assert.equal(reopened.digestOf({ ...LONG_AGO, ino: BigInt(MAX_ENTRIES) }), DIGEST);
    assert.equal([...Deno.readDirSync(join(dir, "sub"))].length, 1, "no temp files left");
    assert.equal(parseDigestCache(text.replace(/\n$/, "")).size, 0, "a cut-off file is ignored");
  });
});
