/**
 * lib/stage/exec.ts: every phase goes through `runPhase`. These tests run real
 * processes (sh, printf, python3) for a run made by `makeRun` in a temp runs
 * home, and read what the phase left in the meta dir: output, index, runner
 * log and proc/lock.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import {
  commandArgv,
  EXIT_NOT_FOUND,
  runEnv,
  runPhase,
  stagingEnv,
} from "../../../lib/stage/exec.ts";
import { pyRepr } from "../../../lib/run/meta.ts";
import type { ExecCommand, Phase } from "../../../lib/gagefile/opdef.ts";
import { phaseByName, PHASES } from "../../../lib/gagefile/opdef.ts";
import { type OutputLine, readOutput } from "../../../lib/run/output.ts";
import { makeRun, type Run } from "../../../lib/run/identity.ts";
import { withTempDir } from "../../support/fixtures.ts";

const RUN_PHASE = phaseByName("run");
const LOG_STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} /;

interface Fixture {
  run: Run;
  /** A scratch dir outside the run, for cwd tests. */
  scratch: string;
}

function withRun(fn: (f: Fixture) => Promise<void>): Promise<void> {
  return withTempDir(async (home) => {
    const run = makeRun(`${home}/runs`);
    await Deno.mkdir(run.metaDir, { recursive: true });
    await Deno.mkdir(run.runDir, { recursive: true });
    await Deno.mkdir(`${home}/scratch dir`);
    await fn({ run, scratch: `${home}/scratch dir` });
  }, { prefix: "runstage-exec-" });
}

/** Runs `command` as `phase` in the run dir (or `cwd`) and returns code and output. */
async function phase(
  run: Run,
  command: ExecCommand,
  options: {
    phase?: Phase;
    cwd?: string;
    env?: Record<string, string>;
    baseEnv?: Record<string, string>;
  } = {},
): Promise<{ code: number; lines: OutputLine[]; text: string }> {
  const p = options.phase ?? RUN_PHASE;
  const code = await runPhase(run, p, command, {
    cwd: options.cwd ?? run.runDir,
    env: options.env ?? {},
    baseEnv: options.baseEnv,
  });
  const path = `${run.metaDir}/output/${p.output}`;
  return { code, lines: readOutput(path), text: await Deno.readTextFile(path) };
}

/** log/runner without its timestamps, after checking every line has one. */
async function runnerLog(run: Run): Promise<string[]> {
  const lines = (await Deno.readTextFile(`${run.metaDir}/log/runner`)).split("\n");
  assert.equal(lines.pop(), "", "log/runner ends with a newline");
  for (const line of lines) assert.match(line, LOG_STAMP);
  return lines.map((line) => line.replace(LOG_STAMP, ""));
}

const texts = (lines: OutputLine[]) => lines.map((l) => [l.text, l.stream]);

Deno.test("argv form: arguments reach the program as given, no shell in between", async () => {
  await withRun(async ({ run }) => {
    const { code, lines, text } = await phase(run, [
      "printf",
      "<%s>\\n",
      "a b",
      "$HOME",
      "*",
      "it's",
    ]);
    assert.equal(code, 0);
    assert.equal(text, "<a b>\n<$HOME>\n<*>\n<it's>\n");
    assert.ok(lines.every((l) => l.stream === 0));
  });
});

Deno.test("shell-string form runs in sh, stdout and stderr captured with their streams", async () => {
  await withRun(async ({ run }) => {
    const { code, lines } = await phase(run, "echo a; echo b >&2");
    assert.equal(code, 0);
    // Two pipes: which one is read first when both are ready is up to the OS.
    assert.deepEqual(
      texts(lines).sort(),
      [["a", 0], ["b", 1]],
    );
  });
});

Deno.test("lines of the two streams are kept in arrival order", async () => {
  await withRun(async ({ run }) => {
    const { lines, text } = await phase(
      run,
      "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2; sleep 0.2; printf err2 >&2",
    );
    assert.deepEqual(texts(lines), [["out1", 0], ["err1", 1], ["out2", 0], ["err2", 1]]);
    assert.equal(text, "out1\nerr1\nout2\nerr2");
    // Times are when the lines arrived: the sleeps show between them.
    for (let i = 1; i < lines.length; i++) {
      assert.ok(lines[i].time - lines[i - 1].time >= 150, `line ${i}: ${lines[i].time}`);
    }
  });
});

