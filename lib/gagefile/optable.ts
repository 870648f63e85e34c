/**
 * One op's table of a Gage file, validated into an `OpDef`: its exec commands
 * by phase, source code spec, env, config groups, free flags, source origin and
 * path map. Every problem is one line naming the file, the op and the
 * attribute. Split from parse.ts, which reads the file as a whole; this is
 * also how a run's meta `opdef.json` becomes an OpDef again.
 */
import { parseConfigEntry } from "./configentry.ts";
import {
  attributeError,
  describeValue,
  isStringList,
  isTable,
  readFlag,
  readOptionalString,
  type Table,
  typeName,
} from "./attributes.ts";
import { RunstageError } from "../errors.ts";
import { didYouMean, type KeyPath, Problems } from "./problems.ts";
import {
  type ConfigGroup,
  type ExecCommand,
  isSourceOrigin,
  type OpDef,
  type PhaseName,
  PHASES,
  type SourcecodeSpec,
} from "./opdef.ts";
import { parsePathMap, type PathMap } from "./pathmap.ts";
import { readOpContainer } from "./container.ts";

/** The attributes of an op runstage reads; any other is noted as unknown (with a did-you-mean). */
export const OP_ATTRIBUTES = [
  "description",
  "default",
  "exec",
  "sourcecode",
  "env",
  "config",
  "free-flags",
  "source",
  "path-map",
  "depends",
  "output-summary",
  "output-scalars",
  "summary",
  "slurm",
  "image",
  "dockerfile",
] as const;

/**
 * Validates one op's table into an OpDef; `path` names the file in errors,
 * which are thrown, the first one only. Also rebuilds the OpDef of a run from
 * its meta `opdef.json`.
 */
export function readOpDef(path: string, name: string, value: unknown): OpDef {
  const problems = new Problems();
  const op = readOpTable(name, value, problems);
  const first = problems.errors[0];
  if (first !== undefined || op === undefined) {
    throw new RunstageError(`${path}: ${first?.message ?? `op "${name}" cannot be read`}`);
  }
  return op;
}

/**
 * One op's table into an OpDef, every problem of it collected in `problems`
 * (an attribute with an error reads as absent); undefined when the op as a
 * whole cannot be read (a bad name, not a table).
 */
export function readOpTable(name: string, value: unknown, problems: Problems): OpDef | undefined {
  // The op name is written into the space-separated meta `opref` line.
  if (name === "" || /\s/.test(name)) {
    problems.error(
      [name],
      `op name "${name}" must be non-empty and hold no whitespace; rename the op`,
    );
    return undefined;
  }
  if (!isTable(value)) {
    problems.error(
      [name],
      `op "${name}" must be a table of attributes (got ${describeValue(value)})`,
    );
    return undefined;
  }
  const where = `op "${name}"`;
  noteUnknownAttributes(name, value, problems);
  const read = <T>(attr: string, reader: () => T) => problems.attempt([name, attr], reader);
  return {
    name,
    description: read(
      "description",
      () => readOptionalString(where, "description", value.description),
    ),
    default: read("default", () => readFlag(where, "default", value.default)) ?? false,
    exec: readExec(where, [name, "exec"], value.exec, problems),
    sourcecode: read("sourcecode", () => readSourcecode(where, value.sourcecode)),
    env: readEnv(where, [name, "env"], value.env, problems),
    // Set only when written, so an op without flags reads as it did before flags.
    ...optional("config", read("config", () => readConfig(where, value.config))),
    ...optional("freeFlags", read("free-flags", () => readFreeFlags(where, value["free-flags"]))),
    ...optional("source", read("source", () => readSource(where, value.source))),
    ...read("image", () =>
      readOpContainer(
        where,
        value,
        read("path-map", () => readPathMap(where, value["path-map"])),
      )),
    ...optional("summary", read("summary", () => readSummaryFile(where, value.summary))),
    raw: value,
  };
}

