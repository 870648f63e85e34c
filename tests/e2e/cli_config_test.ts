/**
 * Config flags end to end through the CLI: `runstage run OP NAME=VALUE...` on a
 * temp project, checking what a user and a reader of the run format see: the
 * patched copies in the run dir, meta config.json, log/patched, log/runner,
 * log/files, the manifest and `verify`; and the errors and help around flags.
 */
import assert from "node:assert/strict";
import { onlyRun, runstage, runstageIn as cli } from "../support/cli.ts";
import {
  exists,
  type Files,
  listTree,
  sha256File,
  sha256Text,
  withProject,
} from "../support/fixtures.ts";

/** log/runner messages, without their timestamps. */
async function runnerMessages(metaDir: string): Promise<string[]> {
  const text = await Deno.readTextFile(`${metaDir}/log/runner`);
  return text.trimEnd().split("\n").map((line) => line.replace(/^\S+ /, ""));
}

/** log/files lines as [event, type, path]; the mtime is checked to be an integer. */
async function filesLog(metaDir: string): Promise<string[][]> {
  const text = await Deno.readTextFile(`${metaDir}/log/files`);
  return text.trimEnd().split("\n").map((line) => {
    const m = /^([amd]) ([srdg]) (\d+|-) (.+)$/.exec(line);
    assert.ok(m, `malformed log/files line: ${JSON.stringify(line)}`);
    return [m[1], m[2], m[4]];
  });
}

/** The manifest as path -> "TYPE DIGEST". */
async function manifest(metaDir: string): Promise<Map<string, string>> {
  const text = await Deno.readTextFile(`${metaDir}/manifest`);
  return new Map(
    text.trimEnd().split("\n").map((line) => {
      const [type, digest, ...path] = line.split(" ");
      return [path.join(" "), `${type} ${digest}`];
    }),
  );
}

/** Meta config.json: its exact text, and its keys in sorted order. */
async function assertConfigJson(metaDir: string, expected: Record<string, unknown>) {
  const text = await Deno.readTextFile(`${metaDir}/config.json`);
  // `expected` is written with its keys sorted, so its JSON text is the file's, byte for byte.
  assert.equal(text, JSON.stringify(expected, null, 2));
  const keys = Object.keys(JSON.parse(text));
  assert.deepEqual(keys, [...keys].sort());
}

interface FormatCase {
  format: string;
  file: string;
  original: string;
  flags: string[];
  patched: string;
  config: Record<string, unknown>;
  diff: string;
}

