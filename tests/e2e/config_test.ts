/**
 * Config flags: typing flag values, finding config files and keys from the
 * `config` attribute, reading defaults and writing flags into real files of
 * every format, with the exact text that results and the diff of each change.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  applyConfig,
  type ConfigPlan,
  formatFlagValue,
  formatOpHelp,
  keyMatches,
  parseFlags,
  parseFlagValue,
  planConfig,
  resolveConfig,
} from "../../lib/config/config.ts";
import { parseGageFile } from "../../lib/gagefile/parse.ts";
import type { OpDef } from "../../lib/gagefile/opdef.ts";
import { runstage } from "../support/cli.ts";
import {
  assertUserError,
  assertUserErrorAsync,
  withProject,
  writeTree,
} from "../support/fixtures.ts";

// --- Helpers ---------------------------------------------------------------------------

type Files = Record<string, string>;

/** The op of a one-op Gage file written in TOML. */
function op(toml: string): OpDef {
  return parseGageFile("gage.toml", `[train]\n${toml}\n`).ops[0];
}

/**
 * Plans `opdef` in a project holding `files`, copies the files into a run dir,
 * applies `args` there, and returns the plan, the config, the diffs and the
 * run dir's files afterwards.
 */
async function applyFlags(files: Files, opdef: OpDef, args: string[]) {
  return await withProject(
    Object.fromEntries(Object.entries(files).map(([p, t]) => [`project/${p}`, t])),
    async (dir) => {
      const plan = await planConfig(join(dir, "project"), opdef);
      const config = resolveConfig(plan, parseFlags(args), opdef);
      const runDir = join(dir, "run");
      await writeTree(runDir, files);
      const applied = await applyConfig(runDir, plan, config);
      const after: Files = {};
      for (const path of Object.keys(files)) {
        after[path] = await Deno.readTextFile(join(runDir, path));
      }
      return { plan, config, applied, after };
    },
  );
}

// --- Flag values ------------------------------------------------------------------------

Deno.test("flag values are typed: int, float, bool, null, quoted and other strings", () => {
  const table: [string, unknown][] = [
    ["1", 1],
    ["-3", -3],
    ["+3", 3],
    ["0", 0],
    ["1.5", 1.5],
    [".5", 0.5],
    ["1e-3", 0.001],
    ["2E3", 2000],
    ["1.", 1],
    ["true", true],
    ["False", false],
    ["TRUE", true],
    ["null", null],
    ["NULL", null],
    ["'1'", "1"],
    ['"true"', "true"],
    ['"x y"', "x y"],
    ["''", ""],
    ["'", "'"],
    ["", ""],
    ["abc", "abc"],
    ["x y", "x y"],
    ["007", "007"], // leading zeros: an id, not a number
    ["1_000", "1_000"],
    ["12345678901234567890", "12345678901234567890"], // a double cannot hold it exactly
    ["1e999", "1e999"],
    ["inf", "inf"],
    ["nan", "nan"],
    ["yes", "yes"],
    ["None", "None"],
    ["0x10", "0x10"],
    ["'a\"", "'a\""],
    ["007.5", 7.5],
  ];
  for (const [text, expected] of table) {
    assert.deepEqual(parseFlagValue(text), expected, `flag value ${JSON.stringify(text)}`);
  }
});

Deno.test("parseFlags splits at the first =, keeps the last of a repeated flag", () => {
  assert.deepEqual(parseFlags(["lr=0.1", "epochs=5", 'name="x y"', "expr=a=b", "empty="]), {
    lr: 0.1,
    epochs: 5,
    name: "x y",
    expr: "a=b",
    empty: "",
  });
  assert.deepEqual(parseFlags(["lr=0.1", "lr=0.2"]), { lr: 0.2 });
  assert.deepEqual(parseFlags([]), {});
});

Deno.test("a flag without = or without a name is an error", () => {
  assertUserError(() => parseFlags(["lr"]), 'flag "lr" has no value; write it as lr=VALUE');
  assertUserError(() => parseFlags(["=1"]), 'flag "=1" has no name');
});

Deno.test("formatFlagValue writes flag text that reads back as the value", () => {
  const values = [1, -2.5, 1e-8, true, false, null, "abc", "x y", "", "1", "true", "'q'", "it's"];
  for (const value of values) {
    assert.deepEqual(parseFlagValue(formatFlagValue(value)), value, `value ${value}`);
  }
  assert.equal(formatFlagValue("abc"), "abc");
  assert.equal(formatFlagValue("1"), "'1'");
  assert.equal(formatFlagValue(""), "''");
  assert.equal(formatFlagValue("it's"), "it's");
  assert.equal(formatFlagValue("'1'"), `"'1'"`);
});

