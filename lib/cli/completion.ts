/**
 * Shell completion: `runstage completion bash|zsh|fish` prints a script, and the
 * hidden `runstage __complete -- WORDS...` the script calls lists the candidates
 * for the last of WORDS. Both read the commands, options and arguments off the
 * commander program as it is built at run time (`grammarOf`), so a new command
 * or option completes without anyone keeping a list. What only the project and
 * the runs home know (op names, flag names, run names) is looked up by
 * `__complete`, which prints nothing when it cannot tell: completion never
 * prints an error into a user's command line.
 */
import { Argument, Command } from "@commander-js/extra-typings";
import { homedir } from "node:os";
import process from "node:process";
import { planConfig } from "../config/config.ts";
import { selectOp } from "../gagefile/project.ts";
import { listRuns } from "../run/listing.ts";
import { commandContext, type GlobalOptions } from "./context.ts";
import {
  type CommandGrammar,
  completionScript,
  type ProgramGrammar,
  type Shell,
  SHELLS,
} from "./completionscript.ts";

/** The name of the hidden command the scripts call; hidden commands start with `__`. */
export const COMPLETE_COMMAND = "__complete";

/** The structure of a commander command this module reads. */
interface CommandShape {
  name(): string;
  readonly commands: readonly CommandShape[];
  readonly options: readonly {
    short?: string;
    long?: string;
    required: boolean;
    hidden: boolean;
  }[];
  readonly registeredArguments: readonly { name(): string; variadic: boolean }[];
}

/** The program's visible commands, options and arguments, as commander holds them now. */
export function grammarOf(program: CommandShape): ProgramGrammar {
  const commands = program.commands
    .filter((c) => !c.name().startsWith("__"))
    .map(commandGrammar);
  return { name: program.name(), commands, global: commandGrammar(program) };
}

function commandGrammar(command: CommandShape): CommandGrammar {
  const options = command.options.filter((o) => !o.hidden);
  const spellings = (o: (typeof options)[number]) =>
    [o.short, o.long].filter((f): f is string => f !== undefined);
  return {
    name: command.name(),
    options: [...options.flatMap(spellings), "--help"],
    valueOptions: options.filter((o) => o.required).flatMap(spellings),
    args: command.registeredArguments.map((a) => ({ name: a.name(), variadic: a.variadic })),
  };
}

export function completionCommand() {
  return new Command("completion")
    .description(
      "print a completion script for commands, options, op names, flag names and run names:" +
        ' eval "$(runstage completion bash)" in ~/.bashrc, or the same with zsh;' +
        " runstage completion fish | source in fish",
    )
    .addArgument(new Argument("<shell>", "the shell").choices(SHELLS))
    .action((shell, _options, command) => {
      process.stdout.write(completionScript(shell as Shell, grammarOf(command.parent!)));
    });
}

export function completeCommand() {
  return new Command(COMPLETE_COMMAND)
    .description("list completion candidates for WORDS, the last one being completed")
    .argument("[words...]", "the command line after the program name")
    .option("--quoted", "WORDS are as typed, quotes and backslashes in them (bash)")
    .allowUnknownOption()
    .action(async (words, options, command) => {
      const line = options.quoted ? words.map(unquote) : words;
      const candidates = await completeWords(grammarOf(command.parent!), line);
      process.stdout.write(candidates.map((c) => c + "\n").join(""));
    });
}

/**
 * The candidates for the last of `words` (the words after the program name; the
 * last is "" when a new word is begun), filtered by what it holds so far.
 */
export async function completeWords(grammar: ProgramGrammar, words: string[]): Promise<string[]> {
  const all = joinWordBreaks(words);
  const current = all.at(-1) ?? "";
  const line = readLine(grammar, all.slice(0, -1));
  const starting = (candidates: string[]) => candidates.filter((c) => c.startsWith(current));
  if (line.takesValue) return [];
  if (line.command === undefined) {
    return starting(
      current.startsWith("-") ? grammar.global.options : grammar.commands.map((c) => c.name),
    );
  }
  if (current.startsWith("-") && !line.afterDashes) return starting(line.command.options);
  try {
    return starting(await argumentCandidates(line, current));
  } catch {
    // No project, no runs home, a broken Gage file: nothing to offer.
    return [];
  }
}

/**
 * bash splits words at `=` and `:` (COMP_WORDBREAKS): `lr=0.1` arrives as `lr`,
 * `=`, `0.1`, and `1:3` as `1`, `:`, `3`. They are one word to runstage.
 */