Deno.test("#!PROG form: the remaining lines are the program, newlines kept", async () => {
  await withRun(async ({ run }) => {
    const script = [
      "#!python3",
      "import sys",
      "for i in range(3):",
      "    print('line', i)",
      "",
      "if True:",
      "    print('to stderr', file=sys.stderr)",
      "sys.exit(4)",
    ].join("\n");
    const { code, lines } = await phase(run, script);
    assert.equal(code, 4);
    assert.deepEqual(
      texts(lines).sort(),
      [["line 0", 0], ["line 1", 0], ["line 2", 0], ["to stderr", 1]],
    );
    // The command is logged as written, one log line.
    const log = await runnerLog(run);
    assert.equal(log[1], pyRepr(script));
    assert.ok(log[1].includes("\\n    print('line', i)\\n"), log[1]);
  });
});

Deno.test("#!PROG may carry arguments: #!sh -e stops at the first failure", async () => {
  await withRun(async ({ run }) => {
    const { code, text } = await phase(run, "#!sh -e\necho before\nfalse\necho after");
    assert.equal(code, 1);
    assert.equal(text, "before\n");
  });
});

Deno.test("commandArgv: list as is, string through sh -c, #! through PROG -c", () => {
  assert.deepEqual(commandArgv(["python", "a b.py"]), ["python", "a b.py"]);
  assert.deepEqual(commandArgv("echo $X"), ["/bin/sh", "-c", "echo $X"]);
  assert.deepEqual(commandArgv("#!python3 -u\nx = 1\n\ny = 2\n"), [
    "python3",
    "-u",
    "-c",
    "x = 1\n\ny = 2\n",
  ]);
  assert.deepEqual(commandArgv("#!bash"), ["bash", "-c", ""]);
  assert.throws(() => commandArgv("#!\necho hi"), /names no program/);
  assert.throws(() => commandArgv("#!   \necho hi"), /names no program/);
});

Deno.test("exit codes pass through", async () => {
  await withRun(async ({ run }) => {
    assert.equal((await phase(run, "exit 3")).code, 3);
    assert.equal((await phase(run, ["sh", "-c", "exit 255"])).code, 255);
    assert.equal((await phase(run, "true")).code, 0);
    const log = await runnerLog(run);
    assert.deepEqual(log.filter((l) => l.startsWith("Exit code")), [
      "Exit code for run: 3",
      "Exit code for run: 255",
      "Exit code for run: 0",
    ]);
  });
});

Deno.test("a command that does not exist: 127 and a message in the output", async () => {
  await withRun(async ({ run }) => {
    const missing = "runstage-no-such-command-4711";
    const { code, lines } = await phase(run, [missing, "arg"]);
    assert.equal(code, EXIT_NOT_FOUND);
    assert.equal(EXIT_NOT_FOUND, 127);
    assert.equal(lines.length, 1);
    assert.equal(lines[0].stream, 1);
    assert.match(lines[0].text, new RegExp(`${missing}.*not found`));
    assert.ok(!existsSync(`${run.metaDir}/proc/lock`), "no lock left behind");
    const log = await runnerLog(run);
    assert.deepEqual(log, [
      "Running run (see output/40_run for output):",
      `['${missing}', 'arg']`,
      "Exit code for run: 127",
    ]);
    // Through the shell, the shell itself says 127.
    assert.equal((await phase(run, `${missing} arg`)).code, 127);
  });
});

Deno.test("a process ended by a signal: minus the signal number", async () => {
  await withRun(async ({ run }) => {
    assert.equal((await phase(run, "echo before; kill -TERM $$; echo after")).code, -15);
    assert.equal((await phase(run, "kill -KILL $$")).code, -9);
    assert.equal((await phase(run, "#!python3\nimport os\nos.kill(os.getpid(), 2)")).code, -2);
    const log = await runnerLog(run);
    assert.ok(log.includes("Exit code for run: -15"), log.join("\n"));
    assert.ok(!existsSync(`${run.metaDir}/proc/lock`));
  });
});

Deno.test("the phase runs in its cwd", async () => {
  await withRun(async ({ run, scratch }) => {
    assert.equal((await phase(run, "pwd -P", { cwd: scratch })).text, `${scratch}\n`);
    assert.equal((await phase(run, ["pwd", "-P"])).text, `${run.runDir}\n`);
    // A relative path in the command resolves against the cwd.
    await Deno.writeTextFile(`${scratch}/here.txt`, "found\n");
    assert.equal((await phase(run, ["cat", "here.txt"], { cwd: scratch })).text, "found\n");
  });
});

