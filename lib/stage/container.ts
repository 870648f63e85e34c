/**
 * Ops in containers (`image`, `dockerfile`): the image a run gets, built with
 * the staged run dir as the context or named by the op, recorded in meta
 * `container`; and the host each run-dir phase runs in, a container of that
 * image with the run dir mounted (lib/container/ has the engine's side).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { RunstageError } from "../errors.ts";
import { escapeControl, quotePath } from "../fs/quote.ts";
import type { Interrupt } from "../interrupt.ts";
import type { OpDef } from "../gagefile/opdef.ts";
import type { Run } from "../run/identity.ts";
import { logRunner, runMeta } from "../run/meta.ts";
import type { RunContainer } from "../run/container.ts";
import { liveProjectDir } from "../run/projectdir.ts";
import { type Engine, engineVersion, findEngine, lastLine } from "../container/engine.ts";
import { buildArgs, imageTag, inspectImage } from "../container/image.ts";
import { ContainerPhase, type Mount } from "../container/phase.ts";
import { type OutputEcho, type PhaseHost, runPhase } from "./exec.ts";

/** The image build's output in meta: between copy-sourcecode (10) and init-runtime (20). */
export const BUILD_PHASE = { name: "build-image", output: "15_build" } as const;

/** How many of a failed build's last lines are shown. */
const FAILED_BUILD_LINES = 12;

/** The engine of an op that runs in a container (one line naming what to install when none). */
export function containerEngine(op: OpDef, named: string | undefined): Engine | undefined {
  return op.container ? findEngine(named) : undefined;
}

export interface ImageRequest {
  projectDir: string;
  runsHome: string;
  interrupt?: Interrupt;
  echo?: OutputEcho;
  warn?: (message: string) => void;
}

/**
 * The run's image, recorded in meta `container`: built from the run dir as it
 * is staged so far (its source code) for a `dockerfile` op, or the op's
 * `image` as the engine has it. A failed build is an error naming its last
 * line; its lines before that are warned, its whole log is `output/15_build`.
 */
export async function prepareImage(
  run: Run,
  op: OpDef,
  engine: Engine,
  req: ImageRequest,
): Promise<void> {
  const container = op.container!;
  const version = await engineVersion(engine);
  const base = { engine: engine.command, engineVersion: version, dir: container.dir };
  if (container.image !== undefined) {
    const info = await inspectImage(engine, container.image);
    return runMeta.container.record(run, {
      ...base,
      image: container.image,
      imageId: info?.id ?? null,
      imageDigest: info?.digest ?? null,
    });
  }
  const dockerfile = dockerfilePath(run, container.dockerfile!, req.projectDir);
  const tag = imageTag(op.name, run.id);
  const args = buildArgs({
    dockerfile,
    context: run.runDir,
    tag,
    runId: run.id,
    runsHome: req.runsHome,
  });
  const code = await runPhase(run, BUILD_PHASE, [engine.command, ...args], {
    cwd: run.runDir,
    env: {},
    interrupt: req.interrupt,
    echo: req.echo,
  });
  req.interrupt?.check();
  if (code !== 0) {
    const log = readOutput(run);
    // Shown as they came when echoed; else its last lines here.
    if (!req.echo) {
      for (const line of log.slice(-FAILED_BUILD_LINES, -1)) req.warn?.(escapeControl(line));
    }
    throw new RunstageError(
      `the image build failed (${engine.command} build exited ${code}): ${
        escapeControl(lastLine(log.join("\n")))
      }; its whole log is ${quotePath(join(run.metaDir, "output", BUILD_PHASE.output))}`,
    );
  }
  const info = await inspectImage(engine, tag);
  runMeta.container.record(run, {
    ...base,
    image: tag,
    imageId: info?.id ?? null,
    imageDigest: info?.digest ?? null,
    dockerfile: container.dockerfile,
    dockerfileDigest: sha256(readFileSync(dockerfile)),
  });
}

/** The run dir's copy of the Dockerfile (the commit's, for a git source), else the project's. */
function dockerfilePath(run: Run, dockerfile: string, projectDir: string): string {
  for (const dir of [run.runDir, projectDir]) {
    const path = join(dir, dockerfile);
    if (existsSync(path)) return path;
  }
  throw new RunstageError(
    `dockerfile ${quotePath(dockerfile)} is neither in the run dir nor in the project` +
      ` ${quotePath(projectDir)}: add it, or fix the op's "dockerfile"`,
  );
}

function readOutput(run: Run): string[] {
  try {
    const text = readFileSync(join(run.metaDir, "output", BUILD_PHASE.output), "utf8");
    return text.split("\n").filter((l) => l.trim() !== "");
  } catch {
    return [];
  }
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The run's meta `container` and the engine to run it with; undefined for an op that runs here. */
export function checkContainer(
  run: Run,
  op: OpDef,
  named: string | undefined,
): { recorded: RunContainer; engine: Engine } | undefined {
  if (!op.container) return undefined;
  const recorded = runMeta.container.read(run);
  if (!recorded) {
    throw new RunstageError(
      `run ${run.name} has no readable meta container: its image was never prepared; stage it again`,
    );
  }
  return { recorded, engine: findEngine(named ?? recorded.engine) };
}

export interface HostRequest {
  /** `--engine`, else the project's `"$container-engine"`; else the engine the run was staged with. */
  engine?: string;
  interrupt?: Interrupt;
  /** The phase reads stdin (the op's `run`). */
  interactive?: boolean;
}

/**
 * The container a phase of the run runs in, or undefined for a run of an op
 * that runs here. A live run also gets its project dir, read-only at its own
 * path, so its source links resolve to the project's current files.
 */
export function phaseHost(
  run: Run,
  op: OpDef,
  phase: string,
  req: HostRequest,
): PhaseHost | undefined {
  if (!op.container) return undefined;
  const { recorded, engine } = checkContainer(run, op, req.engine)!;
  const live = liveProjectDir(run);
  const mounts: Mount[] = [];
  if (live !== undefined && existsSync(live)) {
    const real = realpathSync(live);
    mounts.push({ host: real, container: real, readOnly: true });
  }
  const container = new ContainerPhase({
    engine,
    image: recorded.imageId ?? recorded.image,
    runId: run.id,
    phase,
    runDir: run.runDir,
    dir: recorded.dir,
    mounts,
    cidFile: join(run.metaDir, "proc", "cid"),
    interactive: req.interactive,
    interrupt: req.interrupt,
  });
  logRunner(run, `Running ${phase} in a container of ${recorded.image} (${engine.command})`);
  return {
    wrap: (argv, env) => container.wrap(argv, env),
    end: async () => {
      const id = await container.end();
      if (id === undefined) return;
      const now: RunContainer = runMeta.container.read(run) ?? recorded;
      runMeta.container.write(run, { ...now, containers: { ...now.containers, [phase]: id } });
    },
  };
}
