/**
 * Signals and crashes against real long-running ops: Ctrl-C and SIGTERM finalize
 * the run as terminated with its output kept; a second Ctrl-C kills at once;
 * a runstage killed with SIGKILL leaves no process behind and a run that reads
 * as terminated.
 */
import assert from "node:assert/strict";
import { runstage, runstageCommand } from "../support/cli.ts";
import { withProject } from "../support/fixtures.ts";

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

/** Alive and not a zombie, read from /proc. */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function waitUntil(check: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** Starts `runstage run` and returns once the op has printed its pids. */
async function startLongRun(project: string, runsHome: string) {
  const [cmd, args] = runstageCommand(["-C", project, "--runs", runsHome, "run"]);
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null" })
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!/started \d+ \d+\n/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`runstage ended before the op started: ${seen}`);
    seen += value;
  }
  const [, op, grandchild] = /started (\d+) (\d+)/.exec(seen)!.map(Number);
  const rest = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return { child, op, grandchild, rest };
}

async function runsJson(project: string, runsHome: string) {
  return JSON.parse((await runstage(["-C", project, "--runs", runsHome, "runs", "--json"])).stdout);
}

for (const [sig, code] of [["SIGINT", 2], ["SIGTERM", 15]] as const) {
  Deno.test(`${sig} terminates the op's process group and finalizes the run as terminated`, async () => {
    await withProject({ "gage.toml": longOp() }, async (project, runsHome) => {
      const { child, op, grandchild, rest } = await startLongRun(project, runsHome);
      assert.ok(alive(op) && alive(grandchild));
      child.kill(sig);
      const status = await child.status;
      await rest;
      assert.equal(status.code, 128 + code, "runstage exits as shells do for a signal");
      assert.ok(await waitUntil(() => !alive(op) && !alive(grandchild)), "nothing orphaned");
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
      child.stderr.cancel();
    });
  });
}

Deno.test("a second Ctrl-C kills an op that ignores the first", async () => {
  await withProject({ "gage.toml": longOp(true) }, async (project, runsHome) => {
    const { child, op, grandchild, rest } = await startLongRun(project, runsHome);
    child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 700));
    assert.ok(alive(op), "the op ignored the first SIGINT and still runs");
    child.kill("SIGINT");
    const status = await child.status;
    await rest;
    assert.equal(status.code, 130);
    assert.ok(await waitUntil(() => !alive(op) && !alive(grandchild)), "killed at once");
    const [info] = await runsJson(project, runsHome);
    assert.equal(info.status, "terminated");
    assert.equal(info.exitCode, -2, "recorded as stopped by the user's first signal");
    child.stderr.cancel();
  });
});

Deno.test("kill -9 of runstage: no process of the op survives, and the run reads as terminated", async () => {
  await withProject({ "gage.toml": longOp() }, async (project, runsHome) => {
    const { child, op, grandchild, rest } = await startLongRun(project, runsHome);
    child.kill("SIGKILL");
    await child.status;
    await rest;
    assert.ok(
      await waitUntil(() => !alive(op) && !alive(grandchild)),
      "the watchdog ended the group",
    );
    const [info] = await runsJson(project, runsHome);
    assert.equal(info.status, "terminated", "a dead pid in proc/lock, never running forever");
    assert.equal(info.exitCode, null);
    child.stderr.cancel();
  });
});