Deno.test("env: the phase's variables override inherited ones; the rest is inherited", async () => {
  await withRun(async ({ run }) => {
    const { text } = await phase(run, 'printf "%s|%s|%s\\n" "$SHARED" "$ONLY_BASE" "$ONLY_PHASE"', {
      baseEnv: { PATH: Deno.env.get("PATH")!, SHARED: "inherited", ONLY_BASE: "base" },
      env: { SHARED: "from phase", ONLY_PHASE: "phase" },
    });
    assert.equal(text, "from phase|base|phase\n");
  });
});

Deno.test("env: without baseEnv, this process's environment is inherited and overridden", async () => {
  await withRun(async ({ run }) => {
    Deno.env.set("RUNSTAGE_EXEC_TEST_SHARED", "inherited");
    Deno.env.set("RUNSTAGE_EXEC_TEST_BASE", "base");
    try {
      const { text } = await phase(
        run,
        'echo "$RUNSTAGE_EXEC_TEST_SHARED/$RUNSTAGE_EXEC_TEST_BASE"',
        { env: { RUNSTAGE_EXEC_TEST_SHARED: "phase" } },
      );
      assert.equal(text, "phase/base\n");
    } finally {
      Deno.env.delete("RUNSTAGE_EXEC_TEST_SHARED");
      Deno.env.delete("RUNSTAGE_EXEC_TEST_BASE");
    }
  });
});

Deno.test("stagingEnv and runEnv: the names each kind of phase sees, run's winning", async () => {
  await withRun(async ({ run }) => {
    assert.deepEqual(stagingEnv(run, "/proj"), {
      run_dir: run.runDir,
      run_id: run.id,
      project_dir: "/proj",
    });
    const env = runEnv(run, "/proj", { EPOCHS: "3", RUN_ID: "spoofed" });
    assert.deepEqual(env, {
      EPOCHS: "3",
      RUN_DIR: run.runDir,
      RUN_ID: run.id,
      PROJECT_DIR: "/proj",
    });
    const { text } = await phase(run, 'echo "$RUN_ID $EPOCHS $RUN_DIR"', {
      env,
      baseEnv: { PATH: Deno.env.get("PATH")!, RUN_ID: "inherited" },
    });
    assert.equal(text, `${run.id} 3 ${run.runDir}\n`);
  });
});

/**
 * The lock is written just after the spawn returns the pid, so the child may
 * start first: it waits for the lock (up to 5 s) before looking at it.
 */
const WAIT_FOR_LOCK =
  'i=0; while [ ! -s "$META/proc/lock" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done';

Deno.test("proc/lock holds the child's pid while it runs and is removed after", async () => {
  await withRun(async ({ run }) => {
    // The child prints the lock and its own pid.
    const script = [
      WAIT_FOR_LOCK,
      "printf 'lock=<'",
      'cat "$META/proc/lock"',
      "printf '>\\n'",
      'echo "pid=<$$>"',
    ].join("\n");
    const { code, lines } = await phase(run, script, { env: { META: run.metaDir } });
    assert.equal(code, 0);
    const [lock, pid] = lines.map((l) => l.text);
    assert.match(pid, /^pid=<\d+>$/);
    // `<pid> <host> <start>`, no newline: the child's own pid first.
    assert.match(lock, /^lock=<\d+ \S+ (\d+|-)>$/);
    assert.equal(lock.split(" ")[0], pid.replace("pid", "lock").slice(0, -1));
    assert.ok(!existsSync(`${run.metaDir}/proc/lock`), "lock removed after the phase");
  });
});

Deno.test("proc/lock is removed after a failing phase too", async () => {
  await withRun(async ({ run }) => {
    const { code, text } = await phase(
      run,
      `${WAIT_FOR_LOCK}\n[ -s "$META/proc/lock" ] && exit 9`,
      {
        env: { META: run.metaDir },
      },
    );
    assert.equal(code, 9, text);
    assert.ok(!existsSync(`${run.metaDir}/proc/lock`));
  });
});

