/** The copy engine: every byte arrives, digests are right, modes are kept, on every path. */
import assert from "node:assert/strict";
import { type CopiedFile, copySourceFiles, type FileToCopy } from "../../../lib/copy/copy.ts";
import { copyBigFile, DirectBuffer } from "../../../lib/copy/filecopy.ts";
import { sha256File, withTempDir } from "../../support/fixtures.ts";

const MiB = 1024 * 1024;

/** Seeded bytes, so every size has distinct, reproducible content. */
function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A source dir and a separate destination dir, both removed afterwards. */
function withDirs(body: (src: string, dst: string) => Promise<void>): Promise<void> {
  return withTempDir(
    (src) => withTempDir((dst) => body(src, dst), { prefix: "runstage-copy-dst-" }),
    { prefix: "runstage-copy-src-" },
  );
}

async function writeSource(src: string, path: string, data: Uint8Array, mode: number) {
  const full = `${src}/${path}`;
  await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(full, data);
  await Deno.chmod(full, mode);
  return { path, src: full, size: data.length, mode } satisfies FileToCopy;
}

for (const workers of [true, false]) {
  Deno.test(`copySourceFiles (${workers ? "pipeline workers" : "one thread"}) copies big and small files byte for byte with digests, sizes, modes and mtimes`, async () => {
    await withDirs(async (src, dst) => {
      const sizes = [
        0,
        1,
        4095,
        4096,
        4097,
        70_000,
        4 * MiB + 1,
        8 * MiB - 1,
        8 * MiB,
        9 * MiB + 123,
        20 * MiB + 1,
      ];
      const files: FileToCopy[] = [];
      for (const [i, size] of sizes.entries()) {
        const mode = i % 3 === 0 ? 0o755 : i % 3 === 1 ? 0o600 : 0o644;
        files.push(await writeSource(src, `d${i % 4}/sub/file ${i}.bin`, bytes(size, i + 1), mode));
      }
      const progress: number[] = [];
      const copied = await copySourceFiles(files, dst, (p) => progress.push(p.files), { workers });
      assert.equal(copied.length, files.length);
      assert.deepEqual(progress.at(-1), files.length);
      const byPath = new Map<string, CopiedFile>(copied.map((c) => [c.path, c]));
      for (const f of files) {
        const out = `${dst}/${f.path}`;
        const c = byPath.get(f.path)!;
        const st = await Deno.stat(out);
        assert.equal(st.size, f.size, `${f.path} size`);
        assert.equal(c.size, f.size);
        assert.equal(st.mode! & 0o777, f.mode, `${f.path} mode`);
        const independent = await sha256File(f.src);
        assert.equal(await sha256File(out), independent, `${f.path} content`);
        assert.equal(c.digest, independent, `${f.path} digest`);
        assert.ok(Math.abs(c.mtime - st.mtime!.getTime() * 1000) < 1000, `${f.path} mtime`);
      }
    });
  });
}

Deno.test("copyBigFile gives the same bytes with direct I/O and with ordinary writes", async () => {
  await withDirs(async (src, dst) => {
    const file = await writeSource(src, "big.bin", bytes(8 * MiB + 4097, 7), 0o640);
    const expected = await sha256File(file.src);
    const direct: [DirectBuffer, DirectBuffer] = [new DirectBuffer(), new DirectBuffer()];
    const a = await copyBigFile(
      { src: file.src, dst: `${dst}/a.bin`, mode: 0o640, size: file.size },
      direct,
      0o022,
    );
    if (Deno.build.os === "linux") {
      assert.ok(direct[1].alignedOffset !== undefined, "big files probe for direct I/O on Linux");
    }
    const plain: [DirectBuffer, DirectBuffer] = [new DirectBuffer(), new DirectBuffer()];
    plain[0].alignedOffset = -1; // as on a file system that refuses direct I/O
    const b = await copyBigFile(
      { src: file.src, dst: `${dst}/b.bin`, mode: 0o640, size: file.size },
      plain,
      0o022,
    );
    for (const [result, path] of [[a, "a.bin"], [b, "b.bin"]] as const) {
      assert.equal(result.digest, expected);
      assert.equal(result.size, file.size);
      assert.equal(await sha256File(`${dst}/${path}`), expected);
      assert.equal((await Deno.stat(`${dst}/${path}`)).size, file.size);
    }
  });
});

Deno.test("a file that grew since selection is copied whole, and a vanished one fails the copy", async () => {
  await withDirs(async (src, dst) => {
    const file = await writeSource(src, "grows.bin", bytes(9 * MiB, 3), 0o644);
    await Deno.writeFile(file.src, bytes(10 * MiB, 4)); // bigger than selection said
    const [copied] = await copySourceFiles([file], dst);
    assert.equal(copied.size, 10 * MiB);
    assert.equal(copied.digest, await sha256File(file.src));

    const gone = { ...file, path: "gone.bin", src: `${src}/gone.bin` };
    await assert.rejects(copySourceFiles([gone], dst), /ENOENT|No such file|not found/i);
    const goneBig = { ...gone, size: 9 * MiB };
    await assert.rejects(copySourceFiles([goneBig], dst), /ENOENT|No such file|not found/i);
  });
});

Deno.test("when the writer side fails, the copy reports its error and nothing hangs", async () => {
  await withDirs(async (src, dst) => {
    const file = await writeSource(src, "big.bin", bytes(12 * MiB, 5), 0o644);
    await Deno.mkdir(`${dst}/big.bin`); // the copy's path is taken by a directory
    // A watchdog, not a speed claim: a reader left waiting for the failed writer would hang.
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<never>((_, reject) => {
      watchdog = setTimeout(
        () => reject(new Error("the copy hung after its writer failed")),
        60_000,
      );
    });
    try {
      await assert.rejects(
        Promise.race([copySourceFiles([file], dst), hung]),
        /EISDIR|is a directory/i,
      );
    } finally {
      clearTimeout(watchdog);
    }
    // The pipeline still works for the next file after a failure in the same process.
    const next = await writeSource(src, "next.bin", bytes(9 * MiB, 6), 0o644);
    const [copied] = await copySourceFiles([next], dst);
    assert.equal(copied.digest, await sha256File(next.src));
  });
});
