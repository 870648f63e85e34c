/**
 * lib/run/output.ts: captured phase output. The `.index` file is decoded here by hand
 * with a DataView (big-endian u64 milliseconds, then one stream byte), so these
 * tests do not trust `readOutput` to check the writer.
 */
import assert from "node:assert/strict";
import {
  INDEX_RECORD_SIZE,
  OutputWriter,
  readOutput,
  type Stream,
} from "../../../lib/run/output.ts";
import { withTempDir } from "../../support/fixtures.ts";

const enc = (s: string) => new TextEncoder().encode(s);

interface Record {
  time: number;
  stream: number;
}

/** The index decoded independently of lib/run/output.ts. */
async function readIndex(path: string): Promise<Record[]> {
  const bytes = await Deno.readFile(`${path}.index`);
  assert.equal(bytes.length % 9, 0, `index of ${bytes.length} bytes is whole 9-byte records`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Record[] = [];
  for (let i = 0; i < bytes.length; i += 9) {
    records.push({ time: Number(view.getBigUint64(i, false)), stream: view.getUint8(i + 8) });
  }
  return records;
}

function withOutput(fn: (path: string, dir: string) => Promise<void>): Promise<void> {
  // The writer makes the output dir itself.
  return withTempDir((dir) => fn(`${dir}/output/40_run`, dir), { prefix: "runstage-output-" });
}

/** Writes chunks as [text, stream, time] and closes at `closeAt`. */
function capture(path: string, chunks: [string, Stream, number][], closeAt = 9_999): void {
  const out = new OutputWriter(path);
  for (const [text, stream, time] of chunks) out.write(enc(text), stream, time);
  out.close(closeAt);
}

Deno.test("the index record size is the format's 9 bytes", () => {
  assert.equal(INDEX_RECORD_SIZE, 9);
});

Deno.test("interleaved stdout and stderr keep arrival order, one record per line", async () => {
  await withOutput(async (path) => {
    capture(path, [
      ["out 1\n", 0, 1000],
      ["err 1\n", 1, 1001],
      ["out 2\n", 0, 1002],
      ["err 2\nerr 3\n", 1, 1003],
      ["out 3\n", 0, 1004],
    ]);
    assert.equal(await Deno.readTextFile(path), "out 1\nerr 1\nout 2\nerr 2\nerr 3\nout 3\n");
    assert.deepEqual(await readIndex(path), [
      { time: 1000, stream: 0 },
      { time: 1001, stream: 1 },
      { time: 1002, stream: 0 },
      { time: 1003, stream: 1 },
      { time: 1003, stream: 1 },
      { time: 1004, stream: 0 },
    ]);
  });
});

Deno.test("a line split across chunks is one line, stamped when it completes", async () => {
  await withOutput(async (path) => {
    capture(path, [
      ["hel", 0, 10],
      ["partial err", 1, 11],
      ["lo wor", 0, 12],
      ["ld\nnext", 0, 13],
      [" done\n", 1, 14],
      ["\n", 0, 15],
    ]);
    // A stream's half line never mixes with the other stream's bytes.
    assert.equal(await Deno.readTextFile(path), "hello world\npartial err done\nnext\n");
    assert.deepEqual(await readIndex(path), [
      { time: 13, stream: 0 },
      { time: 14, stream: 1 },
      { time: 15, stream: 0 },
    ]);
  });
});

Deno.test("a multi-byte character split between chunks comes out whole", async () => {
  await withOutput(async (path) => {
    const out = new OutputWriter(path);
    const bytes = enc("é€😀\n");
    for (const b of bytes) out.write(new Uint8Array([b]), 0, 7);
    out.close(8);
    assert.equal(await Deno.readTextFile(path), "é€😀\n");
    assert.deepEqual(readOutput(path), [{ time: 7, stream: 0, text: "é€😀" }]);
  });
});

Deno.test("a chunk the caller reuses after write does not change a pending line", async () => {
  await withOutput(async (path) => {
    const out = new OutputWriter(path);
    const buf = enc("abc");
    out.write(buf, 0, 1);
    buf.set(enc("XYZ")); // A reader reusing its buffer for the next read.
    out.write(enc("def\n"), 0, 2);
    out.close(3);
    assert.equal(await Deno.readTextFile(path), "abcdef\n");
  });
});

Deno.test("a chunk of many lines gives a record per line, file size 9 × lines", async () => {
  await withOutput(async (path) => {
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}`);
    capture(path, [[lines.join("\n") + "\n", 1, 42]]);
    assert.equal(await Deno.readTextFile(path), lines.join("\n") + "\n");
    const index = await Deno.readFile(`${path}.index`);
    assert.equal(index.length, 9 * 1000);
    const records = await readIndex(path);
    assert.ok(records.every((r) => r.time === 42 && r.stream === 1));
    assert.deepEqual(readOutput(path).map((l) => l.text), lines);
  });
});

Deno.test("empty lines are lines; empty chunks add nothing", async () => {
  await withOutput(async (path) => {
    capture(path, [["", 0, 1], ["\n\n", 0, 2], ["", 1, 3], ["x\n\n", 1, 4]]);
    assert.equal(await Deno.readTextFile(path), "\n\nx\n\n");
    assert.deepEqual(readOutput(path).map((l) => [l.text, l.stream]), [
      ["", 0],
      ["", 0],
      ["x", 1],
      ["", 1],
    ]);
    assert.equal((await Deno.readFile(`${path}.index`)).length, 4 * 9);
  });
});

Deno.test("a last line with no newline still gets a record, stamped at close", async () => {
  await withOutput(async (path) => {
    capture(path, [["first\nlast", 0, 100]], 200);
    // Kept as written: no newline is added to the file's last line.
    assert.equal(await Deno.readTextFile(path), "first\nlast");
    assert.deepEqual(await readIndex(path), [
      { time: 100, stream: 0 },
      { time: 200, stream: 0 },
    ]);
    assert.deepEqual(readOutput(path), [
      { time: 100, stream: 0, text: "first" },
      { time: 200, stream: 0, text: "last" },
    ]);
  });
});

Deno.test("both streams ending without a newline: two lines that do not run together", async () => {
  await withOutput(async (path) => {
    capture(path, [["o1\n", 0, 1], ["out tail", 0, 2], ["err tail", 1, 3]], 4);
    const text = await Deno.readTextFile(path);
    // Only the file's last line may lack its newline, or two lines would read as one.
    assert.equal(text, "o1\nout tail\nerr tail");
    assert.equal(text.split("\n").length, 3);
    assert.deepEqual(await readIndex(path), [
      { time: 1, stream: 0 },
      { time: 4, stream: 0 },
      { time: 4, stream: 1 },
    ]);
    assert.deepEqual(readOutput(path).map((l) => [l.text, l.stream]), [
      ["o1", 0],
      ["out tail", 0],
      ["err tail", 1],
    ]);
  });
});

Deno.test("the stderr tail alone at close keeps its stream", async () => {
  await withOutput(async (path) => {
    capture(path, [["done\n", 0, 1], ["warning: no newline", 1, 2]], 3);
    assert.equal(await Deno.readTextFile(path), "done\nwarning: no newline");
    assert.deepEqual(await readIndex(path), [{ time: 1, stream: 0 }, { time: 3, stream: 1 }]);
  });
});

Deno.test("timestamps are big-endian u64 milliseconds, floored, beyond 32 bits", async () => {
  await withOutput(async (path) => {
    const t = 0x01_02_03_04_05_06; // 1108152157446 ms: more than 32 bits.
    capture(path, [["a\n", 0, t + 0.9], ["b\n", 1, 2 ** 40 + 5]]);
    const raw = await Deno.readFile(`${path}.index`);
    assert.equal(raw.length, 18);
    // Byte by byte, most significant first; the fraction of a millisecond dropped.
    assert.deepEqual([...raw.subarray(0, 9)], [0, 0, 1, 2, 3, 4, 5, 6, 0]);
    assert.deepEqual([...raw.subarray(9, 18)], [0, 0, 0x01, 0, 0, 0, 0, 5, 1]);
  });
});

Deno.test("without an explicit time, records carry the current time in ms", async () => {
  await withOutput(async (path) => {
    const before = Date.now();
    const out = new OutputWriter(path);
    out.write(enc("now\n"), 0);
    out.write(enc("tail"), 1);
    out.close();
    const after = Date.now();
    for (const r of await readIndex(path)) {
      assert.ok(r.time >= before && r.time <= after, `${r.time} in [${before}, ${after}]`);
    }
  });
});

Deno.test("nothing written: both files exist and are empty", async () => {
  await withOutput(async (path) => {
    new OutputWriter(path).close();
    assert.equal((await Deno.stat(path)).size, 0);
    assert.equal((await Deno.stat(`${path}.index`)).size, 0);
    assert.deepEqual(readOutput(path), []);
  });
});

Deno.test("readOutput round-trips text, streams and times", async () => {
  await withOutput(async (path) => {
    const written: [string, Stream, number][] = [
      ["Epoch 1 loss 0.5\n", 0, 5],
      ["warn: slow\n", 1, 6],
      ["tab\there  and  spaces \n", 0, 7],
      ["ünïcødé ✓\n", 1, 8],
      ["\r\n", 0, 9],
    ];
    capture(path, written);
    assert.equal(await Deno.readTextFile(path), written.map(([text]) => text).join(""));
    assert.deepEqual(
      readOutput(path),
      written.map(([text, stream, time]) => ({ time, stream, text: text.slice(0, -1) })),
    );
  });
});
