/**
 * Faults of the disk under the real CLI (docs/faults.md, points 1 to 3 of
 * issue 10): a full disk while staging, while the op writes and while
 * exporting; a runs home that cannot be written or read; a meta dir that goes
 * read-only while the op runs. Each is one line on stderr, never a stack
 * trace, leaves no temp file, and leaves every run with a truthful status.
 *
 * Full and read-only file systems are small tmpfs mounts and bind mounts, so
 * most tests need root (CI runs as root); without it they print
 * "skipped: no root" and pass.
 */
import assert from "node:assert/strict";
import { cliFor, type CliResult, json, rows } from "../support/cli.ts";
import { listTree, snapshot, withProject, writeTree } from "../support/fixtures.ts";
import { IS_ROOT, sh, skipUnlessRoot, unmountAll, withTmpfs } from "../support/tmpfs.ts";

/** Random bytes: no file system or gzip makes them smaller. */
function noise(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/**
 * The error line of a failed command: no stack trace, no uncaught error, and
 * exactly one line of runstage's own besides the announcement of a start (an
 * op's output may share stderr).
 */
function oneErrorLine(r: CliResult): string {
  assert.doesNotMatch(r.stderr, /^\s+at |Uncaught|^error: /m, `no stack trace:\n${r.stderr}`);
  const lines = rows(r.stderr).filter((l) =>
    l.startsWith("runstage: ") && !/^runstage: (running|starting) /.test(l)
  );
  assert.equal(lines.length, 1, `one line from runstage:\n${r.stderr}`);
  return lines[0];
}

async function tempFiles(dir: string): Promise<string[]> {
  return (await listTree(dir)).filter((p) => /\.tmp-/.test(p));
}

interface RunJson {
  name: string;
  status: string;
  exitCode: number | null;
}

const FILL = "head -c 4000000 /dev/zero";

Deno.test("disk full: a run whose source files do not fit is one line and leaves no run", async () => {
  if (skipUnlessRoot()) return;
  await withProject({
    "gage.toml": `[big]\nexec = "echo hi"\nsourcecode = ["big.bin"]\n`,
    "big.bin": noise(1_500_000),
  }, async (project) => {
    await withTmpfs("size=1m", async (runsHome) => {
      const r = await cliFor(project, runsHome)("run", "big");
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        oneErrorLine(r),
        /^runstage: the disk is full: the runs home ".*" has \d+ KiB free/,
      );
      assert.deepEqual(await listTree(runsHome), [], "no run, no temp file");
    });
  });
});

Deno.test("disk full while a staging phase writes: the run ends as error with the phase's exit code", async () => {
  if (skipUnlessRoot()) return;
  await withProject({
    "gage.toml": `[op]\nsourcecode = ["a.txt"]\n[op.exec]\n` +
      `copy-sourcecode = '${FILL} > "$run_dir/fill.bin" || exit 9'\nrun = "echo never"\n`,
    "a.txt": "a\n",
  }, async (project) => {
    await withTmpfs("size=1m", async (runsHome) => {
      const cli = cliFor(project, runsHome);
      const r = await cli("run");
      assert.equal(r.code, 9, r.stderr);
      assert.match(
        oneErrorLine(r),
        /^runstage: run \S+ failed \(exit code 9\): the disk is full: no space left to write ".*"/,
      );
      assert.doesNotMatch(r.stdout, /never/);
      assert.deepEqual(await tempFiles(runsHome), []);
      const [run] = await json<RunJson[]>(cli("runs", "--json"));
      assert.equal(run.status, "error");
      assert.equal(run.exitCode, 9);
    });
  });
});

