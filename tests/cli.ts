/**
 * Test harness for the real CLI: spawns `deno run main.ts` (or the compiled
 * binary named by RUNSTAGE_BIN) in a fixture project and captures what a user
 * would see: stdout, stderr and the exit code.
 */
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
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

/** The command that runs runstage: the compiled binary when RUNSTAGE_BIN is set. */
export function runstageCommand(args: string[]): [string, string[]] {
  const bin = Deno.env.get("RUNSTAGE_BIN");
  if (bin) return [bin, args];
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

/** A temp project with the given files (paths relative to it). */
export async function makeProject(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "runstage-test-" });
  for (const [path, content] of Object.entries(files)) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, content);
  }
  return dir;
}

/** Every entry under `dir`, relative, sorted; directories end with `/`. Missing dir: []. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(abs: string, rel: string) {
    for await (const e of Deno.readDir(abs)) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        out.push(`${path}/`);
        await walk(`${abs}/${e.name}`, path);
      } else out.push(path);
    }
  }
  try {
    await walk(dir, "");
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out.sort();
}

/** The one run of a runs home: its id, run dir and meta dir. */
export async function onlyRun(runsHome: string) {
  const metas = (await listTree(runsHome)).filter((p) => /^[0-9a-f-]{36}\.meta\/$/.test(p));
  if (metas.length !== 1) throw new Error(`expected one run in ${runsHome}, found ${metas.length}`);
  const id = metas[0].slice(0, 36);
  return { id, runDir: `${runsHome}/${id}`, metaDir: `${runsHome}/${id}.meta` };
}

/** SHA-256 of a file, computed independently of runstage (WebCrypto). */
export async function sha256File(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