const FORMATS: FormatCase[] = [
  {
    format: "JSON",
    file: "conf/params.json",
    original: `{
  // learning settings
  "lr": 0.1,
  "model": { "name": "resnet", "depth": 50 },
  "debug": false,
  "tags": ["a", "b"],
}
`,
    flags: ["lr=0.01", "model.name=vit", "debug=true"],
    patched: `{
  // learning settings
  "lr": 0.01,
  "model": { "name": "vit", "depth": 50 },
  "debug": true,
  "tags": ["a", "b"],
}
`,
    config: { "debug": true, "lr": 0.01, "model.depth": 50, "model.name": "vit" },
    diff: `--- a/conf/params.json
+++ b/conf/params.json
@@ -1,7 +1,7 @@
 {
   // learning settings
-  "lr": 0.1,
-  "model": { "name": "resnet", "depth": 50 },
-  "debug": false,
+  "lr": 0.01,
+  "model": { "name": "vit", "depth": 50 },
+  "debug": true,
   "tags": ["a", "b"],
 }
`,
  },
  {
    format: "YAML",
    file: "conf/params.yaml",
    original: `# training settings
train:
  batch: 32   # per device
  lr: 0.1

opt: { name: 'adam', beta: 0.9 }
label: "base"
`,
    flags: ["train.batch=64", "opt.name=sgd", "label=big"],
    patched: `# training settings
train:
  batch: 64   # per device
  lr: 0.1

opt: { name: 'sgd', beta: 0.9 }
label: "big"
`,
    config: {
      "label": "big",
      "opt.beta": 0.9,
      "opt.name": "sgd",
      "train.batch": 64,
      "train.lr": 0.1,
    },
    diff: `--- a/conf/params.yaml
+++ b/conf/params.yaml
@@ -1,7 +1,7 @@
 # training settings
 train:
-  batch: 32   # per device
+  batch: 64   # per device
   lr: 0.1
 
-opt: { name: 'adam', beta: 0.9 }
-label: "base"
+opt: { name: 'sgd', beta: 0.9 }
+label: "big"
`,
  },
  {
    format: "TOML",
    file: "conf/params.toml",
    original: `# run settings
epochs = 3
name = 'base'

[sched]
warmup = 100 # steps
opt = { beta = 0.9 }
`,
    flags: ["epochs=5", "name=big run", "sched.opt.beta=0.95"],
    patched: `# run settings
epochs = 5
name = 'big run'

[sched]
warmup = 100 # steps
opt = { beta = 0.95 }
`,
    config: {
      "epochs": 5,
      "name": "big run",
      "sched.opt.beta": 0.95,
      "sched.warmup": 100,
    },
    diff: `--- a/conf/params.toml
+++ b/conf/params.toml
@@ -1,7 +1,7 @@
 # run settings
-epochs = 3
-name = 'base'
+epochs = 5
+name = 'big run'
 
 [sched]
 warmup = 100 # steps
-opt = { beta = 0.9 }
+opt = { beta = 0.95 }
`,
  },
  {
    format: "Python",
    file: "train.py",
    original: `"""Trains the model."""
# hyperparameters
seed = 1
name: str = "x"
params = {"lr": 0.1, "wd": 0.0}
DEBUG = False


def main():
    print(seed, name, params, DEBUG)
`,
    flags: ["seed=7", "name=yy", "params.lr=0.5", "DEBUG=true"],
    patched: `"""Trains the model."""
# hyperparameters
seed = 7
name: str = "yy"
params = {"lr": 0.5, "wd": 0.0}
DEBUG = True


def main():
    print(seed, name, params, DEBUG)
`,
    config: { "DEBUG": true, "name": "yy", "params.lr": 0.5, "params.wd": 0, "seed": 7 },
    diff: `--- a/train.py
+++ b/train.py
@@ -1,9 +1,9 @@
 """Trains the model."""
 # hyperparameters
-seed = 1
-name: str = "x"
-params = {"lr": 0.1, "wd": 0.0}
-DEBUG = False
+seed = 7
+name: str = "yy"
+params = {"lr": 0.5, "wd": 0.0}
+DEBUG = True
 
 
 def main():
`,
  },
];

for (const c of FORMATS) {
  Deno.test(`config ${c.format}: the run dir's copy is patched in place, recorded and verified`, async () => {
    await withProject({
      "gage.toml": `[train]\nexec = "true"\nconfig = "${c.file}"\n`,
      [c.file]: c.original,
      "notes.txt": "not config\n",
    }, async (project, runsHome) => {
      const result = await cli(project, runsHome, "run", "train", ...c.flags);
      assert.equal(result.code, 0, result.stderr);
      const { runDir, metaDir } = await onlyRun(runsHome);

      assert.equal(await Deno.readTextFile(`${runDir}/${c.file}`), c.patched);
      assert.equal(await Deno.readTextFile(`${project}/${c.file}`), c.original);
      await assertConfigJson(metaDir, c.config);
      assert.equal(await Deno.readTextFile(`${metaDir}/log/patched`), c.diff);

      const messages = await runnerMessages(metaDir);
      const applying = messages.indexOf("Applying configuration (see log/patched)");
      assert.ok(applying > 0, messages.join("\n"));
      assert.equal(messages.lastIndexOf("Applying configuration (see log/patched)"), applying);
      // After the copy, before staging is finalized.
      assert.ok(messages.indexOf("Copying source code (see log/files for details)") < applying);
      assert.ok(applying < messages.indexOf("Finalizing staged files (see manifest)"));

      const entries = (await filesLog(metaDir)).filter(([, , path]) => path === c.file);
      assert.deepEqual(entries, [["a", "s", c.file]]);

      const digest = await sha256Text(c.patched);
      assert.equal(await sha256File(`${runDir}/${c.file}`), digest);
      const files = await manifest(metaDir);
      assert.equal(files.get(c.file), `s ${digest}`);
      assert.equal(files.get("notes.txt"), `s ${await sha256Text("not config\n")}`);

      const verify = await cli(project, runsHome, "verify", "1");
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.match(verify.stdout, /: 3 files verified\n$/);
    });
  });
}

