/**
 * `runstage completion zsh` and `runstage completion fish` in the real shells,
 * loaded each way the README gives (zsh: eval, a file in $fpath; fish: a file in
 * ~/.config/fish/completions) and by `source`/`| source`, with a `runstage` on
 * PATH that runs the CLI under test. zsh completes only in its line editor, so an interactive
 * `zsh -f -i` runs on a pseudo-terminal (zsh/zpty), is sent `LINE<Tab>`, and
 * records what each `compadd` of the completion adds (through a wrapper that
 * passes every call on to the builtin) and the command line left after the Tab.
 * fish is asked with `complete -C LINE`, which prints what Tab would offer.
 *
 * A shell that is not installed skips its test (`skipped: no zsh`), unless
 * RUNSTAGE_REQUIRE_SHELLS=1 (CI), where it fails it.
 */
import assert from "node:assert/strict";
import { runName } from "../../lib/run/identity.ts";
import { cliFor, ok, rows } from "../support/cli.ts";
import { COMPLETION_PROJECT as FILES, runstageOnPath, sq } from "../support/completion.ts";
import { withProject, withTempDir, writeTree } from "../support/fixtures.ts";

/** Past this a shell that has not answered is killed and its test fails. */
const TIMEOUT_MS = 60_000;

/** Whether `shell` is here to test; when not, says so or, under RUNSTAGE_REQUIRE_SHELLS=1, fails. */
async function haveShell(shell: string): Promise<boolean> {
  const found = await new Deno.Command("sh", {
    args: ["-c", `command -v ${shell}`],
    stdout: "null",
  }).output();
  if (found.success) return true;
  if (Deno.env.get("RUNSTAGE_REQUIRE_SHELLS") === "1") {
    throw new Error(`no ${shell} on PATH, and RUNSTAGE_REQUIRE_SHELLS=1`);
  }
  console.log(`skipped: no ${shell}`);
  return false;
}

/** Where the shells run: a project with one run made, and a `runstage` on PATH. */
interface World {
  project: string;
  runsHome: string;
  /** The name of the run made. */
  name: string;
  /** The command names, as `__complete` lists them (more come as runstage grows). */
  commands: string[];
  /** A temp dir, first on PATH, holding `runstage`. */
  bin: string;
  env: Record<string, string>;
}

async function withWorld(fn: (world: World) => Promise<void>): Promise<void> {
  await withProject(FILES, async (project, runsHome) => {
    const r = await cliFor(project, runsHome)("run", "prepare");
    assert.equal(r.code, 0, r.stderr);
    const name = runName(/\(([0-9a-f-]{36})\)/.exec(r.stderr)![1]);
    const commands = rows(await ok(cliFor(project, runsHome)("__complete", "--", "")));
    for (const c of ["stage", "start", "completion"]) assert.ok(commands.includes(c), c);
    await withTempDir(async (bin) => {
      await runstageOnPath(bin, runsHome);
      // A second project, in a dir whose name must be quoted on a command line.
      await writeTree(`${bin}/other project`, { "gage.toml": "[evaluate]\nexec = 'true'\n" });
      const env = {
        PATH: `${bin}:${Deno.env.get("PATH")}`,
        HOME: bin,
        XDG_CONFIG_HOME: `${bin}/.config`,
        XDG_DATA_HOME: `${bin}/.local/share`,
        NO_COLOR: "1",
      };
      await fn({ project, runsHome, name, commands, bin, env });
    });
  });
}

/** What Tab offers after each LINE (exact, sorted), in the project dir. */
function cases({ name, commands, runsHome, bin }: World): [string, string[]][] {
  const prefix = name.slice(0, 3);
  const starting = (text: string) => commands.filter((c) => c.startsWith(text)).sort();
  return [
    ["runstage st", starting("st")], // stage, start
    ["runstage c", starting("c")], // completion among them
    ["runstage __", []],
    ["runstage --ru", ["--runs"]],
    ["runstage runs --w", ["--where"]],
    ["runstage show --j", ["--json"]],
    ["runstage run tr", ["train"]],
    ["runstage run p", ["prepare"]],
    ["runstage run ", ["epochs=", "lr=", "prepare", "train"]],
    ["runstage run train l", ["lr="]],
    ["runstage run train ", ["epochs=", "lr="]],
    ["runstage run train lr=0.1 e", ["epochs="]],
    ["runstage show ", [name]],
    [`runstage show ${prefix}`, [name]],
    [`runstage label 1 ${prefix}`, [name]],
    [`runstage --runs ${sq(runsHome)} show ${prefix}`, [name]],
    // The words as typed, quotes and all.
    [`runstage -C ${sq(`${bin}/other project`)} run e`, ["evaluate"]],
    [`runstage -C ${bin}/other\\ project run e`, ["evaluate"]],
    [`runstage show '${prefix}`, [name]],
    // Nor is a ~ expanded yet (HOME is bin).
    ["runstage -C ~/other\\ project run e", ["evaluate"]],
    // No candidates from runstage: a file name, as for any command.
    ["runstage export -o con", ["conf.json"]],
  ];
}

