/**
 * JSON config files. Read with jsonc-parser, which gives every value's offset
 * and length, so a new value replaces only the old value's characters:
 * indentation, key order and the rest of the file stay byte for byte. Like
 * editors' settings files, `//` and `/* *\/` comments and trailing commas are
 * accepted (and kept); runstage never adds either.
 *
 * Keys: object members by dotted path; a member whose name holds a `.` cannot be
 * named by a flag and is left out, as are arrays (and all inside them). A key
 * given twice reads as its last value, as JSON.parse reads it.
 */
import { type Node, type ParseError, parseTree, printParseErrorCode } from "jsonc-parser";
import {
  type ConfigFormat,
  type ConfigLeaf,
  type ConfigSource,
  FileSyntaxError,
  type FlagValue,
  formatNumber,
  isFlagLiteral,
  isKeySegment,
  lastLeafPerKey,
  lineColumn,
} from "./format.ts";

export const JSON_FORMAT: ConfigFormat = {
  name: "JSON",
  read(text: string): ConfigSource {
    const errors: ParseError[] = [];
    const root = parseTree(text, errors, {
      allowTrailingComma: true,
      disallowComments: false,
      allowEmptyContent: true,
    });
    if (errors.length > 0) throw jsonSyntaxError(text, errors[0]);
    const leaves: ConfigLeaf[] = [];
    const source = (node: Node) => text.slice(node.offset, node.offset + node.length);
    if (root?.type === "object") collectLeaves(root, [], leaves, source);
    return { leaves: lastLeafPerKey(leaves), render: (_leaf, value) => renderJson(value) };
  },
};

function collectLeaves(
  object: Node,
  path: string[],
  leaves: ConfigLeaf[],
  source: (node: Node) => string,
): void {
  for (const property of object.children ?? []) {
    const [keyNode, valueNode] = property.children ?? [];
    const name = keyNode?.value;
    if (valueNode === undefined || typeof name !== "string" || !isKeySegment(name)) continue;
    const keyPath = [...path, name];
    if (valueNode.type === "object") collectLeaves(valueNode, keyPath, leaves, source);
    else if (valueNode.type !== "array" && isFlagLiteral(valueNode.value, source(valueNode))) {
      leaves.push({
        key: keyPath.join("."),
        value: valueNode.value,
        start: valueNode.offset,
        end: valueNode.offset + valueNode.length,
      });
    }
  }
}

function renderJson(value: FlagValue): string {
  return typeof value === "number" ? formatNumber(value) : JSON.stringify(value);
}

/** `PropertyNameExpected` at an offset, as `property name expected` at line:column. */
function jsonSyntaxError(text: string, error: ParseError): FileSyntaxError {
  const code = printParseErrorCode(error.error);
  const reason = code.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  const { line, column } = lineColumn(text, error.offset);
  return new FileSyntaxError(reason, line, column);
}