Deno.test("config: the four formats in one op, each file patched once, diffs in path order", async () => {
  const files: Files = { "gage.toml": `[train]\nexec = "true"\nconfig = ["conf/*", "train.py"]\n` };
  for (const c of FORMATS) files[c.file] = c.original;
  // A key two files provide is an error: the TOML file's `name` is also train.py's.
  files["conf/params.toml"] = FORMATS[2].original.replace("name = 'base'", "title = 'base'");
  await withProject(files, async (project, runsHome) => {
    const result = await cli(
      project,
      runsHome,
      "run",
      "train",
      "lr=0.01",
      "label=big",
      "epochs=5",
      "seed=7",
    );
    assert.equal(result.code, 0, result.stderr);
    const { runDir, metaDir } = await onlyRun(runsHome);
    const patched = await Deno.readTextFile(`${metaDir}/log/patched`);
    const headers = patched.split("\n").filter((l) => l.startsWith("--- a/"));
    assert.deepEqual(headers, [
      "--- a/conf/params.json",
      "--- a/conf/params.toml",
      "--- a/conf/params.yaml",
      "--- a/train.py",
    ]);
    assert.match(await Deno.readTextFile(`${runDir}/conf/params.json`), /"lr": 0\.01,/);
    assert.match(await Deno.readTextFile(`${runDir}/conf/params.yaml`), /^label: "big"$/m);
    assert.match(await Deno.readTextFile(`${runDir}/conf/params.toml`), /^epochs = 5$/m);
    assert.match(await Deno.readTextFile(`${runDir}/train.py`), /^seed = 7$/m);
    const config = JSON.parse(await Deno.readTextFile(`${metaDir}/config.json`));
    assert.equal(config["title"], "base");
    assert.equal(config["model.depth"], 50);
    assert.equal(config["params.wd"], 0);
    const log = await filesLog(metaDir);
    for (const c of FORMATS) {
      assert.deepEqual(log.filter(([, , path]) => path === c.file), [["a", "s", c.file]]);
    }
    const verify = await cli(project, runsHome, "verify", "1");
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });
});

Deno.test("config key pattern: conf.yaml#model.* makes only the model keys flags", async () => {
  await withProject({
    "gage.toml": `[train]\nexec = "true"\nconfig = "conf.yaml#model.*"\n`,
    "conf.yaml": "model:\n  depth: 50\n  name: resnet\ntrain:\n  lr: 0.1\n",
  }, async (project, runsHome) => {
    const ok = await cli(project, runsHome, "run", "train", "model.depth=18");
    assert.equal(ok.code, 0, ok.stderr);
    const { runDir, metaDir } = await onlyRun(runsHome);
    await assertConfigJson(metaDir, { "model.depth": 18, "model.name": "resnet" });
    assert.equal(
      await Deno.readTextFile(`${runDir}/conf.yaml`),
      "model:\n  depth: 18\n  name: resnet\ntrain:\n  lr: 0.1\n",
    );

    const before = await listTree(runsHome);
    const bad = await cli(project, runsHome, "run", "train", "train.lr=0.5");
    assert.notEqual(bad.code, 0);
    assert.match(
      bad.stderr,
      /unknown flag "train\.lr".*its flags are: model\.depth, model\.name$/m,
    );
    assert.deepEqual(await listTree(runsHome), before);
  });
});