// --- Key patterns -------------------------------------------------------------------------

Deno.test("key patterns: * within a segment, ** across, a table matches what is in it", () => {
  const cases: [string, string, boolean][] = [
    ["lr", "lr", true],
    ["lr", "lr2", false],
    ["model.*", "model.lr", true],
    ["model.*", "model.opt.lr", true], // model.opt is a table model.* matches
    ["model.*", "model", false],
    ["model", "model.opt.lr", true],
    ["*.password", "db.password", true],
    ["*.password", "password", false],
    ["*.password", "a.db.password", false],
    ["**.password", "a.db.password", true],
    ["**.password", "password", true],
    ["l?", "lr", true],
    ["l?", "lrr", false],
    ["m*.lr", "model.lr", true],
    ["m*.lr", "data.lr", false],
    ["a+b", "a+b", true],
    ["a.b", "axb", false],
  ];
  for (const [pattern, key, expected] of cases) {
    assert.equal(keyMatches(pattern.split("."), key), expected, `${pattern} ~ ${key}`);
  }
});

// --- JSON ---------------------------------------------------------------------------------

const JSON_CONFIG = `{
    "lr": 0.1,
    "epochs": 5,
    "model": {"name": "resnet", "layers": [1, 2], "dropout": null},
    "debug": false
}
`;

Deno.test("JSON: defaults are the scalar leaves by dotted key; lists are no flags", async () => {
  const { plan } = await applyFlags(
    { "params.json": JSON_CONFIG },
    op('config = "params.json"'),
    [],
  );
  assert.deepEqual(plan, {
    files: [{
      path: "params.json",
      format: "JSON",
      keys: ["lr", "epochs", "model.name", "model.dropout", "debug"],
    }],
    defaults: { lr: 0.1, epochs: 5, "model.name": "resnet", "model.dropout": null, debug: false },
  });
});

Deno.test("JSON: flags replace only their values; indentation and layout stay", async () => {
  const { config, applied, after } = await applyFlags(
    { "params.json": JSON_CONFIG },
    op('config = "params.json"'),
    ["epochs=20", "model.name=vit", "model.dropout=0.5", "debug=true"],
  );
  assert.deepEqual(config, {
    lr: 0.1,
    epochs: 20,
    "model.name": "vit",
    "model.dropout": 0.5,
    debug: true,
  });
  assert.equal(
    after["params.json"],
    `{
    "lr": 0.1,
    "epochs": 20,
    "model": {"name": "vit", "layers": [1, 2], "dropout": 0.5},
    "debug": true
}
`,
  );
  assert.deepEqual(applied, [{
    path: "params.json",
    diff: `--- a/params.json
+++ b/params.json
@@ -1,6 +1,6 @@
 {
     "lr": 0.1,
-    "epochs": 5,
-    "model": {"name": "resnet", "layers": [1, 2], "dropout": null},
-    "debug": false
+    "epochs": 20,
+    "model": {"name": "vit", "layers": [1, 2], "dropout": 0.5},
+    "debug": true
 }
`,
  }]);
});

