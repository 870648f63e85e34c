/**
 * Where a key of a Gage file is written: `line:column` (both from 1) of each key
 * path, read from a parse tree that keeps positions (toml-eslint-parser, yaml's
 * nodes with a LineCounter, jsonc-parser's offsets). The values themselves come
 * from syntax.ts; this is only asked when a problem is shown, so a run whose
 * Gage file is fine never builds it. Also the one check JSON.parse does not
 * make: a key written twice in one object.
 */
import { type Node as JsonNode, parseTree } from "jsonc-parser";
import { type AST, parseTOML } from "toml-eslint-parser";
import { isMap, isScalar, isSeq, LineCounter, type Node as YamlNode, parseDocument } from "yaml";
import type { KeyPath } from "./problems.ts";

export type Format = "TOML" | "YAML" | "JSON";

export interface Position {
  line: number;
  column: number;
}

/** Where a key path is written; see locateKey. */
export type KeyPositions = (at: KeyPath) => Position | undefined;

/** Positions by key path; the first place a path is written wins. */
type PositionMap = Map<string, Position>;

/**
 * Where `at` is written, else where the closest written parent of it is (a key
 * YAML merged in from elsewhere, say); undefined when not even the top key is.
 */
export function locateKey(format: Format, text: string): KeyPositions {
  let positions: PositionMap | undefined;
  return (at) => {
    positions ??= buildPositions(format, text);
    for (let n = at.length; n > 0; n--) {
      const found = positions.get(pathKey(at.slice(0, n)));
      if (found !== undefined) return found;
    }
    return undefined;
  };
}

function buildPositions(format: Format, text: string): PositionMap {
  const positions: PositionMap = new Map();
  try {
    if (format === "TOML") tomlPositions(text, positions);
    else if (format === "YAML") yamlPositions(text, positions);
    else jsonPositions(jsonTree(text), text, [], positions);
  } catch {
    // The text parsed once already; a second parser's quarrel with it only costs positions.
  }
  return positions;
}

function pathKey(at: KeyPath): string {
  return JSON.stringify(at);
}

function record(positions: PositionMap, at: KeyPath, position: Position): void {
  const key = pathKey(at);
  if (!positions.has(key)) positions.set(key, position);
}

// --- TOML ------------------------------------------------------------------------------

function tomlPositions(text: string, positions: PositionMap): void {
  for (const item of parseTOML(text).body[0].body) {
    if (item.type === "TOMLKeyValue") tomlKeyValue(item, [], positions);
    else {
      const at = item.resolvedKey;
      const start = tomlStart(item.key);
      for (let n = 1; n <= at.length; n++) record(positions, at.slice(0, n), start);
      for (const kv of item.body) tomlKeyValue(kv, at, positions);
    }
  }
}

function tomlKeyValue(kv: AST.TOMLKeyValue, parent: KeyPath, positions: PositionMap): void {
  const names = kv.key.keys.map((k) => k.type === "TOMLBare" ? k.name : k.value);
  for (let n = 1; n <= names.length; n++) {
    record(positions, [...parent, ...names.slice(0, n)], tomlStart(kv.key.keys[n - 1]));
  }
  tomlValue(kv.value, [...parent, ...names], positions);
}

function tomlValue(node: AST.TOMLContentNode, at: KeyPath, positions: PositionMap): void {
  if (node.type === "TOMLInlineTable") {
    for (const kv of node.body) tomlKeyValue(kv, at, positions);
  } else if (node.type === "TOMLArray") {
    node.elements.forEach((element, i) => {
      record(positions, [...at, i], tomlStart(element));
      tomlValue(element, [...at, i], positions);
    });
  }
}

function tomlStart(node: AST.TOMLNode): Position {
  // toml-eslint-parser counts columns from 0.
  return { line: node.loc.start.line, column: node.loc.start.column + 1 };
}

// --- YAML ------------------------------------------------------------------------------

function yamlPositions(text: string, positions: PositionMap): void {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, merge: true });
  const at = (offset: number): Position => {
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  const walk = (node: YamlNode | null | undefined, path: KeyPath) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isScalar(pair.key) || pair.key.range == null) continue;
        const key = [...path, String(pair.key.value)];
        record(positions, key, at(pair.key.range[0]));
        walk(pair.value as YamlNode | null, key);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const range = (item as YamlNode | null)?.range;
        if (range) record(positions, [...path, i], at(range[0]));
        walk(item as YamlNode | null, [...path, i]);
      });
    }
  };
  walk(doc.contents as YamlNode | null, []);
}

// --- JSON ------------------------------------------------------------------------------

/** jsonc-parser's tree of (comment-blanked) JSON text. */
export function jsonTree(json: string): JsonNode | undefined {
  return parseTree(json, [], { allowTrailingComma: false, disallowComments: true });
}

function jsonPositions(
  node: JsonNode | undefined,
  text: string,
  path: KeyPath,
  positions: PositionMap,
): void {
  for (const [i, child] of (node?.children ?? []).entries()) {
    if (node!.type === "object") {
      const [key, value] = child.children ?? [];
      if (key === undefined) continue;
      const at = [...path, String(key.value)];
      record(positions, at, offsetPosition(text, key.offset));
      jsonPositions(value, text, at, positions);
    } else if (node!.type === "array") {
      record(positions, [...path, i], offsetPosition(text, child.offset));
      jsonPositions(child, text, [...path, i], positions);
    }
  }
}

/** The first key written twice in one object, with where it is written the second time. */
export function duplicateJsonKey(
  node: JsonNode | undefined,
  text: string,
): { key: string; first: Position; again: Position } | undefined {
  const pending = node ? [node] : [];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const seen = new Map<string, number>();
    for (const child of next.children ?? []) {
      const [key, value] = next.type === "object" ? child.children ?? [] : [undefined, child];
      if (key !== undefined) {
        const name = String(key.value);
        const first = seen.get(name);
        if (first !== undefined) {
          return {
            key: name,
            first: offsetPosition(text, first),
            again: offsetPosition(text, key.offset),
          };
        }
        seen.set(name, key.offset);
      }
      if (value !== undefined) pending.push(value);
    }
  }
  return undefined;
}

/** Line and column (both from 1) of a UTF-16 offset. */
export function offsetPosition(text: string, offset: number): Position {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}