/** The zsh typed into: PROMPT off, compinit, then the script loaded by `load`. */
function zshSetup(out: string, load: string): string {
  return `PROMPT= RPROMPT= PS2=
exec 2>>${sq(`${out}/stderr`)}
${load}
# Record what each compadd call adds, then add it: the completion runs as it is.
compadd() {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd "$@"; return; fi
  local -a __runstage_test_hits
  builtin compadd -A __runstage_test_hits "$@"
  print -rl -- $__runstage_test_hits >> ${sq(`${out}/candidates`)}
  builtin compadd "$@"
}
_runstage_test_done() { print -r -- "$BUFFER" > ${sq(`${out}/buffer`)}; exit }
zle -N _runstage_test_done
bindkey '^X' _runstage_test_done
bindkey '^I' complete-word
print -r -- '@@ready@@'
`;
}

/** Starts `zsh -f -i` on a pty, sources SETUP, waits for it, then types LINE, Tab and ^X. */
const ZSH_DRIVER = `zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "source \${(q)1}"
zpty -r z ready '*@@ready@@*' || exit 4
zpty -w -n z "$2"$'\\t\\x18'
while zpty -r z chunk; do :; done
`;

interface ZshResult {
  candidates: string[];
  /** The command line after the Tab. */
  buffer: string;
}

/** What zsh's Tab offers after `line`, the script loaded by `load` (zsh code). */
async function zshComplete(world: World, load: string, line: string): Promise<ZshResult> {
  return await withTempDir(async (out) => {
    await Deno.writeTextFile(`${out}/setup.zsh`, zshSetup(out, load));
    await Deno.writeTextFile(`${out}/driver.zsh`, ZSH_DRIVER);
    const run = await new Deno.Command("zsh", {
      args: ["-f", `${out}/driver.zsh`, `${out}/setup.zsh`, line],
      cwd: world.project,
      env: world.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }).output();
    const read = (file: string) => Deno.readTextFile(`${out}/${file}`).catch(() => "");
    const screen = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    const why = `zsh, ${JSON.stringify(line)}; the terminal:\n${screen}`;
    assert.equal(run.code, 0, why);
    assert.equal(await read("stderr"), "", `zsh wrote errors: ${why}`);
    const buffer = await read("buffer");
    assert.ok(buffer.endsWith("\n"), `the Tab did not return to the line editor: ${why}`);
    const lines = (await read("candidates")).split("\n").filter((l) => l !== "");
    return { candidates: [...new Set(lines)].sort(), buffer: buffer.slice(0, -1) };
  });
}

/** compinit, then the script loaded as the README says. */
const ZSH_EVAL = `autoload -Uz compinit && compinit -u -D
eval "$(runstage completion zsh)"`;

/** The zsh script, written to DIR/_runstage as one would install it in $fpath. */
async function zshScriptIn(world: World, dir: string): Promise<string> {
  const text = await ok(cliFor(world.project, world.runsHome)("completion", "zsh"));
  await writeTree(dir, { _runstage: text });
  return `${dir}/_runstage`;
}

Deno.test("completion zsh: commands, options, op names, flag names, run names, files", async () => {
  if (!await haveShell("zsh")) return;
  await withWorld(async (world) => {
    // Sourced from a file here, as runstage needs not print it for each of the lines.
    const script = await zshScriptIn(world, `${world.bin}/zsh`);
    const load = `autoload -Uz compinit && compinit -u -D\nsource ${sq(script)}`;
    const all = cases(world);
    // Settled, all of them, before the world is removed under them.
    const settled = await Promise.allSettled(
      all.map(async ([line]) => [line, (await zshComplete(world, load, line)).candidates]),
    );
    const got = settled.map((s) => {
      if (s.status === "rejected") throw s.reason;
      return s.value;
    });
    assert.deepEqual(Object.fromEntries(got), Object.fromEntries(all));
  });
});

