/** The commands as a user drives them: run, stage, ops, runs, show, previews and progress. */
import assert from "node:assert/strict";
import { onlyRun, runstage } from "../support/cli.ts";
import { type Files, listTree, withProject as withTempProject } from "../support/fixtures.ts";

/** A temp project and runs home, their paths unresolved: runstage must resolve them itself. */
function withProject(
  files: Files,
  body: (project: string, runsHome: string) => Promise<void>,
): Promise<void> {
  return withTempProject(files, body, { realPath: false });
}

const runnerMessages = async (metaDir: string) =>
  (await Deno.readTextFile(`${metaDir}/log/runner`)).trimEnd().split("\n").map((l) =>
    l.replace(/^\S+ /, "")
  );

Deno.test("run shows the op's output live, captures it with streams, and passes the exit code through", async () => {
  await withProject({
    "gage.toml":
      `[train]\nexec = "echo out-1; sleep 0.2; echo err-1 >&2; sleep 0.2; echo out-2; exit 7"\nenv = { LR = "0.1" }\n`,
  }, async (project, runsHome) => {
    const result = await runstage(["-C", project, "--runs", runsHome, "run", "train"]);
    assert.equal(result.code, 7);
    assert.equal(result.stdout, "out-1\nout-2\n");
    assert.match(result.stderr, /err-1/);
    assert.match(result.stderr, /failed \(exit code 7\)/);
    const { metaDir } = await onlyRun(runsHome);
    assert.equal(await Deno.readTextFile(`${metaDir}/output/40_run`), "out-1\nerr-1\nout-2\n");
    const index = await Deno.readFile(`${metaDir}/output/40_run.index`);
    assert.deepEqual([index[8], index[17], index[26]], [0, 1, 0]);
    assert.equal(await Deno.readTextFile(`${metaDir}/proc/exit`), "7");
    assert.equal(await Deno.readTextFile(`${metaDir}/proc/env`), '{\n  "LR": "0.1"\n}');
    assert.equal(
      await Deno.readTextFile(`${metaDir}/proc/cmd`),
      '"echo out-1; sleep 0.2; echo err-1 >&2; sleep 0.2; echo out-2; exit 7"',
    );
    const runs = JSON.parse(
      (await runstage(["--runs", runsHome, "-C", project, "runs", "--json"])).stdout,
    );
    assert.equal(runs[0].status, "error");
    assert.equal(runs[0].exitCode, 7);
  });
});

Deno.test("phases see their environment; the run phase's files are generated and modified sources are logged", async () => {
  await withProject({
    "gage.toml": `
[op]
sourcecode = ["data.txt"]
env = { RUN_ID = "overridden-by-runstage", GREETING = "hi" }
[op.exec]
copy-sourcecode = "printf '%s %s' \\"$run_id\\" \\"$project_dir\\" > \\"$run_dir/staging-env.txt\\""
run = '''#!python3
import os
open("env.txt", "w").write(" ".join([os.environ["RUN_ID"], os.environ["RUN_DIR"], os.environ["PROJECT_DIR"], os.environ["GREETING"], os.getcwd()]))
open("data.txt", "a").write("changed")
os.makedirs("out dir", exist_ok=True)
open("out dir/model file.bin", "wb").write(bytes([0, 1]))
'''
`,
    "data.txt": "data",
  }, async (project, runsHome) => {
    const result = await runstage(["-C", project, "--runs", runsHome, "run"]);
    assert.equal(result.code, 0, result.stderr);
    const { id, runDir, metaDir } = await onlyRun(runsHome);
    const realProject = await Deno.realPath(project);
    assert.equal(await Deno.readTextFile(`${runDir}/staging-env.txt`), `${id} ${realProject}`);
    assert.equal(
      await Deno.readTextFile(`${runDir}/env.txt`),
      `${id} ${runDir} ${realProject} hi ${runDir}`,
    );
    const files = (await Deno.readTextFile(`${metaDir}/log/files`)).trimEnd().split("\n")
      .map((l) => l.replace(/ \d+ /, " T "));
    assert.deepEqual(files, [
      "a s T data.txt",
      "a s T staging-env.txt",
      // One scan after the run phase, in path order: the change, then the new file.
      "m s T data.txt",
      "a g T env.txt",
      "a g T out dir/model file.bin",
    ]);
    assert.ok(
      (await runnerMessages(metaDir)).includes('File "data.txt" was modified during the run'),
    );
    const manifest = (await Deno.readTextFile(`${metaDir}/manifest`)).trimEnd().split("\n")
      .map((l) => `${l[0]} ${l.slice(67)}`);
    assert.deepEqual(manifest, [
      "s data.txt",
      "s staging-env.txt",
      "g env.txt",
      "g out dir/model file.bin",
    ]);
    const verify = await runstage(["-C", project, "--runs", runsHome, "verify", id.slice(0, 8)]);
    assert.equal(verify.code, 0, verify.stdout);
  });
});

