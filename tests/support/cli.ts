/**
 * Test harness for the real CLI: spawns `deno run main.ts` (or the compiled
 * binary named by RUNSTAGE_BIN) in a fixture project and captures what a user
 * would see: stdout, stderr and the exit code.
 *
 * A test file that imports this module is an end-to-end test: .ci/run runs it
 * again against the host binary it builds. So spawn runstage only through
 * `runstage`, `spawnRunstage` or `runstageCommand`, never `main.ts` directly.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { listTree, snapshot } from "./fixtures.ts";

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
  const out = await runstageProcess(args, options).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** runstage ARGS as a command: no stdin, output piped, the environment a test gives it. */
function runstageProcess(args: string[], options: CliOptions): Deno.Command {
  const [cmd, cmdArgs] = runstageCommand(args);
  // A GAGE_RUNS of the developer's shell must not leak into tests; a test sets its own.
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1" };
  delete env.GAGE_RUNS;
  for (const name of options.unsetEnv ?? []) delete env[name];
  Object.assign(env, options.env);
  return new Deno.Command(cmd, {
    args: cmdArgs,
    cwd: options.cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

export interface SpawnOptions extends CliOptions {
  /**
   * A runstage still running after this long is killed (SIGKILL), so a hung
   * one fails its test instead of hanging it; no time limit. Default 120 s.
   */
  watchdogMs?: number;
}

export interface SpawnResult extends CliResult {
  /** The signal that killed it, if one did. */
  signal: Deno.Signal | null;
}

/** A runstage started in the background, its output collected as it comes. */
export interface Spawned {
  child: Deno.ChildProcess;
  /** True once it has exited and its output is all read. */
  exited(): boolean;
  /** What it has printed on stdout so far. */
  stdout(): string;
  /** Waits until its stdout so far matches `pattern`; returns it. Throws if it ends first. */
  readUntil(pattern: RegExp): Promise<string>;
  /** Its exit and all of its output. */
  result: Promise<SpawnResult>;
}

const WATCHDOG_MS = 120_000;

/** Starts runstage ARGS in the background (see `Spawned`), killed if it outlives the watchdog. */
export function spawnRunstage(args: string[], options: SpawnOptions = {}): Spawned {
  const child = runstageProcess(args, options).spawn();
  const watchdog = setTimeout(() => child.kill("SIGKILL"), options.watchdogMs ?? WATCHDOG_MS);
  let stdout = "";
  let exited = false;
  let changed = Promise.withResolvers<void>();
  const notify = () => {
    changed.resolve();
    changed = Promise.withResolvers<void>();
  };
  const reading = (async () => {
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      stdout += text;
      notify();
    }
  })();
  const stderr = new Response(child.stderr).text();
  const result = Promise.all([child.status, stderr, reading]).then(([status, stderr]) => {
    clearTimeout(watchdog);
    exited = true;
    notify();
    return { code: status.code, signal: status.signal, stdout, stderr };
  });
  return {
    child,
    exited: () => exited,
    stdout: () => stdout,
    result,
    async readUntil(pattern) {
      while (!pattern.test(stdout)) {
        if (exited) {
          const { code, stderr } = await result;
          throw new Error(`runstage ended (code ${code}) before ${pattern}: ${stdout}${stderr}`);
        }
        await changed.promise;
      }
      return stdout;
    },
  };
}

/** The one run of a runs home: its id, run dir and meta dir. */
export async function onlyRun(runsHome: string) {
  const metas = (await listTree(runsHome)).filter((p) => /^[0-9a-f-]{36}\.meta\/$/.test(p));
  if (metas.length !== 1) throw new Error(`expected one run in ${runsHome}, found ${metas.length}`);
  const id = metas[0].slice(0, 36);
  return { id, runDir: `${runsHome}/${id}`, metaDir: `${runsHome}/${id}.meta` };
}

/** runstage with its arguments after `-C PROJECT --runs RUNS_HOME`. */
export type Cli = (...args: string[]) => Promise<CliResult>;

/** runstage on one project and runs home. */
export function cliFor(project: string, runsHome: string): Cli {
  return (...args) => runstageIn(project, runsHome, ...args);
}

/** `runstage -C PROJECT --runs RUNS_HOME ARGS...`. */
export function runstageIn(project: string, runsHome: string, ...args: string[]) {
  return runstage(["-C", project, "--runs", runsHome, ...args]);
}

/** Asserts the command exits 0 and returns its stdout. */
export async function ok(result: Promise<CliResult>): Promise<string> {
  const r = await result;
  assert.equal(r.code, 0, `exit code; stderr:\n${r.stderr}`);
  return r.stdout;
}

/** Asserts the command exits 0 and returns its stdout parsed as JSON. */
export async function json<T = Record<string, unknown>[]>(result: Promise<CliResult>): Promise<T> {
  return JSON.parse(await ok(result)) as T;
}

/** The lines of a command's output, without the final newline. */
export function rows(text: string): string[] {
  return text.trimEnd().split("\n");
}

/**
 * A failure as the CLI's error policy has it: the exit code, one stderr line
 * matching `message`, nothing on stdout, and the runs home exactly as it was.
 * Usage errors (exit 2) may add commander's hint line, and only that. Returns
 * the error line.
 */
export async function fails(
  cli: Cli,
  runsHome: string,
  args: string[],
  message: RegExp,
  code = 1,
): Promise<string> {
  const before = await snapshot(runsHome);
  const r = await cli(...args);
  assert.equal(r.code, code, `exit code of ${args.join(" ")}; stderr:\n${r.stderr}`);
  assert.equal(r.stdout, "", `nothing on stdout from ${args.join(" ")}`);
  const lines = rows(r.stderr);
  if (code === 2 && lines.length === 2) assert.match(lines[1], /^\(run with --help for usage\)$/);
  else assert.equal(lines.length, 1, `one error line:\n${r.stderr}`);
  assert.match(lines[0], /^runstage: \S/);
  assert.match(lines[0], message);
  assert.deepEqual(await snapshot(runsHome), before, `${args.join(" ")} changed the runs home`);
  return lines[0];
}