function joinWordBreaks(words: string[]): string[] {
  const joined: string[] = [];
  let glue = false;
  for (const word of words) {
    const isBreak = word === "=" || word === ":";
    if ((isBreak || glue) && joined.length > 0) joined[joined.length - 1] += word;
    else joined.push(word);
    glue = isBreak;
  }
  return joined;
}

/**
 * A word as a POSIX shell reads it, less its quotes and backslashes: `'a b'`,
 * `"a b"` and `a\ b` are `a b`. A quote left open runs to the end of the word
 * (the word being completed). Nothing is expanded: `$HOME` stays as it is.
 */
function unquote(word: string): string {
  let out = "";
  let quote: string | undefined;
  for (let i = 0; i < word.length; i++) {
    const c = word[i];
    const next = word[i + 1];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else out += c;
    } else if (
      c === "\\" && next !== undefined && (quote === undefined || '"\\$`'.includes(next))
    ) {
      out += next;
      i++;
    } else if (c === '"' && quote === '"') quote = undefined;
    else if ((c === "'" || c === '"') && quote === undefined) quote = c;
    else out += c;
  }
  return out;
}

/** A command line read as far as the word being completed. */
interface ReadLine {
  globals: GlobalOptions;
  command?: CommandGrammar;
  positionals: string[];
  /** The word before the current one is an option that takes it as its value. */
  takesValue: boolean;
  afterDashes: boolean;
}

function readLine(grammar: ProgramGrammar, words: string[]): ReadLine {
  const line: ReadLine = { globals: {}, positionals: [], takesValue: false, afterDashes: false };
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    const options = line.command ?? grammar.global;
    line.takesValue = false;
    if (!line.afterDashes && word === "--") line.afterDashes = true;
    else if (!line.afterDashes && options.valueOptions.includes(word)) {
      if (i + 1 === words.length) line.takesValue = true;
      else if (line.command === undefined) setGlobal(line.globals, word, words[i + 1]);
      i++;
    } else if (!line.afterDashes && word.startsWith("-")) {
      const [name, value] = splitAt(word, "=");
      if (line.command === undefined && value !== undefined) setGlobal(line.globals, name, value);
    } else if (line.command === undefined) {
      line.command = grammar.commands.find((c) => c.name === word);
      if (line.command === undefined) return { ...line, takesValue: true }; // Unknown: nothing.
    } else line.positionals.push(word);
  }
  return line;
}

function setGlobal(globals: GlobalOptions, option: string, value: string): void {
  if (option === "-C" || option === "--project") globals.project = expandHome(value);
  if (option === "--runs") globals.runs = expandHome(value);
}

/** `~` and `~/...`, which the shell expands only when the command runs: not yet. */
function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? homedir() + path.slice(1) : path;
}

function splitAt(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** What an argument is, by its name: `run`, `runs...`, `run1`; `op`; `flags...`. */
function argumentKind(name: string): "runs" | "ops" | "flags" | undefined {
  if (/^run/.test(name)) return "runs";
  if (name === "op") return "ops";
  if (name === "flags") return "flags";
  return undefined;
}

async function argumentCandidates(line: ReadLine, current: string): Promise<string[]> {
  const args = line.command!.args;
  const index = line.positionals.length;
  const arg = args[index] ?? (args.at(-1)?.variadic ? args.at(-1) : undefined);
  const kind = arg && argumentKind(arg.name);
  if (kind === "runs") return runNames(line.globals);
  if (kind === "ops") {
    // `run lr=0.1` flags the default op: in the op's place, a NAME= is a flag.
    if (current.includes("=")) return [];
    const flags = await flagNames(line).catch(() => []); // No default op: only op names.
    return [...await opNames(line.globals), ...flags];
  }
  if (kind === "flags") return current.includes("=") ? [] : flagNames(line);
  return [];
}

async function runNames(globals: GlobalOptions): Promise<string[]> {
  const { runsHome } = await commandContext(globals);
  return listRuns(runsHome).map((r) => r.run.name);
}

async function opNames(globals: GlobalOptions): Promise<string[]> {
  const { project } = await commandContext(globals);
  return (project.gagefile?.ops ?? []).map((op) => op.name);
}

/** `NAME=` for each flag of the op named before (or the default op), as `--help-op` lists them. */
async function flagNames(line: ReadLine): Promise<string[]> {
  const { project, runsHome } = await commandContext(line.globals);
  const opIndex = line.command!.args.findIndex((a) => a.name === "op");
  const named = opIndex === -1 ? undefined : line.positionals[opIndex];
  const op = selectOp(project, named?.includes("=") ? undefined : named);
  const plan = await planConfig(project.dir, op, { exclude: [runsHome] });
  return Object.keys(plan.defaults).map((key) => `${key}=`);
}
