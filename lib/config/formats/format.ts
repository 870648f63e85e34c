/**
 * What every config file format module (lib/configfile_*.ts) provides to
 * lib/config/config.ts: the file's flag values by flat dotted key, each with the span
 * of source text that holds it, and a way to write a new value there.
 *
 * Editing by span is how comments and layout survive: only the characters of a
 * changed value are replaced, every other byte of the file stays as it was.
 */

/** A flag value: what a config file's scalar leaf holds and what a flag can say. */
export type FlagValue = string | number | boolean | null;

export type ConfigFormatName = "JSON" | "YAML" | "TOML" | "Python";

/** One scalar leaf of a config file: a flag and where its value is written. */
export interface ConfigLeaf {
  /** Flat dotted key: `model.lr`. */
  key: string;
  value: FlagValue;
  /** Offsets of the value's source text: `text.slice(start, end)` is `0.1`, `"a"`, `True`. */
  start: number;
  end: number;
}

/** A parsed config file. */
export interface ConfigSource {
  /** Scalar leaves in file order; a key appears once. */
  leaves: ConfigLeaf[];
  /** Source text that writes `value` in place of `leaf`'s, read back as exactly `value`. */
  render(leaf: ConfigLeaf, value: FlagValue): string;
}

export interface ConfigFormat {
  name: ConfigFormatName;
  /** Parses `text`; throws FileSyntaxError when it is not valid in this format. */
  read(text: string): ConfigSource;
}

/** A config file that does not parse; lib/config/config.ts adds the path. */
export class FileSyntaxError extends Error {
  constructor(readonly reason: string, readonly line?: number, readonly column?: number) {
    super(reason);
    this.name = "FileSyntaxError";
  }
}

/** Whether a value is a flag value: null, a string, a boolean or a finite number. */
export function isFlagValue(value: unknown): value is FlagValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  return typeof value === "number" && Number.isFinite(value);
}

/**
 * Whether a parsed value, written as `source` in its file, can be a flag.
 * Besides infinities and NaN, an integer literal beyond 2^53 is not: as a JS
 * number (and in config.json) its digits would change. A float is a float.
 */
export function isFlagLiteral(value: unknown, source: string): value is FlagValue {
  if (!isFlagValue(value)) return false;
  if (typeof value !== "number" || Number.isSafeInteger(value)) return true;
  return !/^[-+]?(?:0[xXoObB][0-9a-fA-F_]+|[0-9_]+)$/.test(source.trim());
}

/**
 * A number as source text that JSON, YAML, TOML and Python all read back as the
 * same number: integers as integers (`1`), other numbers with a `.` or an
 * exponent (`0.1`, `1e-7`). Integral numbers too big for exact integers are
 * written with an exponent so they stay floats.
 */
export function formatNumber(n: number): string {
  if (Object.is(n, -0)) return "0";
  if (Number.isInteger(n) && !Number.isSafeInteger(n)) return n.toExponential();
  return String(n);
}

/** 1-based line and column of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return { line, column };
}

/** A key segment that a flat dotted key can name: `a.b` as one segment cannot. */
export function isKeySegment(name: string): boolean {
  return name !== "" && !name.includes(".") && !name.includes("=");
}

/**
 * Keeps the last leaf of each key, in file order of those last leaves. Formats
 * that allow a key twice (JSON, Python) read the last one, and so do we.
 */
export function lastLeafPerKey(leaves: ConfigLeaf[]): ConfigLeaf[] {
  const byKey = new Map<string, ConfigLeaf>();
  for (const leaf of leaves) {
    byKey.delete(leaf.key);
    byKey.set(leaf.key, leaf);
  }
  return [...byKey.values()].sort((a, b) => a.start - b.start);
}
