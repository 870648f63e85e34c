/**
 * `runstage completion bash|zsh|fish` and the hidden `__complete` behind it,
 * through the real CLI: the bash script is sourced in `bash -c` with COMP_WORDS
 * and COMP_CWORD set as bash sets them, and its function's COMPREPLY is read.
 * zsh and fish are driven in cli_completion_shells_test.ts.
 */
import assert from "node:assert/strict";
import { runName } from "../../lib/run/identity.ts";
import { type Cli, cliFor, ok } from "../support/cli.ts";
import { COMPLETION_PROJECT as FILES, runstageOnPath, sq } from "../support/completion.ts";
import { withProject, withTempDir, writeTree } from "../support/fixtures.ts";

/** COMPREPLY of the script's function for `words` (the last one being completed). */
async function bashComplete(script: string, bin: string, cwd: string, words: string[]) {
  const program = `source ${sq(script)}
COMP_WORDS=(${words.map(sq).join(" ")}); COMP_CWORD=${words.length - 1}
_runstage
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = await new Deno.Command("bash", {
    args: ["-c", program],
    cwd,
    env: { PATH: `${bin}:${Deno.env.get("PATH")}`, HOME: bin },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.equal(stderr, "", `bash wrote to stderr for ${words.join(" ")}`);
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
}

async function runOp(cli: Cli, op: string): Promise<string> {
  const r = await cli("run", op);
  assert.equal(r.code, 0, r.stderr);
  return /\(([0-9a-f-]{36})\)/.exec(r.stderr)![1];
}

Deno.test("completion bash: commands, options, op names, flag names and run names", async () => {
  await withProject(FILES, async (project, home) => {
    const cli = cliFor(project, home);
    const id = await runOp(cli, "prepare");
    await withTempDir(async (bin) => {
      await runstageOnPath(bin, home);
      const script = `${bin}/runstage.bash`;
      await Deno.writeTextFile(script, await ok(cli("completion", "bash")));
      const complete = (...words: string[]) =>
        bashComplete(script, bin, project, ["runstage", ...words]);
      assert.deepEqual(await complete("sh"), ["show"]);
      assert.deepEqual(await complete("se"), ["select"]);
      assert.ok((await complete("")).includes("completion"));
      assert.ok(!(await complete("")).some((c) => c.startsWith("__")), "__complete is hidden");
      assert.deepEqual(await complete("show", "--j"), ["--json"]);
      assert.deepEqual(await complete("--ru"), ["--runs"]);
      assert.deepEqual(await complete("run", "tr"), ["train"]);
      assert.deepEqual(await complete("run", "p"), ["prepare"]);
      assert.deepEqual(await complete("run", "train", "l"), ["lr="]);
      assert.deepEqual((await complete("run", "train", "")).sort(), ["epochs=", "lr="]);
      // bash splits `lr=0.1` at `=`: the next word is still a flag of train.
      assert.deepEqual(await complete("run", "train", "lr", "=", "0.1", "e"), ["epochs="]);
      const name = runName(id);
      assert.deepEqual(await complete("show", name.slice(0, 3)), [name]);
      assert.deepEqual(await complete("label", "1", name.slice(0, 3)), [name]);
      assert.deepEqual(await complete("--runs", home, "show", name.slice(0, 3)), [name]);
      // A value of an option is not a run name.
      assert.deepEqual(await complete("export", "-o", name.slice(0, 3)), []);
      // COMP_WORDS hold the words as typed, quotes and all.
      assert.deepEqual(await complete("show", `'${name.slice(0, 3)}`), [name]);
      await writeTree(`${bin}/other project`, { "gage.toml": "[evaluate]\nexec = 'true'\n" });
      assert.deepEqual(await complete("-C", sq(`${bin}/other project`), "run", "e"), ["evaluate"]);
      assert.deepEqual(await complete("-C", `${bin}/other\\ project`, "run", "e"), ["evaluate"]);
      // Nor is a ~ expanded yet (HOME is bin).
      assert.deepEqual(await complete("-C", "~/other\\ project", "run", "e"), ["evaluate"]);
    });
  });
});

Deno.test("__complete prints nothing where it cannot tell: no Gage file, an unknown command", async () => {
  await withTempDir(async (dir) => {
    const cli = cliFor(dir, `${dir}/runs`);
    assert.equal(await ok(cli("__complete", "--", "run", "")), "");
    assert.equal(await ok(cli("__complete", "--", "nosuch", "")), "");
    assert.equal(await ok(cli("__complete", "--", "show", "")), "");
    assert.match(await ok(cli("__complete", "--", "")), /^run\n/);
    assert.doesNotMatch(await ok(cli("--help")), /__complete/);
  });
});