function noteUnknownAttributes(name: string, table: Table, problems: Problems): void {
  const known: readonly string[] = OP_ATTRIBUTES;
  for (const key of Object.keys(table)) {
    if (known.includes(key)) continue;
    problems.unknown(
      [name, key],
      `op "${name}": unknown attribute "${key}"${didYouMean(key, OP_ATTRIBUTES)}`,
    );
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : { [key]: value } as Record<K, V>;
}

/** Canonical phase names by every name a Gage file may use for them. */
const PHASE_KEYS: ReadonlyMap<string, PhaseName> = new Map(
  PHASES.flatMap((p): [string, PhaseName][] =>
    p.alias ? [[p.name, p.name], [p.alias, p.name]] : [[p.name, p.name]]
  ),
);

function validPhaseKeys(): string {
  return PHASES.map((p) => p.alias ? `${p.name} (or ${p.alias})` : p.name).join(", ");
}

function readExec(
  where: string,
  at: KeyPath,
  value: unknown,
  problems: Problems,
): OpDef["exec"] {
  if (value === undefined) return {};
  if (typeof value === "string" || Array.isArray(value)) {
    const run = problems.attempt(at, () => readCommand(where, "exec", value));
    return run === undefined ? {} : { run };
  }
  if (!isTable(value)) {
    problems.error(
      at,
      attributeError(where, "exec", "a string, a list of strings or a table of phases", value)
        .message,
    );
    return {};
  }
  const exec: OpDef["exec"] = {};
  const keyUsed: Partial<Record<PhaseName, string>> = {};
  for (const [key, command] of Object.entries(value)) {
    const phase = PHASE_KEYS.get(key);
    if (phase === undefined) {
      problems.error(
        [...at, key],
        `${where}: unknown phase "${key}" in attribute "exec"${
          didYouMean(key, [...PHASE_KEYS.keys()])
        }; valid phases are: ${validPhaseKeys()}`,
      );
      continue;
    }
    // A phase and its alias in one table would otherwise silently drop a command.
    if (keyUsed[phase] !== undefined) {
      problems.error(
        [...at, key],
        `${where}: attribute "exec" names phase ${phase} twice ("${keyUsed[phase]}" and ` +
          `"${key}"); keep one`,
      );
      continue;
    }
    keyUsed[phase] = key;
    const read = problems.attempt([...at, key], () => readCommand(where, `exec.${key}`, command));
    if (read !== undefined) exec[phase] = read;
  }
  return exec;
}

function readCommand(where: string, attr: string, value: unknown): ExecCommand {
  if (typeof value === "string") return value;
  if (isStringList(value)) {
    if (value.length === 0) {
      throw new RunstageError(
        `${where}: attribute "${attr}" is an empty list; give the command and its arguments`,
      );
    }
    return value;
  }
  const expected = attr === "exec"
    ? "a string, a list of strings or a table of phases"
    : "a string or a list of strings";
  throw attributeError(where, attr, expected, value);
}

function readSourcecode(where: string, value: unknown): SourcecodeSpec {
  if (value === undefined || typeof value === "string" || typeof value === "boolean") {
    return value;
  }
  if (isStringList(value)) return value;
  throw attributeError(where, "sourcecode", "a string, a list of strings or true/false", value);
}

function readEnv(
  where: string,
  at: KeyPath,
  value: unknown,
  problems: Problems,
): Record<string, string> {
  if (value === undefined) return {};
  if (!isTable(value)) {
    problems.error(at, attributeError(where, "env", "a table of variables", value).message);
    return {};
  }
  const env: Record<string, string> = {};
  for (const [name, setting] of Object.entries(value)) {
    // Environment values are strings; TOML authors write `EPOCHS = 10` and mean "10".
    if (["string", "number", "boolean"].includes(typeof setting)) {
      env[name] = String(setting);
    } else {
      const expected = "a string, number or boolean";
      problems.error(
        [...at, name],
        attributeError(where, `env.${name}`, expected, setting).message,
      );
    }
  }
  return env;
}

const CONFIG_EXPECTED = "an entry, a list of entries or a table with keys";

/**
 * `config`: entries `[-]GLOB[#KEYPATTERN]` as a string or a list, or Gage's
 * `{ keys = ENTRIES, description = "..." }` tables. Consecutive strings of a
 * list form one group; each table is a group of its own.
 */
function readConfig(where: string, value: unknown): ConfigGroup[] | undefined {
  if (value === undefined) return undefined;
  const items = Array.isArray(value) ? value : [value];
  const groups: ConfigGroup[] = [];
  let loose: string[] | undefined;
  for (const item of items) {
    if (typeof item === "string") {
      if (loose === undefined) {
        loose = [];
        groups.push({ keys: loose });
      }
      loose.push(checkConfigEntry(where, "config", item));
    } else if (isTable(item)) {
      loose = undefined;
      groups.push(readConfigTable(where, item));
    } else if (Array.isArray(value)) {
      // A list may hold tables, so "list with a table item" would not say what is wrong.
      throw new RunstageError(
        `${where}: attribute "config" must be ${CONFIG_EXPECTED} (got list with a ` +
          `${typeName(item)} item)`,
      );
    } else throw attributeError(where, "config", CONFIG_EXPECTED, item);
  }
  return groups;
}

function readConfigTable(where: string, table: Table): ConfigGroup {
  const unknown = Object.keys(table).find((key) => key !== "keys" && key !== "description");
  if (unknown !== undefined) {
    throw new RunstageError(
      `${where}: attribute "config" has unknown key "${unknown}" in a table; ` +
        `a config table takes keys and description`,
    );
  }
  const keys = typeof table.keys === "string" ? [table.keys] : table.keys;
  if (!isStringList(keys)) {
    throw attributeError(where, "config.keys", "an entry or a list of entries", table.keys);
  }
  return {
    keys: keys.map((entry) => checkConfigEntry(where, "config.keys", entry)),
    ...optional("description", readOptionalString(where, "config.description", table.description)),
  };
}

function checkConfigEntry(where: string, attr: string, entry: string): string {
  try {
    parseConfigEntry(entry);
  } catch (err) {
    if (err instanceof RunstageError) {
      throw new RunstageError(`${where}: attribute "${attr}": ${err.message}`);
    }
    throw err;
  }
  return entry;
}

function readFreeFlags(where: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw attributeError(where, "free-flags", "true or false", value);
}

function readSource(where: string, value: unknown): string | undefined {
  if (value === undefined || (typeof value === "string" && isSourceOrigin(value))) return value;
  // The type alone ("got string") would not say which spelling was wrong.
  const got = typeof value === "string" ? JSON.stringify(value) : describeValue(value);
  throw new RunstageError(
    `${where}: attribute "source" must be worktree, auto or git:REF (got ${got})`,
  );
}

/** `path-map`: a table of project paths to run-dir paths, in any of the three formats. */
function readPathMap(where: string, value: unknown): PathMap | undefined {
  if (value === undefined) return undefined;
  if (!isTable(value)) {
    throw attributeError(where, "path-map", "a table of project paths to run-dir paths", value);
  }
  const table: Record<string, string> = {};
  for (const [key, to] of Object.entries(value)) {
    if (typeof to !== "string") {
      // TOML reads an unquoted `src.app = "x"` as a nested table.
      const nested = isTable(to) ? Object.keys(to)[0] : undefined;
      const fix = nested === undefined
        ? ""
        : `; quote keys that hold dots, as in ${JSON.stringify(`${key}.${nested}`)} = "..."`;
      throw new RunstageError(
        `${where}: attribute "path-map": ${JSON.stringify(key)} must map to a run-dir path ` +
          `string (got ${describeValue(to)})${fix}`,
      );
    }
    table[key] = to;
  }
  return parsePathMap(where, table);
}

/**
 * `summary`, as Gage has it: the run-dir file the op writes its summary to,
 * JSON or TOML by its extension. Checked here, so a typo fails before a run is
 * written, not as a run without metrics.
 */
function readSummaryFile(where: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const expected = "a relative path in the run dir ending in .json or .toml";
  if (typeof value !== "string") throw attributeError(where, "summary", expected, value);
  const segments = value.split(/[\\/]/);
  if (
    !/\.(json|toml)$/i.test(value) || /^([\\/]|[A-Za-z]:)/.test(value) ||
    segments.includes("..") || /\p{Cc}/u.test(value)
  ) {
    throw new RunstageError(
      `${where}: attribute "summary" must be ${expected} (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}
