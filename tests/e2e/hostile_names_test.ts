/**
 * Hostile file names, labels, metrics and op names through the real CLI
 * (docs/faults.md, "File names"): a name that is not UTF-8 is left out with a
 * note, never dropped silently; names holding line separators are recorded and
 * a fresh run verifies; control characters and escape sequences are shown
 * escaped in every human-readable output, while JSON stays exact.
 */
import assert from "node:assert/strict";
import { type Cli, cliFor, type CliResult, json, ok, onlyRun } from "../support/cli.ts";
import { withProject, writeTree } from "../support/fixtures.ts";

/** Makes files whose names Deno's string paths cannot spell: bytes, through python3. */
async function makeByteNamedFile(dir: string, name: number[], content = "x"): Promise<void> {
  const hex = name.map((b) => b.toString(16).padStart(2, "0")).join("");
  const out = await new Deno.Command("python3", {
    args: [
      "-c",
      `import os; open(os.path.join(b'${dir}', bytes.fromhex('${hex}')), 'w').write('${content}')`,
    ],
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** The lines of a file as Python's str.splitlines counts them. */
async function pythonLineCount(path: string): Promise<number> {
  const code =
    "import sys; print(len(open(sys.argv[1], encoding='utf-8', newline='').read().splitlines()))";
  const out = await new Deno.Command("python3", { args: ["-c", code, path] }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return Number(new TextDecoder().decode(out.stdout).trim());
}

/** What no human-readable output may carry raw: C0 (but newline), DEL, C1, separators, bidi. */
// deno-lint-ignore no-control-regex
const RAW = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function assertNoRaw(what: string, text: string): void {
  const m = RAW.exec(text);
  assert.ok(
    !m,
    `${what} shows U+${m?.[0].charCodeAt(0).toString(16)} raw:\n${JSON.stringify(text)}`,
  );
}

function assertAllEscaped(what: string, r: CliResult): void {
  assertNoRaw(`${what} stdout`, r.stdout);
  assertNoRaw(`${what} stderr`, r.stderr);
}

const NOT_UTF8 = [0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x74, 0x78, 0x74]; // bad\xff\xfe.txt

Deno.test("a source file whose name is not UTF-8 is left out with a note, never silently", async () => {
  await withProject({ "gage.toml": '[op]\nexec = "true"\n', "ok.txt": "ok" }, async (p, home) => {
    await makeByteNamedFile(p, NOT_UTF8);
    const cli = cliFor(p, home);
    const preview = await cli("run", "op", "--preview");
    assert.equal(preview.code, 0, preview.stderr);
    assert.match(preview.stdout, /warning: .*"bad\\ufffd\\ufffd\.txt".*not UTF-8/);

    const r = await cli("run", "op");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /note: .*"bad\\ufffd\\ufffd\.txt".*not UTF-8/);
    const { metaDir } = await onlyRun(home);
    assert.match(await Deno.readTextFile(`${metaDir}/log/runner`), /not UTF-8/);
    await ok(cli("verify", "1"));
  });
});

Deno.test("a file the op makes with a name that is not UTF-8: the run ends, with a note", async () => {
  const exec = `python3 -c "open(bytes.fromhex('${
    NOT_UTF8.map((b) => b.toString(16).padStart(2, "0")).join("")
  }'), 'w').write('x')"`;
  await withProject({ "gage.toml": `[op]\nexec = ${JSON.stringify(exec)}\n` }, async (p, home) => {
    const cli = cliFor(p, home);
    const r = await cli("run", "op");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /note: .*"bad\\ufffd\\ufffd\.txt".*not UTF-8/);
    assert.equal((await json<{ status: string }[]>(cli("runs", "--json")))[0].status, "completed");
    const v = await cli("verify", "1");
    assert.equal(v.code, 0, v.stderr + v.stdout);
    assert.match(v.stderr, /note: .*"bad\\ufffd\\ufffd\.txt".*not UTF-8/);
  });
});

/** Names that split lines in some reader: LF, CR, NEL, LS, PS, VT, FF, FS, and friends. */
const SEPARATED = [
  "lf\nname.txt",
  "cr\rname.txt",
  "nel\u0085name.txt",
  "ls\u2028name.txt",
  "ps\u2029name.txt",
  "vt\u000bff\u000cfs\u001cname.txt",
  '"quoted".txt',
  "back\\slash.txt",
  " spaced .txt",
];

Deno.test("names with line separators are recorded, and a fresh run verifies", async () => {
  const files = Object.fromEntries(SEPARATED.map((n) => [n, `content of ${n}`]));
  await withProject({ "gage.toml": '[op]\nexec = "true"\n', ...files }, async (p, home) => {
    const cli = cliFor(p, home);
    const r = await cli("run", "op");
    assert.equal(r.code, 0, r.stderr);
    const v = await cli("verify", "1");
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const names = ["gage.toml", ...SEPARATED];
    assert.match(v.stdout, new RegExp(`${names.length} files verified`));
    const shown = await json<{ files: { path: string }[] }>(cli("show", "1", "--json"));
    assert.deepEqual(shown.files.map((f) => f.path).sort(), names.sort());
    // Each is named exactly: cat finds it by its name.
    for (const name of SEPARATED) {
      assert.equal(await ok(cli("cat", "1", name)), `content of ${name}`);
    }
    // One line per file however the manifest is split: Python's splitlines splits at all of them.
    const { metaDir } = await onlyRun(home);
    for (const file of ["manifest", "log/files"]) {
      assert.equal(await pythonLineCount(`${metaDir}/${file}`), names.length, file);
    }
  });
});

Deno.test("verify names a modified file with a line break in its name, escaped", async () => {
  await withProject(
    { "gage.toml": '[op]\nexec = "true"\n', "lf\nname.txt": "a" },
    async (p, home) => {
      const cli = cliFor(p, home);
      await ok(cli("run", "op"));
      const { runDir } = await onlyRun(home);
      await Deno.writeTextFile(`${runDir}/lf\nname.txt`, "changed");
      const v = await cli("verify", "1");
      assert.equal(v.code, 1);
      assert.match(v.stdout, /^modified: lf\\nname\.txt$/m);
    },
  );
});

const ESC = "\x1b]0;pwned\x07\x1b[2J";
const BIDI = "evil\u202etxt.exe";

/** A Gage file whose op name, metric names and values carry escape sequences. */
const HOSTILE_GAGE = JSON.stringify({
  [`op${ESC}`]: {
    exec: [
      "python3",
      "-c",
      "import json; json.dump({'m\\x1b[31m': 'v\\x1b[2J', 'ok': 1}, open('summary.json', 'w'))",
    ],
  },
  plain: { exec: "true" },
});

async function hostileRuns(fn: (cli: Cli, project: string, home: string) => Promise<void>) {
  await withProject({
    "gage.json": HOSTILE_GAGE,
    [`esc${ESC}.txt`]: "e",
    [BIDI]: "b",
    "ls\u2028name.txt": "l",
  }, async (p, home) => {
    const cli = cliFor(p, home);
    const first = await cli("run", `op${ESC}`);
    assert.equal(first.code, 0, first.stderr);
    assertAllEscaped("run", first);
    await ok(cli("run", "plain"));
    // A label as an imported run may carry it: written straight into meta.
    const runs = await json<{ metaDir: string }[]>(cli("runs", "--json"));
    await writeTree(runs[1].metaDir, { label: `lab${ESC}el` });
    await fn(cli, p, home);
  });
}

Deno.test("escape sequences in names, labels, metrics and op names are shown escaped everywhere", async () => {
  await hostileRuns(async (cli, _p, home) => {
    for (
      const args of [
        ["runs"],
        ["runs", "--all"],
        ["show", "2"],
        ["diff", "1", "2"],
        ["diff", "2", "1"],
        ["run", "plain", "--preview"],
        ["ops"],
      ]
    ) {
      const r = await cli(...args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assertAllEscaped(args.join(" "), r);
    }
    const shown = await ok(cli("show", "2"));
    assert.match(shown, /esc\\x1b\]0;pwned\\x07\\x1b\[2J\.txt/);
    assert.match(shown, /evil\\u202etxt\.exe/);
    assert.match(shown, /ls\\u2028name\.txt/);
    assert.match(shown, /lab\\x1b\]0;pwned/);
    assert.match(await ok(cli("runs")), /m\\x1b\[31m/);

    // JSON stays exact.
    const exact = await json<{ label: string; files: { path: string }[] }>(
      cli("show", "2", "--json"),
    );
    assert.equal(exact.label, `lab${ESC}el`);
    assert.ok(exact.files.some((f) => f.path === `esc${ESC}.txt`));

    // verify, after tampering with the hostile files.
    const runs = await json<{ runDir: string }[]>(cli("runs", "--json"));
    await Deno.writeTextFile(`${runs[1].runDir}/esc${ESC}.txt`, "changed");
    await Deno.writeTextFile(`${runs[1].runDir}/new${ESC}.txt`, "new");
    const v = await cli("verify", "2");
    assert.equal(v.code, 1);
    assertAllEscaped("verify", v);
    assert.match(v.stdout, /modified: esc\\x1b/);
    assert.match(v.stdout, /unexpected: new\\x1b/);

    // cat's errors, and error messages generally.
    for (
      const args of [["cat", "2", `nope${ESC}`], ["cat", "2", `../x${ESC}`], ["show", `x${ESC}`]]
    ) {
      const r = await cli(...args);
      assert.notEqual(r.code, 0);
      assertAllEscaped(args.join(" "), r);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    }
    void home;
  });
});
