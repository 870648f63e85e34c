/**
 * Signals and crashes against real long-running ops: Ctrl-C and SIGTERM finalize
 * the run as terminated with its output kept; a second Ctrl-C kills at once;
 * a runstage killed with SIGKILL leaves no process behind and a run that reads
 * as terminated.
 */
import assert from "node:assert/strict";
import { runstage, spawnRunstage } from "../support/cli.ts";
import { withProject } from "../support/fixtures.ts";
import { alive, waitFor } from "../support/process.ts";

/** An op that starts a grandchild, reports both pids, then waits (optionally ignoring SIGINT). */
function longOp(ignoreSigint = false): string {
  return `[op]
exec = '''#!python3
import os, signal, subprocess, sys, time
${ignoreSigint ? "signal.signal(signal.SIGINT, signal.SIG_IGN)" : ""}
child = subprocess.Popen(["sleep", "300"])
print(f"started {os.getpid()} {child.pid}", flush=True)
time.sleep(300)
'''
`;
}

/** Waits (at most 5 s) until neither process is alive. */
function bothGone(op: number, grandchild: number, what: string): Promise<void> {
  return waitFor(() => !alive(op) && !alive(grandchild), { ms: 5000, everyMs: 50, what });
}

/** Starts `runstage run` and returns once the op has printed its pids. */
async function startLongRun(project: string, runsHome: string) {
  const spawned = spawnRunstage(["-C", project, "--runs", runsHome, "run"]);
  const seen = await spawned.readUntil(/started \d+ \d+\n/);
  const [, op, grandchild] = /started (\d+) (\d+)/.exec(seen)!.map(Number);
  return { child: spawned.child, op, grandchild, result: spawned.result };
}

async function runsJson(project: string, runsHome: string) {
  return JSON.parse((await runstage(["-C", project, "--runs", runsHome, "runs", "--json"])).stdout);
}

for (const [sig, code] of [["SIGINT", 2], ["SIGTERM", 15]] as const) {
  Deno.test(`${sig} terminates the op's process group and finalizes the run as terminated`, async () => {
    await withProject({ "gage.toml": longOp() }, async (project, runsHome) => {
      const { child, op, grandchild, result } = await startLongRun(project, runsHome);
      assert.ok(alive(op) && alive(grandchild));
      child.kill(sig);
      const status = await result;
      assert.equal(status.code, 128 + code, "runstage exits as shells do for a signal");
      await bothGone(op, grandchild, "nothing orphaned");
      const [info] = await runsJson(project, runsHome);
      assert.equal(info.status, "terminated");
      assert.equal(info.exitCode, -code);
      const meta = info.metaDir;
      assert.match(
        await Deno.readTextFile(`${meta}/output/40_run`),
        /^started \d+ \d+\n/,
        "output kept",
      );
      assert.ok(
        (await Deno.readTextFile(`${meta}/manifest`)).includes(" gage.toml\n"),
        "manifest written",
      );
      assert.ok(
        !(await Deno.stat(`${meta}/proc/lock`).then(() => true, () => false)),
        "lock removed",
      );
    });
  });
}

Deno.test("a second Ctrl-C kills an op that ignores the first", async () => {
  await withProject({ "gage.toml": longOp(true) }, async (project, runsHome) => {
    const { child, op, grandchild, result } = await startLongRun(project, runsHome);
    child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 700));
    assert.ok(alive(op), "the op ignored the first SIGINT and still runs");
    child.kill("SIGINT");
    const status = await result;
    assert.equal(status.code, 130);
    await bothGone(op, grandchild, "killed at once");
    const [info] = await runsJson(project, runsHome);
    assert.equal(info.status, "terminated");
    assert.equal(info.exitCode, -2, "recorded as stopped by the user's first signal");
  });
});

Deno.test("kill -9 of runstage: no process of the op survives, and the run reads as terminated", async () => {
  await withProject({ "gage.toml": longOp() }, async (project, runsHome) => {
    const { child, op, grandchild, result } = await startLongRun(project, runsHome);
    child.kill("SIGKILL");
    await result;
    await bothGone(op, grandchild, "the watchdog ended the group");
    const [info] = await runsJson(project, runsHome);
    assert.equal(info.status, "terminated", "a dead pid in proc/lock, never running forever");
    assert.equal(info.exitCode, null);
  });
});