Deno.test("disk full while the op writes: the op's exit code, an error run that start refuses, and a second run is one line", async () => {
  if (skipUnlessRoot()) return;
  await withProject({
    "gage.toml": `[fill]\nsourcecode = ["a.txt"]\nexec = '${FILL} > out.bin || exit 7'\n` +
      `[small]\nsourcecode = ["a.txt"]\nexec = "echo small"\n`,
    "a.txt": "a\n",
  }, async (project) => {
    await withTmpfs("size=1m", async (runsHome) => {
      const cli = cliFor(project, runsHome);
      const r = await cli("run", "fill");
      assert.equal(r.code, 7, r.stderr);
      assert.match(
        oneErrorLine(r),
        /^runstage: run \S+ failed \(exit code 7\): the disk is full: no space left to write ".*"/,
      );
      assert.deepEqual(await tempFiles(runsHome), []);
      const [run] = await json<RunJson[]>(cli("runs", "--json"));
      assert.equal(run.status, "error", "never staged: start would run the op again");

      const start = await cli("start", "1");
      assert.equal(start.code, 1);
      assert.match(oneErrorLine(start), /is error: only a staged run can be started/);

      // The disk is still full: another run is one line, and no run is left half made.
      const before = await snapshot(runsHome);
      const again = await cli("run", "small");
      assert.equal(again.code, 1, again.stderr);
      assert.match(oneErrorLine(again), /^runstage: the disk is full: the runs home ".*"/);
      assert.deepEqual(await snapshot(runsHome), before);
      const runs = await json<RunJson[]>(cli("runs", "--json"));
      assert.deepEqual(runs.map((x) => x.status), ["error"], "no unknown or pending run");
    });
  });
});

Deno.test("disk full where export writes the archive: one line and no partial archive", async () => {
  if (skipUnlessRoot()) return;
  await withProject({
    "gage.toml": `[op]\nsourcecode = ["big.bin"]\nexec = "echo hi"\n`,
    "big.bin": noise(1_500_000),
  }, async (project, runsHome) => {
    const cli = cliFor(project, runsHome);
    assert.equal((await cli("run")).code, 0);
    await withTmpfs("size=1m", async (target) => {
      const r = await cli("export", "1", "-o", `${target}/runs.tar`);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(oneErrorLine(r), /^runstage: cannot export to .*: the disk is full/);
      assert.deepEqual(await listTree(target), [], "no archive, no temp file");
    });
  });
});

const STAGED_OP = `[op]\nsourcecode = ["a.txt"]\nexec = 'echo ran >> "$PROJECT_DIR/ran.txt"'\n`;

Deno.test("a runs home on a read-only file system: one line before anything is done", async () => {
  if (skipUnlessRoot()) return;
  await withProject({ "gage.toml": STAGED_OP, "a.txt": "a\n" }, async (project) => {
    await withTmpfs("size=4m", async (runsHome) => {
      const cli = cliFor(project, runsHome);
      assert.equal((await cli("stage")).code, 0);
      await sh("mount", "-o", "remount,ro", runsHome);
      const before = await snapshot(runsHome);
      for (const args of [["run"], ["stage"], ["start", "1"], ["label", "1", "x"]]) {
        const r = await cli(...args);
        assert.equal(r.code, 1, `${args}: ${r.stderr}`);
        assert.equal(r.stdout, "");
        assert.match(
          oneErrorLine(r),
          /^runstage: cannot write ".*": its file system is read-only/,
          args.join(" "),
        );
      }
      assert.deepEqual(await snapshot(runsHome), before);
      assert.equal(await Deno.stat(`${project}/ran.txt`).catch(() => null), null, "op never ran");
      const [run] = await json<RunJson[]>(cli("runs", "--json"));
      assert.equal(run.status, "staged");
    });
  });
});

Deno.test("a runs home without write permission: one line before anything is done (as a user)", async () => {
  if (IS_ROOT) {
    // Root writes anyway; the read-only test above takes the same path (a WriteFault).
    console.log("skipped: root is never denied; see the read-only runs home test");
    return;
  }
  await withProject({ "gage.toml": STAGED_OP, "a.txt": "a\n" }, async (project, runsHome) => {
    await Deno.chmod(runsHome, 0o555);
    try {
      const r = await cliFor(project, runsHome)("run");
      assert.equal(r.code, 1, r.stderr);
      assert.match(oneErrorLine(r), /^runstage: cannot write ".*": permission denied/);
      assert.deepEqual(await listTree(runsHome), []);
    } finally {
      await Deno.chmod(runsHome, 0o755);
    }
  });
});

