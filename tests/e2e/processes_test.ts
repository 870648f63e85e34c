/**
 * Whose process a run is, and that nothing it starts outlives it: `proc/lock`
 * names pid, host and start time, so a reused pid or another host's pid is
 * never taken for the run's process; a daemon the op starts with setsid is
 * ended with the run.
 */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { cliFor, json, ok, spawnRunstage } from "../support/cli.ts";
import { withProject } from "../support/fixtures.ts";
import { alive, startTicks } from "../support/process.ts";

interface RunRow {
  status: string;
  metaDir: string;
  host?: string | null;
}

const STAGED = `[op]\nexec = "true"\n`;

/** Stages a run and writes `lock` as its proc/lock; returns the run's meta dir. */
async function stagedWithLock(project: string, home: string, lock: string): Promise<string> {
  const cli = cliFor(project, home);
  await ok(cli("stage", "op"));
  const [run] = await json<RunRow[]>(cli("runs", "--json"));
  await Deno.mkdir(`${run.metaDir}/proc`, { recursive: true });
  await Deno.writeTextFile(`${run.metaDir}/proc/lock`, lock);
  return run.metaDir;
}

Deno.test("proc/lock: an old lock of 1 (init) is not the run's process: terminated", async () => {
  await withProject({ "gage.toml": STAGED }, async (project, home) => {
    await stagedWithLock(project, home, "1");
    const [run] = await json<RunRow[]>(cliFor(project, home)("runs", "--json"));
    assert.equal(run.status, "terminated");
  });
});

Deno.test("proc/lock: a live pid whose start time differs is a reused pid: terminated", async () => {
  await withProject({ "gage.toml": STAGED }, async (project, home) => {
    const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
    try {
      const ticks = startTicks(sleeper.pid);
      const meta = await stagedWithLock(project, home, `${sleeper.pid} ${hostname()} 1${ticks}`);
      const cli = cliFor(project, home);
      assert.equal((await json<RunRow[]>(cli("runs", "--json")))[0].status, "terminated");
      // The same pid with its own start time is the run's process.
      await Deno.writeTextFile(`${meta}/proc/lock`, `${sleeper.pid} ${hostname()} ${ticks}`);
      assert.equal((await json<RunRow[]>(cli("runs", "--json")))[0].status, "running");
    } finally {
      sleeper.kill();
      await sleeper.status;
    }
  });
});

Deno.test("proc/lock: another host's process is running there, never judged from here", async () => {
  await withProject({ "gage.toml": STAGED }, async (project, home) => {
    // pid 1 lives here; on node-7 it may be anything: not ours to judge.
    await stagedWithLock(project, home, "999999 node-7 4242");
    const cli = cliFor(project, home);
    const [run] = await json<RunRow[]>(cli("runs", "--json"));
    assert.equal(run.status, "running");
    assert.equal(run.host, "node-7");
    assert.match(await ok(cli("runs")), /running \(host node-7\)/);
    const refused = await cli("delete", "1");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /it is running \(pid 999999 on host node-7\)/);
  });
});

Deno.test("proc/lock: a running op's lock holds its pid, this host and its start time", async () => {
  const gage = `[op]\nexec = "echo started; while [ ! -e release ]; do sleep 0.05; done"\n`;
  await withProject({ "gage.toml": gage }, async (project, home) => {
    const running = spawnRunstage(["-C", project, "--runs", home, "run"]);
    try {
      await running.readUntil(/started\n/);
      const [run] = await json<RunRow[]>(cliFor(project, home)("runs", "--json"));
      assert.equal(run.status, "running");
      const [pid, host, start] = (await Deno.readTextFile(`${run.metaDir}/proc/lock`)).split(" ");
      assert.equal(host, hostname());
      assert.equal(start, startTicks(Number(pid)));
    } finally {
      for await (const e of Deno.readDir(home)) {
        if (e.isDirectory && !e.name.endsWith(".meta")) {
          await Deno.writeTextFile(`${home}/${e.name}/release`, "");
        }
      }
      await running.result;
    }
  });
});

Deno.test("a setsid daemon the op starts does not outlive the run", async () => {
  const gage = `[op]
exec = "setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > daemon.pid; sleep 0.2"

[staging]
exec.init-runtime = "setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > daemon.pid"
exec.run = "true"
`;
  await withProject({ "gage.toml": gage }, async (project, home) => {
    const cli = cliFor(project, home);
    for (const op of ["op", "staging"]) {
      await ok(cli("run", op));
      const [run] = await json<RunRow[]>(cli("runs", "--json"));
      const pid = Number(await Deno.readTextFile(`${run.metaDir.slice(0, -5)}/daemon.pid`));
      assert.ok(pid > 0);
      const gone = !alive(pid);
      if (!gone) Deno.kill(pid, "SIGKILL");
      assert.ok(gone, `the ${op} op's setsid daemon (pid ${pid}) outlived the run`);
    }
  });
});