Deno.test("config exclude: -secret.json keeps that file's keys out, and its copy as it is", async () => {
  const secret = '{\n  "password": "hunter2"\n}\n';
  await withProject({
    "gage.toml": `[train]\nexec = "true"\nconfig = ["*.json", "-secret.json"]\n`,
    "conf.json": '{\n  "lr": 0.1\n}\n',
    "secret.json": secret,
  }, async (project, runsHome) => {
    const help = await cli(project, runsHome, "ops", "--help-op", "train");
    assert.equal(help.code, 0, help.stderr);
    assert.equal(
      help.stdout,
      "Usage: runstage run train [NAME=VALUE]...\n\nFlags:\n  lr  0.1  conf.json\n",
    );

    const ok = await cli(project, runsHome, "run", "train", "lr=0.2");
    assert.equal(ok.code, 0, ok.stderr);
    const { runDir, metaDir } = await onlyRun(runsHome);
    await assertConfigJson(metaDir, { lr: 0.2 });
    assert.equal(await Deno.readTextFile(`${runDir}/secret.json`), secret);
    assert.equal(await Deno.readTextFile(`${runDir}/conf.json`), '{\n  "lr": 0.2\n}\n');
    assert.doesNotMatch(await Deno.readTextFile(`${metaDir}/log/patched`), /secret/);

    const before = await listTree(runsHome);
    const bad = await cli(project, runsHome, "run", "train", "password=x");
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unknown flag "password"/);
    assert.deepEqual(await listTree(runsHome), before);
  });
});

Deno.test("config unknown flag: one line naming it and listing the flags; the runs home is unchanged", async () => {
  await withProject({
    "gage.toml": `[train]\nexec = "true"\nconfig = "conf.yaml"\n`,
    "conf.yaml": "lr: 0.1\nmodel:\n  depth: 50\n",
  }, async (project, runsHome) => {
    // A run first, so "unchanged" is about a runs home with something in it.
    const first = await cli(project, runsHome, "run", "train");
    assert.equal(first.code, 0, first.stderr);
    const before = await listTree(runsHome);
    assert.ok(before.length > 3, before.join("\n"));

    const bogus = await cli(project, runsHome, "run", "train", "lr=0.2", "bogus=1");
    assert.notEqual(bogus.code, 0);
    assert.equal(bogus.stdout, "");
    const lines = bogus.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, bogus.stderr);
    assert.match(lines[0], /unknown flag "bogus" for op "train"/);
    assert.match(lines[0], /its flags are: lr, model\.depth$/);
    assert.deepEqual(await listTree(runsHome), before);

    // The last part of a key gets a hint.
    const depth = await cli(project, runsHome, "run", "train", "depth=18");
    assert.notEqual(depth.code, 0);
    assert.equal(depth.stderr.trimEnd().split("\n").length, 1, depth.stderr);
    assert.match(depth.stderr, /unknown flag "depth".*\(did you mean model\.depth\?\)/);
    assert.deepEqual(await listTree(runsHome), before);

    // An argument without "=" is no flag either.
    const bare = await cli(project, runsHome, "run", "train", "lr");
    assert.notEqual(bare.code, 0);
    assert.match(bare.stderr, /flag "lr" has no value/);
    assert.deepEqual(await listTree(runsHome), before);
  });
});

Deno.test("config: a value the file's format cannot hold is refused before a runs home is made", async () => {
  await withProject({
    "gage.toml": `[train]\nexec = "true"\nconfig = "conf.toml"\n`,
    "conf.toml": "epochs = 3\n",
  }, async (project) => {
    const before = await listTree(project);
    // No --runs: the default runs home, <project>/.gage/runs, must not even be created.
    const result = await runstage(["-C", project, "run", "train", "epochs=null"]);
    assert.notEqual(result.code, 0);
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, /flag epochs=null: TOML has no null \("conf\.toml"\)/);
    assert.deepEqual(await listTree(project), before);
    assert.equal(await Deno.readTextFile(`${project}/conf.toml`), "epochs = 3\n");
  });
});

