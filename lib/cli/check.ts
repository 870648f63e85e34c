/**
 * `runstage check`: every problem of the project's Gage file at once, each with
 * its FILE:LINE:COL, where `run` stops at the first. Beyond what loading the
 * file checks (types, phases, path maps, config entries, unknown attributes),
 * it asks the modules that read the rest at run time: sourcecode patterns
 * (lib/source), commands (lib/stage/exec.ts), depends (lib/depends) and
 * output-summary (lib/stage/summary.ts); gagefile/ may not import them. It
 * prints the runs home commands would use, and exits 1 when there is a problem.
 * Also the notes `run` and `stage` show for an op's unknown attributes.
 */
import { Command } from "@commander-js/extra-typings";
import { readFile } from "node:fs/promises";
import process from "node:process";
import { readDepends } from "../depends/entries.ts";
import { RunstageError } from "../errors.ts";
import { escapeControl, quotePath } from "../fs/quote.ts";
import { isTable } from "../gagefile/attributes.ts";
import { type OpDef, PHASES } from "../gagefile/opdef.ts";
import {
  checkGageFile,
  type FileProblem,
  type GageFile,
  locateProblem,
  notesFor,
} from "../gagefile/parse.ts";
import { Problems } from "../gagefile/problems.ts";
import { findProject, resolveRunsHome } from "../gagefile/project.ts";
import { parseSourcecodeRules } from "../source/rules.ts";
import { commandArgv } from "../stage/exec.ts";
import { checkOutputSummary } from "../stage/summary.ts";
import { globalOptions, printJson } from "./context.ts";
import { warnNote } from "./lifecycle.ts";

export function checkCommand() {
  return new Command("check")
    .description(
      "check the Gage file: every op and attribute, each problem with FILE:LINE:COL; " +
        "print the runs home commands would use; exit 1 on any problem",
    )
    .option("--json", "print JSON")
    .action(async (options, command) => {
      const globals = globalOptions(command);
      const cwd = process.cwd();
      const { dir, path } = findProject({ cwd, dir: globals.project });
      if (path === undefined) {
        throw new RunstageError(
          `no Gage file in ${quotePath(dir)}: create gage.toml with an op, or pass -C DIR`,
        );
      }
      const { gagefile, problems, locate } = checkGageFile(path, await readText(path));
      const deeper = gagefile?.ops.flatMap(runTimeProblems) ?? [];
      const all = [...problems, ...deeper.map((p) => locateProblem(path, p, locate))];
      let runsHome: string | undefined;
      try {
        runsHome = resolveRunsHome({ dir, gagefile }, {
          runs: globals.runs,
          env: process.env,
          cwd,
        });
      } catch (err) {
        if (!(err instanceof RunstageError)) throw err;
        all.push(
          locateProblem(path, { at: ["$runs-dir"], message: err.message, kind: "error" }, locate),
        );
      }
      all.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
      if (options.json) printJson(jsonReport(path, gagefile, all, runsHome));
      else process.stdout.write(textReport(path, gagefile, all, runsHome));
      if (all.length > 0) process.exitCode = 1;
    });
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf-8");
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new RunstageError(`cannot read Gage file ${quotePath(path)}: ${reason}`);
  }
}

/** What is otherwise found only when the op is staged: patterns, commands, depends, summary. */
function runTimeProblems(op: OpDef) {
  const problems = new Problems();
  const where = `op "${op.name}"`;
  const spec = op.sourcecode;
  if (Array.isArray(spec)) {
    spec.forEach((pattern, i) =>
      problems.attempt(
        [op.name, "sourcecode", i],
        () => parseSourcecodeRules([pattern]),
        where,
      )
    );
  } else {
    problems.attempt(
      [op.name, "sourcecode"],
      () => parseSourcecodeRules(spec),
      where,
    );
  }
  if (Object.keys(op.exec).length === 0 && op.raw.exec === undefined) {
    problems.error(
      [op.name],
      `${where} has no exec: runstage run ${op.name} would refuse it; give it exec = "COMMAND"`,
    );
  }
  for (const [phase, command] of Object.entries(op.exec)) {
    const key = writtenPhaseKey(op, phase);
    problems.attempt(
      key === undefined ? [op.name, "exec"] : [op.name, "exec", key],
      () => commandArgv(command),
      `${where}: attribute "exec${key === undefined ? "" : `.${key}`}"`,
    );
  }
  problems.attempt([op.name, "depends"], () => readDepends(op));
  problems.attempt([op.name, "output-summary"], () => checkOutputSummary(op));
  return problems.list.map((p) => ({ ...p, at: refineDependsPlace(op, p.at, p.message) }));
}

/** The key a phase is written under in the op's exec table (its name or alias). */
function writtenPhaseKey(op: OpDef, phase: string): string | undefined {
  if (!isTable(op.raw.exec)) return undefined;
  const names = PHASES.filter((p) => p.name === phase).flatMap((p) => [p.name, p.alias]);
  return Object.keys(op.raw.exec).find((key) => names.includes(key as never));
}

/** `depends entry 2: ...` is about the second entry of the list. */
function refineDependsPlace(op: OpDef, at: readonly (string | number)[], message: string) {
  const entry = /depends entry (\d+)/.exec(message)?.[1];
  if (at[1] !== "depends" || entry === undefined || !Array.isArray(op.raw.depends)) return at;
  return [...at, Number(entry) - 1];
}

function textReport(
  path: string,
  gagefile: GageFile | undefined,
  problems: FileProblem[],
  runsHome: string | undefined,
): string {
  const lines = problems.map((p) => escapeControl(p.text));
  if (runsHome !== undefined) lines.push(`runs home: ${escapeControl(runsHome)}`);
  const ops = gagefile === undefined ? "" : `${count(gagefile.ops.length, "op")}, `;
  const verdict = problems.length === 0 ? "no problems" : count(problems.length, "problem");
  lines.push(`${escapeControl(path)}: ${ops}${verdict}`);
  return lines.map((line) => line + "\n").join("");
}

function jsonReport(
  path: string,
  gagefile: GageFile | undefined,
  problems: FileProblem[],
  runsHome: string | undefined,
) {
  return {
    gagefile: path,
    ops: gagefile?.ops.map((op) => op.name) ?? [],
    runsHome: runsHome ?? null,
    problems: problems.map((p) => ({
      line: p.line ?? null,
      column: p.column ?? null,
      kind: p.kind,
      message: p.message,
    })),
  };
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** The unknown attributes of the op `run` or `stage` is about to stage: one note each. */
export function noteUnknownAttributes(gagefile: GageFile, op: OpDef): void {
  for (const note of notesFor(gagefile, op)) warnNote(`${note.text}; it is ignored`);
}
