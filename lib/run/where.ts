/**
 * `--where EXPR`: which runs a command acts on, said by their values
 * (`lr<0.15 and not label~draft`). Pure: a tokenizer and a recursive-descent
 * parser into a predicate over a run's values, with no file access, so the
 * grammar is tested on its own and the caller decides what a run's values cost
 * to read. docs/compare.md documents the language.
 *
 *     expr       = and ("or" and)*
 *     and        = unary ("and" unary)*
 *     unary      = "not" unary | "(" expr ")" | comparison
 *     comparison = NAME OP VALUE      OP: = == != < <= > >= ~ !~
 *
 * A bare NAME is the run's flag of that name, else its metric, else its
 * attribute (id, name, op, status, label); `config.NAME`, `metric.NAME` and
 * `run.NAME` pick one. A run without the value matches no comparison.
 */
import { UsageError } from "../errors.ts";

export type WhereValue = string | number | boolean | null;

/** A run's values as an expression reads them; each undefined when the run has none. */
export interface WhereSubject {
  flag(name: string): WhereValue | undefined;
  metric(name: string): WhereValue | undefined;
  attribute(name: string): WhereValue | undefined;
}

export type WherePredicate = (subject: WhereSubject) => boolean;

/** The attributes a bare or `run.` name can be. */
export const WHERE_ATTRIBUTES = ["id", "name", "op", "status", "label"] as const;

const OPERATORS = ["==", "!=", "<=", ">=", "!~", "=", "<", ">", "~"] as const;
type Operator = (typeof OPERATORS)[number];

interface Token {
  kind: "word" | "string" | "op" | "(" | ")" | "end";
  text: string;
  /** 1-based column of the token's first character. */
  column: number;
}

/** What a bare word may hold: a name (`config.model.lr`) or a value (`1e-3`, `train-2`). */
const WORD = /[^\s()=!<>~'"]+/y;

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const column = i + 1;
    if (c === "(" || c === ")") {
      tokens.push({ kind: c, text: c, column });
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      const end = source.indexOf(c, i + 1);
      if (end < 0) throw whereError(source, column, `the quote ${c} is never closed`);
      tokens.push({ kind: "string", text: source.slice(i + 1, end), column });
      i = end + 1;
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (op !== undefined) {
      tokens.push({ kind: "op", text: op, column });
      i += op.length;
      continue;
    }
    WORD.lastIndex = i;
    const word = WORD.exec(source);
    if (word === null) throw whereError(source, column, `unexpected "${c}"`);
    tokens.push({ kind: "word", text: word[0], column });
    i += word[0].length;
  }
  tokens.push({ kind: "end", text: "", column: source.length + 1 });
  return tokens;
}

/** Parses EXPR into a predicate; a malformed one is a UsageError naming its column. */
export function parseWhere(source: string): WherePredicate {
  const tokens = tokenize(source);
  let at = 0;
  const peek = () => tokens[at];
  const isKeyword = (t: Token, word: string) => t.kind === "word" && t.text.toLowerCase() === word;
  const fail = (t: Token, what: string): never => {
    const found = t.kind === "end" ? "the end" : `"${t.text}"`;
    throw whereError(source, t.column, `expected ${what}, found ${found}`);
  };

  function expr(): WherePredicate {
    const parts = [and()];
    while (isKeyword(peek(), "or")) {
      at++;
      parts.push(and());
    }
    return parts.length === 1 ? parts[0] : (s) => parts.some((p) => p(s));
  }
  function and(): WherePredicate {
    const parts = [unary()];
    while (isKeyword(peek(), "and")) {
      at++;
      parts.push(unary());
    }
    return parts.length === 1 ? parts[0] : (s) => parts.every((p) => p(s));
  }
  function unary(): WherePredicate {
    const t = peek();
    if (isKeyword(t, "not")) {
      at++;
      const inner = unary();
      return (s) => !inner(s);
    }
    if (t.kind === "(") {
      at++;
      const inner = expr();
      if (peek().kind !== ")") fail(peek(), `")" to close the "(" at column ${t.column}`);
      at++;
      return inner;
    }
    return comparison();
  }
  function comparison(): WherePredicate {
    const name = peek();
    if (name.kind !== "word" || ["and", "or", "not"].includes(name.text.toLowerCase())) {
      return fail(name, "a name (a flag, metric or attribute, like lr or status)");
    }
    at++;
    const op = peek();
    if (op.kind !== "op") return fail(op, `an operator after "${name.text}" (= != < <= > >= ~ !~)`);
    at++;
    const value = peek();
    if (value.kind !== "word" && value.kind !== "string") {
      return fail(value, `a value after "${name.text}${op.text}"`);
    }
    at++;
    return compare(valueOf(name.text), op.text as Operator, value);
  }

  const predicate = expr();
  if (peek().kind !== "end") fail(peek(), `"and", "or" or the end`);
  return predicate;
}