Deno.test('a runs home that cannot be read is an error, never "no runs"', async () => {
  await withProject({ "gage.toml": STAGED_OP, "a.txt": "a\n" }, async (project, dir) => {
    const cases: [string, RegExp][] = [
      [`${dir}/a-file`, /\(it is not a directory\)/],
      [`${dir}/loop`, /\(its path has a loop of symbolic links\)/],
    ];
    await writeTree(dir, { "a-file": "not a runs home\n" });
    await Deno.symlink("loop", `${dir}/loop`);
    if (!IS_ROOT) {
      await Deno.mkdir(`${dir}/closed`, { mode: 0o000 });
      cases.push([`${dir}/closed`, /\(permission denied\)/]);
    }
    for (const [runsHome, reason] of cases) {
      for (const args of [["runs"], ["show", "1"]]) {
        const r = await cliFor(project, runsHome)(...args);
        assert.equal(r.code, 1, `${args} in ${runsHome}: ${r.stderr}`);
        assert.equal(r.stdout, "");
        const line = oneErrorLine(r);
        assert.match(line, /^runstage: cannot read the runs home ".*"/);
        assert.match(line, reason);
      }
    }
    if (!IS_ROOT) await Deno.chmod(`${dir}/closed`, 0o755);
  });
});

Deno.test("meta gone read-only while the op runs: the run is not left staged, and start refuses it", async () => {
  if (skipUnlessRoot()) return;
  // The op makes its own meta dir read-only but for proc/, so runstage can let go
  // of the op's lock (and write proc/exit) but not log or write stopped.
  const op = `[op]\nsourcecode = ["a.txt"]\nexec = '''
echo ran >> "$PROJECT_DIR/ran.txt"
m="$RUN_DIR.meta"
mount --bind "$m/proc" "$m/proc" && mount --rbind "$m" "$m" && mount -o remount,bind,ro "$m"
'''\n`;
  await withProject({ "gage.toml": op, "a.txt": "a\n" }, async (project, runsHome) => {
    try {
      const cli = cliFor(project, runsHome);
      const r = await cli("run");
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        oneErrorLine(r),
        /^runstage: run \S+ failed: cannot write ".*\.meta\/.*": its file system is read-only/,
      );
      const [run] = await json<RunJson[]>(cli("runs", "--json"));
      assert.equal(run.status, "error");
      const start = await cli("start", "1");
      assert.equal(start.code, 1);
      assert.match(oneErrorLine(start), /is error: only a staged run can be started/);
      assert.equal(await Deno.readTextFile(`${project}/ran.txt`), "ran\n", "the op ran once");
    } finally {
      await unmountAll(runsHome);
    }
  });
});

Deno.test("a started run whose end was never recorded reads as error, and start refuses it", async () => {
  // What a meta dir that went read-only (or full) mid-run leaves: `started`, no
  // proc/exit, no lock. Made here by removing the end of a finished run.
  await withProject({ "gage.toml": STAGED_OP, "a.txt": "a\n" }, async (project, runsHome) => {
    const cli = cliFor(project, runsHome);
    assert.equal((await cli("run")).code, 0);
    const [done] = await json<(RunJson & { metaDir: string })[]>(cli("runs", "--json"));
    await Deno.remove(`${done.metaDir}/proc/exit`);
    await Deno.remove(`${done.metaDir}/stopped`);
    const [run] = await json<RunJson[]>(cli("runs", "--json"));
    assert.equal(run.status, "error");
    assert.equal(run.exitCode, null);
    const start = await cli("start", "1");
    assert.equal(start.code, 1);
    assert.match(oneErrorLine(start), /is error: only a staged run can be started/);
    assert.equal(await Deno.readTextFile(`${project}/ran.txt`), "ran\n", "the op ran once");
  });
});
