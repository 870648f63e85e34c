/**
 * Ctrl-C and SIGTERM while `verify`, `export` and `import` work on a run big
 * enough to take a while: each stops with 128+N and one line on stderr, and
 * leaves nothing behind: no archive or temp file beside the target, no hidden
 * staging dir in the runs home, the runs home as it was.
 *
 * The signal must land mid-scan, without timing guesses: the test watches the
 * process's open files (/proc/PID/fd, so Linux only) and signals once it holds
 * the big file open in the pass under test. No assertion is about time: that
 * it stopped at once is measured in work, the bytes it read after the signal
 * (/proc/PID/io), which must be far fewer than the rest of the big file. A
 * watchdog only kills a process that hangs.
 */
import assert from "node:assert/strict";
import { onlyRun, runstage, type Spawned, spawnRunstage } from "../support/cli.ts";
import { listTree, withProject, withTempDir } from "../support/fixtures.ts";
import { waitFor } from "../support/process.ts";

/** The op writes BIG_MB MiB: long enough to hash that a signal lands mid-file, quick to write. */
const BIG_MB = 192;
const PROJECT = {
  "gage.toml": `[big]\nexec = "python3 big.py"\n`,
  "big.py": `import os
chunk = os.urandom(4 << 20)
with open("big.bin", "wb") as f:
    for _ in range(${BIG_MB / 4}):
        f.write(chunk)
`,
};

/**
 * What a process may read after the signal: a 4 MiB hashing chunk per worker in
 * flight and the odd small file. A scan that ignored the signal would read the
 * rest of the big file, well over this.
 */
const READ_AFTER_SIGNAL_MAX = 48 * 1024 * 1024;

interface OpenFile {
  path: string;
  writable: boolean;
}

/** The files `pid` holds open, by real path, and whether for writing. [] once it has exited. */
async function openFiles(pid: number): Promise<OpenFile[]> {
  const files: OpenFile[] = [];
  try {
    for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
      try {
        const path = await Deno.readLink(`/proc/${pid}/fd/${fd.name}`);
        const info = await Deno.readTextFile(`/proc/${pid}/fdinfo/${fd.name}`);
        const flags = parseInt(/^flags:\s*([0-7]+)/m.exec(info)?.[1] ?? "0", 8);
        files.push({ path, writable: (flags & 0o3) !== 0 });
      } catch {
        // Closed while we looked.
      }
    }
  } catch {
    // Exited.
  }
  return files;
}

/** Bytes `pid` has read so far (any read call); undefined once it has exited. */
async function bytesRead(pid: number): Promise<number | undefined> {
  try {
    const io = await Deno.readTextFile(`/proc/${pid}/io`);
    return Number(/^rchar:\s*(\d+)/m.exec(io)?.[1]);
  } catch {
    return undefined;
  }
}

/** Waits until `ready` holds for the process's open files (and `also`); fails if it ends first. */
async function waitUntilOpen(
  proc: Spawned,
  ready: (file: OpenFile) => boolean,
  also: () => Promise<boolean> = () => Promise.resolve(true),
): Promise<void> {
  const isOpen = async () => (await openFiles(proc.child.pid)).some(ready) && await also();
  await waitFor(isOpen, { spawned: proc, everyMs: 5, what: "the file it works on" });
}

/**
 * Sends `sig`, and returns what the process printed once it exits (killed by
 * spawnRunstage's watchdog if it hangs), and about how much it read meanwhile
 * (as last seen before it exited).
 */
