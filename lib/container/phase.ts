/**
 * One phase in a container: the `<engine> run` that wraps the phase's command
 * (the run dir mounted at its place in the container and the working dir
 * there, the phase's own variables passed in, a runstage label and a name of
 * the run's), and the way out: the container's id read back, the container
 * removed whatever happened, a stop signal turned into a kill after a grace
 * period. lib/stage/exec.ts runs the wrapped command like any other.
 */
import { readFileSync, rmSync } from "node:fs";
import type { Interrupt } from "../interrupt.ts";
import { callEngine, type Engine } from "./engine.ts";
import { RUN_LABEL } from "./image.ts";

/** How long the op has after a stop signal before its container is killed. */
export const STOP_GRACE_MS = 10_000;

export interface Mount {
  host: string;
  container: string;
  readOnly?: boolean;
}

export interface ContainerPhaseSpec {
  engine: Engine;
  image: string;
  runId: string;
  phase: string;
  /** The run dir on this machine, and its place in the container. */
  runDir: string;
  dir: string;
  /** More mounts: a live run's project dir, at its own path. */
  mounts?: Mount[];
  /** Where the engine writes the container's id (removed after). */
  cidFile: string;
  /** The phase reads stdin (the op's `run`). */
  interactive?: boolean;
  interrupt?: Interrupt;
  graceMs?: number;
}

export class ContainerPhase {
  readonly name: string;
  #spec: ContainerPhaseSpec;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopWatching: () => void = () => {};

  constructor(spec: ContainerPhaseSpec) {
    this.#spec = spec;
    this.name = `runstage-${spec.runId}-${spec.phase}`;
  }

  /**
   * The argv that runs `argv` in the container, with `env` (the phase's own
   * variables; a value that is the run dir becomes its place in the container).
   */
  wrap(argv: string[], env: Record<string, string | undefined>): string[] {
    const s = this.#spec;
    rmSync(s.cidFile, { force: true });
    this.#watch();
    const vars = Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)
      .flatMap(([k, v]) => ["-e", `${k}=${v === s.runDir ? s.dir : v}`]);
    const mounts = [{ host: s.runDir, container: s.dir }, ...(s.mounts ?? [])]
      .flatMap((m) => ["-v", `${m.host}:${m.container}${m.readOnly ? ":ro" : ""}`]);
    return [
      s.engine.command,
      "run",
      "--rm",
      "--init",
      "--name",
      this.name,
      "--label",
      `${RUN_LABEL}=${s.runId}`,
      "--cidfile",
      s.cidFile,
      ...(s.interactive ? ["-i"] : []),
      ...mounts,
      "-w",
      s.dir,
      ...vars,
      s.image,
      ...argv,
    ];
  }

  /** A stop signal gives the op the grace period, then its container is killed; a second, at once. */
  #watch(): void {
    const interrupt = this.#spec.interrupt;
    if (!interrupt) return;
    const kill = () => void callEngine(this.#spec.engine, ["kill", this.name]);
    const onAbort = () => {
      this.#timer ??= setTimeout(kill, this.#spec.graceMs ?? STOP_GRACE_MS);
    };
    if (interrupt.signal.aborted) onAbort();
    else interrupt.signal.addEventListener("abort", onAbort, { once: true });
    const stopForce = interrupt.onForce(kill);
    this.#stopWatching = () => {
      interrupt.signal.removeEventListener("abort", onAbort);
      stopForce();
    };
  }

  /**
   * Once the phase's process has ended, however it ended: no container of it
   * is left (`rm -f`, which is a no-op when `--rm` already removed it).
   * Returns the container's id, when the engine got as far as making one.
   */
  async end(): Promise<string | undefined> {
    this.#stopWatching();
    clearTimeout(this.#timer);
    let id: string | undefined;
    try {
      id = readFileSync(this.#spec.cidFile, "utf8").trim() || undefined;
    } catch {
      // The container was never created.
    }
    await callEngine(this.#spec.engine, ["rm", "-f", this.name]);
    rmSync(this.#spec.cidFile, { force: true });
    return id;
  }
}
