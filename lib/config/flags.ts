/**
 * Config flags on the command line: `runstage run train lr=0.1 epochs=5`, each
 * `NAME=VALUE` with a typed value (rules at the top of config.ts, examples in
 * docs/config.md), and values written back as flag text.
 */
import type { FlagValue } from "./formats/format.ts";
import { RunstageError } from "../errors.ts";
import type { RunConfig } from "../run/meta.ts";

/** `NAME=VALUE` arguments as typed flag values. Throws on an argument without `=`. */
export function parseFlags(args: string[]): RunConfig {
  const flags: RunConfig = {};
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq < 0) {
      throw new RunstageError(
        `flag "${arg}" has no value; write it as ${arg}=VALUE (${arg}= for an empty string)`,
      );
    }
    if (eq === 0) throw new RunstageError(`flag "${arg}" has no name; write it as NAME=VALUE`);
    const name = arg.slice(0, eq);
    // The last one counts, as with repeated options: scripts append overrides.
    delete flags[name];
    flags[name] = parseFlagValue(arg.slice(eq + 1));
  }
  return flags;
}

const INT = /^[-+]?(?:0|[1-9][0-9]*)$/;
// A point or an exponent makes a float: `007` stays a string, `007.5` and `1e3` do not.
const FLOAT = /^[-+]?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)$/;
const WORDS: Record<string, boolean | null> = {
  true: true,
  True: true,
  TRUE: true,
  false: false,
  False: false,
  FALSE: false,
  null: null,
  Null: null,
  NULL: null,
};

/** A flag's text as a typed value; see the rules at the top of this file. */
export function parseFlagValue(text: string): FlagValue {
  if (text.length >= 2 && (text[0] === "'" || text[0] === '"') && text.endsWith(text[0])) {
    return text.slice(1, -1);
  }
  if (INT.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : text;
  }
  if (FLOAT.test(text)) {
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  }
  return text in WORDS ? WORDS[text] : text;
}

/** A value as flag text that `parseFlagValue` reads back as the same value. */
export function formatFlagValue(value: FlagValue): string {
  if (typeof value !== "string") return String(value);
  if (parseFlagValue(value) === value && value.trim() === value && value !== "") return value;
  // Quotes are stripped, never unescaped: any text between them reads back as it is.
  return value.includes("'") ? `"${value}"` : `'${value}'`;
}