Deno.test("JSON: comments are kept; strings are escaped", async () => {
  const text = '{\n  // the run name\n  "name": "a" /* short */\n}\n';
  const { after } = await applyFlags({ "c.json": text }, op('config = "c.json"'), [
    'name=say "hi"\\',
  ]);
  assert.equal(
    after["c.json"],
    '{\n  // the run name\n  "name": "say \\"hi\\"\\\\" /* short */\n}\n',
  );
  assert.deepEqual(JSON.parse(after["c.json"].replace(/\/\/.*|\/\*.*\*\//g, "")), {
    name: 'say "hi"\\',
  });
});

// --- YAML ---------------------------------------------------------------------------------

const YAML_CONFIG = `# Model settings
model:
  lr: 0.1   # learning rate
  name: 'resnet'
  title: "Res Net"
  layers: [1, 2]
  opt: {beta: 0.9, kind: adam}

# Data
data:
  path: data/train   # relative
  limit:
seed: 1
`;

Deno.test("YAML: defaults through block and flow mappings; sequences are no flags", async () => {
  const { plan } = await applyFlags({ "conf.yaml": YAML_CONFIG }, op('config = "conf.yaml"'), []);
  assert.deepEqual(plan.defaults, {
    "model.lr": 0.1,
    "model.name": "resnet",
    "model.title": "Res Net",
    "model.opt.beta": 0.9,
    "model.opt.kind": "adam",
    "data.path": "data/train",
    "data.limit": null,
    seed: 1,
  });
});

Deno.test("YAML: comments, blank lines and quoting of values stay", async () => {
  const { applied, after } = await applyFlags(
    { "conf.yaml": YAML_CONFIG },
    op('config = "conf.yaml"'),
    [
      "model.lr=0.01",
      "model.name=vit",
      "model.title=it's",
      "model.opt.kind=a,b",
      "data.path=true",
      "data.limit=100",
      'seed="2"',
    ],
  );
  assert.equal(
    after["conf.yaml"],
    `# Model settings
model:
  lr: 0.01   # learning rate
  name: 'vit'
  title: "it's"
  layers: [1, 2]
  opt: {beta: 0.9, kind: "a,b"}

# Data
data:
  path: true   # relative
  limit: 100
seed: "2"
`,
  );
  assert.equal(
    applied[0].diff,
    `--- a/conf.yaml
+++ b/conf.yaml
@@ -1,13 +1,13 @@
 # Model settings
 model:
-  lr: 0.1   # learning rate
-  name: 'resnet'
-  title: "Res Net"
+  lr: 0.01   # learning rate
+  name: 'vit'
+  title: "it's"
   layers: [1, 2]
-  opt: {beta: 0.9, kind: adam}
+  opt: {beta: 0.9, kind: "a,b"}
 
 # Data
 data:
-  path: data/train   # relative
-  limit:
-seed: 1
+  path: true   # relative
+  limit: 100
+seed: "2"
`,
  );
});

// --- TOML ---------------------------------------------------------------------------------

const TOML_CONFIG = String.raw`# Training settings
title = "base"   # shown in reports

[train]
epochs = 10 # passes over the data
lr = 1e-3
tag = 'baseline'
opt = { momentum = 0.9, nesterov = true }
sched.warmup = 100

[[runs]]
x = 1

[data]
path = "data/train"
when = 2024-01-01
splits = [0.8, 0.2]
`;

Deno.test("TOML: tables, dotted keys and inline tables make keys; arrays and dates do not", async () => {
  const { plan } = await applyFlags({ "conf.toml": TOML_CONFIG }, op('config = "conf.toml"'), []);
  assert.deepEqual(plan.defaults, {
    title: "base",
    "train.epochs": 10,
    "train.lr": 0.001,
    "train.tag": "baseline",
    "train.opt.momentum": 0.9,
    "train.opt.nesterov": true,
    "train.sched.warmup": 100,
    "data.path": "data/train",
  });
});

Deno.test("TOML: comments and key order stay; literal strings stay literal when they can", async () => {
  const { applied, after } = await applyFlags(
    { "conf.toml": TOML_CONFIG },
    op('config = "conf.toml"'),
    [
      "train.epochs=20",
      "train.lr=1",
      "train.tag=ab",
      "train.opt.nesterov=false",
      "train.sched.warmup=0.5",
      `data.path=it's "x"`,
    ],
  );
  assert.equal(
    after["conf.toml"],
    String.raw`# Training settings
title = "base"   # shown in reports

[train]
epochs = 20 # passes over the data
lr = 1
tag = 'ab'
opt = { momentum = 0.9, nesterov = false }
sched.warmup = 0.5

[[runs]]
x = 1

[data]
path = "it's \"x\""
when = 2024-01-01
splits = [0.8, 0.2]
`,
  );
  assert.equal(
    applied[0].diff,
    String.raw`--- a/conf.toml
+++ b/conf.toml
@@ -2,16 +2,16 @@
 title = "base"   # shown in reports
 
 [train]
-epochs = 10 # passes over the data
-lr = 1e-3
-tag = 'baseline'
-opt = { momentum = 0.9, nesterov = true }
-sched.warmup = 100
+epochs = 20 # passes over the data
+lr = 1
+tag = 'ab'
+opt = { momentum = 0.9, nesterov = false }
+sched.warmup = 0.5
 
 [[runs]]
 x = 1
 
 [data]
-path = "data/train"
+path = "it's \"x\""
 when = 2024-01-01
 splits = [0.8, 0.2]
`,
  );
});

Deno.test("TOML has no null: a null flag for a TOML key is an error before anything is written", async () => {
  await withProject({ "conf.toml": "lr = 0.1\n" }, async (dir) => {
    const opdef = op('config = "conf.toml"');
    const plan = await planConfig(dir, opdef);
    assertUserError(
      () => resolveConfig(plan, parseFlags(["lr=null"]), opdef),
      'flag lr=null: TOML has no null ("conf.toml"); give another value',
    );
  });
});

// --- Python -------------------------------------------------------------------------------

const PYTHON_CONFIG = String.raw`"""Train a model.

lr = 99 is in the docstring, not a flag.
"""
import os

lr = 0.1  # learning rate
epochs: int = 5
name: str = "a"
debug = False
path = r'C:\data'
params = {"beta": 0.9, "opt": {"eps": 1e-8}, "fn": len(os.sep)}
a = b = 3
total = 1; count = -2
msg = f"{name!r} {'x'}"
seed = 1
seed = int(os.environ.get("SEED", 0))
warmup = 1
warmup = 10


def main():
    hidden = 1
    print(lr, epochs, name)
`;

Deno.test("Python: module-level literal assignments are flags; the last assignment decides", async () => {
  const { plan } = await applyFlags({ "train.py": PYTHON_CONFIG }, op('config = "train.py"'), []);
  assert.deepEqual(plan.defaults, {
    lr: 0.1,
    epochs: 5,
    name: "a",
    debug: false,
    path: "C:\\data",
    "params.beta": 0.9,
    "params.opt.eps": 1e-8,
    total: 1,
    count: -2,
    warmup: 10,
  });
});

Deno.test("Python: flags replace literals; comments and other statements stay", async () => {
  const { applied, after } = await applyFlags(
    { "train.py": PYTHON_CONFIG },
    op('config = "train.py"'),
    [
      "lr=1",
      "name=x y",
      "debug=true",
      "path=D:\\new",
      "params.opt.eps=1e-6",
      "count=3.5",
      "warmup=20",
    ],
  );
  assert.equal(
    after["train.py"],
    String.raw`"""Train a model.

lr = 99 is in the docstring, not a flag.
"""
import os

lr = 1  # learning rate
epochs: int = 5
name: str = "x y"
debug = True
path = 'D:\\new'
params = {"beta": 0.9, "opt": {"eps": 0.000001}, "fn": len(os.sep)}
a = b = 3
total = 1; count = 3.5
msg = f"{name!r} {'x'}"
seed = 1
seed = int(os.environ.get("SEED", 0))
warmup = 1
warmup = 20


def main():
    hidden = 1
    print(lr, epochs, name)
`,
  );
  assert.equal(
    applied[0].diff,
    String.raw`--- a/train.py
+++ b/train.py
@@ -4,19 +4,19 @@
 """
 import os
 
-lr = 0.1  # learning rate
+lr = 1  # learning rate
 epochs: int = 5
-name: str = "a"
-debug = False
-path = r'C:\data'
-params = {"beta": 0.9, "opt": {"eps": 1e-8}, "fn": len(os.sep)}
+name: str = "x y"
+debug = True
+path = 'D:\\new'
+params = {"beta": 0.9, "opt": {"eps": 0.000001}, "fn": len(os.sep)}
 a = b = 3
-total = 1; count = -2
+total = 1; count = 3.5
 msg = f"{name!r} {'x'}"
 seed = 1
 seed = int(os.environ.get("SEED", 0))
 warmup = 1
-warmup = 10
+warmup = 20
 
 
 def main():
`,
  );
});

Deno.test("Python: annotated assignment name: str = 'a' takes a string, keeps its quotes", async () => {
  const text = "name: str = 'a'  # the run's name\nlimit: int | None = None\n";
  const { plan, after } = await applyFlags({ "cfg.py": text }, op('config = "cfg.py"'), [
    "name=it's",
    "limit=3",
  ]);
  assert.deepEqual(plan.defaults, { name: "a", limit: null });
  assert.equal(after["cfg.py"], "name: str = 'it\\'s'  # the run's name\nlimit: int | None = 3\n");
});

// --- Types change, nested keys ---------------------------------------------------------------

Deno.test("a flag of another type than its default is written as the flag's type", async () => {
  const files = {
    "p.json": '{"lr": 0.1, "n": 5, "s": "x"}\n',
    "p.yaml": "lr: 0.1\nn: 5\ns: x\n",
    "p.toml": 'lr = 0.1\nn = 5\ns = "x"\n',
    "p.py": 'lr = 0.1\nn = 5\ns = "x"\n',
  };
  for (const [path, text] of Object.entries(files)) {
    const { config, after } = await applyFlags({ [path]: text }, op(`config = "${path}"`), [
      "lr=1",
      "n=abc",
      "s=2.5",
    ]);
    assert.deepEqual(config, { lr: 1, n: "abc", s: 2.5 });
    const expected = {
      "p.json": '{"lr": 1, "n": "abc", "s": 2.5}\n',
      "p.yaml": "lr: 1\nn: abc\ns: 2.5\n",
      "p.toml": 'lr = 1\nn = "abc"\ns = 2.5\n',
      "p.py": 'lr = 1\nn = "abc"\ns = 2.5\n',
    }[path];
    assert.equal(after[path], expected, path);
  }
});

Deno.test("a quoted flag is a string even where the file's default is a number", async () => {
  const { config, after } = await applyFlags(
    { "p.yaml": "seed: 1\nflag: true\n" },
    op('config = "p.yaml"'),
    ["seed='2'", 'flag="false"'],
  );
  assert.deepEqual(config, { seed: "2", flag: "false" });
  assert.equal(after["p.yaml"], 'seed: "2"\nflag: "false"\n');
});

Deno.test("nested tables make dotted keys, as deep as they go", async () => {
  const { plan, after } = await applyFlags(
    { "deep.yaml": "a:\n  b:\n    c:\n      d: 1\n    e: 2\n" },
    op('config = "deep.yaml"'),
    ["a.b.c.d=10"],
  );
  assert.deepEqual(plan.defaults, { "a.b.c.d": 1, "a.b.e": 2 });
  assert.equal(after["deep.yaml"], "a:\n  b:\n    c:\n      d: 10\n    e: 2\n");
});

Deno.test("integers a double cannot hold exactly are no flags; big floats are", async () => {
  const files = {
    "n.json": '{"big": 12345678901234567890, "far": 1e21, "ok": 9007199254740991}\n',
    "n.yaml": "big: 12345678901234567890\nfar: 1e21\nok: 9007199254740991\n",
    "n.toml": "big = 12345678901234567890\nfar = 1e21\nok = 9007199254740991\n",
    "n.py": "big = 12345678901234567890\nfar = 1e21\nok = 9007199254740991\n",
  };
  for (const [path, text] of Object.entries(files)) {
    const { plan, after } = await applyFlags({ [path]: text }, op(`config = "${path}"`), [
      "far=2e21",
    ]);
    assert.deepEqual(plan.defaults, { far: 1e21, ok: 9007199254740991 }, path);
    assert.ok(after[path].includes("2e+21"), `${path}: ${after[path]}`);
  }
});

// --- Choosing files and keys ------------------------------------------------------------------

const PROJECT: Files = {
  "conf/model.yaml": "model:\n  lr: 0.1\n  name: resnet\n  opt:\n    beta: 0.9\nseed: 1\n",
  "conf/data.yaml": "data:\n  path: d\n  db:\n    password: pw\n    user: me\n",
  "conf/notes.txt": "not a config file\n",
  "params.json": '{"batch": 32}\n',
  "secret.json": '{"password": "hunter2"}\n',
  ".hidden/x.json": '{"hidden": 1}\n',
  "node_modules/pkg/package.json": '{"version": "1.0.0"}\n',
  ".gage/runs/0a/params.json": '{"batch": 64}\n',
  "runs/0a/params.json": '{"batch": 64}\n',
};

async function planKeys(spec: string, options = {}): Promise<Record<string, string[]>> {
  return await withProject(PROJECT, async (dir) => {
    const plan = await planConfig(dir, op(spec), options);
    return Object.fromEntries(plan.files.map((f) => [f.path, f.keys]));
  });
}

Deno.test("#KEYPATTERN selects keys: model.* is every key under model", async () => {
  assert.deepEqual(await planKeys('config = "conf/model.yaml#model.*"'), {
    "conf/model.yaml": ["model.lr", "model.name", "model.opt.beta"],
  });
  assert.deepEqual(await planKeys('config = "conf/model.yaml#model.opt"'), {
    "conf/model.yaml": ["model.opt.beta"],
  });
  assert.deepEqual(await planKeys('config = ["conf/model.yaml#seed", "conf/model.yaml#*.lr"]'), {
    "conf/model.yaml": ["model.lr", "seed"],
  });
});

Deno.test("-GLOB excludes files; wildcards skip hidden dirs, node_modules and unknown formats", async () => {
  // Not .hidden/x.json, node_modules/pkg/package.json nor .gage/runs/0a/params.json.
  assert.deepEqual(await planKeys('config = ["**/*.json", "-secret.json", "-runs/**"]'), {
    "params.json": ["batch"],
  });
  assert.deepEqual(await planKeys('config = ["conf/*"]'), {
    "conf/data.yaml": ["data.path", "data.db.password", "data.db.user"],
    "conf/model.yaml": ["model.lr", "model.name", "model.opt.beta", "seed"],
  });
  // A hidden dir named outright is searched.
  assert.deepEqual(await planKeys('config = ".hidden/*.json"'), { ".hidden/x.json": ["hidden"] });
});

Deno.test("planConfig's exclude option keeps a runs home inside the project out", async () => {
  const keys = await withProject(PROJECT, async (dir) => {
    const plan = await planConfig(dir, op('config = "**/*.json"'), {
      exclude: [join(dir, "runs")],
    });
    return plan.files.map((f) => f.path);
  });
  assert.deepEqual(keys, ["params.json", "secret.json"]);
});

Deno.test("-#KEYPATTERN excludes keys from every file; a later entry wins", async () => {
  assert.deepEqual(await planKeys('config = ["conf/*.yaml", "-#*.password", "-#**.password"]'), {
    "conf/data.yaml": ["data.path", "data.db.user"],
    "conf/model.yaml": ["model.lr", "model.name", "model.opt.beta", "seed"],
  });
  assert.deepEqual(await planKeys('config = ["conf/data.yaml", "-#data.db", "#data.db.user"]'), {
    "conf/data.yaml": ["data.path", "data.db.user"],
  });
  // The exclude comes first: the include after it wins.
  assert.deepEqual(await planKeys('config = ["-#data.db", "conf/data.yaml"]'), {
    "conf/data.yaml": ["data.path", "data.db.password", "data.db.user"],
  });
});

Deno.test("Gage's config tables are groups of their own: an exclude stays in its group", async () => {
  const spec = 'config = [{ keys = "params.json" }, { keys = ["secret.json", "-#batch"] }]';
  assert.deepEqual(await planKeys(spec), {
    "params.json": ["batch"],
    "secret.json": ["password"],
  });
});

Deno.test("a key that two files provide is an error naming both and the fix", async () => {
  await withProject(
    { "a.yaml": "seed: 1\nlr: 0.1\n", "b.yaml": "seed: 2\n" },
    async (dir) => {
      await assertUserErrorAsync(
        planConfig(dir, op('config = "*.yaml"')),
        'op "train": config key "seed" is in both "a.yaml" and "b.yaml"',
        '"-b.yaml#seed"',
      );
      const plan = await planConfig(dir, op('config = ["*.yaml", "-b.yaml#seed"]'));
      assert.deepEqual(plan.defaults, { seed: 1, lr: 0.1 });
    },
  );
});

Deno.test("a file named without wildcards must exist and have a known format", async () => {
  await withProject({ "params.ini": "lr=1\n" }, async (dir) => {
    await assertUserErrorAsync(
      planConfig(dir, op('config = "params.yaml"')),
      /^op "train": config file "params\.yaml" is not a file in the project dir; fix entry "params\.yaml" of attribute "config"$/,
    );
    await assertUserErrorAsync(
      planConfig(dir, op('config = "params.ini"')),
      "config file params.ini has no known format; config files end in .json, .yaml, .yml, .toml, .py",
    );
    // A wildcard that matches nothing, or only unknown formats, is no error.
    assert.deepEqual(await planConfig(dir, op('config = "*"')), { files: [], defaults: {} });
  });
});

Deno.test("a file that does not parse is an error with file:line:col", async () => {
  const cases: [string, string, RegExp][] = [
    ["bad.json", '{"a": 1,, }', /^bad\.json:1:9: invalid JSON: property name expected; /],
    ["bad.yaml", "a: [1\nb: 2\n", /^bad\.yaml:2:1: invalid YAML: /],
    ["bad.toml", "a = 1\na = 2\n", /^bad\.toml:2:1: invalid TOML: /],
    ["bad.py", 'x = 1\ny = "abc\n', /^bad\.py:2:5: invalid Python: unterminated string literal; /],
    ["open.py", "x = (1,\n", /^open\.py:1:5: invalid Python: '\(' was never closed; /],
  ];
  for (const [path, text, pattern] of cases) {
    await withProject({ [path]: text }, async (dir) => {
      await assertUserErrorAsync(
        planConfig(dir, op(`config = "${path}"`)),
        pattern,
        'attribute "config"',
      );
    });
  }
});

Deno.test("an op without config has no flags and reads nothing", async () => {
  await withProject({ "params.json": "not json" }, async (dir) => {
    assert.deepEqual(await planConfig(dir, op("")), { files: [], defaults: {} });
  });
});

// --- Resolving ----------------------------------------------------------------------------

const TWO_KEY_PLAN: ConfigPlan = {
  files: [
    { path: "train.py", format: "Python", keys: ["lr", "epochs"] },
    { path: "conf.yaml", format: "YAML", keys: ["model.depth"] },
  ],
  defaults: { lr: 0.1, epochs: 5, "model.depth": 3 },
};

Deno.test("resolveConfig merges flags over the defaults", () => {
  assert.deepEqual(resolveConfig(TWO_KEY_PLAN, { epochs: 10 }, op("")), {
    lr: 0.1,
    epochs: 10,
    "model.depth": 3,
  });
});

Deno.test("an unknown flag is an error that lists the flags there are", () => {
  assertUserError(
    () => resolveConfig(TWO_KEY_PLAN, { lrr: 1 }, op("")),
    /^unknown flag "lrr" for op "train"; its flags are: lr, epochs, model\.depth$/,
  );
  assertUserError(
    () => resolveConfig(TWO_KEY_PLAN, { depth: 1, x: 2 }, op("")),
    /^unknown flags "depth", "x" for op "train" \(did you mean model\.depth\?\); its flags are: /,
  );
  assertUserError(
    () => resolveConfig({ files: [], defaults: {} }, { lr: 1 }, op("")),
    /^unknown flag "lr" for op "train", which has no flags; .*free-flags = true/,
  );
});

Deno.test("free-flags = true records unknown flags; they are written to no file", async () => {
  const freeOp = op('config = "conf.yaml"\nfree-flags = true');
  assert.equal(freeOp.freeFlags, true);
  const { config, applied, after } = await applyFlags(
    { "conf.yaml": "lr: 0.1\n" },
    freeOp,
    ["lr=0.2", "note=first try"],
  );
  assert.deepEqual(config, { lr: 0.2, note: "first try" });
  assert.equal(after["conf.yaml"], "lr: 0.2\n");
  assert.deepEqual(applied.map((a) => a.path), ["conf.yaml"]);
  const bare = op("free-flags = true");
  assert.deepEqual(resolveConfig({ files: [], defaults: {} }, { x: 1 }, bare), { x: 1 });
});

Deno.test("reserved names pass through as given, neither checked nor refused", () => {
  assert.deepEqual(
    resolveConfig(TWO_KEY_PLAN, { prepare: "abc123", lr: 0.5 }, op(""), ["prepare"]),
    { lr: 0.5, epochs: 5, "model.depth": 3, prepare: "abc123" },
  );
});

// --- Applying -----------------------------------------------------------------------------

Deno.test("applyConfig changes nothing when the values are the defaults", async () => {
  const { applied, after } = await applyFlags(
    { "conf.yaml": "lr: 0.10  # as written\n" },
    op('config = "conf.yaml"'),
    ["lr=0.1"],
  );
  assert.deepEqual(applied, []);
  assert.equal(after["conf.yaml"], "lr: 0.10  # as written\n");
});

Deno.test("applyConfig passes over files the run dir does not have", async () => {
  await withProject({ "project/conf.yaml": "lr: 0.1\n" }, async (dir) => {
    const opdef = op('config = "conf.yaml"');
    const plan = await planConfig(join(dir, "project"), opdef);
    await Deno.mkdir(join(dir, "run"));
    const config = resolveConfig(plan, { lr: 0.5 }, opdef);
    assert.deepEqual(await applyConfig(join(dir, "run"), plan, config), []);
  });
});

Deno.test("applyConfig replaces a symlink in the run dir instead of writing through it", async () => {
  await withProject({ "project/conf.yaml": "lr: 0.1\n" }, async (dir) => {
    const opdef = op('config = "conf.yaml"');
    const plan = await planConfig(join(dir, "project"), opdef);
    await Deno.mkdir(join(dir, "run"));
    await Deno.symlink(join(dir, "project/conf.yaml"), join(dir, "run/conf.yaml"));
    await applyConfig(join(dir, "run"), plan, { lr: 0.5 });
    assert.equal(await Deno.readTextFile(join(dir, "project/conf.yaml")), "lr: 0.1\n");
    assert.equal(await Deno.readTextFile(join(dir, "run/conf.yaml")), "lr: 0.5\n");
    assert.ok((await Deno.lstat(join(dir, "run/conf.yaml"))).isFile);
  });
});

Deno.test("applyConfig keeps a read-only file's mode", async () => {
  await withProject({ "project/p.py": "lr = 0.1\n", "run/p.py": "lr = 0.1\n" }, async (dir) => {
    const opdef = op('config = "p.py"');
    const plan = await planConfig(join(dir, "project"), opdef);
    await Deno.chmod(join(dir, "run/p.py"), 0o444);
    await applyConfig(join(dir, "run"), plan, { lr: 0.2 });
    assert.equal(await Deno.readTextFile(join(dir, "run/p.py")), "lr = 0.2\n");
    assert.equal((await Deno.stat(join(dir, "run/p.py"))).mode! & 0o777, 0o444);
  });
});

Deno.test("applyConfig refuses a run copy that lost a key", async () => {
  await withProject(
    { "project/conf.yaml": "lr: 0.1\n", "run/conf.yaml": "rate: 0.1\n" },
    async (dir) => {
      const opdef = op('config = "conf.yaml"');
      const plan = await planConfig(join(dir, "project"), opdef);
      await assertUserErrorAsync(
        applyConfig(join(dir, "run"), plan, { lr: 0.5 }),
        `the run's copy of "conf.yaml" has no flag "lr"`,
      );
    },
  );
});

Deno.test("applyConfig returns one diff per changed file, in path order", async () => {
  const { applied } = await applyFlags(
    { "b.json": '{"y": 1}\n', "a.yaml": "x: 1\n", "c.toml": "z = 1\n" },
    op('config = ["*.json", "*.yaml", "*.toml"]'),
    ["y=2", "x=2"],
  );
  assert.deepEqual(applied, [
    { path: "a.yaml", diff: "--- a/a.yaml\n+++ b/a.yaml\n@@ -1,1 +1,1 @@\n-x: 1\n+x: 2\n" },
    { path: "b.json", diff: '--- a/b.json\n+++ b/b.json\n@@ -1,1 +1,1 @@\n-{"y": 1}\n+{"y": 2}\n' },
  ]);
});

// --- Help ---------------------------------------------------------------------------------

Deno.test("formatOpHelp: description, then each flag with its default and file, aligned", () => {
  const opdef = op('description = "Train the model"');
  const plan: ConfigPlan = {
    files: [
      { path: "conf/model.yaml", format: "YAML", keys: ["model.name", "model.depth"] },
      { path: "train.py", format: "Python", keys: ["lr", "tag", "note"] },
    ],
    defaults: { "model.name": "resnet", "model.depth": 50, lr: 0.1, tag: "1", note: null },
  };
  assert.equal(
    formatOpHelp(opdef, plan),
    [
      "Usage: runstage run train [NAME=VALUE]...",
      "",
      "Train the model",
      "",
      "Flags:",
      "  model.name   resnet  conf/model.yaml",
      "  model.depth  50      conf/model.yaml",
      "  lr           0.1     train.py",
      "  tag          '1'     train.py",
      "  note         null    train.py",
      "",
    ].join("\n"),
  );
});

Deno.test("formatOpHelp says when an op has no flags, and when it takes free flags", () => {
  const empty = { files: [], defaults: {} };
  assert.equal(
    formatOpHelp(op(""), empty),
    "Usage: runstage run train [NAME=VALUE]...\n\nFlags: none\n",
  );
  assert.equal(
    formatOpHelp(op("free-flags = true"), empty),
    "Usage: runstage run train [NAME=VALUE]...\n\nFlags: none\n\n" +
      "Other flags are accepted as given (free-flags): recorded, written to no file.\n",
  );
});

Deno.test("runstage ops --help-op OP prints the op's flags; an unknown op is an error", async () => {
  await withProject(
    {
      "gage.toml": '[train]\ndescription = "Train"\nconfig = "train.py"\n',
      "train.py": "lr = 0.1\nepochs = 5\n",
    },
    async (dir) => {
      const help = await runstage(["-C", dir, "ops", "--help-op", "train"]);
      assert.equal(help.stderr, "");
      assert.equal(help.code, 0);
      assert.equal(
        help.stdout,
        "Usage: runstage run train [NAME=VALUE]...\n\nTrain\n\nFlags:\n" +
          "  lr      0.1  train.py\n  epochs  5    train.py\n",
      );
      const json = await runstage(["-C", dir, "ops", "--help-op", "train", "--json"]);
      assert.deepEqual(JSON.parse(json.stdout), {
        name: "train",
        description: "Train",
        flags: [
          { name: "lr", default: 0.1, file: "train.py" },
          { name: "epochs", default: 5, file: "train.py" },
        ],
        freeFlags: false,
      });
      const unknown = await runstage(["-C", dir, "ops", "--help-op", "nope"]);
      assert.equal(unknown.code, 1);
      assert.match(
        unknown.stderr,
        /^runstage: unknown op "nope" in ".*gage\.toml"; ops are: train\n$/,
      );
    },
  );
});