Deno.test("config free-flags: unknown flags are recorded in config.json and written to no file", async () => {
  await withProject({
    "gage.toml": `[train]\nexec = "true"\nfree-flags = true\nconfig = "conf.json"\n`,
    "conf.json": '{"lr": 0.1}\n',
  }, async (project, runsHome) => {
    const result = await cli(project, runsHome, "run", "train", "lr=0.3", "extra=hello", "n=2");
    assert.equal(result.code, 0, result.stderr);
    const { runDir, metaDir } = await onlyRun(runsHome);
    await assertConfigJson(metaDir, { extra: "hello", lr: 0.3, n: 2 });
    assert.equal(await Deno.readTextFile(`${runDir}/conf.json`), '{"lr": 0.3}\n');
    assert.equal(
      await Deno.readTextFile(`${metaDir}/log/patched`),
      '--- a/conf.json\n+++ b/conf.json\n@@ -1,1 +1,1 @@\n-{"lr": 0.1}\n+{"lr": 0.3}\n',
    );
    const help = await cli(project, runsHome, "run", "train", "--help-op");
    assert.match(help.stdout, /accepted as given \(free-flags\)/);
  });
});

Deno.test("config free-flags without config files: recorded, nothing applied", async () => {
  await withProject({
    "gage.toml": `[train]\nexec = "true"\nfree-flags = true\n`,
  }, async (project, runsHome) => {
    const result = await cli(project, runsHome, "run", "train", "foo=1", "bar=x y");
    assert.equal(result.code, 0, result.stderr);
    const { metaDir } = await onlyRun(runsHome);
    await assertConfigJson(metaDir, { bar: "x y", foo: 1 });
    assert.equal(await exists(`${metaDir}/log/patched`), false);
    assert.ok(!(await runnerMessages(metaDir)).some((m) => m.startsWith("Applying configuration")));
  });
});

Deno.test("config flag types: ints, floats, booleans, null and quoted strings as typed values", async () => {
  await withProject({
    "gage.toml": `[train]\nexec = "true"\nconfig = "conf.json"\n`,
    "conf.json": `{
  "x": "a",
  "y": 0,
  "z": false,
  "n": 1,
  "s": "b",
  "t": 5,
  "q": 0,
  "e": ""
}
`,
  }, async (project, runsHome) => {
    // Deno.Command passes each argument as is: the quotes of s="hi there" reach runstage.
    const result = await cli(
      project,
      runsHome,
      "run",
      "train",
      "x=1",
      "y=1.5",
      "z=true",
      "n=null",
      's="hi there"',
      "t=007",
      "q='2'",
      "e=a=b",
    );
    assert.equal(result.code, 0, result.stderr);
    const { runDir, metaDir } = await onlyRun(runsHome);
    await assertConfigJson(metaDir, {
      e: "a=b",
      n: null,
      q: "2",
      s: "hi there",
      t: "007",
      x: 1,
      y: 1.5,
      z: true,
    });
    assert.equal(
      await Deno.readTextFile(`${runDir}/conf.json`),
      `{
  "x": 1,
  "y": 1.5,
  "z": true,
  "n": null,
  "s": "hi there",
  "t": "007",
  "q": "2",
  "e": "a=b"
}
`,
    );
  });
});