Deno.test("completion zsh: eval as the README says; one candidate goes into the line", async () => {
  if (!await haveShell("zsh")) return;
  await withWorld(async (world) => {
    const buffer = async (line: string) => (await zshComplete(world, ZSH_EVAL, line)).buffer;
    // A command with a space after it, a flag name without: its value comes next.
    assert.equal(await buffer("runstage sh"), "runstage show ");
    assert.equal(await buffer("runstage run train l"), "runstage run train lr=");
    const prefix = world.name.slice(0, 3);
    assert.equal(await buffer(`runstage show ${prefix}`), `runstage show ${world.name} `);
    assert.equal(await buffer(`runstage show '${prefix}`), `runstage show '${world.name}' `);
  });
});

Deno.test("completion zsh: as _runstage in $fpath it completes from the first Tab", async () => {
  if (!await haveShell("zsh")) return;
  await withWorld(async (world) => {
    const dir = `${world.bin}/site-functions`;
    await zshScriptIn(world, dir);
    const candidates = async (load: string, line: string) =>
      (await zshComplete(world, load, line)).candidates;
    const fpath = `fpath=(${sq(dir)} $fpath)\nautoload -Uz compinit && compinit -u -D`;
    assert.deepEqual(await candidates(fpath, "runstage sh"), ["show"]);
    assert.deepEqual(await candidates(fpath, "runstage run tr"), ["train"]);
    // Sourced by its file name, it only registers itself, as eval does.
    const sourced = `autoload -Uz compinit && compinit -u -D
cd ${sq(dir)} && source _runstage && cd ${sq(world.project)}`;
    assert.deepEqual(await candidates(sourced, "runstage run tr"), ["train"]);
  });
});

/** Prints `@@ LINE` and `complete -C LINE` for each LINE, after `load`. */
const fishDriver = (load: string) =>
  `${load}
for line in $argv
    echo "@@ $line"
    complete -C $line
end
`;

/** What fish's Tab offers after each of `lines`, the script loaded by `load` (fish code). */
async function fishComplete(
  world: World,
  load: string,
  lines: string[],
  options: string[] = [],
): Promise<Record<string, string[]>> {
  const driver = `${world.bin}/driver.fish`;
  await Deno.writeTextFile(driver, fishDriver(load));
  const run = await new Deno.Command("fish", {
    args: [...options, driver, ...lines],
    cwd: world.project,
    env: world.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  }).output();
  const stderr = new TextDecoder().decode(run.stderr);
  assert.equal(run.code, 0, stderr);
  assert.equal(stderr, "", "fish wrote errors");
  // `@@ LINE`, then one `CANDIDATE<Tab>DESCRIPTION` a line.
  const offered: Record<string, string[]> = {};
  let current: string[] = [];
  for (const out of new TextDecoder().decode(run.stdout).split("\n")) {
    if (out.startsWith("@@ ")) offered[out.slice(3)] = current = [];
    else if (out !== "") current.push(out.split("\t")[0]);
  }
  for (const candidates of Object.values(offered)) candidates.sort();
  return offered;
}

Deno.test("completion fish: commands, options, op names, flag names, run names, files", async () => {
  if (!await haveShell("fish")) return;
  await withWorld(async (world) => {
    const all = cases(world);
    // Loaded as the README says; no config of the machine's.
    const load = "runstage completion fish | source";
    const offered = await fishComplete(world, load, all.map(([line]) => line), ["--no-config"]);
    assert.deepEqual(offered, Object.fromEntries(all));
  });
});

Deno.test("completion fish: saved in ~/.config/fish/completions it loads on first use", async () => {
  if (!await haveShell("fish")) return;
  await withWorld(async (world) => {
    const text = await ok(cliFor(world.project, world.runsHome)("completion", "fish"));
    await writeTree(`${world.env.XDG_CONFIG_HOME}/fish/completions`, { "runstage.fish": text });
    // fish with its config (XDG_CONFIG_HOME is in bin), the script not sourced.
    const offered = await fishComplete(world, "", ["runstage sh", "runstage run tr"]);
    assert.deepEqual(offered, { "runstage sh": ["show"], "runstage run tr": ["train"] });
  });
});
