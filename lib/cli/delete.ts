/**
 * `runstage delete`, `restore` and `purge`: moving runs into the trash and back,
 * and removing them for good. Each first tidies what killed commands left in
 * the runs home (lib/run/leftovers.ts), so a run a killed delete had claimed
 * is where it belongs before runs are named.
 */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { createInterface } from "node:readline/promises";
import { RunstageError, UsageError } from "../errors.ts";
import { listRuns, type ResolveOptions, type RunInfo } from "../run/listing.ts";
import { checkNotRunning, deleteRuns, purgeRuns, restoreRuns } from "../run/trash.ts";
import { quotePath } from "../fs/quote.ts";
import { commandContext, formatTable, type GlobalOptions, globalOptions } from "./context.ts";
import { namedRuns, plural, RUN_SPEC_HELP, runNameList } from "./runs.ts";
import { runsNamedWhere, WHERE_HELP } from "./where.ts";

export function deleteCommand() {
  return new Command("delete")
    .description(
      "move runs into the trash (<runs home>/.trash); `restore` brings them back. Running" +
        " runs are refused.",
    )
    .argument("[runs...]", `${RUN_SPEC_HELP} (or none, with --where)`)
    .option("--where <expr>", WHERE_HELP)
    .action(async (specs, options, command) => {
      const { runsHome, runs } = await runsNamedWhere(
        globalOptions(command),
        specs,
        options.where,
        { writes: true },
      );
      deleteRuns(runsHome, runs);
      process.stdout.write(
        `Deleted ${plural(runs.length, "run")}: ${runNameList(runs)}` +
          ` (undo with "runstage restore ${runs.map((r) => r.run.name).join(" ")}")\n`,
      );
    });
}

export function restoreCommand() {
  return new Command("restore")
    .description("move deleted runs back from the trash into the runs home")
    .argument(
      "<runs...>",
      "deleted runs: index from `runs --deleted`, slice, id, id prefix, name, or label",
    )
    .action(async (specs, _options, command) => {
      const { runsHome, runs } = await sweptRuns(globalOptions(command), specs, { deleted: true });
      restoreRuns(runsHome, runs);
      process.stdout.write(`Restored ${plural(runs.length, "run")}: ${runNameList(runs)}\n`);
    });
}

export function purgeCommand() {
  return new Command("purge")
    .description(
      "remove runs for good: live runs, deleted runs (--deleted), or the whole trash" +
        " (--trash). Asks first on a terminal; elsewhere needs -y.",
    )
    .argument("[runs...]", `${RUN_SPEC_HELP}; with --deleted, as \`runs --deleted\` lists them`)
    .option("--deleted", "name runs among the deleted runs (the trash)")
    .option("--trash", "purge every deleted run")
    .option("-y, --yes", "do not ask")
    .action(async (specs, options, command) => {
      if (options.trash ? specs.length > 0 : specs.length === 0) {
        throw new UsageError("purge takes RUN... or --trash: give exactly one");
      }
      const globals = globalOptions(command);
      const { runsHome, runs } = options.trash
        ? await trashRuns(globals)
        : await sweptRuns(globals, specs, { deleted: options.deleted });
      // Before asking: a question whose yes then fails helps no one.
      checkNotRunning(runs, "purge");
      if (!options.yes && !(await confirmPurge(runs))) {
        process.stderr.write("runstage: nothing purged\n");
        return;
      }
      purgeRuns(runsHome, runs);
      process.stdout.write(`Purged ${plural(runs.length, "run")}: ${runNameList(runs)}\n`);
    });
}

/** The runs `specs` name, once the runs home is swept of what killed commands left. */
function sweptRuns(globals: GlobalOptions, specs: string[], options: ResolveOptions = {}) {
  return namedRuns(globals, specs, { ...options, writes: true });
}

async function trashRuns(globals: GlobalOptions) {
  const { runsHome } = await commandContext(globals, { writes: true });
  const runs = listRuns(runsHome, { deleted: true });
  if (runs.length === 0) throw new RunstageError(`the trash of ${quotePath(runsHome)} is empty`);
  return { runsHome, runs };
}

/**
 * Purging cannot be undone, so a person is asked; a script must say -y, since
 * with no terminal there is no one to ask.
 */
async function confirmPurge(runs: RunInfo[]): Promise<boolean> {
  const count = plural(runs.length, "run");
  if (!process.stdin.isTTY) {
    throw new RunstageError(
      `purging ${count} cannot be undone and stdin is not a terminal to ask on: pass -y` +
        ` to purge without asking`,
    );
  }
  process.stderr.write(
    formatTable(runs.map((r) => [`  ${r.run.name}`, r.op, r.status, r.label ?? ""])),
  );
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`Purge ${count}? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}
