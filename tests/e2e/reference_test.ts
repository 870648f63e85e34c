/**
 * The reference scenario (shared/seeds/003: "Copy source code"), end to end
 * through the CLI: same project, same op, and the run dir must match the format
 * file for file and line for line.
 */
import assert from "node:assert/strict";
import { onlyRun, runstage } from "../support/cli.ts";
import { listTree, makeProject, sha256File } from "../support/fixtures.ts";

const PYTHON =
  (await new Deno.Command("python", { args: ["--version"] }).output().catch(() => null))
      ?.success
    ? "python"
    : "python3";

const SETUP_PY = `
import os, json
run_dir = os.environ["run_dir"]
print("Creating config.json from config.json.in")
config = json.load(open("config.json.in"))
config["x"] = config["x"] + 1
print(f"Using x = {config['x']} for config")
with open(os.path.join(run_dir, "config.json"), "w") as f:
    json.dump(config, f)
`;

async function referenceProject(): Promise<string> {
  return await makeProject({
    "train.py": "",
    "config.json.in": '{"x": 123}',
    "setup.py": SETUP_PY,
    "gage.toml":
      `[test]\nsourcecode = ["train.py"]\nexec = { copy-sourcecode = ["${PYTHON}", "setup.py"] }\n`,
  });
}

const read = (path: string) => Deno.readTextFile(path);
/** A runner-log line without its timestamp, which must be local ISO time with an offset. */
const logMessage = (line: string) => {
  const match = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} (.*)$/.exec(line);
  assert.ok(match, `runner log line without a timestamp: ${JSON.stringify(line)}`);
  return match[1];
};

