/**
 * What the completion tests share (tests/e2e/cli_completion_test.ts for bash,
 * cli_completion_shells_test.ts for zsh and fish): the project they complete
 * in, shell quoting, and a `runstage` on PATH that runs the CLI under test the
 * way a user's shell would find it.
 */
import { runstageCommand } from "./cli.ts";

/** Two ops, one with flags in conf.json. */
export const COMPLETION_PROJECT = {
  "gage.toml": `
[train]
exec = "true"
config = "conf.json"
default = true
[prepare]
exec = "true"
`,
  "conf.json": '{"lr": 0.1, "epochs": 3}\n',
};

/** A shell word, single-quoted. */
export const sq = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * Deno's cache, for a runstage run from source under the HOME a test gives the
 * shell: else Deno starts a new cache there, slowly, for every run.
 */
async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

/** Writes `bin/runstage`: runs the CLI under test with `runsHome` as GAGE_RUNS. */
export async function runstageOnPath(bin: string, runsHome: string): Promise<void> {
  const [cmd, args] = runstageCommand([]);
  const exec = [cmd, ...args].map(sq).join(" ");
  const vars = `DENO_DIR=${sq(await denoDir())} GAGE_RUNS=${sq(runsHome)}`;
  await Deno.writeTextFile(`${bin}/runstage`, `#!/bin/sh\n${vars} exec ${exec} "$@"\n`, {
    mode: 0o755,
  });
}
