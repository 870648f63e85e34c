/**
 * YAML config files (`.yaml`, `.yml`), read with `yaml`'s Document API, whose
 * nodes know their source range. A new value replaces only the old scalar's
 * characters, so comments, blank lines, indentation, anchors and the quoting of
 * every other value stay as written.
 *
 * Keys: mapping keys that are strings, by dotted path, through block and flow
 * mappings. Left out: sequences (and all inside them), merge keys (`<<`),
 * aliases (`*name`: the anchored value is the flag, and aliases follow it),
 * scalars with an explicit tag (`!!str 12`: the tag would stay and misread a new
 * value), and values that are not flag values (YAML 1.1 timestamps, `.inf`). A
 * file holding more than one document is an error.
 *
 * Writing: a string keeps the old scalar's quoting when it was quoted, and is
 * written plain when YAML reads that plain text back as the same string (in a
 * flow collection, plain text holding `,[]{}` is quoted); else double-quoted.
 * A block scalar (`|`, `>`) becomes a one-line flow scalar.
 */
import {
  isMap,
  isScalar,
  type Node,
  parseDocument,
  type Scalar,
  stringify,
  YAMLParseError,
} from "yaml";
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

interface YamlLeaf extends ConfigLeaf {
  scalarType: Scalar["type"];
  inFlow: boolean;
  /** The line break a block scalar's span ends with ("\n" or "\r\n"), which must stay; "" if none. */
  lineEnd: string;
}

type YamlVersion = "1.1" | "1.2";

export const YAML_FORMAT: ConfigFormat = {
  name: "YAML",
  read(text: string): ConfigSource {
    const doc = parseDocument(text);
    const error = doc.errors[0];
    if (error) throw yamlSyntaxError(error);
    const version: YamlVersion = doc.directives?.yaml.version === "1.1" ? "1.1" : "1.2";
    const leaves: YamlLeaf[] = [];
    collectLeaves(doc.contents, [], false, text, leaves);
    return {
      leaves,
      render: (leaf, value) => renderYaml(leaf as YamlLeaf, value, version, text),
    };
  },
};

function collectLeaves(
  node: unknown,
  path: string[],
  inFlow: boolean,
  text: string,
  leaves: YamlLeaf[],
): void {
  if (!isMap(node)) return;
  const flow = inFlow || node.flow === true;
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof key !== "string" || key === "<<" || !isKeySegment(key)) continue;
    const value = pair.value as Node | null;
    const keyPath = [...path, key];
    if (isMap(value)) collectLeaves(value, keyPath, flow, text, leaves);
    // `key:` with nothing after it is a null scalar with an empty range: a flag too.
    else if (isScalar(value) && value.tag === undefined && value.range) {
      const [start, end] = value.range;
      if (!isFlagLiteral(value.value, text.slice(start, end))) continue;
      leaves.push({
        key: keyPath.join("."),
        value: value.value,
        start,
        end,
        scalarType: value.type,
        inFlow: flow,
        lineEnd: /\r?\n$/.exec(text.slice(start, end))?.[0] ?? "",
      });
    }
  }
}

function renderYaml(leaf: YamlLeaf, value: FlagValue, version: YamlVersion, text: string) {
  const source = typeof value === "string"
    ? renderString(value, leaf, version)
    : typeof value === "number"
    ? formatNumber(value)
    : String(value);
  // `key:` with no value has an empty span right after the colon: keep a space.
  const spaced = leaf.start === leaf.end && !/\s/.test(text[leaf.start - 1] ?? " ")
    ? " " + source
    : source;
  return spaced + leaf.lineEnd;
}

function renderString(value: string, leaf: YamlLeaf, version: YamlVersion): string {
  if (leaf.scalarType === "QUOTE_SINGLE" && isPrintableLine(value)) {
    return `'${value.replaceAll("'", "''")}'`;
  }
  if (leaf.scalarType !== "QUOTE_DOUBLE" && isPlainSafe(value, leaf.inFlow, version)) return value;
  return doubleQuoted(value);
}

/** Whether `value` written plain reads back as the same string. */
function isPlainSafe(value: string, inFlow: boolean, version: YamlVersion): boolean {
  if (inFlow && /[,[\]{}]/.test(value)) return false;
  // yaml writes a string plain only when its own parser reads it back as that string.
  const written = stringify(value, { version, lineWidth: 0, blockQuote: false });
  return written === value + "\n" && isPrintableLine(value);
}

/** Printable characters of YAML, no line breaks: safe in any quoting style. */
function isPrintableLine(value: string): boolean {
  return !/[\p{Cc}\u2028\u2029\ufeff\ufffe\uffff]/u.test(value);
}

/** A double-quoted scalar: JSON's escapes are YAML's, plus the non-printables JSON leaves raw. */
function doubleQuoted(value: string): string {
  return JSON.stringify(value).replace(
    /[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/g,
    (ch) => "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}

function yamlSyntaxError(error: YAMLParseError | Error): FileSyntaxError {
  const reason = error.message.split("\n")[0].trim().replace(/ at line \d+, column \d+:?$/, "");
  if (error instanceof YAMLParseError && error.linePos) {
    return new FileSyntaxError(reason, error.linePos[0].line, error.linePos[0].col);
  }
  return new FileSyntaxError(reason);
}