/**
 * How a name reads its value from a run: the explicit prefixes, else flag,
 * metric, attribute. `compare --sort` names its keys the same way.
 */
export function valueOf(name: string): (s: WhereSubject) => WhereValue | undefined {
  const dot = name.indexOf(".");
  const [prefix, rest] = dot < 0 ? ["", name] : [name.slice(0, dot), name.slice(dot + 1)];
  if (prefix === "config") return (s) => s.flag(rest);
  if (prefix === "metric") return (s) => s.metric(rest);
  if (prefix === "run") return (s) => s.attribute(rest);
  return (s) => {
    const flag = s.flag(name);
    if (flag !== undefined) return flag;
    const metric = s.metric(name);
    return metric !== undefined ? metric : s.attribute(name);
  };
}

/**
 * Numbers compare as numbers when both sides are numbers; anything else as
 * text (`true`, `null` as written). `~` is contains, ignoring case.
 */
function compare(
  read: (s: WhereSubject) => WhereValue | undefined,
  op: Operator,
  literal: Token,
): WherePredicate {
  const text = literal.text;
  const number = literal.kind === "word" && isNumber(text) ? Number(text) : undefined;
  const lowered = text.toLowerCase();
  return (s) => {
    const value = read(s);
    if (value === undefined) return false;
    if (op === "~") return String(value).toLowerCase().includes(lowered);
    if (op === "!~") return !String(value).toLowerCase().includes(lowered);
    const order = number !== undefined && typeof value === "number"
      ? value - number
      : String(value) < text
      ? -1
      : String(value) > text
      ? 1
      : 0;
    switch (op) {
      case "=":
      case "==":
        return order === 0;
      case "!=":
        return order !== 0;
      case "<":
        return order < 0;
      case "<=":
        return order <= 0;
      case ">":
        return order > 0;
      case ">=":
        return order >= 0;
    }
  };
}

function isNumber(text: string): boolean {
  return text.trim() !== "" && Number.isFinite(Number(text));
}

function whereError(source: string, column: number, what: string): UsageError {
  const fragment = source.slice(column - 1, column + 11);
  const near = fragment === "" ? "at the end" : `at "${fragment}"`;
  return new UsageError(
    `bad --where "${source}": column ${column} (${near}): ${what}; see docs/compare.md`,
  );
}

/** One key of a sort by values (`--sort -loss,lr`): how to read it, and which way. */
export interface SortKey<T> {
  read: (item: T) => WhereValue | undefined;
  descending: boolean;
}

/**
 * Sorts by the keys in turn, stably: numbers by value and before text, text as
 * text, an item without the value last in either direction, and items equal
 * on every key in their order. `compare --sort` and the board sort this way.
 */
export function sortByValues<T>(items: readonly T[], keys: readonly SortKey<T>[]): T[] {
  const values = new Map(items.map((item) => [item, keys.map((k) => k.read(item))]));
  return [...items].sort((a, b) => {
    for (const [i, key] of keys.entries()) {
      const x = values.get(a)![i];
      const y = values.get(b)![i];
      if (x === undefined || y === undefined) {
        if (x !== y) return x === undefined ? 1 : -1;
        continue;
      }
      const order = compareValues(x, y);
      if (order !== 0) return key.descending ? -order : order;
    }
    return 0;
  });
}

function compareValues(x: WhereValue, y: WhereValue): number {
  if (typeof x === "number" && typeof y === "number") return x - y;
  if (typeof x === "number") return -1;
  if (typeof y === "number") return 1;
  return String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0;
}
