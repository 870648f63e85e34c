/**
 * Honest output: Python's lines captured as they are printed, the phases
 * around the op shown live and marked, a failed phase's last lines with the
 * command that prints the rest, and small truths of wording.
 */
import assert from "node:assert/strict";
import { cliFor, fails, json, ok, onlyRun, runstage, spawnRunstage } from "../support/cli.ts";
import { withProject } from "../support/fixtures.ts";

/** The times of the index records of a phase's output (see lib/run/output.ts). */
async function indexTimes(metaDir: string, output: string): Promise<number[]> {
  const index = await Deno.readFile(`${metaDir}/output/${output}.index`);
  const view = new DataView(index.buffer);
  const times: number[] = [];
  for (let at = 0; at + 9 <= index.length; at += 9) times.push(Number(view.getBigUint64(at)));
  return times;
}

const PYTHON_LINES =
  `exec = ["python3", "-c", "import time\\nfor i in range(3):\\n    print(i)\\n    time.sleep(0.3)"]`;

Deno.test("a plain python3 op's lines are captured as printed: distinct timestamps", async () => {
  await withProject({ "gage.toml": `[op]\n${PYTHON_LINES}\n` }, async (project, home) => {
    // As a user's shell has it: no PYTHONUNBUFFERED of its own.
    const run = runstage(["-C", project, "--runs", home, "run"], {
      unsetEnv: ["PYTHONUNBUFFERED"],
    });
    assert.equal(await ok(run), "0\n1\n2\n");
    const times = await indexTimes((await onlyRun(home)).metaDir, "40_run");
    assert.equal(times.length, 3);
    assert.ok(times[0] < times[1] && times[1] < times[2], `times ${times}`);
  });
});

Deno.test("PYTHONUNBUFFERED set by the op's env is left as it is", async () => {
  const gage = `[op]\n${PYTHON_LINES}\nenv = { PYTHONUNBUFFERED = "" }\n`;
  await withProject({ "gage.toml": gage }, async (project, home) => {
    await ok(runstage(["-C", project, "--runs", home, "run"], { unsetEnv: ["PYTHONUNBUFFERED"] }));
    const times = await indexTimes((await onlyRun(home)).metaDir, "40_run");
    // Buffered: all three lines arrive at once, at the exit.
    assert.equal(new Set(times).size, 1, `times ${times}`);
  });
});

Deno.test("staging phases and finalize-run are shown live, each line marked with its phase", async () => {
  const gage = `[op.exec]
init-runtime = 'echo waiting; while [ ! -e "$project_dir/release" ]; do sleep 0.05; done; echo released'
run = "echo op-line"
finalize-run = "echo fin-line >&2"
`;
  await withProject({ "gage.toml": gage }, async (project, home) => {
    const running = spawnRunstage(["-C", project, "--runs", home, "run"]);
    // The phase waits for the file until its first line has been seen.
    await running.readUntil(/^\[init-runtime\] waiting\n/m);
    await Deno.writeTextFile(`${project}/release`, "");
    const { code, stdout, stderr } = await running.result;
    assert.equal(code, 0);
    assert.equal(stdout, "[init-runtime] waiting\n[init-runtime] released\nop-line\n");
    assert.match(stderr, /^\[finalize-run\] fin-line$/m);
  });
});

Deno.test("a failed staging phase prints its last lines and the command that prints the rest", async () => {
  const gage = `[op.exec]
resolve-dependencies = 'for i in $(seq 1 15); do echo "line $i"; done; exit 3'
run = "echo never"
`;
  await withProject({ "gage.toml": gage }, async (project, home) => {
    const r = await cliFor(project, home)("run");
    assert.equal(r.code, 3);
    const err = r.stderr;
    assert.match(
      err,
      /resolve-dependencies failed \(exit code 3\); its last 10 lines:\n {2}line 6\n/,
    );
    assert.match(err, / {2}line 15\n/);
    assert.doesNotMatch(err, / {2}line 5\n/);
    const command = /all of its output: runstage --runs "([^"]+)" cat (\S+) --output (\S+)\n/
      .exec(err);
    assert.ok(command, err);
    const [, runsHome, name, phase] = command;
    const all = await runstage(["--runs", runsHome, "cat", name, "--output", phase]);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout.trimEnd().split("\n").length, 15);
  });
});

Deno.test("a run stopped by a signal says which signal", async () => {
  const gage = `[op]\nexec = "echo started; sleep 300"\n`;
  await withProject({ "gage.toml": gage }, async (project, home) => {
    const running = spawnRunstage(["-C", project, "--runs", home, "run"]);
    await running.readUntil(/started\n/);
    running.child.kill("SIGINT");
    const { code, stderr } = await running.result;
    assert.equal(code, 130);
    assert.match(stderr, /run \S+ terminated by SIGINT \(exit code -2\)\n/);
    const [run] = await json<{ status: string }[]>(cliFor(project, home)("runs", "--json"));
    assert.equal(run.status, "terminated");
  });
});

Deno.test("small truths: run --json needs --preview; 1 file; runs by start time; one label match", async () => {
  const gage = `[op]\nexec = "true"\nsourcecode = ["a.txt"]\n`;
  await withProject({ "gage.toml": gage, "a.txt": "a" }, async (project, home) => {
    const cli = cliFor(project, home);
    await fails(cli, home, ["run", "--json"], /JSON only with --preview/, 2);
    assert.match(await ok(cli("run", "--preview")), /^1 file, 1 B would be copied$/m);

    // Staged first, started last: the newest by start time.
    await ok(cli("stage"));
    await ok(cli("run"));
    const [older] = (await json<{ name: string; status: string }[]>(cli("runs", "--json")))
      .filter((r) => r.status === "staged");
    await ok(cli("start", older.name));
    const [first] = await json<{ name: string }[]>(cli("runs", "--json"));
    assert.equal(first.name, older.name, "the run started last is [1]");

    await ok(cli("label", older.name, "Baseline try"));
    const listed = await json<{ name: string }[]>(cli("runs", "--json", "--label", "baseline"));
    assert.deepEqual(listed.map((r) => r.name), [older.name]);
    const shown = await json<{ name: string }>(cli("show", "baseline", "--json"));
    assert.equal(shown.name, older.name, "a RUN named by label matches as runs --label does");
  });
});
