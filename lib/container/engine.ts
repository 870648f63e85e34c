/**
 * The container engine: the `podman` or `docker` CLI, found on PATH or named
 * by `--engine` / `"$container-engine"`, and the one way runstage calls it.
 * Both take the same arguments for what runstage asks of them.
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { escapeControl } from "../fs/quote.ts";

export interface Engine {
  /** As called: a name found on PATH, or a path. */
  command: string;
  /** Which CLI it is, from its name: their outputs differ in a few places. */
  kind: "podman" | "docker";
}

/** Tried in this order when none is named: podman needs no daemon to answer. */
export const ENGINES = ["podman", "docker"] as const;

/** The engine named (by `--engine` or the setting), else the first of ENGINES on PATH. */
export function findEngine(
  named: string | undefined,
  env: Record<string, string | undefined> = process.env,
): Engine {
  if (named !== undefined) {
    if (named.trim() === "") {
      throw new RunstageError(`--engine names no engine: pass podman or docker`);
    }
    if (onPath(named, env) === undefined) {
      throw new RunstageError(
        `container engine "${
          escapeControl(named)
        }" is not on PATH: install it (podman or docker),` +
          ` or name another with --engine or "$container-engine"`,
      );
    }
    return { command: named, kind: /docker/.test(named.split("/").pop()!) ? "docker" : "podman" };
  }
  for (const name of ENGINES) {
    if (onPath(name, env) !== undefined) return { command: name, kind: name };
  }
  throw new RunstageError(
    `no container engine: this op runs in a container; install podman (or docker) and put it on PATH`,
  );
}

/** The executable `name` is, looked up on PATH unless it holds a `/`. */
function onPath(name: string, env: Record<string, string | undefined>): string | undefined {
  const candidates = name.includes("/")
    ? [name]
    : (env.PATH ?? "").split(delimiter).filter((d) => isAbsolute(d)).map((d) => join(d, name));
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export interface EngineResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `<engine> ARGS`, its output collected; a start failure is exit 127 with the reason. */
export function callEngine(engine: Engine, args: string[]): Promise<EngineResult> {
  return new Promise((resolve) => {
    const child = spawn(engine.command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", (e) => resolve({ code: 127, stdout: "", stderr: e.message }));
    child.on("close", (code) => {
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
}

/** `<engine> ARGS` that must succeed: its stdout, or a one-line error with its last line. */
export async function engineOutput(engine: Engine, args: string[]): Promise<string> {
  const r = await callEngine(engine, args);
  if (r.code === 0) return r.stdout;
  throw new RunstageError(
    `${engine.command} ${args.slice(0, 2).join(" ")} failed (exit ${r.code}): ${
      escapeControl(lastLine(r.stderr || r.stdout))
    }`,
  );
}

/** The engine's version, from `--version` (which needs no daemon): `podman version 4.3.1`. */
export async function engineVersion(engine: Engine): Promise<string> {
  const text = await engineOutput(engine, ["--version"]);
  return /version\s+v?([^\s,]+)/i.exec(text)?.[1] ?? text.trim();
}

export function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? "(no output)";
}