Deno.test("runner log: Running <phase> (see output/NN), the command, Exit code", async () => {
  await withRun(async ({ run }) => {
    const argv = ["sh", "-c", "echo it's; exit 2", "x y"];
    await phase(run, argv);
    await phase(run, "echo 'quoted' \"double\"\necho second line");
    const log = await runnerLog(run);
    assert.deepEqual(log, [
      "Running run (see output/40_run for output):",
      `['sh', '-c', "echo it's; exit 2", 'x y']`,
      "Exit code for run: 2",
      "Running run (see output/40_run for output):",
      `'echo \\'quoted\\' "double"\\necho second line'`,
      "Exit code for run: 0",
    ]);
  });
});

Deno.test("each phase writes its own output file and names it in the runner log", async () => {
  await withRun(async ({ run }) => {
    for (const p of PHASES) {
      const { code, text } = await phase(run, ["echo", `phase ${p.name}`], { phase: p });
      assert.equal(code, 0);
      assert.equal(text, `phase ${p.name}\n`);
    }
    const outputs = [...Deno.readDirSync(`${run.metaDir}/output`)].map((e) => e.name).sort();
    assert.deepEqual(outputs, [
      "10_sourcecode",
      "10_sourcecode.index",
      "20_runtime",
      "20_runtime.index",
      "30_dependencies",
      "30_dependencies.index",
      "40_run",
      "40_run.index",
      "50_finalize",
      "50_finalize.index",
    ]);
    const log = await runnerLog(run);
    assert.deepEqual(log.filter((l) => l.startsWith("Running ")), [
      "Running copy-sourcecode (see output/10_sourcecode for output):",
      "Running init-runtime (see output/20_runtime for output):",
      "Running resolve-dependencies (see output/30_dependencies for output):",
      "Running run (see output/40_run for output):",
      "Running finalize-run (see output/50_finalize for output):",
    ]);
    assert.ok(log.includes("Exit code for resolve-dependencies: 0"));
  });
});

Deno.test("a phase run again replaces its output rather than appending", async () => {
  await withRun(async ({ run }) => {
    await phase(run, "echo first; echo second");
    const { lines } = await phase(run, "echo third");
    assert.deepEqual(texts(lines), [["third", 0]]);
    const index = await Deno.readFile(`${run.metaDir}/output/40_run.index`);
    assert.equal(index.length, 9);
  });
});

Deno.test("pyRepr writes strings and lists the way Python's repr does", () => {
  assert.equal(pyRepr("abc"), "'abc'");
  assert.equal(pyRepr(""), "''");
  assert.equal(pyRepr("it's"), `"it's"`);
  assert.equal(pyRepr('say "hi"'), `'say "hi"'`);
  assert.equal(pyRepr(`it's "both"`), `'it\\'s "both"'`);
  assert.equal(pyRepr("a\nb\r\tc"), "'a\\nb\\r\\tc'");
  assert.equal(pyRepr("back\\slash"), "'back\\\\slash'");
  assert.equal(pyRepr("\x00\x1b\x7f"), "'\\x00\\x1b\\x7f'");
  assert.equal(pyRepr("é ✓ 😀"), "'é ✓ 😀'");
  assert.equal(pyRepr([]), "[]");
  assert.equal(pyRepr(["python", "setup.py"]), "['python', 'setup.py']");
  assert.equal(pyRepr(["it's", "x"]), `["it's", 'x']`);
});

Deno.test("pyRepr agrees with python3's repr on awkward strings", async () => {
  const strings = [
    "plain",
    "it's",
    'say "hi"',
    `both ' and "`,
    "\\'",
    '\\"',
    "line\nbreak\r\n",
    "tab\there",
    "\x00\x01\x1f\x7f",
    "é ✓ 😀 中文",
    "\x80\x9f\xa0\xad",
    "\u2028\u2029\u200b\ufeff",
    "\ue000 private",
    "lone \ud800 surrogate",
    "astral \u{e0001} tag, \u{10ffff} noncharacter",
    "#!python3\nimport sys\nprint('x', file=sys.stderr)\n",
  ];
  const out = await new Deno.Command("python3", {
    args: ["-c", "import json, sys\nfor s in json.load(sys.stdin): print(repr(s))"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = out.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(strings)));
  await writer.close();
  const result = await out.output();
  assert.ok(result.success);
  const expected = new TextDecoder().decode(result.stdout).split("\n").slice(0, -1);
  assert.deepEqual(strings.map((s) => pyRepr(s)), expected);
  // And a list is its items' reprs, comma-separated, in brackets.
  assert.equal(pyRepr(strings.slice(0, 3)), `[${expected.slice(0, 3).join(", ")}]`);
});