Deno.test("run with an argument holding '=' in the op's place runs the default op with that flag", async () => {
  await withProject({
    "gage.toml": `[other]\nexec = "false"\nconfig = "other.yaml"\n\n` +
      `[train]\ndefault = true\nexec = "true"\nconfig = "conf.yaml"\n`,
    "conf.yaml": "lr: 0.1\nepochs: 2\n",
    "other.yaml": "lr: 9\n",
  }, async (project, runsHome) => {
    const result = await cli(project, runsHome, "run", "lr=0.2", "epochs=4");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /running train as /);
    const { runDir, metaDir } = await onlyRun(runsHome);
    assert.match(await Deno.readTextFile(`${metaDir}/opref`), / train$/);
    await assertConfigJson(metaDir, { epochs: 4, lr: 0.2 });
    assert.equal(await Deno.readTextFile(`${runDir}/conf.yaml`), "lr: 0.2\nepochs: 4\n");
    assert.equal(await Deno.readTextFile(`${runDir}/other.yaml`), "lr: 9\n");
  });
});

Deno.test("run OP --help-op and ops --help-op OP print the op's flags, defaults and files; no run", async () => {
  await withProject({
    "gage.toml": `[train]
description = "Train the model"
exec = "true"
config = ["train.py", "conf/*.yaml#model.*"]
`,
    "conf/model.yaml": "model:\n  name: resnet\n  depth: 50\ndata: x\n",
    "train.py": 'lr = 0.1\nseed = "1"\n',
  }, async (project, runsHome) => {
    const expected = `Usage: runstage run train [NAME=VALUE]...

Train the model

Flags:
  model.name   resnet  conf/model.yaml
  model.depth  50      conf/model.yaml
  lr           0.1     train.py
  seed         '1'     train.py
`;
    const viaRun = await cli(project, runsHome, "run", "train", "--help-op");
    assert.equal(viaRun.code, 0, viaRun.stderr);
    assert.equal(viaRun.stdout, expected);
    const viaOps = await cli(project, runsHome, "ops", "--help-op", "train");
    assert.equal(viaOps.code, 0, viaOps.stderr);
    assert.equal(viaOps.stdout, expected);

    const json = await cli(project, runsHome, "ops", "--help-op", "train", "--json");
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      name: "train",
      description: "Train the model",
      flags: [
        { name: "model.name", default: "resnet", file: "conf/model.yaml" },
        { name: "model.depth", default: 50, file: "conf/model.yaml" },
        { name: "lr", default: 0.1, file: "train.py" },
        { name: "seed", default: "1", file: "train.py" },
      ],
      freeFlags: false,
    });
    assert.deepEqual(await listTree(runsHome), []);
  });
});

Deno.test("config: a run with no flags (or a flag equal to its default) writes no log/patched", async () => {
  const conf = "# defaults\nlr: 0.10\nepochs: 2\n";
  await withProject({
    "gage.toml": `[train]\nexec = "true"\nconfig = "conf.yaml"\n`,
    "conf.yaml": conf,
  }, async (project, runsHome) => {
    for (const args of [[], ["lr=0.1"]]) {
      const result = await cli(project, runsHome, "run", "train", ...args);
      assert.equal(result.code, 0, result.stderr);
      const runs = JSON.parse((await cli(project, runsHome, "runs", "--json")).stdout);
      const { runDir, metaDir } = runs[0];
      assert.equal(await exists(`${metaDir}/log/patched`), false, `with ${args}`);
      assert.equal(await Deno.readTextFile(`${runDir}/conf.yaml`), conf);
      await assertConfigJson(metaDir, { epochs: 2, lr: 0.1 });
      const files = await manifest(metaDir);
      assert.equal(files.get("conf.yaml"), `s ${await sha256Text(conf)}`);
    }
  });
});

Deno.test({
  name: "config YAML with CRLF line ends: a patched block scalar keeps the file's line break",
  fn: async () => {
    await withProject({
      "gage.toml": `[train]\nexec = "true"\nconfig = "c.yaml"\n`,
      "c.yaml": "c: |\r\n  hi\r\nd: 1\r\n",
    }, async (project, runsHome) => {
      const result = await cli(project, runsHome, "run", "train", "c=yo");
      assert.equal(result.code, 0, result.stderr);
      const { runDir } = await onlyRun(runsHome);
      assert.equal(await Deno.readTextFile(`${runDir}/c.yaml`), "c: yo\r\nd: 1\r\n");
    });
  },
});
