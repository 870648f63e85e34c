/**
 * `runstage open [RUN] [PATH]`: the run dir, or a file or dir in it, opened
 * with the system's opener (`xdg-open`, `open` on macOS, `start` on Windows),
 * as Guild and Gage do. Where there is no opener (a server, a container) the
 * path is printed instead, so the command still says where to look.
 */
import { Command } from "@commander-js/extra-typings";
import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { quotePath } from "../fs/quote.ts";
import { runDirPath } from "../run/rundirpath.ts";
import { globalOptions, namedRun, OPTIONAL_RUN_HELP } from "./context.ts";
import { RUN_SPEC_HELP } from "./runs.ts";

export function openCommand() {
  return new Command("open")
    .description(
      "open a run's run dir, or a file or dir in it, with the system's opener (xdg-open," +
        " open on macOS, start on Windows); without one, print its path",
    )
    .argument("[run]", `${RUN_SPEC_HELP}; ${OPTIONAL_RUN_HELP}`)
    .argument("[path]", "a file or dir of the run dir, relative to it")
    .action(async (spec, path, _options, command) => {
      const { run } = await namedRun(globalOptions(command), spec);
      const target = path === undefined ? resolve(run.runDir) : runDirPath(run, path);
      const opener = systemOpener();
      if (!onPath(opener.command)) {
        process.stderr.write(
          `runstage: no ${opener.command} on PATH to open it with; its path is:\n`,
        );
        return void process.stdout.write(target + "\n");
      }
      await runOpener(opener, target);
    });
}

interface Opener {
  command: string;
  args: (path: string) => string[];
}

function systemOpener(): Opener {
  if (process.platform === "darwin") return { command: "open", args: (p) => [p] };
  // `start` is built into cmd; its first quoted argument is a window title.
  if (process.platform === "win32") {
    return { command: "cmd", args: (p) => ["/d", "/c", "start", '""', p] };
  }
  return { command: "xdg-open", args: (p) => [p] };
}

/** Whether `command` is an executable file in a dir of $PATH (cmd always is, on Windows). */
function onPath(command: string): boolean {
  if (process.platform === "win32") return true;
  return (process.env.PATH ?? "").split(delimiter).filter(Boolean).some((dir) => {
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** Runs the opener to its end: openers hand the file to an app and return. */
async function runOpener(opener: Opener, target: string): Promise<void> {
  const child = spawn(opener.command, opener.args(target), { stdio: "ignore" });
  const code = await new Promise<number | null>((done, fail) => {
    child.once("error", fail);
    child.once("exit", (code) => done(code));
  }).catch((err: Error) => {
    throw new RunstageError(
      `cannot start ${opener.command} (${err.message}): open ${quotePath(target)} yourself`,
    );
  });
  if (code !== 0) {
    throw new RunstageError(
      `${opener.command} could not open ${quotePath(target)} (exit code ${code}):` +
        " open it yourself",
    );
  }
}
