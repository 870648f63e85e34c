/**
 * Bad input through the real CLI. Every mistake a user can make must end the
 * same way: a non-zero exit, one line on stderr starting `runstage: ` (usage
 * errors add commander's one-line hint), no stack trace, and the runs home
 * exactly as it was, or still absent when it was absent. Then the failures
 * that do make a run: a staging phase or the run phase exiting non-zero.
 */
import assert from "node:assert/strict";
import { onlyRun, runstage } from "../support/cli.ts";
import {
  exists,
  type Files,
  makeProject,
  sha256File,
  snapshot,
  withTempDir,
  writeTree,
} from "../support/fixtures.ts";

const USAGE_HINT = "(run with --help for usage)";

const GOOD_GAGE = `
[train]
description = "Train"
default = true
exec = "echo training"

[hello]
exec = "echo hello"
`;

interface Expect {
  /** The exit code; 1 unless said otherwise. */
  code?: number;
  /** What the one stderr line must say. */
  message: RegExp;
  /** Dirs that must be left exactly as they were (or absent, if absent). */
  untouched: string[];
  cwd: string;
  env?: Record<string, string>;
}

/** The error line, after checking stderr is that one line (and, for usage errors, the hint). */
function errorLine(stderr: string, code: number): string {
  assert.ok(!/^\s+at /m.test(stderr), `no stack trace in:\n${stderr}`);
  assert.ok(!stderr.includes("Uncaught"), `no uncaught error in:\n${stderr}`);
  assert.ok(!/^(\w*Error|error)\b/m.test(stderr), `no raw error in:\n${stderr}`);
  assert.ok(!stderr.includes("\x1b["), "no terminal colours");
  assert.ok(stderr.endsWith("\n"), `stderr ends its line: ${JSON.stringify(stderr)}`);
  const lines = stderr.slice(0, -1).split("\n");
  // Usage errors (exit 2) may add commander's hint, and only that.
  const expected = code === 2 && lines.length === 2 ? [lines[0], USAGE_HINT] : [lines[0]];
  assert.deepEqual(lines, expected, `one error line:\n${stderr}`);
  assert.match(lines[0], /^runstage: \S/);
  assert.doesNotMatch(lines[0], /^runstage: (error|Error):/);
  return lines[0];
}

async function expectCleanFailure(args: string[], expect: Expect): Promise<string> {
  const before = await Promise.all(expect.untouched.map(async (d) => ({
    existed: await exists(d),
    tree: await snapshot(d),
  })));
  const result = await runstage(args, { cwd: expect.cwd, env: expect.env });
  const code = expect.code ?? 1;
  assert.equal(result.code, code, `exit code of ${args.join(" ")}; stderr:\n${result.stderr}`);
  const line = errorLine(result.stderr, code);
  assert.match(line, expect.message);
  assert.equal(result.stdout, "", "nothing on stdout");
  for (const [i, dir] of expect.untouched.entries()) {
    assert.equal(await exists(dir), before[i].existed, `${dir} existence unchanged`);
    assert.deepEqual(await snapshot(dir), before[i].tree, `${dir} unchanged`);
  }
  return line;
}

interface World {
  /** A temp dir holding everything below; the CLI's cwd. */
  root: string;
  /** A project with a good Gage file (train and hello). */
  project: string;
  /** A runs home holding one staged run of the project. */
  runs: string;
  /** A runs home path that does not exist. */
  noRuns: string;
}

function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  return withTempDir(async (root) => {
    const project = `${root}/project`;
    await Deno.mkdir(project);
    await Deno.writeTextFile(`${project}/gage.toml`, GOOD_GAGE);
    await Deno.writeTextFile(`${project}/train.py`, "print('hi')\n");
    const runs = `${root}/runs`;
    const staged = await runstage(["-C", project, "--runs", runs, "stage"], { cwd: root });
    assert.equal(staged.code, 0, staged.stderr);
    await fn({ root, project, runs, noRuns: `${root}/no-runs-here` });
  }, { prefix: "runstage-cli-errors-" });
}

