/**
 * lib/run/manifest.ts and lib/run/fileslog.ts: the manifest's grouping and byte order,
 * hashing against an independent WebCrypto digest, log/files events, and
 * verifying a run dir against its manifest. Real files in temp dirs; mtimes are
 * set explicitly (Deno.utime) so expected log lines are computed, not read back.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type FileEntry, RunFiles, scanRunDir } from "../../../lib/run/fileslog.ts";
import {
  formatManifest,
  hashFile,
  parseManifest,
  readManifest,
  verifyPassed,
  verifyRunFiles,
  writeManifest,
} from "../../../lib/run/manifest.ts";
import type { FileType } from "../../../lib/run/fileslog.ts";
import { comparePaths } from "../../../lib/fs/pathorder.ts";
import { makeRun, type Run } from "../../../lib/run/identity.ts";
import { sha256File, withTempDir } from "../../support/fixtures.ts";

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** A run that is never written: formatManifest only reads what it is given. */
const NO_RUN = makeRun("/nonexistent/runs");

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

async function withRun(fn: (run: Run) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const run = makeRun(`${dir}/runs`);
    await Deno.mkdir(run.runDir, { recursive: true });
    await Deno.mkdir(run.metaDir, { recursive: true });
    await fn(run);
  });
}

/** Writes a run-dir file with a given mtime in whole milliseconds. */
async function put(run: Run, path: string, content: string, mtimeMs: number): Promise<void> {
  const full = `${run.runDir}/${path}`;
  await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(full, content);
  await Deno.utime(full, mtimeMs / 1000, mtimeMs / 1000);
}

/** The same mtime as log/files writes it: integer microseconds. */
const micros = (mtimeMs: number) => String(mtimeMs * 1000);

