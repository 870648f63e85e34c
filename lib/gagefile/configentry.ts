/**
 * One entry of an op's `config` attribute, `[-]GLOB[#KEYPATTERN]`, read and
 * checked where the Gage file is read, so a bad entry fails at load. Finding the
 * files and keys an entry selects is lib/config/.
 */
// @ts-types="@types/picomatch"
import picomatch from "picomatch";
import { RunstageError } from "../errors.ts";

/** One `[-]GLOB[#KEYPATTERN]` entry. */
export interface ConfigEntry {
  source: string;
  exclude: boolean;
  /** Undefined: every file of the group. */
  fileGlob?: string;
  /** Dotted key pattern split into segments; undefined: every key. */
  keyPattern?: string[];
}

/** Parses and checks one entry; throws a RunstageError saying what is wrong with it. */
export function parseConfigEntry(source: string): ConfigEntry {
  const invalid = (why: string) =>
    new RunstageError(`invalid config entry ${JSON.stringify(source)}: ${why}`);
  const text = source.trim();
  const exclude = text.startsWith("-");
  const body = exclude ? text.slice(1).trimStart() : text;
  const hash = body.indexOf("#");
  // `./conf.yaml` is `conf.yaml`: paths are compared as the walk spells them.
  const fileGlob = (hash < 0 ? body : body.slice(0, hash)).replace(/^(\.\/)+/, "") || undefined;
  const pattern = hash < 0 ? undefined : body.slice(hash + 1);
  if (fileGlob === undefined && pattern === undefined) {
    throw invalid("it names no file; write GLOB, GLOB#KEYS or #KEYS, as in conf/*.yaml#model.*");
  }
  if (fileGlob !== undefined) checkFileGlob(fileGlob, invalid);
  if (pattern !== undefined && pattern.split(".").some((segment) => segment === "")) {
    throw invalid("the key pattern after # needs a name in each dotted part, as in #model.lr");
  }
  return { source, exclude, fileGlob, keyPattern: pattern?.split(".") };
}

function checkFileGlob(glob: string, invalid: (why: string) => RunstageError): void {
  if (glob.startsWith("!")) throw invalid(`exclude with a leading -, as in -${glob.slice(1)}`);
  if (glob.startsWith("/")) {
    throw invalid(
      `paths are relative to the project dir; drop the leading /, as in ${glob.slice(1)}`,
    );
  }
  if (glob.split("/").includes("..")) throw invalid("config files must be inside the project dir");
  try {
    picomatch(glob);
  } catch (err) {
    throw invalid(`not a valid glob (${(err as Error).message})`);
  }
}