/** A project dir with `files`, inside the world's root (so it is cleaned up with it). */
async function projectWith(w: World, name: string, files: Files) {
  const dir = `${w.root}/${name}`;
  await writeTree(dir, files);
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

Deno.test("unknown op: the message lists the ops; nothing written", async () => {
  await withWorld(async (w) => {
    for (const runs of [w.runs, w.noRuns]) {
      for (const cmd of ["run", "stage"]) {
        const line = await expectCleanFailure(["-C", w.project, "--runs", runs, cmd, "nope"], {
          message: /unknown op "nope".*ops are: train, hello$/,
          untouched: [runs, w.project],
          cwd: w.root,
        });
        assert.ok(line.includes(`${w.project}/gage.toml`), line);
      }
    }
  });
});

Deno.test("no Gage file: run, stage and ops fail; no runs home appears", async () => {
  await withWorld(async (w) => {
    const empty = await projectWith(w, "empty", { "train.py": "x\n" });
    for (const args of [["run"], ["run", "train"], ["stage"], ["ops"], ["stage", "--preview"]]) {
      // Without --runs the runs home would be <project>/.gage/runs: it must not appear.
      await expectCleanFailure(["-C", empty, ...args], {
        message: new RegExp(`^runstage: no Gage file in "${empty}": `),
        untouched: [empty, `${empty}/.gage`],
        cwd: w.root,
      });
      await expectCleanFailure(["-C", empty, "--runs", w.runs, ...args], {
        message: /no Gage file/,
        untouched: [w.runs, empty],
        cwd: w.root,
      });
    }
  });
});

Deno.test("malformed Gage files: file:line:col of the error, for TOML, YAML and JSON", async () => {
  await withWorld(async (w) => {
    const cases: [string, string, RegExp][] = [
      ["gage.toml", '[a]\nexec = "echo a"\n\n[b\nexec = "x"\n', /gage\.toml:4:\d+: invalid TOML: /],
      ["gage.yaml", "a:\n  exec: [echo\n  b: 1\n", /gage\.yaml:3:\d+: invalid YAML: /],
      // The comment line is blanked, not removed: the line number still points at line 3.
      [
        "gage.json",
        '{\n  // a comment\n  "a": {"exec": "x",}\n}\n',
        /gage\.json:3:\d+: invalid JSON: /,
      ],
      ["gage.toml", 'a = "x" = "y"\n', /gage\.toml:1:\d+: invalid TOML: /],
    ];
    for (const [i, [file, text, message]] of cases.entries()) {
      const dir = await projectWith(w, `bad${i}`, { [file]: text });
      for (const args of [["run"], ["stage", "a"], ["ops"]]) {
        const line = await expectCleanFailure(["-C", dir, "--runs", w.noRuns, ...args], {
          message,
          untouched: [w.noRuns, dir],
          cwd: w.root,
        });
        assert.ok(line.startsWith(`runstage: ${dir}/${file}:`), line);
      }
    }
  });
});

Deno.test("attributes of the wrong type name the file, the op and the attribute", async () => {
  await withWorld(async (w) => {
    const cases: [string, RegExp][] = [
      ["[a]\nexec = 5\n", /op "a": attribute "exec" must be .*\(got number\)/],
      ['[a]\nexec = "x"\nenv = "FOO=1"\n', /op "a": attribute "env" must be .*\(got string\)/],
      ['[a]\nexec = "x"\ndefault = "yes"\n', /op "a": attribute "default" must be true or false/],
      ['[a]\nexec = "x"\ndescription = 1\n', /op "a": attribute "description" must be a string/],
      ['[a]\nexec = ["python", 1]\n', /attribute "exec" must be .*\(got list with a number item\)/],
      ["[a]\nexec = []\n", /attribute "exec" is an empty list/],
      ['[a]\nexec = { bogus = "x" }\n', /unknown phase "bogus" in attribute "exec"/],
      ['[a]\nexec = "x"\nsourcecode = 3\n', /attribute "sourcecode" must be/],
      ['[a]\nexec = "x"\nenv = { A = [1] }\n', /attribute "env\.A" must be/],
      ["a = 1\n", /op "a" must be a table of attributes \(got number\)/],
      ['"$runs-dir" = 1\n[a]\nexec = "x"\n', /"\$runs-dir" must be a non-empty string/],
    ];
    for (const [i, [toml, message]] of cases.entries()) {
      const dir = await projectWith(w, `attr${i}`, { "gage.toml": toml });
      for (const runs of [w.runs, w.noRuns]) {
        const line = await expectCleanFailure(["-C", dir, "--runs", runs, "run", "a"], {
          message,
          untouched: [runs, dir],
          cwd: w.root,
        });
        assert.ok(line.startsWith(`runstage: ${dir}/gage.toml: `), line);
      }
    }
  });
});

Deno.test("ops the Gage file gets wrong as a whole: defaults, no ops, #! without a program", async () => {
  await withWorld(async (w) => {
    const cases: [string, string[], RegExp][] = [
      [
        '[a]\ndefault = true\nexec = "x"\n[b]\ndefault = true\nexec = "x"\n',
        ["run"],
        /ops "a" and "b" both have default = true/,
      ],
      ['[a]\nexec = "x"\n[b]\nexec = "x"\n', ["run"], /no default op; name one of: a, b/],
      ['"$runs-dir" = "r"\n', ["run"], /has no ops/],
      ['"$runs-dir" = "r"\n', ["run", "x"], /unknown op "x".*has no ops/],
      ['[a]\nexec = "#!\\necho hi"\n', ["run"], /"#!" command names no program/],
      ['[a]\nexec.init-runtime = "#!  \\necho hi"\n', ["stage"], /"#!" command names no program/],
    ];
    for (const [i, [toml, args, message]] of cases.entries()) {
      const dir = await projectWith(w, `ops${i}`, { "gage.toml": toml });
      await expectCleanFailure(["-C", dir, "--runs", w.runs, ...args], {
        message,
        untouched: [w.runs, dir],
        cwd: w.root,
      });
      // With no --runs, "$runs-dir" or .gage/runs: neither may appear.
      await expectCleanFailure(["-C", dir, ...args], {
        message,
        untouched: [dir],
        cwd: w.root,
      });
    }
  });
});

Deno.test("invalid sourcecode patterns: bad token, bad size, and others", async () => {
  await withWorld(async (w) => {
    const cases: [string, RegExp][] = [
      ['"*.py bogus"', /invalid sourcecode pattern "\*\.py bogus": unknown token "bogus"/],
      ['"*.py size<abc"', /invalid sourcecode pattern "\*\.py size<abc": size takes a whole/],
      ['"*.py size>-1"', /size takes a whole number/],
      ['"*.py max-matches=x"', /max-matches takes a whole number/],
      ['"!*.log"', /exclude with a leading -/],
      ['"/abs.py"', /drop the leading \//],
      ['"data dir text"', /text applies to files, not dirs/],
      ['["*.py", "*.txt sentinel=x"]', /sentinel applies to dirs/],
    ];
    for (const [i, [spec, message]] of cases.entries()) {
      const dir = await projectWith(w, `src${i}`, {
        "gage.toml": `[a]\nexec = "echo a"\nsourcecode = ${spec}\n`,
        "train.py": "x\n",
      });
      // Every command that reads the patterns, the first two cases with both runs homes.
      const argsList = [["run"], ["stage"], ["stage", "--preview"], ["run", "--preview"]];
      for (const [j, args] of argsList.entries()) {
        for (const runs of i < 2 ? [w.runs, w.noRuns] : [[w.runs, w.noRuns][j % 2]]) {
          await expectCleanFailure(["-C", dir, "--runs", runs, ...args], {
            message,
            untouched: [runs, dir],
            cwd: w.root,
          });
        }
      }
    }
  });
});

Deno.test("-C to a missing dir or a file", async () => {
  await withWorld(async (w) => {
    for (const cmd of [["run"], ["ops"], ["runs"], ["show", "1"], ["verify", "1"]]) {
      await expectCleanFailure(["-C", `${w.root}/missing`, "--runs", w.runs, ...cmd], {
        message: /^runstage: -C .*\/missing: no such directory/,
        untouched: [w.runs, `${w.root}/missing`],
        cwd: w.root,
      });
      await expectCleanFailure(["-C", `${w.project}/train.py`, "--runs", w.runs, ...cmd], {
        message: /train\.py: not a directory/,
        untouched: [w.runs, w.project],
        cwd: w.root,
      });
    }
    // A relative -C that does not exist from the cwd.
    await expectCleanFailure(["-C", "nope", "run"], {
      message: /^runstage: -C nope: no such directory/,
      untouched: [w.root],
      cwd: w.root,
    });
  });
});

Deno.test("runs homes that cannot be used: empty --runs, a file, under a file", async () => {
  await withWorld(async (w) => {
    const file = `${w.root}/a-file`;
    await Deno.writeTextFile(file, "not a dir\n");
    await expectCleanFailure(["-C", w.project, "--runs", "", "run"], {
      message: /--runs needs a directory/,
      untouched: [w.project, w.root],
      cwd: w.root,
    });
    await expectCleanFailure(["-C", w.project, "--runs", file, "run"], {
      message: /runs home ".*a-file" is not a directory/,
      untouched: [w.project, w.root],
      cwd: w.root,
    });
    await expectCleanFailure(["-C", w.project, "--runs", `${file}/sub`, "stage"], {
      message: /a-file\/sub/,
      untouched: [w.project, w.root],
      cwd: w.root,
    });
    // GAGE_RUNS pointing at a file is the same mistake.
    await expectCleanFailure(["-C", w.project, "run"], {
      message: /runs home ".*a-file" is not a directory/,
      untouched: [w.project, w.root],
      cwd: w.root,
      env: { GAGE_RUNS: file },
    });
  });
});

/** Writes a minimal pending run by hand, so tests can choose ids. */
async function fakeRun(runs: string, id: string, initialized: number): Promise<void> {
  await Deno.mkdir(`${runs}/${id}.meta`, { recursive: true });
  await Deno.mkdir(`${runs}/${id}`, { recursive: true });
  await Deno.writeTextFile(`${runs}/${id}.meta/initialized`, String(initialized));
  await Deno.writeTextFile(`${runs}/${id}.meta/opref`, "2 project train");
}

Deno.test("show and verify: unknown run, index out of range, ambiguous prefix, no runs", async () => {
  await withWorld(async (w) => {
    const ID_A = "abcd1234-0000-4000-8000-000000000001";
    const ID_B = "abcd5678-0000-4000-8000-000000000002";
    await fakeRun(w.runs, ID_A, 1);
    await fakeRun(w.runs, ID_B, 2);
    // Sanity: the full ids do name runs, so the failures below are about the spec.
    const shown = await runstage(["-C", w.project, "--runs", w.runs, "show", ID_A], {
      cwd: w.root,
    });
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok(shown.stdout.includes(ID_A));

    const base = { untouched: [w.runs, w.project], cwd: w.root };
    for (const cmd of ["show", "verify"]) {
      await expectCleanFailure(["-C", w.project, "--runs", w.runs, cmd, "zzz"], {
        ...base,
        message: /no run matches "zzz"/,
      });
      await expectCleanFailure(["-C", w.project, "--runs", w.runs, cmd, "4"], {
        ...base,
        message: /no run at index 4: there are 3 runs/,
      });
      await expectCleanFailure(["-C", w.project, "--runs", w.runs, cmd, "0"], {
        ...base,
        message: /no run at index 0/,
      });
      const line = await expectCleanFailure(["-C", w.project, "--runs", w.runs, cmd, "abcd"], {
        ...base,
        message: /"abcd" names 2 runs \(.*\): give more of the id/,
      });
      // The proquints of 0xabcd1234 and 0xabcd5678, worked out by hand.
      for (const name of ["pozat-damuh", "pozat-jinum"]) {
        assert.ok(line.includes(name), `${line} names ${name}`);
      }
      // A runs home with no runs, absent or empty: it stays that way.
      await expectCleanFailure(["-C", w.project, "--runs", w.noRuns, cmd, "1"], {
        message: /no runs in .*no-runs-here/,
        untouched: [w.noRuns],
        cwd: w.root,
      });
    }
    // A pending run has no manifest to verify against.
    await expectCleanFailure(["-C", w.project, "--runs", w.runs, "verify", ID_B], {
      ...base,
      message: /has no manifest \(status pending\)/,
    });
  });
});

Deno.test("usage errors exit 2: unknown command, unknown option, missing or extra arguments", async () => {
  await withWorld(async (w) => {
    const base = { code: 2, untouched: [w.runs, w.project], cwd: w.root };
    const pre = ["-C", w.project, "--runs", w.runs];
    await expectCleanFailure([...pre, "bogus"], { ...base, message: /unknown command 'bogus'/ });
    await expectCleanFailure([...pre, "--bogus", "runs"], {
      ...base,
      message: /unknown option '--bogus'/,
    });
    await expectCleanFailure([...pre, "run", "--bogus"], {
      ...base,
      message: /unknown option '--bogus'/,
    });
    await expectCleanFailure([...pre, "runs", "--frobnicate"], {
      ...base,
      message: /unknown option '--frobnicate'/,
    });
    await expectCleanFailure([...pre, "diff", "1"], {
      ...base,
      message: /missing required argument 'run2'/,
    });
    await expectCleanFailure([...pre, "verify", "1", "2"], {
      ...base,
      message: /too many arguments/,
    });
    await expectCleanFailure(["--runs", w.runs, "-C"], {
      ...base,
      message: /argument missing/,
    });
  });
});

async function runsJson(project: string, runs: string, cwd: string) {
  const listed = await runstage(["-C", project, "--runs", runs, "runs", "--json"], { cwd });
  assert.equal(listed.code, 0, listed.stderr);
  return JSON.parse(listed.stdout) as { id: string; status: string; exitCode: number | null }[];
}

Deno.test("a staging phase that fails: its exit code, status error, no manifest", async () => {
  await withWorld(async (w) => {
    const dir = await projectWith(w, "failstage", {
      "gage.toml":
        '[a]\nexec.copy-sourcecode = "echo copying; exit 3"\nexec.run = "echo ran > ran.txt"\n',
      "train.py": "x\n",
    });
    const runs = `${w.root}/failstage-runs`;
    const result = await runstage(["-C", dir, "--runs", runs, "run"], { cwd: w.root });
    assert.equal(result.code, 3, result.stderr);
    assert.ok(!/^\s+at /m.test(result.stderr), result.stderr);
    assert.match(result.stderr, /failed while staging \(exit code 3\)/);
    const { id, runDir, metaDir } = await onlyRun(runs);
    const listed = await runsJson(dir, runs, w.root);
    assert.deepEqual(listed.map((r) => [r.id, r.status, r.exitCode]), [[id, "error", 3]]);
    assert.equal(await Deno.readTextFile(`${metaDir}/proc/exit`), "3");
    assert.equal(await Deno.readTextFile(`${metaDir}/output/10_sourcecode`), "copying\n");
    for (const absent of ["manifest", "staged", "started", "output/40_run", "proc/lock"]) {
      assert.equal(await exists(`${metaDir}/${absent}`), false, `${absent} absent`);
    }
    assert.equal(await exists(`${runDir}/ran.txt`), false, "the run phase did not run");
    assert.equal(await exists(`${metaDir}/stopped`), true);
    const log = await Deno.readTextFile(`${metaDir}/log/runner`);
    assert.match(log, /Exit code for copy-sourcecode: 3\n/);
    assert.doesNotMatch(log, /Finalizing staged files/);
  });
});

Deno.test("a failing later staging phase stops the run the same way", async () => {
  await withWorld(async (w) => {
    const dir = await projectWith(w, "failruntime", {
      "gage.toml": '[a]\nexec.init-runtime = "exit 7"\nexec.resolve-dependencies = "touch deps"\n' +
        'exec.run = "true"\n',
    });
    const runs = `${w.root}/failruntime-runs`;
    const result = await runstage(["-C", dir, "--runs", runs, "stage"], { cwd: w.root });
    assert.equal(result.code, 7, result.stderr);
    const { runDir, metaDir } = await onlyRun(runs);
    assert.equal(await Deno.readTextFile(`${metaDir}/proc/exit`), "7");
    assert.equal(await exists(`${metaDir}/manifest`), false);
    assert.equal(await exists(`${runDir}/deps`), false, "later phases do not run");
    assert.deepEqual((await runsJson(dir, runs, w.root)).map((r) => r.status), ["error"]);
  });
});

Deno.test("the run phase exiting 5: CLI exits 5, status error, manifest written", async () => {
  await withWorld(async (w) => {
    const dir = await projectWith(w, "failrun", {
      "gage.toml": '[a]\nexec = "echo out > out.txt; echo oops >&2; exit 5"\n',
      "train.py": "x\n",
    });
    const runs = `${w.root}/failrun-runs`;
    const result = await runstage(["-C", dir, "--runs", runs, "run"], { cwd: w.root });
    assert.equal(result.code, 5, result.stderr);
    assert.match(result.stderr, /failed \(exit code 5\)/);
    assert.ok(!/^\s+at /m.test(result.stderr), result.stderr);
    const { id, runDir, metaDir } = await onlyRun(runs);
    const listed = await runsJson(dir, runs, w.root);
    assert.deepEqual(listed.map((r) => [r.id, r.status, r.exitCode]), [[id, "error", 5]]);
    assert.equal(await Deno.readTextFile(`${metaDir}/proc/exit`), "5");
    assert.equal(await exists(`${metaDir}/staged`), true);
    // The manifest covers what the failed run left, its output included.
    const manifest = await Deno.readTextFile(`${metaDir}/manifest`);
    assert.ok(
      manifest.includes(`g ${await sha256File(`${runDir}/out.txt`)} out.txt\n`),
      manifest,
    );
    assert.ok(manifest.includes(` train.py\n`), manifest);
    // And it verifies.
    const verified = await runstage(["-C", dir, "--runs", runs, "verify", id], { cwd: w.root });
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  });
});

Deno.test("a run ended by a signal: 128+N, status terminated, proc/exit -N", async () => {
  await withWorld(async (w) => {
    const dir = await projectWith(w, "killed", { "gage.toml": '[a]\nexec = "kill -TERM $$"\n' });
    const runs = `${w.root}/killed-runs`;
    const result = await runstage(["-C", dir, "--runs", runs, "run"], { cwd: w.root });
    assert.equal(result.code, 128 + 15, result.stderr);
    assert.match(result.stderr, /terminated by SIGTERM \(exit code -15\)/);
    const { metaDir } = await onlyRun(runs);
    assert.equal(await Deno.readTextFile(`${metaDir}/proc/exit`), "-15");
    assert.deepEqual((await runsJson(dir, runs, w.root)).map((r) => r.status), ["terminated"]);
  });
});

Deno.test("verify of a run whose run dir was deleted: every file missing, no crash", async () => {
  await withWorld(async (w) => {
    const { id, runDir } = await onlyRun(w.runs);
    await Deno.remove(runDir, { recursive: true });
    const result = await runstage(["-C", w.project, "--runs", w.runs, "verify", id], {
      cwd: w.root,
    });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stderr, "");
    assert.match(result.stdout, /^missing: gage\.toml\nmissing: train\.py\n/);
  });
});

Deno.test("a relative --runs resolves against the cwd; a failure creates it in neither place", async () => {
  // A relative --runs resolves against the cwd, not the project: a failure leaves both alone.
  const cwd = await makeProject({});
  try {
    const project = await makeProject({ "gage.toml": GOOD_GAGE });
    try {
      await expectCleanFailure(["-C", project, "--runs", "rel-runs", "run", "nope"], {
        message: /unknown op "nope"/,
        untouched: [`${cwd}/rel-runs`, `${project}/rel-runs`, project],
        cwd,
      });
    } finally {
      await Deno.remove(project, { recursive: true });
    }
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});
