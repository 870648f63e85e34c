/**
 * Tests against a real Slurm: the single-node cluster scripts/slurm/start.sh
 * starts (docs/slurm.md, "The test cluster"). runstage's Slurm support talks to
 * sbatch, squeue and scancel, and what they answer (job ids, states, when a job
 * leaves the queue, which signal a cancelled job gets) is only worth testing
 * against the real thing, so these helpers run the real commands.
 *
 * A machine without a cluster (most developers' laptops) still runs the suite:
 * `slurmTest` then prints one line, "skipped: no Slurm (run
 * scripts/slurm/start.sh as root)", and passes. CI sets RUNSTAGE_REQUIRE_SLURM=1
 * after starting the cluster, and there a missing cluster fails the test
 * instead: a broken CI set-up must not pass by skipping everything.
 *
 * Every wait here is bounded and polls; nothing asserts how long Slurm took.
 */

/** The line a Slurm test prints, and passes, on a machine without a cluster. */
export const SKIP_LINE = "skipped: no Slurm (run scripts/slurm/start.sh as root)";

/** How long a query (sinfo, squeue) may take before the cluster counts as not answering. */
const QUERY_MS = 5_000;

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `cmd args`, killing it after `timeoutMs`. Undefined when `cmd` is not
 * on PATH; a command killed for taking too long ends with code 124 (as
 * timeout(1) reports it).
 */
export async function runCommand(
  cmd: string,
  args: string[],
  { cwd, timeoutMs = QUERY_MS }: { cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult | undefined> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped", stdin: "null" })
      .spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* it ended meanwhile */ }
  }, timeoutMs);
  try {
    const out = await child.output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return {
      code: timedOut ? 124 : out.code,
      stdout: decode(out.stdout),
      stderr: decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Whether an executable `name` is in a directory on PATH. */
function onPath(name: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
    try {
      const info = Deno.statSync(`${dir || "."}/${name}`);
      return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
    } catch {
      return false;
    }
  });
}

let availability: Promise<{ ok: boolean; why: string }> | undefined;

async function probe(): Promise<{ ok: boolean; why: string }> {
  // Looked up, not run: with no slurm.conf even `sbatch --version` retries for a minute.
  if (!onPath("sbatch")) return { ok: false, why: "sbatch is not on PATH" };
  const sinfo = await runCommand("sinfo", ["-h", "-N", "-o", "%N %T"]);
  if (sinfo === undefined) return { ok: false, why: "sinfo is not on PATH" };
  if (sinfo.code === 124) return { ok: false, why: `sinfo did not answer in ${QUERY_MS} ms` };
  if (sinfo.code !== 0) return { ok: false, why: `sinfo failed: ${sinfo.stderr.trim()}` };
  if (sinfo.stdout.trim() === "") return { ok: false, why: "sinfo lists no node" };
  return { ok: true, why: "" };
}

/** Whether a cluster answers: sbatch is on PATH and sinfo lists a node within a few seconds. Asked once per process. */
export async function slurmAvailable(): Promise<boolean> {
  availability ??= probe();
  return (await availability).ok;
}

/** RUNSTAGE_REQUIRE_SLURM=1 (CI): a missing cluster fails the test instead of skipping it. */
export function slurmRequired(): boolean {
  return Deno.env.get("RUNSTAGE_REQUIRE_SLURM") === "1";
}

/**
 * `Deno.test(name, fn)` for a test that needs the cluster. Without one it
 * prints SKIP_LINE and passes, or fails with the reason under
 * RUNSTAGE_REQUIRE_SLURM=1.
 */
export function slurmTest(
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
): void {
  Deno.test(name, async (t) => {
    if (!(await slurmAvailable())) {
      const { why } = await availability!;
      if (slurmRequired()) {
        throw new Error(
          `RUNSTAGE_REQUIRE_SLURM=1 but no Slurm cluster answers (${why}): ` +
            "run scripts/slurm/start.sh as root",
        );
      }
      console.log(SKIP_LINE);
      return;
    }
    await fn(t);
  });
}

/** Runs a Slurm command that must succeed; throws with its stderr otherwise. */
async function slurmCommand(cmd: string, args: string[], cwd?: string): Promise<string> {
  const r = await runCommand(cmd, args, { cwd, timeoutMs: 30_000 });
  if (r === undefined) throw new Error(`${cmd} is not on PATH`);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (code ${r.code}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Submits with `sbatch --parsable ARGS` (in `cwd`) and returns the job id. */
export async function sbatch(args: string[], cwd?: string): Promise<string> {
  const out = await slurmCommand("sbatch", ["--parsable", ...args], cwd);
  // --parsable prints "ID" or "ID;CLUSTER".
  const id = out.trim().split(";")[0];
  if (!/^\d+$/.test(id)) throw new Error(`sbatch printed no job id: ${out}`);
  return id;
}

/** Cancels `jobId` with scancel (ARGS first, like `--signal=USR1`). */
export async function scancel(jobId: string, ...args: string[]): Promise<void> {
  await slurmCommand("scancel", [...args, jobId]);
}

/**
 * The lines of `squeue -h -j ID ARGS -o %T`; none once squeue no longer lists
 * the job ("Invalid job id" after Slurm has forgotten it counts as none).
 */
async function squeueLines(jobId: string, args: string[]): Promise<string[]> {
  const r = await runCommand("squeue", ["-h", "-j", jobId, ...args, "-o", "%T"]);
  if (r === undefined) throw new Error("squeue is not on PATH");
  if (r.code !== 0) {
    if (/Invalid job id/i.test(r.stderr)) return [];
    throw new Error(`squeue -j ${jobId} failed (code ${r.code}): ${r.stderr.trim()}`);
  }
  return r.stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

/**
 * The job's state while it is in the queue, as plain `squeue -j ID` shows it
 * (PENDING, RUNNING, COMPLETING, ...); undefined once it has left (finished,
 * cancelled, or forgotten). For an array job id, the first line's.
 */
export async function squeueState(jobId: string): Promise<string | undefined> {
  return (await squeueLines(jobId, []))[0];
}

/**
 * The states of the job (each task of an array job) including finished ones
 * (COMPLETED, CANCELLED, FAILED, TIMEOUT, ...), as `squeue -t all` shows them
 * for the few seconds Slurm keeps a finished job (MinJobAge); [] after that.
 */
export async function jobStates(jobId: string): Promise<string[]> {
  return await squeueLines(jobId, ["-t", "all"]);
}

/**
 * Polls `squeue -h -j ID` until the job (every task of an array) has left the
 * queue; throws after `timeoutMs` with the state it was last in.
 */
export async function waitForJobToLeaveQueue(jobId: string, timeoutMs = 60_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    const state = await squeueState(jobId);
    if (state === undefined) return;
    if (Date.now() > giveUp) {
      throw new Error(`job ${jobId} still in the queue (${state}) after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
