/**
 * Test harness for the real CLI: spawns `deno run main.ts` (or the compiled
 * binary named by RUNSTAGE_BIN) in a fixture project and captures what a user
 * would see: stdout, stderr and the exit code.
 *
 * A test file that imports this module is an end-to-end test: .ci/run runs it
 * again against the host binary it builds. So spawn runstage only through
 * `runstage` or `runstageCommand`, never `main.ts` directly.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { listTree } from "./fixtures.ts";

// Fixtures that used to live here, for tests that import them from this module.
export { listTree, makeProject, sha256File } from "./fixtures.ts";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = `${REPO_ROOT}main.ts`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Variables to remove from the inherited environment. */
  unsetEnv?: string[];
}

/**
 * The compiled binary under test (`RUNSTAGE_BIN=dist/runstage deno task test`),
 * made absolute: tests spawn it from temp dirs. Undefined: tests run the source.
 */
export const RUNSTAGE_BIN: string | undefined = binaryUnderTest();

function binaryUnderTest(): string | undefined {
  const bin = Deno.env.get("RUNSTAGE_BIN");
  if (!bin) return undefined;
  const path = resolve(bin);
  // Else every CLI test fails with the same ENOENT, and none says why.
  if (!existsSync(path)) {
    throw new Error(`RUNSTAGE_BIN=${bin}: no such file; build it: ./denow task build --host`);
  }
  return path;
}

/** The command that runs runstage: the compiled binary when RUNSTAGE_BIN is set. */
export function runstageCommand(args: string[]): [string, string[]] {
  return RUNSTAGE_BIN ? [RUNSTAGE_BIN, args] : sourceCommand(args);
}

/** The command that runs runstage from source, whatever RUNSTAGE_BIN says. */
export function sourceCommand(args: string[]): [string, string[]] {
  return [Deno.execPath(), ["run", "--allow-all", "--quiet", MAIN, ...args]];
}

export async function runstage(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const [cmd, cmdArgs] = runstageCommand(args);
  // A GAGE_RUNS of the developer's shell must not leak into tests; a test sets its own.
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1" };
  delete env.GAGE_RUNS;
  for (const name of options.unsetEnv ?? []) delete env[name];
  Object.assign(env, options.env);
  const out = await new Deno.Command(cmd, {
    args: cmdArgs,
    cwd: options.cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The one run of a runs home: its id, run dir and meta dir. */
export async function onlyRun(runsHome: string) {
  const metas = (await listTree(runsHome)).filter((p) => /^[0-9a-f-]{36}\.meta\/$/.test(p));
  if (metas.length !== 1) throw new Error(`expected one run in ${runsHome}, found ${metas.length}`);
  const id = metas[0].slice(0, 36);
  return { id, runDir: `${runsHome}/${id}`, metaDir: `${runsHome}/${id}.meta` };
}