Deno.test("runs lists newest first; show and verify accept an index, an id prefix or a name", async () => {
  await withProject(
    { "gage.toml": `[a]\nexec = "true"\n[b]\nexec = "true"\n` },
    async (project, runsHome) => {
      for (const op of ["a", "b"]) {
        assert.equal((await runstage(["-C", project, "--runs", runsHome, "run", op])).code, 0);
      }
      const list = await runstage(["-C", project, "--runs", runsHome, "runs"]);
      const rows = list.stdout.trimEnd().split("\n");
      assert.match(rows[0], /^#\s+NAME\s+OP\s+STATUS\s+STARTED$/);
      assert.match(
        rows[1],
        /^\[1\]\s+\w{5}-\w{5}\s+b\s+completed\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/,
      );
      assert.match(rows[2], /^\[2\]\s+\w{5}-\w{5}\s+a\s+completed/);
      const runs = JSON.parse(
        (await runstage(["-C", project, "--runs", runsHome, "runs", "--json"])).stdout,
      );
      assert.deepEqual(runs.map((r: { op: string }) => r.op), ["b", "a"]);
      for (const spec of ["2", runs[1].id, runs[1].id.slice(0, 6), runs[1].name]) {
        const show = await runstage(["-C", project, "--runs", runsHome, "show", spec, "--json"]);
        assert.equal(show.code, 0, show.stderr);
        const details = JSON.parse(show.stdout);
        assert.equal(details.id, runs[1].id);
        assert.equal(details.op, "a");
        assert.equal(details.status, "completed");
        assert.deepEqual(details.command, "true");
      }
      const text = await runstage(["-C", project, "--runs", runsHome, "show", "1"]);
      assert.match(text.stdout, /^status:\s+completed$/m);
      assert.match(text.stdout, new RegExp(`^id:\\s+${runs[0].id}$`, "m"));
    },
  );
});

Deno.test("stage stops at staged; run and stage --preview print the selection and write nothing", async () => {
  await withProject({
    "gage.toml": `[train]\nexec = "true"\n`,
    "train.py": "print(1)\n",
    "data/big.csv": "x".repeat(150_000),
    ".venv/bin/activate": "",
    ".venv/lib/x.py": "",
  }, async (project, runsHome) => {
    const home = `${runsHome}/home`;
    for (const cmd of ["run", "stage"]) {
      const preview = await runstage(["-C", project, "--runs", home, cmd, "--preview"]);
      assert.equal(preview.code, 0, preview.stderr);
      assert.match(preview.stdout, /train\.py/);
      assert.match(preview.stdout, /gage\.toml/);
      assert.doesNotMatch(preview.stdout, /activate/);
      assert.match(preview.stdout, /1 file left out: .*size<100000/);
    }
    const json = JSON.parse(
      (await runstage(["-C", project, "--runs", home, "stage", "--preview", "--json"])).stdout,
    );
    assert.deepEqual(json.files.map((f: { path: string }) => f.path), ["gage.toml", "train.py"]);
    assert.equal(json.leftOut[0].count, 1);
    assert.deepEqual(await listTree(home), [], "preview writes nothing, not even the runs home");

    const staged = await runstage(["-C", project, "--runs", home, "stage"]);
    assert.equal(staged.code, 0);
    assert.match(staged.stdout, /^Staged run \w{5}-\w{5} \([0-9a-f-]{36}\)$/m);
    assert.match(staged.stderr, /note: 1 source file left out: .*data\/big\.csv/);
    const { metaDir } = await onlyRun(home);
    assert.equal(await Deno.stat(`${metaDir}/staged`).then(() => true), true);
    await assert.rejects(Deno.stat(`${metaDir}/started`));
    const runs = JSON.parse(
      (await runstage(["-C", project, "--runs", home, "runs", "--json"])).stdout,
    );
    assert.equal(runs[0].status, "staged");
  });
});

Deno.test("runs home: GAGE_RUNS, then $runs-dir, then .gage/runs; .project is relative inside the project", async () => {
  await withProject({
    "gage.toml": `"$runs-dir" = "my-runs"\n[op]\nexec = "true"\n`,
  }, async (project, runsHome) => {
    let result = await runstage(["run"], { cwd: project });
    assert.equal(result.code, 0, result.stderr);
    const { id } = await onlyRun(`${project}/my-runs`);
    assert.equal(await Deno.readTextFile(`${project}/my-runs/${id}.project`), "file:..");
    // The runs home inside the project is never copied into a run.
    result = await runstage(["run"], { cwd: project });
    const second = JSON.parse((await runstage(["runs", "--json"], { cwd: project })).stdout)[0];
    assert.deepEqual(await listTree(second.runDir), ["gage.toml"]);

    result = await runstage(["run"], { cwd: project, env: { GAGE_RUNS: runsHome } });
    assert.equal(result.code, 0);
    await onlyRun(runsHome);
    assert.equal(
      await Deno.readTextFile(`${runsHome}/${(await onlyRun(runsHome)).id}.project`),
      `file:${project}`,
    );
  });
  await withProject(
    { "gage.toml": `[op]\nexec = "true"\n`, "sub/dir/x.txt": "" },
    async (project) => {
      const result = await runstage(["run"], { cwd: `${project}/sub/dir` });
      assert.equal(result.code, 0, result.stderr);
      const { id } = await onlyRun(`${project}/.gage/runs`);
      assert.equal(await Deno.readTextFile(`${project}/.gage/runs/${id}.project`), "file:../..");
    },
  );
});

Deno.test("ops lists ops with the default marked", async () => {
  await withProject({
    "gage.yaml":
      "prepare:\n  description: Get data\n  exec: 'true'\ntrain:\n  default: true\n  description: Train it\n  exec: 'true'\n",
  }, async (project) => {
    const result = await runstage(["-C", project, "ops"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^prepare\s+Get data$/m);
    assert.match(result.stdout, /^train \(default\)\s+Train it$/m);
    const json = JSON.parse((await runstage(["-C", project, "ops", "--json"])).stdout);
    assert.deepEqual(json.map((o: { name: string }) => o.name), ["prepare", "train"]);
  });
});

Deno.test("staging shows progress on a terminal and nothing extra in a pipe", async () => {
  await withProject({
    "gage.toml": `[op]\nsourcecode = ["**/*"]\n`,
    ...Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${i}.txt`, "x".repeat(1000)])),
  }, async (project, runsHome) => {
    const piped = await runstage(["-C", project, "--runs", `${runsHome}/a`, "stage"], {
      env: { RUNSTAGE_PROGRESS_MS: "1" },
    });
    assert.equal(piped.code, 0);
    assert.doesNotMatch(piped.stderr + piped.stdout, /Copying source code/);

    // `script` gives the CLI a real terminal.
    const [cmd, args] = (await import("../support/cli.ts")).runstageCommand([
      "-C",
      project,
      "--runs",
      `${runsHome}/b`,
      "stage",
    ]);
    const line = [cmd, ...args].map((a) => `'${a}'`).join(" ");
    const tty = await new Deno.Command("script", {
      args: ["-qec", line, "/dev/null"],
      env: { RUNSTAGE_PROGRESS_MS: "1", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(tty.stdout);
    assert.equal(tty.code, 0, out);
    assert.match(out, /Copying source code: \d+\/51 files, [\d.]+ (B|KB) of 50\.0 KB/);
    assert.match(out, /Staged run/);
  });
});

Deno.test("file modes are kept, and every command has --help", async () => {
  await withProject({
    "gage.toml": `[op]\nexec = "./tool.sh"\n`,
    "tool.sh": "#!/bin/sh\necho tool ran\n",
  }, async (project, runsHome) => {
    await Deno.chmod(`${project}/tool.sh`, 0o750);
    const result = await runstage(["-C", project, "--runs", runsHome, "run"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "tool ran\n");
    const { runDir } = await onlyRun(runsHome);
    assert.equal((await Deno.stat(`${runDir}/tool.sh`)).mode! & 0o777, 0o750);
  });
  for (const command of ["run", "stage", "ops", "runs", "show", "verify"]) {
    const help = await runstage([command, "--help"]);
    assert.equal(help.code, 0, command);
    assert.match(help.stdout, new RegExp(`^Usage: runstage ${command} `, "m"));
  }
  const version = await runstage(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^runstage \d+\.\d+\.\d+/);
});
