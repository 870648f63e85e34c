/**
 * TOML config files, read with toml-eslint-parser: a complete TOML parser that
 * gives every key and value its source range, so a new value replaces only the
 * old value's characters. Comments, key order, tables and formatting stay.
 *
 * Keys: `[table]` headers, dotted keys (`model.lr = 0.1`) and inline tables
 * (`opt = { beta = 0.9 }`) all make dotted paths. Left out: arrays, arrays of
 * tables (`[[runs]]`) and all inside them, dates and times, `inf` and `nan`, and
 * quoted key parts holding a `.`.
 *
 * Writing: TOML has no null, so a null flag for a TOML key is an error. A string
 * keeps literal quotes (`'...'`) when it can; otherwise it is a basic string
 * (`"..."`), one line, escaped.
 */
import {
  type AST,
  getStaticTOMLValue,
  ParseError as TomlParseError,
  parseTOML,
} from "toml-eslint-parser";
import {
  type ConfigFormat,
  type ConfigLeaf,
  type ConfigSource,
  FileSyntaxError,
  type FlagValue,
  formatNumber,
  isFlagLiteral,
  isKeySegment,
} from "./format.ts";

interface TomlLeaf extends ConfigLeaf {
  literalString: boolean;
}

export const TOML_FORMAT: ConfigFormat = {
  name: "TOML",
  read(text: string): ConfigSource {
    const leaves: TomlLeaf[] = [];
    for (const item of parse(text).body[0].body) {
      if (item.type === "TOMLKeyValue") collectKeyValue(item, [], leaves);
      // A table whose path holds an index is, or is inside, an array of tables.
      else if (item.resolvedKey.every((part) => typeof part === "string")) {
        for (const kv of item.body) collectKeyValue(kv, item.resolvedKey as string[], leaves);
      }
    }
    return { leaves, render: (leaf, value) => renderToml(leaf as TomlLeaf, value) };
  },
};

function parse(text: string): AST.TOMLProgram {
  try {
    return parseTOML(text);
  } catch (err) {
    if (err instanceof TomlParseError) {
      // Its column counts from 0.
      throw new FileSyntaxError(err.message, err.lineNumber, err.column + 1);
    }
    throw err;
  }
}

function collectKeyValue(kv: AST.TOMLKeyValue, prefix: string[], leaves: TomlLeaf[]): void {
  const path = [...prefix, ...getStaticTOMLValue(kv.key)];
  if (!path.every(isKeySegment)) return;
  const value = kv.value;
  if (value.type === "TOMLInlineTable") {
    for (const inner of value.body) collectKeyValue(inner, path, leaves);
  } else if (
    value.type === "TOMLValue" && isScalarKind(value) &&
    isFlagLiteral(value.value, value.kind === "integer" ? value.number : "")
  ) {
    leaves.push({
      key: path.join("."),
      value: value.value,
      start: value.range[0],
      end: value.range[1],
      literalString: value.kind === "string" && value.style === "literal",
    });
  }
}

function isScalarKind(
  value: AST.TOMLValue,
): value is AST.TOMLStringValue | AST.TOMLNumberValue | AST.TOMLBooleanValue {
  return ["string", "integer", "float", "boolean"].includes(value.kind);
}

function renderToml(leaf: TomlLeaf, value: FlagValue): string {
  if (typeof value === "string") {
    // A literal string has no escapes: it holds anything but `'` and controls other than tab.
    const literal = !value.includes("'") && !/\p{Cc}/u.test(value.replaceAll("\t", ""));
    if (leaf.literalString && literal) return `'${value}'`;
    return basicString(value);
  }
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "boolean") return String(value);
  // resolveConfig refuses a null flag for a TOML key before anything is written.
  throw new Error("TOML has no null");
}

/** JSON's string escapes are TOML's, except DEL, which TOML wants escaped too. */
function basicString(value: string): string {
  return JSON.stringify(value).replaceAll("\x7f", "\\u007F");
}