Deno.test("reference scenario: staging matches the run format file for file and line for line", async () => {
  const project = await referenceProject();
  const runsHome = await Deno.makeTempDir();
  try {
    const before = Date.now() * 1000;
    const result = await runstage(["-C", project, "--runs", runsHome, "stage", "test"]);
    assert.equal(result.code, 0, result.stderr);
    const { id, runDir, metaDir } = await onlyRun(runsHome);

    // The run dir: the selected source plus what setup.py generated.
    assert.deepEqual(await listTree(runDir), ["config.json", "train.py"]);
    assert.equal(await read(`${runDir}/config.json`), '{"x": 124}');

    // The meta dir: the reference's listing plus what staging finalize adds.
    assert.deepEqual((await listTree(metaDir)).filter((p) => !p.endsWith("/")), [
      "__schema__",
      "config.json",
      "id",
      "initialized",
      "log/files",
      "log/runner",
      "manifest",
      "name",
      "opdef.json",
      "opref",
      "output/10_sourcecode",
      "output/10_sourcecode.index",
      "proc/cmd",
      "proc/env",
      "staged",
    ]);
    // The runs home: exactly the run's three siblings (and the digest cache, `.cache/`, once a
    // staging has recorded a digest: files older than the second the staging began).
    const top = [];
    for await (const entry of Deno.readDir(runsHome)) {
      if (entry.name !== ".cache") top.push(entry.name);
    }
    assert.deepEqual(top.sort(), [id, `${id}.meta`, `${id}.project`]);

    // Scalars: no trailing newline.
    assert.equal(await read(`${metaDir}/__schema__`), "1");
    assert.equal(await read(`${metaDir}/id`), id);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(
      await read(`${metaDir}/name`),
      /^[bdfghjklmnprstvz][aiou][bdfghjklmnprstvz][aiou][bdfghjklmnprstvz]-[bdfghjklmnprstvz][aiou][bdfghjklmnprstvz][aiou][bdfghjklmnprstvz]$/,
    );
    const namespace = project.split("/").pop()!.replace(/\s+/g, "-");
    assert.equal(await read(`${metaDir}/opref`), `2 ${namespace} test`);
    assert.equal(await read(`${metaDir}/config.json`), "{}");
    assert.equal(await read(`${metaDir}/proc/cmd`), "[]");
    assert.equal(await read(`${metaDir}/proc/env`), "{}");
    assert.equal(
      await read(`${metaDir}/opdef.json`),
      `{\n  "exec": {\n    "copy-sourcecode": [\n      "${PYTHON}",\n      "setup.py"\n    ]\n  },\n  "sourcecode": [\n    "train.py"\n  ]\n}`,
    );
    const initialized = Number(await read(`${metaDir}/initialized`));
    const staged = Number(await read(`${metaDir}/staged`));
    assert.ok(
      Number.isInteger(initialized) && initialized >= before - 1_000_000,
      "initialized in µs",
    );
    assert.ok(staged > initialized, "staged after initialized");
    assert.equal(await read(`${runsHome}/${id}.project`), `file:${project}`);

    // The runner log, line for line (timestamps checked, then dropped).
    const runner = (await read(`${metaDir}/log/runner`)).split("\n");
    assert.equal(runner.pop(), "", "runner log ends with a newline");
    assert.deepEqual(runner.map(logMessage), [
      "Writing meta id",
      "Writing meta name",
      "Writing meta opdef.json",
      "Writing meta config.json",
      "Writing meta proc/cmd",
      "Writing meta proc/env",
      "Writing meta opref",
      "Writing meta initialized",
      "Copying source code (see log/files for details)",
      "Source code patterns: ['train.py']",
      "Running copy-sourcecode (see output/10_sourcecode for output):",
      `['${PYTHON}', 'setup.py']`,
      "Exit code for copy-sourcecode: 0",
      "Finalizing staged files (see manifest)",
      "Writing meta staged",
    ]);

    // log/files: both files added as source code, with integer µs mtimes.
    const files = (await read(`${metaDir}/log/files`)).split("\n");
    assert.equal(files.pop(), "");
    assert.equal(files.length, 2);
    assert.match(files[0], /^a s \d{16} config\.json$/);
    assert.match(files[1], /^a s \d{16} train\.py$/);
    const mtime = Number(files[1].split(" ")[2]);
    const actual = (await Deno.stat(`${runDir}/train.py`)).mtime!.getTime() * 1000;
    assert.ok(Math.abs(mtime - actual) < 1000, "mtime is the file's, in microseconds");

    // The output of setup.py and its index: 9 bytes per line, stdout, ms timestamps.
    assert.equal(
      await read(`${metaDir}/output/10_sourcecode`),
      "Creating config.json from config.json.in\nUsing x = 124 for config\n",
    );
    const index = await Deno.readFile(`${metaDir}/output/10_sourcecode.index`);
    assert.equal(index.length, 18);
    const view = new DataView(index.buffer);
    for (const offset of [0, 9]) {
      const ms = Number(view.getBigUint64(offset));
      assert.ok(Math.abs(ms - Date.now()) < 60_000, `index time ${ms} is now-ish in ms`);
      assert.equal(view.getUint8(offset + 8), 0, "stdout");
    }

    // The manifest: exactly the reference's, and each digest independently right.
    const manifest = await read(`${metaDir}/manifest`);
    assert.equal(
      manifest,
      "s 5cc1441b4902cd35921288754e412e0eb949d44d81e4e0fcb281a913a7c3e820 config.json\n" +
        "s e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 train.py\n",
    );
    for (const line of manifest.trim().split("\n")) {
      const [, digest, path] = line.split(" ");
      assert.equal(digest, await sha256File(`${runDir}/${path}`), path);
    }

    // `runs` sees it as staged.
    const runs = JSON.parse(
      (await runstage(["-C", project, "--runs", runsHome, "runs", "--json"])).stdout,
    );
    assert.equal(runs.length, 1);
    assert.equal(runs[0].status, "staged");
    assert.equal(runs[0].op, "test");
  } finally {
    await Deno.remove(project, { recursive: true });
    await Deno.remove(runsHome, { recursive: true });
  }
});

Deno.test("verify passes on a fresh run and catches a changed byte, a missing and an unexpected file", async () => {
  const project = await referenceProject();
  const runsHome = await Deno.makeTempDir();
  try {
    assert.equal((await runstage(["-C", project, "--runs", runsHome, "stage", "test"])).code, 0);
    const { runDir } = await onlyRun(runsHome);
    const verify = () => runstage(["-C", project, "--runs", runsHome, "verify", "1"]);

    let result = await verify();
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /2 files verified/);

    // One changed byte, same size.
    await Deno.writeTextFile(`${runDir}/config.json`, '{"x": 125}');
    result = await verify();
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^modified: config\.json$/m);

    await Deno.remove(`${runDir}/train.py`);
    await Deno.writeTextFile(`${runDir}/extra.txt`, "not staged");
    result = await runstage(["-C", project, "--runs", runsHome, "verify", "1", "--json"]);
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout);
    assert.equal(report.ok, false);
    assert.deepEqual(report.modified, ["config.json"]);
    assert.deepEqual(report.missing, ["train.py"]);
    assert.deepEqual(report.unexpected, ["extra.txt"]);
  } finally {
    await Deno.remove(project, { recursive: true });
    await Deno.remove(runsHome, { recursive: true });
  }
});
