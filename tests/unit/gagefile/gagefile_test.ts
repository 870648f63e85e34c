import assert from "node:assert/strict";
import { join } from "node:path";
import { RunstageError } from "../../../lib/errors.ts";
import {
  findGageFile,
  GAGE_FILE_NAMES,
  parseGageFile,
  readGageFile,
  readOpDef,
} from "../../../lib/gagefile/parse.ts";
import { assertUserError, withTempDir, writeFile } from "../../support/fixtures.ts";

/** A parsed value as plain JSON data: smol-toml builds null-prototype tables. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

// --- Finding --------------------------------------------------------------------

// Spelled out rather than taken from GAGE_FILE_NAMES, so a change to the constant shows here.
const LOCATIONS_BY_PRECEDENCE = [
  ".gage/gage.toml",
  ".gage/gage.yaml",
  ".gage/gage.yml",
  ".gage/gage.json",
  "gage.toml",
  "gage.yaml",
  "gage.yml",
  "gage.json",
];

Deno.test("GAGE_FILE_NAMES lists the 8 locations in precedence order", () => {
  assert.deepEqual(GAGE_FILE_NAMES, LOCATIONS_BY_PRECEDENCE);
});

Deno.test("findGageFile finds a Gage file at each of the 8 locations", async () => {
  for (const name of LOCATIONS_BY_PRECEDENCE) {
    await withTempDir(async (dir) => {
      const path = await writeFile(dir, name, "");
      assert.equal(findGageFile(dir), path);
    });
  }
});

Deno.test("findGageFile prefers .gage/ and then toml, yaml, yml, json", async () => {
  await withTempDir(async (dir) => {
    for (const name of LOCATIONS_BY_PRECEDENCE) await writeFile(dir, name, "");
    // Remove the winner each round: the next name in precedence order must win.
    for (const name of LOCATIONS_BY_PRECEDENCE) {
      assert.equal(findGageFile(dir), join(dir, name));
      await Deno.remove(join(dir, name));
    }
    assert.equal(findGageFile(dir), undefined);
  });
});

Deno.test("findGageFile skips a directory named like a Gage file", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "gage.toml"));
    const path = await writeFile(dir, "gage.json", "{}");
    assert.equal(findGageFile(dir), path);
  });
});

Deno.test("readGageFile reads and parses the file", async () => {
  await withTempDir(async (dir) => {
    const path = await writeFile(dir, "gage.toml", '[hello]\nexec = "echo hi"\n');
    const gagefile = await readGageFile(path);
    assert.equal(gagefile.path, path);
    assert.deepEqual(gagefile.ops.map((op) => op.exec), [{ run: "echo hi" }]);
  });
});

Deno.test("readGageFile of a missing file is a user error", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(readGageFile(join(dir, "gage.toml")), (err: unknown) => {
      assert.ok(err instanceof RunstageError);
      assert.match(err.message, /cannot read Gage file .*gage\.toml/);
      return true;
    });
  });
});

// --- Formats ------------------------------------------------------------------

const SAME_OP = {
  toml: '[train]\ndescription = "Train"\nexec = ["python", "train.py"]\n',
  yaml: "train:\n  description: Train\n  exec: [python, train.py]\n",
  json: '{"train": {"description": "Train", "exec": ["python", "train.py"]}}',
};

Deno.test("TOML, YAML and JSON read the same op", () => {
  for (
    const [path, text] of [
      ["gage.toml", SAME_OP.toml],
      ["gage.yaml", SAME_OP.yaml],
      ["gage.yml", SAME_OP.yaml],
      ["gage.json", SAME_OP.json],
    ]
  ) {
    const { ops } = parseGageFile(path, text);
    assert.equal(ops.length, 1, path);
    assert.equal(ops[0].name, "train");
    assert.equal(ops[0].description, "Train");
    assert.deepEqual(ops[0].exec, { run: ["python", "train.py"] }, path);
  }
});

Deno.test("an unknown extension is a user error", () => {
  assertUserError(
    () => parseGageFile("gage.ini", ""),
    "gage.ini",
    'unknown Gage file format ".ini"',
  );
});

Deno.test("JSON whole-line // comments are ignored and keep line numbers", () => {
  const text = [
    "// ops of this project",
    "{",
    "  // the only op",
    '  "hello": {"exec": "echo // not a comment"}',
    "}",
  ].join("\n");
  const { ops } = parseGageFile("gage.json", text);
  assert.deepEqual(ops[0].exec, { run: "echo // not a comment" });

  // The syntax error is on line 4 of the file, after two comment lines.
  const broken = '// a\n{\n  // b\n  "hello" {}\n}\n';
  assertUserError(() => parseGageFile("gage.json", broken), /^gage\.json:4:11: invalid JSON: /);
});

Deno.test("a // after other text on a JSON line is still a syntax error", () => {
  assertUserError(() => parseGageFile("gage.json", '{"a": {}} // trailing\n'), "invalid JSON");
});

Deno.test("a UTF-8 byte order mark is ignored", () => {
  assert.equal(parseGageFile("gage.json", '\ufeff{"a": {}}').ops[0].name, "a");
  assert.equal(parseGageFile("gage.toml", "\ufeff[a]\n").ops[0].name, "a");
});

Deno.test("malformed TOML names file, line and column on one line", () => {
  assertUserError(
    () => parseGageFile("gage.toml", '[train]\nexec = "x"\nsourcecode = \n'),
    /^gage\.toml:3:14: invalid TOML: invalid value; fix the syntax and run again$/,
  );
});

Deno.test("malformed YAML names file, line and column on one line", () => {
  assertUserError(
    () => parseGageFile("gage.yaml", "train:\n  exec: echo\ntrain:\n  exec: echo\n"),
    /^gage\.yaml:3:1: invalid YAML: Map keys must be unique; fix the syntax and run again$/,
  );
  assertUserError(() => parseGageFile("gage.yml", "a: *nowhere\n"), /^gage\.yml: invalid YAML: /);
});

Deno.test("malformed JSON names file, line and column on one line", () => {
  assertUserError(
    () => parseGageFile("gage.json", '{\n  "train": {\n    "exec" "x"\n  }\n}\n'),
    /^gage\.json:3:12: invalid JSON: Expected ':' after property name; fix the syntax/,
  );
  // V8 quotes the document in some messages: it must not leak into ours.
  assertUserError(
    () => parseGageFile("gage.json", '{\n  "train": {\n    "exec": \n  }\n}\n'),
    /^gage\.json(:\d+:\d+)?: invalid JSON: Unexpected token '}'; fix the syntax and run again$/,
  );
});

Deno.test("the top level must be a table", () => {
  assertUserError(() => parseGageFile("gage.json", "[1, 2]"), "gage.json", "(got list)");
  assertUserError(() => parseGageFile("gage.yaml", "- train\n"), "top level must be a table");
  assertUserError(() => parseGageFile("gage.json", "null"), "(got null)");
});

Deno.test("an empty file has no ops", () => {
  assert.deepEqual(parseGageFile("gage.toml", "").ops, []);
  assert.deepEqual(parseGageFile("gage.yaml", "# nothing yet\n").ops, []);
  assert.deepEqual(parseGageFile("gage.json", "{}").ops, []);
});

// --- Ops and settings -------------------------------------------------------------

Deno.test("ops keep file order; $ keys are settings, not ops", () => {
  const gagefile = parseGageFile(
    "gage.toml",
    '"$runs-dir" = "../runs"\n"$schema" = 1\n[zeta]\n[alpha]\n[mid]\n',
  );
  assert.deepEqual(gagefile.ops.map((op) => op.name), ["zeta", "alpha", "mid"]);
  assert.deepEqual(gagefile.settings, { "$runs-dir": "../runs", "$schema": 1 });
  assert.equal(gagefile.runsDir, "../runs");
});

Deno.test("runsDir is undefined without $runs-dir", () => {
  const gagefile = parseGageFile("gage.toml", "[a]\n");
  assert.equal(gagefile.runsDir, undefined);
  assert.deepEqual(gagefile.settings, {});
});

Deno.test("$runs-dir must be a non-empty string", () => {
  assertUserError(
    () => parseGageFile("gage.toml", '"$runs-dir" = 3\n'),
    '"$runs-dir" must be a non-empty string',
    "(got number)",
  );
  assertUserError(() => parseGageFile("gage.json", '{"$runs-dir": ""}'), "(got empty string)");
});

Deno.test("an op must be a table", () => {
  assertUserError(
    () => parseGageFile("gage.toml", 'train = "python train.py"\n'),
    /^gage\.toml: op "train" must be a table of attributes \(got string\)$/,
  );
});

Deno.test("an op name must have no whitespace", () => {
  assertUserError(() => parseGageFile("gage.json", '{"my op": {}}'), 'op name "my op"');
  assertUserError(() => parseGageFile("gage.json", '{"": {}}'), 'op name ""');
});

Deno.test("defaults of a minimal op", () => {
  const [op] = parseGageFile("gage.toml", "[bare]\n").ops;
  assert.deepEqual({ ...op, raw: plain(op.raw) }, {
    name: "bare",
    description: undefined,
    default: false,
    exec: {},
    sourcecode: undefined,
    env: {},
    raw: {},
  });
});

Deno.test("raw keeps the op table as parsed, unknown attributes included", () => {
  const text = [
    "[train]",
    'exec = "python train.py"',
    'depends = ["prepare"]',
    'output-summary = "loss: (\\\\S+)"',
    "[train.config]",
    'keys = ["lr", "epochs"]',
  ].join("\n");
  const [op] = parseGageFile("gage.toml", text).ops;
  assert.deepEqual(plain(op.raw), {
    exec: "python train.py",
    depends: ["prepare"],
    "output-summary": "loss: (\\S+)",
    config: { keys: ["lr", "epochs"] },
  });
  assert.deepEqual(op.exec, { run: "python train.py" });
});

Deno.test("description and default are read; wrong types are errors", () => {
  const [op] = parseGageFile("gage.toml", '[a]\ndescription = "Does A"\ndefault = true\n').ops;
  assert.equal(op.description, "Does A");
  assert.equal(op.default, true);
  assertUserError(
    () => parseGageFile("gage.toml", "[a]\ndescription = 1\n"),
    /^gage\.toml: op "a": attribute "description" must be a string \(got number\)$/,
  );
  assertUserError(
    () => parseGageFile("gage.toml", '[a]\ndefault = "yes"\n'),
    /^gage\.toml: op "a": attribute "default" must be true or false \(got string\)$/,
  );
});

Deno.test("at most one op is the default", () => {
  assertUserError(
    () => parseGageFile("gage.toml", "[a]\ndefault = true\n[b]\n[c]\ndefault = true\n"),
    /^gage\.toml: ops "a" and "c" both have default = true/,
  );
  const ops = parseGageFile("gage.toml", "[a]\ndefault = false\n[b]\ndefault = true\n").ops;
  assert.deepEqual(ops.map((op) => op.default), [false, true]);
});

// --- exec --------------------------------------------------------------------------

Deno.test("exec as a string or a list is the run phase", () => {
  const [str] = parseGageFile("gage.toml", '[a]\nexec = "python train.py"\n').ops;
  assert.deepEqual(str.exec, { run: "python train.py" });
  const [list] = parseGageFile("gage.toml", '[a]\nexec = ["python", "train.py"]\n').ops;
  assert.deepEqual(list.exec, { run: ["python", "train.py"] });
});

Deno.test("exec as a table names phases, aliases resolved", () => {
  const text = [
    "[a.exec]",
    'stage-sourcecode = ["python", "setup.py"]',
    'stage-runtime = "python -m venv .venv"',
    'stage-dependencies = "pip install -r requirements.txt"',
    'run = ["python", "train.py"]',
    'finalize = "rm -rf tmp"',
  ].join("\n");
  const [op] = parseGageFile("gage.toml", text).ops;
  assert.deepEqual(op.exec, {
    "copy-sourcecode": ["python", "setup.py"],
    "init-runtime": "python -m venv .venv",
    "resolve-dependencies": "pip install -r requirements.txt",
    run: ["python", "train.py"],
    "finalize-run": "rm -rf tmp",
  });
  const canonical = parseGageFile(
    "gage.yaml",
    "a:\n  exec:\n    copy-sourcecode: cp x y\n    init-runtime: a\n" +
      "    resolve-dependencies: b\n    finalize-run: c\n",
  ).ops[0];
  assert.deepEqual(canonical.exec, {
    "copy-sourcecode": "cp x y",
    "init-runtime": "a",
    "resolve-dependencies": "b",
    "finalize-run": "c",
  });
});

Deno.test("exec with an unknown phase lists the valid ones", () => {
  assertUserError(
    () => parseGageFile("gage.toml", '[a.exec]\ntrain = "x"\n'),
    /^gage\.toml: op "a": unknown phase "train" in attribute "exec"; valid phases are: /,
    "copy-sourcecode (or stage-sourcecode)",
    "init-runtime (or stage-runtime)",
    "resolve-dependencies (or stage-dependencies)",
    ", run, ",
    "finalize-run (or finalize)",
  );
});

Deno.test("exec naming a phase and its alias is an error", () => {
  assertUserError(
    () => parseGageFile("gage.json", '{"a": {"exec": {"finalize": "x", "finalize-run": "y"}}}'),
    'names phase finalize-run twice ("finalize" and "finalize-run")',
  );
});

Deno.test("exec type errors", () => {
  assertUserError(
    () => parseGageFile("gage.toml", "[train]\nexec = 3\n"),
    /^gage\.toml: op "train": attribute "exec" must be a string, a list of strings or a table of phases \(got number\)$/,
  );
  assertUserError(
    () => parseGageFile("gage.toml", '[train]\nexec = ["python", 3]\n'),
    'attribute "exec" must be a string, a list of strings or a table of phases (got list with a number item)',
  );
  assertUserError(
    () => parseGageFile("gage.toml", "[train]\nexec = []\n"),
    /^gage\.toml: op "train": attribute "exec" is an empty list; /,
  );
  assertUserError(
    () => parseGageFile("gage.toml", "[train.exec]\nrun = []\n"),
    'attribute "exec.run" is an empty list',
  );
  assertUserError(
    () => parseGageFile("gage.toml", "[train.exec]\nstage-runtime = true\n"),
    'attribute "exec.stage-runtime" must be a string or a list of strings (got boolean)',
  );
  assertUserError(
    () => parseGageFile("gage.yaml", "train:\n  exec:\n    run:\n"),
    'attribute "exec.run" must be a string or a list of strings (got null)',
  );
});

// --- sourcecode and env ------------------------------------------------------------------

Deno.test("sourcecode accepts a string, a list or a boolean", () => {
  const read = (value: string) => parseGageFile("gage.toml", `[a]\nsourcecode = ${value}\n`).ops[0];
  assert.equal(read('"*.py"').sourcecode, "*.py");
  assert.deepEqual(read('["*.py", "-data/"]').sourcecode, ["*.py", "-data/"]);
  assert.equal(read("false").sourcecode, false);
  assert.equal(read("true").sourcecode, true);
});

Deno.test("sourcecode type errors", () => {
  assertUserError(
    () => parseGageFile("gage.toml", "[a]\nsourcecode = 1\n"),
    /^gage\.toml: op "a": attribute "sourcecode" must be a string, a list of strings or true\/false \(got number\)$/,
  );
  assertUserError(
    () => parseGageFile("gage.json", '{"a": {"sourcecode": ["*.py", {"x": 1}]}}'),
    'attribute "sourcecode"',
    "(got list with a table item)",
  );
});

Deno.test("env values become strings", () => {
  const text = '[a.env]\nNAME = "x"\nEPOCHS = 10\nLR = 0.5\nDEBUG = true\nQUIET = false\n';
  const [op] = parseGageFile("gage.toml", text).ops;
  assert.deepEqual(op.env, { NAME: "x", EPOCHS: "10", LR: "0.5", DEBUG: "true", QUIET: "false" });
  assert.deepEqual(plain(op.raw.env), {
    NAME: "x",
    EPOCHS: 10,
    LR: 0.5,
    DEBUG: true,
    QUIET: false,
  });
});

Deno.test("env type errors", () => {
  assertUserError(
    () => parseGageFile("gage.toml", '[a]\nenv = "X=1"\n'),
    /^gage\.toml: op "a": attribute "env" must be a table of variables \(got string\)$/,
  );
  assertUserError(
    () => parseGageFile("gage.toml", '[a.env]\nPATHS = ["a", "b"]\n'),
    /^gage\.toml: op "a": attribute "env\.PATHS" must be a string, number or boolean \(got list\)$/,
  );
  assertUserError(
    () => parseGageFile("gage.yaml", "a:\n  env:\n    X:\n"),
    'attribute "env.X" must be a string, number or boolean (got null)',
  );
  assertUserError(
    () => parseGageFile("gage.toml", "[a.env]\nWHEN = 1979-05-27\n"),
    'attribute "env.WHEN" must be a string, number or boolean (got date)',
  );
});

// --- config and free-flags ---------------------------------------------------------

Deno.test("config: a string or the strings of a list are one group of entries", () => {
  const [a, b] = parseGageFile(
    "gage.toml",
    '[a]\nconfig = "train.py"\n[b]\nconfig = ["conf/*.yaml#model.*", "-secret.json", "-#*.password"]\n',
  ).ops;
  assert.deepEqual(a.config, [{ keys: ["train.py"] }]);
  assert.deepEqual(b.config, [{ keys: ["conf/*.yaml#model.*", "-secret.json", "-#*.password"] }]);
});

Deno.test("config: Gage's tables with keys are groups of their own", () => {
  const text = [
    "a:",
    "  config:",
    "    - train.py",
    "    - keys: [conf.yaml, -#seed]",
    "      description: Model settings",
    "    - params.json",
    "    - -#x",
    "b:",
    "  config: { keys: train.py }",
  ].join("\n");
  const [a, b] = parseGageFile("gage.yaml", text).ops;
  assert.deepEqual(a.config, [
    { keys: ["train.py"] },
    { keys: ["conf.yaml", "-#seed"], description: "Model settings" },
    { keys: ["params.json", "-#x"] },
  ]);
  assert.deepEqual(b.config, [{ keys: ["train.py"] }]);
});

Deno.test("config type errors and invalid entries name the op, the attribute and the fix", () => {
  assertUserError(
    () => parseGageFile("gage.toml", "[a]\nconfig = 1\n"),
    /^gage\.toml: op "a": attribute "config" must be an entry, a list of entries or a table with keys \(got number\)$/,
  );
  assertUserError(
    () => parseGageFile("gage.toml", '[a]\nconfig = ["a.py", 2]\n'),
    'attribute "config" must be an entry, a list of entries or a table with keys (got list with a number item)',
  );
  assertUserError(
    () => parseGageFile("gage.toml", '[a]\nconfig = { keys = "a.py", files = "b" }\n'),
    'attribute "config" has unknown key "files" in a table; a config table takes keys and description',
  );
  assertUserError(
    () => parseGageFile("gage.toml", "[a]\nconfig = { keys = [1] }\n"),
    'attribute "config.keys" must be an entry or a list of entries (got list with a number item)',
  );
  assertUserError(
    () => parseGageFile("gage.toml", '[a]\nconfig = "/abs/train.py"\n'),
    /^gage\.toml: op "a": attribute "config": invalid config entry "\/abs\/train\.py": paths are relative to the project dir; drop the leading \/, as in abs\/train\.py$/,
  );
  assertUserError(
    () => parseGageFile("gage.toml", '[a]\nconfig = "conf.yaml#"\n'),
    'invalid config entry "conf.yaml#": the key pattern after # needs a name in each dotted part',
  );
  assertUserError(
    () => parseGageFile("gage.toml", '[a]\nconfig = "-"\n'),
    'invalid config entry "-": it names no file',
  );
  assertUserError(
    () => parseGageFile("gage.toml", '[a]\nconfig = "../up.py"\n'),
    "config files must be inside the project dir",
  );
});

Deno.test("free-flags is true or false; it is absent from ops that do not set it", () => {
  const [a, b, c] = parseGageFile(
    "gage.toml",
    "[a]\nfree-flags = true\n[b]\nfree-flags = false\n[c]\n",
  ).ops;
  assert.equal(a.freeFlags, true);
  assert.equal(b.freeFlags, false);
  assert.ok(!("freeFlags" in c) && !("config" in c));
  assertUserError(
    () => parseGageFile("gage.toml", '[a]\nfree-flags = "yes"\n'),
    /^gage\.toml: op "a": attribute "free-flags" must be true or false \(got string\)$/,
  );
});

Deno.test("readOpDef rebuilds an op from its table, as meta opdef.json holds it", () => {
  const table = { exec: "python train.py", config: ["train.py", "-#seed"], "free-flags": true };
  const op = readOpDef("opdef.json", "train", JSON.parse(JSON.stringify(table)));
  assert.equal(op.name, "train");
  assert.deepEqual(op.exec, { run: "python train.py" });
  assert.deepEqual(op.config, [{ keys: ["train.py", "-#seed"] }]);
  assert.equal(op.freeFlags, true);
  assert.deepEqual(op.raw, table);
  assertUserError(
    () => readOpDef("opdef.json", "train", { config: 3 }),
    /^opdef\.json: op "train": attribute "config" must be/,
  );
});

// --- source and path-map -----------------------------------------------------------

Deno.test("source is worktree, auto or git:REF; it is absent from ops that do not set it", () => {
  const [a, b, c, d] = parseGageFile(
    "gage.toml",
    '[a]\nsource = "worktree"\n[b]\nsource = "auto"\n[c]\nsource = "git:v1.2"\n[d]\n',
  ).ops;
  assert.deepEqual([a.source, b.source, c.source], ["worktree", "auto", "git:v1.2"]);
  assert.ok(!("source" in d) && !("pathMap" in d));
  const [y] = parseGageFile("gage.yaml", "y:\n  source: git:origin/main\n").ops;
  assert.equal(y.source, "git:origin/main");
  const [j] = parseGageFile("gage.json", '{"j": {"source": "git:3f2a9c1"}}').ops;
  assert.equal(j.source, "git:3f2a9c1");
});

Deno.test("a wrong source names the op, the choices and what was written", () => {
  const cases: [string, string, string][] = [
    ["gage.toml", '[x]\nsource = "git:"\n', '(got "git:")'],
    ["gage.toml", '[x]\nsource = "head"\n', '(got "head")'],
    ["gage.toml", '[x]\nsource = "Worktree"\n', '(got "Worktree")'],
    ["gage.yaml", "x:\n  source: true\n", "(got boolean)"],
    ["gage.json", '{"x": {"source": ["auto"]}}', "(got list)"],
  ];
  for (const [file, text, got] of cases) {
    assertUserError(
      () => parseGageFile(file, text),
      `${file}: op "x": attribute "source" must be worktree, auto or git:REF ${got}`,
    );
  }
});

Deno.test("path-map reads from TOML, YAML and JSON Gage files, normalized", async () => {
  const files: Record<string, string> = {
    "gage.toml": '[train]\npath-map = { "." = "src/myapp", "data/" = "./inputs" }\n',
    "gage.yaml": 'train:\n  path-map:\n    .: src/myapp\n    "data/": ./inputs\n',
    "gage.json": '{"train": {"path-map": {".": "src/myapp", "data/": "./inputs"}}}',
  };
  for (const [name, text] of Object.entries(files)) {
    await withTempDir(async (dir) => {
      const [op] = (await readGageFile(await writeFile(dir, name, text))).ops;
      assert.deepEqual(op.pathMap, [
        { from: "data", to: "inputs" },
        { from: "", to: "src/myapp" },
      ], name);
      // opdef.json keeps the table as written.
      assert.deepEqual(plain(op.raw["path-map"]), { ".": "src/myapp", "data/": "./inputs" });
    });
  }
});

Deno.test("path-map as a TOML table section, and an empty one", () => {
  const text = '[train.path-map]\n"conf" = "."\n[empty]\npath-map = {}\n';
  const [train, empty] = parseGageFile("gage.toml", text).ops;
  assert.deepEqual(train.pathMap, [{ from: "conf", to: "" }]);
  assert.deepEqual(empty.pathMap, []);
});

Deno.test("path-map type errors name the op and the entry", () => {
  assertUserError(
    () => parseGageFile("gage.toml", '[x]\npath-map = "src"\n'),
    /^gage\.toml: op "x": attribute "path-map" must be a table of project paths to run-dir paths \(got string\)$/,
  );
  assertUserError(
    () => parseGageFile("gage.yaml", "x:\n  path-map: [src]\n"),
    'attribute "path-map" must be a table of project paths to run-dir paths (got list)',
  );
  assertUserError(
    () => parseGageFile("gage.json", '{"x": {"path-map": {"data": 1}}}'),
    /^gage\.json: op "x": attribute "path-map": "data" must map to a run-dir path string \(got number\)$/,
  );
  assertUserError(
    () => parseGageFile("gage.yaml", "x:\n  path-map:\n    data:\n"),
    '"data" must map to a run-dir path string (got null)',
  );
  // TOML reads an unquoted dotted key as nested tables.
  assertUserError(
    () => parseGageFile("gage.toml", '[x]\npath-map = { conf.yaml = "c.yaml" }\n'),
    '"conf" must map to a run-dir path string (got table); quote keys that hold dots, as in ' +
      '"conf.yaml" = "..."',
  );
});

Deno.test("path-map entries that leave the run dir or the project fail in every format", () => {
  const leaving: [string, string][] = [
    ["gage.toml", '[x]\npath-map = { data = "../x" }\n'],
    ["gage.yaml", "x:\n  path-map:\n    data: ../x\n"],
    ["gage.json", '{"x": {"path-map": {"data": "../x"}}}'],
  ];
  for (const [file, text] of leaving) {
    assertUserError(
      () => parseGageFile(file, text),
      `${file}: op "x": path-map "data" -> "../x" leaves the run dir: map it to a relative path ` +
        `inside the run dir, e.g. "x"`,
    );
  }
  assertUserError(
    () => parseGageFile("gage.toml", '[x]\npath-map = { "/abs" = "x" }\n'),
    'gage.toml: op "x": path-map key "/abs" is outside the project: keys are project paths such ' +
      'as "." or "src"',
  );
  assertUserError(
    () => parseGageFile("gage.toml", "[x]\npath-map = { data = 'C:\\x' }\n"),
    'path-map "data" -> "C:\\x" leaves the run dir',
  );
  assertUserError(
    () => parseGageFile("gage.yaml", "x:\n  path-map:\n    data: a/../b\n"),
    'path-map "data" -> "a/../b" holds "..": write it without .., as in "b"',
  );
  assertUserError(
    () => parseGageFile("gage.json", '{"x": {"path-map": {"src": "a", "./src": "b"}}}'),
    'gage.json: op "x": path-map keys "src" and "./src" both name "src"; keep one',
  );
});

Deno.test("readOpDef rebuilds source and path-map from meta opdef.json", () => {
  const table = { source: "auto", "path-map": { ".": "app" } };
  const op = readOpDef("opdef.json", "train", JSON.parse(JSON.stringify(table)));
  assert.equal(op.source, "auto");
  assert.deepEqual(op.pathMap, [{ from: "", to: "app" }]);
  assert.deepEqual(op.raw, table);
});

Deno.test("summary names a JSON or TOML file in the run dir; anything else is an error", () => {
  const [op] = parseGageFile("gage.toml", '[a]\nsummary = "out/metrics.toml"\n').ops;
  assert.equal(op.summary, "out/metrics.toml");
  assert.equal(parseGageFile("gage.toml", "[a]\n").ops[0].summary, undefined);
  assertUserError(
    () => parseGageFile("gage.toml", "[a]\nsummary = 1\n"),
    /^gage\.toml: op "a": attribute "summary" must be a relative path in the run dir ending in \.json or \.toml \(got number\)$/,
  );
  for (const bad of ["metrics.txt", "/tmp/s.json", "../s.json", "a/../../s.toml"]) {
    assertUserError(
      () => parseGageFile("gage.toml", `[a]\nsummary = "${bad}"\n`),
      new RegExp(`attribute "summary" must be .* \\(got "${bad.replace(/\./g, "\\.")}"\\)$`),
    );
  }
});
