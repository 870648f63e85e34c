/**
 * Gage file text to a document: TOML, YAML or JSON by the file's extension, a
 * leading BOM dropped, whole-line `//` comments allowed in JSON. Each parser's
 * error becomes one line, `FILE:LINE:COL: invalid FORMAT: reason; fix the
 * syntax and run again`, whatever the parser (or the runtime: V8 and
 * JavaScriptCore word JSON errors differently). Split from parse.ts, which
 * reads ops out of the document: this module knows formats, not ops.
 *
 * Also refused here, before anything reads the document: nesting deeper than
 * MAX_NESTING (nesting.ts), and in JSON a key written twice in one object, as
 * TOML and YAML refuse it.
 */
import { extname } from "node:path";
import { type ParseError, parseTree } from "jsonc-parser";
import { MAX_NESTING, nestsTooDeep, tooDeepBrackets } from "./nesting.ts";
import {
  duplicateJsonKey,
  type Format,
  jsonTree,
  type KeyPositions,
  locateKey,
  offsetPosition,
  type Position,
} from "./positions.ts";
import { parse as parseToml, TomlError } from "smol-toml";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { isTable, type Table, typeName } from "./attributes.ts";
import { RunstageError } from "../errors.ts";

function formatOf(path: string): Format {
  const ext = extname(path).toLowerCase();
  if (ext === ".toml") return "TOML";
  if (ext === ".yaml" || ext === ".yml") return "YAML";
  if (ext === ".json") return "JSON";
  throw new RunstageError(
    `${path}: unknown Gage file format "${ext}"; name it gage.toml, gage.yaml or gage.json`,
  );
}

// Editors on Windows like to start UTF-8 files with a BOM, which no parser here accepts.
function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The top-level table of a Gage file; `path` picks the format and names the file in errors. */
export function parseDocument(path: string, fileText: string): Table {
  return readDocument(path, fileText).doc;
}

/** A Gage file's document, and where each of its keys is written. */
export interface GageDocument {
  doc: Table;
  locate: KeyPositions;
}

/** The document of a Gage file with a way to find its keys; throws on a syntax error. */
export function readDocument(path: string, fileText: string): GageDocument {
  const format = formatOf(path);
  // JSON's comments are blanked for every reader, keeping lines and columns.
  const text = format === "JSON" ? blankJsonComments(stripBom(fileText)) : stripBom(fileText);
  const deep = tooDeepBrackets(text, format);
  if (deep !== undefined) throw nestingError(path, deep);
  const doc = format === "TOML"
    ? parseTomlText(path, text)
    : format === "YAML"
    ? parseYamlText(path, text)
    : parseJsonText(path, text);
  if (nestsTooDeep(doc)) throw nestingError(path);
  // An empty or all-comment YAML file is null: read it like an empty TOML file, no ops.
  if (doc === null && format === "YAML") return { doc: {}, locate: () => undefined };
  if (!isTable(doc)) {
    throw new RunstageError(
      `${path}: the top level must be a table of ops (got ${typeName(doc)}); ` +
        `write each op as a named table`,
    );
  }
  return { doc, locate: locateKey(format, text) };
}

function nestingError(path: string, at?: Position): RunstageError {
  const where = at === undefined ? path : `${path}:${at.line}:${at.column}`;
  return new RunstageError(
    `${where}: nested deeper than ${MAX_NESTING} levels; a Gage file needs only a few: flatten it`,
  );
}

/** A parser's own stack overflow, on nesting the checks before it did not see. */
function isStackOverflow(err: unknown): boolean {
  // yaml reports its own overflow as a parse error, with where it happened.
  return (err instanceof RangeError || err instanceof YAMLParseError) &&
    /maximum call stack/i.test(err.message);
}

function parseTomlText(path: string, text: string): unknown {
  try {
    return parseToml(text);
  } catch (err) {
    if (isStackOverflow(err)) throw nestingError(path);
    if (err instanceof TomlError) {
      const reason = firstLine(err.message).replace(/^Invalid TOML document:\s*/, "");
      throw syntaxError(path, "TOML", reason, err.line, err.column);
    }
    throw syntaxError(path, "TOML", errorReason(err));
  }
}

function parseYamlText(path: string, text: string): unknown {
  try {
    // Merge keys (`<<: *base`) are how YAML Gage files share attributes between ops.
    return parseYaml(text, { merge: true });
  } catch (err) {
    if (isStackOverflow(err)) {
      const at = err instanceof YAMLParseError ? err.linePos?.[0] : undefined;
      throw nestingError(path, at && { line: at.line, column: at.col });
    }
    if (err instanceof YAMLParseError && err.linePos) {
      const reason = firstLine(err.message).replace(/ at line \d+, column \d+:?$/, "");
      throw syntaxError(path, "YAML", reason, err.linePos[0].line, err.linePos[0].col);
    }
    // Not all of yaml's errors are YAMLParseErrors (an unresolved alias is a ReferenceError).
    throw syntaxError(path, "YAML", errorReason(err));
  }
}

function parseJsonText(path: string, json: string): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    if (isStackOverflow(err)) throw nestingError(path);
    const message = errorReason(err);
    // V8 says "at position N"; JavaScriptCore (a bun-built binary) gives no position.
    const offset = /at position (\d+)/.exec(message)?.[1] ?? firstJsonErrorOffset(json);
    // V8 quotes the whole document in some messages; keep only the reason.
    const reason = message
      .replace(/ in JSON at position \d+.*$/s, "")
      .replace(/, (?:\.\.\.)?".*is not valid JSON$/s, "");
    if (offset === undefined) throw syntaxError(path, "JSON", firstLine(reason));
    const { line, column } = offsetPosition(json, Number(offset));
    throw syntaxError(path, "JSON", firstLine(reason), line, column);
  }
  // JSON.parse keeps the last of two equal keys; TOML and YAML refuse them, and so do we.
  const twice = duplicateJsonKey(jsonTree(json), json);
  if (twice !== undefined) {
    throw new RunstageError(
      `${path}:${twice.again.line}:${twice.again.column}: invalid JSON: key ` +
        `${JSON.stringify(twice.key)} is written twice in one object (first at line ` +
        `${twice.first.line}); keep one`,
    );
  }
  return doc;
}

/** Where a strict JSON parser first fails, by jsonc-parser (comments already blanked). */
function firstJsonErrorOffset(json: string): number | undefined {
  const errors: ParseError[] = [];
  parseTree(json, errors, { allowTrailingComma: false, disallowComments: true });
  return errors[0]?.offset;
}

/**
 * Blanks whole-line `//` comments, leaving the line breaks so parser positions
 * still point at the right line. A JSON string cannot span lines, so a line
 * starting with `//` is always a comment.
 */
function blankJsonComments(text: string): string {
  return text.split("\n").map((line) => /^\s*\/\//.test(line) ? "" : line).join("\n");
}

function syntaxError(
  path: string,
  format: Format,
  reason: string,
  line?: number,
  column?: number,
): RunstageError {
  const where = line !== undefined && column !== undefined ? `${path}:${line}:${column}` : path;
  return new RunstageError(
    `${where}: invalid ${format}: ${reason}; fix the syntax and run again`,
  );
}

function errorReason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// Parsers append a code frame after the first line; messages must stay on one line.
function firstLine(message: string): string {
  return message.split("\n")[0].trim();
}