async function filesLog(run: Run): Promise<string[]> {
  try {
    return (await Deno.readTextFile(`${run.metaDir}/log/files`)).split("\n").slice(0, -1);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

const digestOf = (c: string) => c.repeat(64);

// Names whose UTF-16 order and UTF-8 byte order disagree, or that are otherwise awkward.
const AWKWARD_NAMES = [
  "b.txt",
  "a.txt",
  "Z.txt",
  "a b.txt",
  "é.txt", // U+00E9: 2 UTF-8 bytes
  "\u{1F600}.txt", // astral: a surrogate pair in UTF-16, 4 bytes in UTF-8
  "\uE000.txt", // private use: 3 bytes, sorts below astral in UTF-8, above in UTF-16
  "\uFFFD.txt",
  "\uFF21.txt", // fullwidth A
  "dir/x",
  "dir.x",
  "dir-x",
  "~",
];

Deno.test("comparePaths is UTF-8 byte order, astral characters after U+E000..U+FFFF", () => {
  // The case JS string comparison gets wrong.
  assert.ok("\u{1F600}" < "\uE000", "UTF-16 order puts the astral char first");
  assert.ok(comparePaths("\u{1F600}", "\uE000") > 0);
  assert.ok(comparePaths("\uFFFF", "\u{10000}") < 0);
  assert.ok(comparePaths("\uD7FF", "\u{10000}") < 0);
  assert.equal(comparePaths("same/path", "same/path"), 0);
  assert.ok(comparePaths("a", "a/b") < 0);
  assert.ok(comparePaths("a/b", "a.b") > 0, "'/' (0x2f) after '.' (0x2e)");

  // Against Buffer.compare on many pseudo-random strings over a mixed alphabet.
  const alphabet = [
    "a",
    "B",
    " ",
    "/",
    "\u007f",
    "\u0080",
    "é",
    "\u07ff",
    "\u0800",
    "\ud7ff",
    "\ue000",
    "\uffee",
    "\uffff",
    "\u{10000}",
    "\u{1F600}",
    "\u{10FFFF}",
  ];
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const word = () =>
    Array.from({ length: 1 + random(4) }, () => alphabet[random(alphabet.length)]).join("");
  for (let i = 0; i < 5000; i++) {
    const a = word();
    const b = random(4) === 0 ? a + word() : word();
    assert.equal(
      Math.sign(comparePaths(a, b)),
      Math.sign(byteOrder(a, b)),
      `${JSON.stringify(a)} vs ${JSON.stringify(b)}`,
    );
  }
});

Deno.test("formatManifest: groups s, r, d, g, each in byte order of path", () => {
  const types: FileType[] = ["g", "d", "r", "s"];
  const entries: [string, FileEntry][] = [];
  // Insert in an order that is neither grouped nor sorted.
  AWKWARD_NAMES.forEach((name, i) => {
    for (const [j, type] of types.entries()) {
      entries.push([`${type}/${name}`, {
        type,
        mtime: i,
        size: 1,
        digest: digestOf("0123456789abcdef"[(i + j) % 16]),
      }]);
    }
  });
  const files = new RunFiles(NO_RUN, entries);
  const text = formatManifest(files);
  assert.ok(text.endsWith("\n"));
  const lines = text.slice(0, -1).split("\n");
  assert.equal(lines.length, AWKWARD_NAMES.length * 4);
  const parsed = lines.map((line) => {
    const m = /^([srdg]) ([0-9a-f]{64}) (.+)$/.exec(line);
    assert.ok(m, line);
    return { type: m[1], digest: m[2], path: m[3] };
  });
  // Groups in the format's order.
  const groups = parsed.map((e) => e.type);
  const expectedGroups = ["s", "r", "d", "g"].flatMap((t) => AWKWARD_NAMES.map(() => t));
  assert.deepEqual(groups, expectedGroups);
  // Within each group, the order of sorting the UTF-8 bytes.
  for (const type of ["s", "r", "d", "g"]) {
    const paths = parsed.filter((e) => e.type === type).map((e) => e.path);
    assert.deepEqual(paths, [...paths].sort(byteOrder));
    assert.deepEqual(paths, AWKWARD_NAMES.map((n) => `${type}/${n}`).sort(byteOrder));
  }
  // Each line carries its own file's digest.
  for (const e of parsed) assert.equal(e.digest, files.get(e.path)!.digest);
  // parseManifest reads it back.
  assert.deepEqual(parseManifest(text), parsed);
});

Deno.test("formatManifest leaves out files with no digest, and quotes names with line breaks", () => {
  const files = new RunFiles(NO_RUN, [
    ["ok.txt", { type: "s", mtime: 1, size: 1, digest: digestOf("a") }],
    ["unhashed.txt", { type: "s", mtime: 1, size: 1 }],
    ["bad\nname", { type: "s", mtime: 1, size: 1, digest: digestOf("b") }],
    ["bad\rname", { type: "g", mtime: 1, size: 1, digest: digestOf("c") }],
    ['"q', { type: "g", mtime: 1, size: 1, digest: digestOf("d") }],
    ["ls\u2028\u0085", { type: "g", mtime: 1, size: 1, digest: digestOf("e") }],
  ]);
  const text = formatManifest(files);
  assert.equal(
    text,
    `s ${digestOf("b")} "bad\\nname"\n` +
      `s ${digestOf("a")} ok.txt\n` +
      `g ${digestOf("d")} "\\"q"\n` +
      `g ${digestOf("c")} "bad\\rname"\n` +
      `g ${digestOf("e")} "ls\\u2028\\u0085"\n`,
  );
  assert.deepEqual(
    parseManifest(text).map((e) => e.path),
    ["bad\nname", "ok.txt", '"q', "bad\rname", "ls\u2028\u0085"],
  );
  assert.equal(formatManifest(new RunFiles(NO_RUN)), "");
});

Deno.test("hashFile matches WebCrypto SHA-256, across the 4 MiB read chunks", async () => {
  await withTempDir(async (dir) => {
    const MiB = 1024 * 1024;
    const sizes = [0, 1, 4095, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 9 * MiB + 12345];
    for (const size of sizes) {
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i += 65536) {
        crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
      }
      const path = `${dir}/f${size}`;
      await Deno.writeFile(path, data);
      const expected = await sha256File(path);
      assert.equal(await hashFile(path), expected, `${size} bytes`);
    }
    assert.equal(await hashFile(`${dir}/f0`), EMPTY_SHA256);
    // Two files that differ only in their last byte past the first chunk.
    const a = new Uint8Array(4 * MiB + 2);
    const b = a.slice();
    b[b.length - 1] = 1;
    await Deno.writeFile(`${dir}/a`, a);
    await Deno.writeFile(`${dir}/b`, b);
    assert.notEqual(await hashFile(`${dir}/a`), await hashFile(`${dir}/b`));
  });
});

Deno.test("scanRunDir: every file by '/'-path in byte order; links to dirs not entered", async () => {
  await withRun(async (run) => {
    for (const name of AWKWARD_NAMES) await put(run, name, "x", 1_700_000_000_000);
    await put(run, "deep/er/still/file", "x", 1_700_000_000_000);
    await Deno.mkdir(`${run.runDir}/empty dir`);
    await Deno.symlink(`${run.runDir}/deep`, `${run.runDir}/link-to-dir`);
    await Deno.symlink("a.txt", `${run.runDir}/link-to-file`);
    await Deno.symlink("nowhere", `${run.runDir}/dangling`);
    const scanned = [...(await scanRunDir(run.runDir)).keys()];
    const expected = [...AWKWARD_NAMES, "deep/er/still/file", "link-to-file"].sort(byteOrder);
    assert.deepEqual(scanned, expected);
  });
});

Deno.test("logFileChanges: a, m (keeping the first type), d once, in byte order", async () => {
  await withRun(async (run) => {
    const files = new RunFiles(run);
    const T1 = 1_700_000_000_123;
    await put(run, "train.py", "print(1)\n", T1);
    await put(run, "data/my file.csv", "1,2\n", T1 + 1);
    await put(run, "z.txt", "z", T1 + 2);

    // Phase 1 (source code): everything is new.
    const c1 = await files.logChanges("s");
    assert.deepEqual(c1.map((c) => `${c.event} ${c.type} ${c.path}`), [
      "a s data/my file.csv",
      "a s train.py",
      "a s z.txt",
    ]);
    assert.deepEqual(await filesLog(run), [
      `a s ${micros(T1 + 1)} data/my file.csv`,
      `a s ${micros(T1)} train.py`,
      `a s ${micros(T1 + 2)} z.txt`,
    ]);

    // Phase 2 (runtime): no changes, nothing logged.
    assert.deepEqual(await files.logChanges("r"), []);
    assert.equal((await filesLog(run)).length, 3);

    // Phase 3 (generated): one new, one modified, one deleted.
    files.setDigest("train.py", digestOf("f"));
    await put(run, "train.py", "print(2)\n", T1 + 5000);
    await put(run, "out/model bin", "weights", T1 + 6000);
    await Deno.remove(`${run.runDir}/z.txt`);
    const c3 = await files.logChanges("g");
    assert.deepEqual(c3.map((c) => `${c.event} ${c.type} ${c.path}`), [
      "a g out/model bin",
      "m s train.py",
      "d s z.txt",
    ]);
    assert.deepEqual((await filesLog(run)).slice(3), [
      `a g ${micros(T1 + 6000)} out/model bin`,
      `m s ${micros(T1 + 5000)} train.py`,
      `d s - z.txt`,
    ]);
    // The modified file keeps its type and loses its stale digest; the deleted one is gone.
    assert.equal(files.get("train.py")!.type, "s");
    assert.equal(files.get("train.py")!.digest, undefined);
    assert.equal(files.has("z.txt"), false);

    // Phase 4: still deleted, but logged once only.
    assert.deepEqual(await files.logChanges("g"), []);
    const log = await filesLog(run);
    assert.equal(log.filter((l) => l.startsWith("d ")).length, 1);
    assert.equal(log.length, 6);

    // Re-created later: a new file with the new phase's type.
    await put(run, "z.txt", "back", T1 + 9000);
    const c5 = await files.logChanges("d");
    assert.deepEqual(c5.map((c) => `${c.event} ${c.type} ${c.path}`), ["a d z.txt"]);

    // Replaying log/files gives the same types and mtimes.
    const summary = (f: RunFiles) =>
      [...f].sort((a, b) => comparePaths(a[0], b[0])).map(([p, e]) => `${e.type} ${e.mtime} ${p}`);
    assert.deepEqual(summary(RunFiles.replay(run)), summary(files));
    assert.deepEqual(summary(files), [
      `s ${micros(T1 + 1)} data/my file.csv`,
      `g ${micros(T1 + 6000)} out/model bin`,
      `s ${micros(T1 + 5000)} train.py`,
      `d ${micros(T1 + 9000)} z.txt`,
    ]);
  });
});

Deno.test("logFileChanges: a size change with the same mtime is a modification", async () => {
  await withRun(async (run) => {
    const files = new RunFiles(run);
    const T = 1_700_000_000_000;
    await put(run, "f", "short", T);
    await files.logChanges("s");
    await put(run, "f", "much longer", T);
    const changes = await files.logChanges("g");
    assert.deepEqual(changes.map((c) => `${c.event} ${c.type} ${c.path}`), ["m s f"]);
  });
});

Deno.test("writeManifest: digests of the run dir's files, types kept; rewritten after changes", async () => {
  await withRun(async (run) => {
    const files = new RunFiles(run);
    const T = 1_700_000_000_000;
    await put(run, "src/a b.py", "a = 1\n", T);
    await put(run, "empty", "", T);
    await files.logChanges("s");
    await put(run, "venv/lib.txt", "lib\n", T);
    await files.logChanges("r");
    assert.deepEqual(await writeManifest(run, files), []);
    const digest = (p: string) => sha256File(`${run.runDir}/${p}`);
    assert.equal(
      await Deno.readTextFile(`${run.metaDir}/manifest`),
      `s ${EMPTY_SHA256} empty\n` +
        `s ${await digest("src/a b.py")} src/a b.py\n` +
        `r ${await digest("venv/lib.txt")} venv/lib.txt\n`,
    );

    // The run changes a source file and adds an output: the rewrite has both, fresh.
    await put(run, "src/a b.py", "a = 2\n", T + 1000);
    await put(run, "model.bin", "w", T + 1000);
    await files.logChanges("g");
    await writeManifest(run, files);
    assert.deepEqual(readManifest(run), [
      { type: "s", digest: EMPTY_SHA256, path: "empty" },
      { type: "s", digest: await digest("src/a b.py"), path: "src/a b.py" },
      { type: "r", digest: await digest("venv/lib.txt"), path: "venv/lib.txt" },
      { type: "g", digest: await digest("model.bin"), path: "model.bin" },
    ]);
  });
});

Deno.test("a file whose name holds a line break is recorded on one line, and verifies", async () => {
  await withRun(async (run) => {
    const files = new RunFiles(run);
    const T = 1_700_000_000_000;
    await put(run, "ok.txt", "ok", T);
    await put(run, "bad\nname.txt", "bad", T);
    await put(run, "cr\rname.txt", "cr", T);
    await files.logChanges("s");
    const skipped = await writeManifest(run, files);
    assert.deepEqual(skipped, []);
    assert.equal(
      await Deno.readTextFile(`${run.metaDir}/manifest`),
      `s ${await sha256File(`${run.runDir}/bad\nname.txt`)} "bad\\nname.txt"\n` +
        `s ${await sha256File(`${run.runDir}/cr\rname.txt`)} "cr\\rname.txt"\n` +
        `s ${await sha256File(`${run.runDir}/ok.txt`)} ok.txt\n`,
    );
    // In log/files too, one line each, read back by its exact name.
    for (const line of await filesLog(run)) assert.match(line, /^[amd] [srdg] (\d+|-) \S/);
    assert.deepEqual(
      [...RunFiles.replay(run)].map(([path]) => path),
      ["bad\nname.txt", "cr\rname.txt", "ok.txt"],
    );

    const report = await verifyRunFiles(run, readManifest(run)!);
    assert.deepEqual(report, {
      checked: 3,
      modified: [],
      missing: [],
      unexpected: [],
      undecodable: [],
    });
    assert.equal(verifyPassed(report), true);
  });
});

Deno.test("verifyRunFiles reports modified, missing and unexpected files, sorted", async () => {
  await withRun(async (run) => {
    const files = new RunFiles(run);
    const T = 1_700_000_000_000;
    for (const name of ["keep.txt", "b edit.txt", "a edit.txt", "gone.txt", "sub/gone2"]) {
      await put(run, name, `content of ${name}`, T);
    }
    await files.logChanges("s");
    await writeManifest(run, files);
    const manifest = readManifest(run)!;
    assert.equal(manifest.length, 5);

    const clean = await verifyRunFiles(run, manifest);
    assert.deepEqual(clean, {
      checked: 5,
      modified: [],
      missing: [],
      unexpected: [],
      undecodable: [],
    });
    assert.equal(verifyPassed(clean), true);

    // Same size and same mtime: only the content tells.
    await put(run, "b edit.txt", "CONTENT of b edit.txt", T);
    await put(run, "a edit.txt", "changed", T + 5);
    await Deno.remove(`${run.runDir}/gone.txt`);
    await Deno.remove(`${run.runDir}/sub/gone2`);
    await put(run, "new file.txt", "new", T);
    await put(run, "sub/new", "new", T);
    await put(run, "\u{1F600}", "new", T);
    await put(run, "\uE000", "new", T);

    const report = await verifyRunFiles(run, manifest);
    assert.deepEqual(report, {
      checked: 3,
      modified: ["a edit.txt", "b edit.txt"],
      missing: ["gone.txt", "sub/gone2"],
      unexpected: ["new file.txt", "sub/new", "\uE000", "\u{1F600}"],
      undecodable: [],
    });
    assert.equal(verifyPassed(report), false);
    assert.equal(verifyPassed({ ...report, modified: [], missing: [] }), false);
    assert.equal(verifyPassed({ ...report, unexpected: [], missing: [] }), false);
  });
});
