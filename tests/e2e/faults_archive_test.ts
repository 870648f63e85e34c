/**
 * Faults and hostile archives for `export` and `import` (issue 10, points 4
 * and 11): an import or export killed with kill -9 leaves its hidden staging
 * dir or temp file, and the next command that writes there removes it, never
 * that of an import or export still at work; archives that would land a run
 * without its manifest, files the manifest does not list, or names with
 * control characters are refused before anything moves; an archive bigger
 * than the free space is refused before it is extracted, and a disk that
 * fills anyway is "disk full"; an index too big to be an index is refused
 * before it is parsed.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { runstage, runstageCommand } from "../support/cli.ts";
import { exists, withProject, withTempDir } from "../support/fixtures.ts";

/** The op writes a file of BIG_MB MiB: an archive that takes a moment to write and read. */
const BIG_MB = 32;
const PROJECT = {
  "gage.toml": `[big]\nexec = "python3 big.py"\n[small]\nexec = "python3 small.py"\n`,
  "big.py": `import os
with open("big.bin", "wb") as f:
    for _ in range(${BIG_MB}):
        f.write(os.urandom(1 << 20))
`,
  "small.py": `open("out.txt", "w").write("small")\n`,
};

/** A hung process is killed after this long and the test fails; it is no time limit. */
const WATCHDOG_MS = 120_000;

/** `runstage ARGS` started in the background. */
function start(args: string[]) {
  const [cmd, cmdArgs] = runstageCommand(args);
  const child = new Deno.Command(cmd, {
    args: cmdArgs,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  let exited = false;
  output.finally(() => exited = true).catch(() => {});
  return { child, output, exited: () => exited };
}

/** The names in `dir` that `match` takes; [] when there is no such dir. */
function namesIn(dir: string, match: RegExp): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => match.test(n)).sort();
  } catch {
    return [];
  }
}

/** Waits until `dir` holds a name `match` takes that is not in `known`; returns it. */
async function waitForNew(
  proc: ReturnType<typeof start>,
  dir: string,
  match: RegExp,
  known: string[] = [],
): Promise<string> {
  const giveUp = Date.now() + WATCHDOG_MS;
  while (Date.now() < giveUp) {
    const found = namesIn(dir, match).find((n) => !known.includes(n));
    if (found !== undefined) return found;
    if (proc.exited()) {
      const out = await proc.output;
      throw new Error(
        `runstage ended before it got there: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  proc.child.kill("SIGKILL");
  throw new Error("runstage never got there");
}

/** kill -9, and its end. */
async function kill9(proc: ReturnType<typeof start>): Promise<void> {
  proc.child.kill("SIGKILL");
  const out = await proc.output;
  assert.equal(out.signal, "SIGKILL", "it was killed while at work");
}

/** The tag a hidden name gives its maker: pid, start time, host digest (lib/run/owner.ts). */
function ownerTag(pid: number, start: string): string {
  const host = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
  return `${pid}.${start}.${host}`;
}

/** This test process's start time as /proc has it (field 22 of /proc/self/stat). */
function ownStart(): string {
  const stat = Deno.readTextFileSync(`/proc/${Deno.pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

interface Archives {
  dir: string;
  /** An archive of the big run. */
  big: string;
  /** An archive of a small run. */
  small: string;
  /** Runs home of the exported runs. */
  home: string;
  project: string;
}

async function withArchives(fn: (a: Archives) => Promise<void>): Promise<void> {
  await withProject(PROJECT, async (project, home) => {
    await withTempDir(async (dir) => {
      const cli = (...args: string[]) => runstage(["-C", project, "--runs", home, ...args]);
      for (const op of ["big", "small"]) assert.equal((await cli("run", op)).code, 0);
      const a = { dir, big: `${dir}/big.tar`, small: `${dir}/small.tar`, home, project };
      assert.equal((await cli("export", "2", "-o", a.big)).code, 0);
      assert.equal((await cli("export", "1", "-o", a.small)).code, 0);
      await fn(a);
    });
  });
}

const STAGING = /^\.import-/;

Deno.test({
  name:
    "an import killed with kill -9: the next import removes its staging dir, never a live one's",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await withArchives(async (a) => {
      const home = `${a.dir}/home`;
      await Deno.mkdir(home);
      // Killed while it extracts: its staging dir stays behind, hidden.
      const killed = start(["--runs", home, "import", a.big]);
      const dead = await waitForNew(killed, home, STAGING);
      await kill9(killed);
      assert.deepEqual(namesIn(home, STAGING), [dead], "kill -9 left the staging dir");
      // Stopped while it extracts: a live import.
      const live = start(["--runs", home, "import", a.big]);
      const liveDir = await waitForNew(live, home, STAGING, [dead]);
      live.child.kill("SIGSTOP");
      // Staging dirs named for a pid that lives but started at another time (a
      // reused pid), and for another host: the one is dead, the other not ours to judge.
      const reused = `.import-${ownerTag(Deno.pid, "1")}-aaaaaa`;
      const otherHost = `.import-${Deno.pid}.${ownStart()}.00000000-bbbbbb`;
      for (const name of [reused, otherHost]) await Deno.mkdir(`${home}/${name}`);

      const next = await runstage(["--runs", home, "import", a.small]);
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(
        namesIn(home, STAGING),
        [otherHost, liveDir].sort(),
        "the dead import's staging dir is gone, the live one's and another host's stay",
      );

      live.child.kill("SIGCONT");
      const out = await live.output;
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.deepEqual(namesIn(home, STAGING), [otherHost]);
      const runs = await runstage(["--runs", home, "runs", "--json"]);
      assert.equal(JSON.parse(runs.stdout).length, 2, "both archives' runs were imported");
    });
  },
});

Deno.test({
  name: "an export killed with kill -9: the next export to that path removes its temp file",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await withArchives(async (a) => {
      const out = `${a.dir}/out/run.tar`;
      await Deno.mkdir(`${a.dir}/out`);
      const temp = /^\.run\.tar\.tmp-/;
      const exportBig = () => start(["-C", a.project, "--runs", a.home, "export", "2", "-o", out]);
      const killed = exportBig();
      const dead = await waitForNew(killed, `${a.dir}/out`, temp);
      await kill9(killed);
      assert.deepEqual(namesIn(`${a.dir}/out`, temp), [dead], "kill -9 left the temp file");
      const live = exportBig();
      const liveFile = await waitForNew(live, `${a.dir}/out`, temp, [dead]);
      live.child.kill("SIGSTOP");

      const next = await runstage(["-C", a.project, "--runs", a.home, "export", "1", "-o", out]);
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(namesIn(`${a.dir}/out`, temp), [liveFile], "only the live export's stays");

      live.child.kill("SIGCONT");
      const done = await live.output;
      assert.equal(done.code, 0, new TextDecoder().decode(done.stderr));
      assert.deepEqual(namesIn(`${a.dir}/out`, temp), []);
      assert.ok(await exists(out));
    });
  },
});