async function stop(proc: Spawned, sig: "SIGINT" | "SIGTERM") {
  const before = await bytesRead(proc.child.pid) ?? 0;
  proc.child.kill(sig);
  let readAfterSignal = 0;
  const sampling = (async () => {
    while (!proc.exited()) {
      const now = await bytesRead(proc.child.pid);
      if (now !== undefined) readAfterSignal = Math.max(readAfterSignal, now - before);
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  const out = await proc.result;
  await sampling;
  return { readAfterSignal, ...out };
}

/** Exit 128+N by its own hand (not killed), one line on stderr, no stack trace, no output. */
function assertStopped(out: Awaited<ReturnType<typeof stop>>, sig: "SIGINT" | "SIGTERM") {
  assert.equal(out.signal, null, `killed by ${out.signal} instead of stopping: ${out.stderr}`);
  assert.equal(out.code, sig === "SIGINT" ? 130 : 143, out.stderr);
  assert.equal(out.stdout, "");
  assert.deepEqual(out.stderr.split("\n"), [`runstage: stopped by ${sig}`, ""], out.stderr);
  assert.ok(
    out.readAfterSignal < READ_AFTER_SIGNAL_MAX,
    `read ${out.readAfterSignal} bytes after ${sig}: the scan went on`,
  );
}

/** Every entry under `dir` with its type, mode, size and mtime: cheap to take of a big run. */
async function listing(dir: string): Promise<string[]> {
  const lines = [];
  for (const path of await listTree(dir)) {
    const info = await Deno.lstat(`${dir}/${path}`);
    lines.push(`${path} ${info.mode} ${info.size} ${info.mtime?.getTime()}`);
  }
  return lines;
}

const isBig = (file: OpenFile) => file.path.endsWith("/big.bin");

Deno.test({
  name: "verify, export and import stop on SIGTERM or SIGINT mid-scan and leave nothing behind",
  ignore: Deno.build.os !== "linux",
  fn: async (t) => {
    await withProject(PROJECT, async (project, runsHome) => {
      const run = await runstage(["--runs", runsHome, "-C", project, "run"]);
      assert.equal(run.code, 0, run.stderr);
      const { id } = await onlyRun(runsHome);
      const before = await listing(runsHome);
      const home = ["--runs", runsHome, "-C", project];

      await t.step("verify, on SIGTERM while it hashes", async () => {
        const proc = spawnRunstage([...home, "verify", id]);
        await waitUntilOpen(proc, (f) => isBig(f) && !f.writable);
        assertStopped(await stop(proc, "SIGTERM"), "SIGTERM");
        assert.deepEqual(await listing(runsHome), before, "the runs home is unchanged");
      });

      await withTempDir(async (out) => {
        const archive = `${out}/run.tar`;

        await t.step("export, on SIGTERM in its hashing pass", async () => {
          const proc = spawnRunstage([...home, "export", id, "-o", archive]);
          // Reading the big file while no temp file exists yet: the pass that hashes for the index.
          await waitUntilOpen(proc, isBig, async () => (await listTree(out)).length === 0);
          assertStopped(await stop(proc, "SIGTERM"), "SIGTERM");
          assert.deepEqual(await listTree(out), [], "no archive and no temp file");
          assert.deepEqual(await listing(runsHome), before, "the runs home is unchanged");
        });

        await t.step("export, on SIGINT while it writes the archive", async () => {
          const proc = spawnRunstage([...home, "export", id, "-o", archive]);
          await waitUntilOpen(proc, (f) => f.path.startsWith(`${out}/.run.tar.tmp-`));
          assertStopped(await stop(proc, "SIGINT"), "SIGINT");
          assert.deepEqual(await listTree(out), [], "no archive and no temp file");
          assert.deepEqual(await listing(runsHome), before, "the runs home is unchanged");
        });

        await t.step("import, on SIGTERM while it extracts the archive", async () => {
          const exported = await runstage([...home, "export", id, "-o", archive]);
          assert.equal(exported.code, 0, exported.stderr);
          const target = `${out}/absent/runs`;
          const proc = spawnRunstage(["--runs", target, "import", archive]);
          await waitUntilOpen(proc, (f) => isBig(f) && f.writable && f.path.includes("/.import-"));
          assertStopped(await stop(proc, "SIGTERM"), "SIGTERM");
          assert.deepEqual(await listTree(`${out}/absent`), [], "no runs home made");
        });

        await t.step("import, on SIGTERM while it checks the manifest", async () => {
          for (const target of [`${out}/home`, `${out}/absent/runs`]) {
            if (target.endsWith("/home")) await Deno.mkdir(target);
            const proc = spawnRunstage(["--runs", target, "import", archive]);
            // Reading, not writing, the big file in the staging dir: the manifest check.
            await waitUntilOpen(
              proc,
              (f) => isBig(f) && !f.writable && f.path.includes("/.import-"),
            );
            assertStopped(await stop(proc, "SIGTERM"), "SIGTERM");
          }
          assert.deepEqual(
            await listTree(`${out}/home`),
            [],
            "no staging dir left in the runs home",
          );
          assert.deepEqual(await listTree(`${out}/absent`), [], "no runs home made");
          assert.deepEqual(await listTree(out), ["home/", "run.tar"]);
        });
      });
    });
  },
});
