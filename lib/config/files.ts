/**
 * Config files as such: which format a path has (by extension), the format
 * modules loaded only when a file of theirs is read, and reading and parsing a
 * file with errors a user can act on.
 */
import { extname, join } from "node:path";
import { readFile } from "node:fs/promises";
import {
  type ConfigFormat,
  type ConfigFormatName,
  type ConfigSource,
  FileSyntaxError,
  type FlagValue,
} from "./formats/format.ts";
import { RunstageError } from "../errors.ts";
import type { RunConfig } from "../run/meta.ts";
import { quotePath } from "../fs/quote.ts";

/** One config file of an op: where it is, its format, and the flags it provides. */
export interface ConfigFileInfo {
  /** Relative to the project dir (and so to the run dir), `/`-separated. */
  path: string;
  format: ConfigFormatName;
  /** Flag keys, in file order. */
  keys: string[];
}

/** An op's config files and their flags' defaults. */
export interface ConfigPlan {
  /** In path order; only files that provide at least one flag. */
  files: ConfigFileInfo[];
  /** Every flag's default, flat dotted keys in file order. */
  defaults: RunConfig;
}

/**
 * Each format's module, loaded when a file of that format is read: every command
 * reads the Gage file, which checks `config` entries with this module, and most
 * never read a config file, so they should not pay for loading the parsers.
 */
const FORMATS: Record<ConfigFormatName, () => Promise<ConfigFormat>> = {
  JSON: async () => (await import("./formats/json.ts")).JSON_FORMAT,
  YAML: async () => (await import("./formats/yaml.ts")).YAML_FORMAT,
  TOML: async () => (await import("./formats/toml.ts")).TOML_FORMAT,
  Python: async () => (await import("./formats/python.ts")).PYTHON_FORMAT,
};

/** Why a format cannot hold a value, known without loading the format's parser. */
export function cannotHold(format: ConfigFormatName, value: FlagValue): string | undefined {
  return format === "TOML" && value === null ? "TOML has no null" : undefined;
}

export const FORMAT_BY_EXTENSION: Record<string, ConfigFormatName> = {
  ".json": "JSON",
  ".yaml": "YAML",
  ".yml": "YAML",
  ".toml": "TOML",
  ".py": "Python",
};

/** The config format of a path by its extension, or undefined for an unknown one. */
export function configFormatOf(path: string): ConfigFormatName | undefined {
  return FORMAT_BY_EXTENSION[extname(path).toLowerCase()];
}

export async function readConfigFile(dir: string, path: string): Promise<string> {
  try {
    return await readFile(join(dir, path), "utf-8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new RunstageError(
      `cannot read config file ${quotePath(path)} (${reason}); check its permissions`,
    );
  }
}

/** Parses a config file's text; a syntax error names the file, line and column. */
export async function readConfigSource(
  path: string,
  format: ConfigFormatName,
  text: string,
): Promise<ConfigSource> {
  const reader = await FORMATS[format]();
  try {
    return reader.read(withoutBom(text));
  } catch (err) {
    if (!(err instanceof FileSyntaxError)) throw err;
    const where = err.line === undefined ? path : `${path}:${err.line}:${err.column ?? 1}`;
    const reason = err.reason.split("\n")[0].trim();
    throw new RunstageError(
      `${where}: invalid ${format}: ${reason}; fix the file or leave it out of attribute "config"`,
    );
  }
}

// Editors on Windows start UTF-8 files with a BOM; no parser here wants it, and it must stay.
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
