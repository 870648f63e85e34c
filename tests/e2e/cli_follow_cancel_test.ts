/**
 * `cat --output --follow` and `cancel` for runs running here (the Slurm side
 * of both is in slurm_test.ts): follow prints the output as it grows and ends
 * with the run; cancel ends a running run as terminated, its op gone, and says
 * in one line why it cannot cancel a run that is not queued or running.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { cliFor, onlyRun, spawnRunstage } from "../support/cli.ts";
import { exists, withProject } from "../support/fixtures.ts";
import { alive } from "../support/process.ts";

/** Polls until `check` holds (no timing is asserted; the watchdog bounds it). */
async function waitUntil(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 50));
}

Deno.test("cat --output --follow prints a running run's output as it grows and ends with the run", async () => {
  const op =
    `[train]\nexec = "sh -c 'echo line 1; while [ ! -e go ]; do sleep 0.05; done; echo line 2'"\n`;
  await withProject({ "gage.toml": op }, async (project, home) => {
    const run = spawnRunstage(["--runs", home, "run"], { cwd: project });
    await run.readUntil(/line 1\n/);
    const follow = spawnRunstage(["--runs", home, "cat", "--output", "--follow"], { cwd: project });
    await follow.readUntil(/^line 1\n/);
    assert.equal(follow.exited(), false, "still following: the run has not ended");
    const { runDir } = await onlyRun(home);
    await Deno.writeTextFile(`${runDir}/go`, "");
    const followed = await follow.result;
    assert.equal(followed.code, 0, followed.stderr);
    assert.equal(followed.stdout, "line 1\nline 2\n");
    assert.equal((await run.result).code, 0);
    const cli = cliFor(project, home);
    const without = await cli("cat", "--follow");
    assert.equal(without.code, 2);
    assert.match(without.stderr, /^runstage: --follow goes with --output/);
  });
});

Deno.test("cancel ends a run running here as terminated, its op gone; a finished run is refused", async () => {
  const op = `[train]\nexec = "sh -c 'echo $$ > op.pid; echo started; exec sleep 300'"\n`;
  await withProject({ "gage.toml": op }, async (project, home) => {
    const cli = cliFor(project, home);
    const run = spawnRunstage(["--runs", home, "run"], { cwd: project });
    await run.readUntil(/started\n/);
    const { runDir, metaDir } = await onlyRun(home);
    await waitUntil(() => exists(`${runDir}/op.pid`));
    const pid = Number(readFileSync(`${runDir}/op.pid`, "utf8"));
    const cancel = await cli("cancel", "1");
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, /^Cancelled 1 run: \S+\n$/);
    assert.equal(readFileSync(`${metaDir}/proc/exit`, "utf8").trim(), "-15");
    assert.equal(alive(pid), false);
    assert.equal((await run.result).code, 143);
    assert.match((await cli("cat", "--output")).stdout, /^started\n/);

    const again = await cli("cancel", "1");
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /^runstage: nothing to cancel: \S+ is not queued or running \(terminated\)\n$/,
    );
  });
});

Deno.test("cancel of a staged run that was never submitted says what to do instead", async () => {
  await withProject({ "gage.toml": `[train]\nexec = "true"\n` }, async (project, home) => {
    const cli = cliFor(project, home);
    assert.equal((await cli("stage")).code, 0);
    const r = await cli("cancel", "1");
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^runstage: run \S+ is staged, not submitted: nothing runs it \(delete it, or start it\)\n$/,
    );
    const none = await cli("cancel");
    assert.equal(none.code, 2);
  });
});
