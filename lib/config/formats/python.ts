/**
 * Python modules as config files: module-level assignments of literals.
 *
 * Keys:
 * - `x = 1`, `name: str = "a"`: the name is the key, the literal its value.
 *   Literals are ints and floats (with an optional sign: `-1`, `1_000`, `0x1f`,
 *   `1e-3`), strings (`'a'`, `"a"`, triple-quoted, `r`/`u` prefixes), `True`,
 *   `False` and `None`.
 * - `params = {"lr": 0.1, "opt": {"beta": 0.9}}`: a dict display with string
 *   keys is a table: `params.lr`, `params.opt.beta`.
 * - Only statements that start at column 0 are module level (anything indented
 *   is inside a block); statements joined with `;` count one by one.
 * - The last module-level assignment to a name decides: `x = 1` then `x = f()`
 *   makes `x` no flag. Augmented assignments (`x += 1`) make it no flag too.
 *   Chained (`a = b = 1`) and tuple (`a, b = 1, 2`) assignments, f-strings,
 *   bytes, implicitly concatenated strings, complex numbers, lists and other
 *   expressions are not flags.
 *
 * Why not a Python grammar: a parser would still leave the decoding of literals
 * to us, and all we need to find statements is a tokenizer that knows strings
 * (f-strings with nested quotes included), comments, brackets and line
 * continuations. Unterminated strings and unbalanced brackets are syntax errors;
 * nothing else is checked, so a file Python itself rejects may still be read.
 *
 * Writing replaces the literal's characters only. A string keeps the old
 * literal's quote character (`'` or `"`), loses any prefix and is escaped as
 * Python's repr would; `True`/`False`/`None` for booleans and null.
 */
import {
  type ConfigFormat,
  type ConfigLeaf,
  type ConfigSource,
  FileSyntaxError,
  type FlagValue,
  formatNumber,
  isFlagLiteral,
  isKeySegment,
  lineColumn,
} from "./format.ts";

interface PythonLeaf extends ConfigLeaf {
  /** The quote character of the literal when it was a string. */
  quote?: "'" | '"';
}

export const PYTHON_FORMAT: ConfigFormat = {
  name: "Python",
  read(text: string): ConfigSource {
    const leaves = new Map<string, PythonLeaf>();
    for (const line of logicalLines(text)) {
      if (line.indented) continue;
      for (const statement of splitStatements(line.tokens)) {
        applyStatement(statement, leaves);
      }
    }
    return {
      leaves: [...leaves.values()].sort((a, b) => a.start - b.start),
      render: (leaf, value) => renderPython(leaf as PythonLeaf, value),
    };
  },
};

// --- Tokens ------------------------------------------------------------------------

type TokenKind = "name" | "number" | "string" | "op";

interface Token {
  kind: TokenKind;
  text: string;
  start: number;
  end: number;
}

interface LogicalLine {
  tokens: Token[];
  /** The first token does not start at column 0: the line is inside a block. */
  indented: boolean;
}

const NAME = /[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*/uy;
const NUMBER =
  /(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d[\d_]*)?)[jJ]?/y;
const OPERATOR =
  /\*\*=|\/\/=|>>=|<<=|->|:=|==|!=|<=|>=|\*\*|\/\/|<<|>>|[-+*/%@&|^]=|[-+*/%@&|^~<>=:;,.!]/y;
const STRING_PREFIX = /(?:[rRbBuUfFtT]{1,2})(?=['"])/y;
const VALID_PREFIXES = new Set(["r", "u", "b", "f", "t", "br", "rb", "fr", "rf", "tr", "rt"]);
const CLOSING: Record<string, string> = { ")": "(", "]": "[", "}": "{" };

/** Splits source into logical lines of tokens; comments and line breaks inside brackets go. */
function logicalLines(text: string): LogicalLine[] {
  const lines: LogicalLine[] = [];
  const brackets: { char: string; at: number }[] = [];
  let tokens: Token[] = [];
  let indented = false;
  let lineStart = 0;
  let pos = 0;
  const endLine = () => {
    if (tokens.length > 0) lines.push({ tokens, indented });
    tokens = [];
  };
  const push = (kind: TokenKind, end: number) => {
    if (tokens.length === 0) indented = pos > lineStart;
    tokens.push({ kind, text: text.slice(pos, end), start: pos, end });
    pos = end;
  };
  while (pos < text.length) {
    const ch = text[pos];
    if (ch === " " || ch === "\t" || ch === "\f") pos++;
    else if (ch === "\\" && /^\\\r?\n/.test(text.slice(pos, pos + 3))) {
      pos += text[pos + 1] === "\r" ? 3 : 2;
      lineStart = pos;
    } else if (ch === "#") {
      const eol = text.slice(pos).search(/[\r\n]/);
      pos = eol < 0 ? text.length : pos + eol;
    } else if (ch === "\n" || ch === "\r") {
      if (brackets.length === 0) endLine();
      pos += ch === "\r" && text[pos + 1] === "\n" ? 2 : 1;
      lineStart = pos;
    } else if (ch === "'" || ch === '"' || matchAt(STRING_PREFIX, text, pos)) {
      push("string", scanString(text, pos));
    } else if (matchAt(NAME, text, pos)) push("name", pos + matchAt(NAME, text, pos)!.length);
    else if (/[0-9]/.test(ch) || (ch === "." && /[0-9]/.test(text[pos + 1] ?? ""))) {
      push("number", pos + matchAt(NUMBER, text, pos)!.length);
    } else if ("([{".includes(ch)) {
      brackets.push({ char: ch, at: pos });
      push("op", pos + 1);
    } else if (")]}".includes(ch)) {
      const open = brackets.pop();
      if (open?.char !== CLOSING[ch]) throw syntaxError(text, pos, `unmatched '${ch}'`);
      push("op", pos + 1);
    } else {
      const op = matchAt(OPERATOR, text, pos);
      push("op", pos + (op?.length ?? 1));
    }
  }
  if (brackets.length > 0) {
    const open = brackets[brackets.length - 1];
    throw syntaxError(text, open.at, `'${open.char}' was never closed`);
  }
  endLine();
  return lines;
}

function matchAt(re: RegExp, text: string, pos: number): string | undefined {
  re.lastIndex = pos;
  return re.exec(text)?.[0];
}

/** The end offset of the string literal (prefix included) that starts at `start`. */
function scanString(text: string, start: number): number {
  const prefix = matchAt(STRING_PREFIX, text, start) ?? "";
  const formatted = /[fFtT]/.test(prefix);
  const quoteAt = start + prefix.length;
  const quote = text[quoteAt];
  const triple = text.startsWith(quote.repeat(3), quoteAt);
  const closing = triple ? quote.repeat(3) : quote;
  let i = quoteAt + closing.length;
  while (i < text.length) {
    const ch = text[i];
    if (text.startsWith(closing, i)) return i + closing.length;
    if (ch === "\\") i += 2;
    else if (!triple && (ch === "\n" || ch === "\r")) break;
    else if (formatted && ch === "{") i = text[i + 1] === "{" ? i + 2 : skipField(text, i + 1);
    else i++;
  }
  throw syntaxError(text, start, "unterminated string literal");
}

/** Skips an f-string replacement field, whose expression may hold strings of any quote. */
function skipField(text: string, start: number): number {
  let depth = 1;
  let i = start;
  while (i < text.length && depth > 0) {
    const ch = text[i];
    if (ch === "'" || ch === '"' || matchAt(STRING_PREFIX, text, i)) i = scanString(text, i);
    else {
      if ("([{".includes(ch)) depth++;
      else if (")]}".includes(ch)) depth--;
      i++;
    }
  }
  return i;
}

function syntaxError(text: string, offset: number, reason: string): FileSyntaxError {
  const { line, column } = lineColumn(text, offset);
  return new FileSyntaxError(reason, line, column);
}

// --- Statements ----------------------------------------------------------------------

const KEYWORDS = new Set(
  ("False None True and as assert async await break class continue def del elif else except " +
    "finally for from global if import in is lambda nonlocal not or pass raise return try " +
    "while with yield").split(" "),
);

function isOp(token: Token | undefined, text: string): boolean {
  return token?.kind === "op" && token.text === text;
}

function splitStatements(tokens: Token[]): Token[][] {
  const statements: Token[][] = [[]];
  for (const token of tokens) {
    if (isOp(token, ";")) statements.push([]);
    else statements[statements.length - 1].push(token);
  }
  return statements.filter((s) => s.length > 0);
}

/** Index of the first `=` outside brackets at or after `from`, or -1. */
function assignIndex(tokens: Token[], from: number): number {
  let depth = 0;
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== "op") continue;
    if ("([{".includes(t.text)) depth++;
    else if (")]}".includes(t.text)) depth--;
    else if (depth === 0 && t.text === "=") return i;
  }
  return -1;
}

/** Records what one module-level statement binds; rebinding a name drops its old keys. */
function applyStatement(tokens: Token[], leaves: Map<string, PythonLeaf>): void {
  const [target, next] = tokens;
  if (target.kind !== "name" || KEYWORDS.has(target.text)) return;
  let valueAt: number;
  if (isOp(next, "=")) valueAt = 2;
  else if (isOp(next, ":")) {
    const eq = assignIndex(tokens, 2);
    if (eq < 0) return; // `x: int` declares, binds nothing.
    valueAt = eq + 1;
  } else if (next?.kind === "op" && next.text.length > 1 && next.text.endsWith("=")) {
    valueAt = -1; // `x += 1`: its value is no longer a literal.
  } else return;
  const name = target.text;
  for (const key of leaves.keys()) {
    if (key === name || key.startsWith(name + ".")) leaves.delete(key);
  }
  // Chained `a = b = 1` binds the literal to two names: no flag can say which.
  if (valueAt < 0 || !isKeySegment(name) || assignIndex(tokens, valueAt) >= 0) return;
  const found: PythonLeaf[] = [];
  const end = readValue(tokens, valueAt, [name], found);
  if (end !== tokens.length) return;
  for (const leaf of found) {
    leaves.delete(leaf.key); // A dict key given twice: the last one counts.
    leaves.set(leaf.key, leaf);
  }
}

/**
 * Reads the literal or dict display at `tokens[i]`, adding its leaves under
 * `path`. Returns the index after it, or -1 when it is neither.
 */
function readValue(tokens: Token[], i: number, path: string[], found: PythonLeaf[]): number {
  if (isOp(tokens[i], "{")) return readDict(tokens, i, path, found);
  const literal = readLiteral(tokens, i);
  if (literal === undefined) return -1;
  found.push({ key: path.join("."), ...literal.leaf });
  return literal.next;
}

function readDict(tokens: Token[], open: number, path: string[], found: PythonLeaf[]): number {
  const entries: PythonLeaf[] = [];
  let i = open + 1;
  while (!isOp(tokens[i], "}")) {
    // `**other` may override any key before or after it: no key of this dict is sure.
    if (tokens[i] === undefined || isOp(tokens[i], "**")) return -1;
    const key = tokens[i].kind === "string" && isOp(tokens[i + 1], ":")
      ? decodeString(tokens[i].text)
      : undefined;
    if (key === undefined) {
      // Not a string key (`1: x`, `f(a): x`): the whole entry is no flag.
      i = skipExpression(tokens, i);
    } else {
      // A key holding a `.` cannot be named by a dotted key: read past it, keep nothing.
      const into = isKeySegment(key) ? entries : [];
      const end = readValue(tokens, i + 2, [...path, key], into);
      i = end >= 0 ? end : skipExpression(tokens, i + 2);
    }
    if (isOp(tokens[i], ",")) i++;
    else if (!isOp(tokens[i], "}")) return -1; // A comprehension, say.
  }
  found.push(...entries);
  return i + 1;
}

/** The index of the `,` or `}` that ends the expression starting at `i` in a dict. */
function skipExpression(tokens: Token[], i: number): number {
  let depth = 0;
  for (; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== "op") continue;
    if (depth === 0 && (t.text === "," || t.text === "}")) return i;
    if ("([{".includes(t.text)) depth++;
    else if (")]}".includes(t.text)) depth--;
  }
  return i;
}

function readLiteral(
  tokens: Token[],
  i: number,
): { leaf: Omit<PythonLeaf, "key">; next: number } | undefined {
  const token = tokens[i];
  if (token === undefined) return undefined;
  const leaf = (value: unknown, end: Token, quote?: "'" | '"') =>
    isFlagLiteral(value, end.kind === "number" ? end.text : "")
      ? { leaf: { value, start: token.start, end: end.end, quote }, next: i + 1 }
      : undefined;
  if (token.kind === "string") {
    // `"a" "b"` is one string made of two: not a literal we can rewrite as one.
    if (tokens[i + 1]?.kind === "string") return undefined;
    const quote = token.text.replace(/^[a-zA-Z]*/, "")[0] as "'" | '"';
    return leaf(decodeString(token.text), token, quote);
  }
  if (token.kind === "name") {
    const named = { True: true, False: false, None: null } as Record<string, FlagValue>;
    return token.text in named ? leaf(named[token.text], token) : undefined;
  }
  if (token.kind === "number") return leaf(decodeNumber(token.text), token);
  const number = tokens[i + 1];
  if ((isOp(token, "-") || isOp(token, "+")) && number?.kind === "number") {
    const n = decodeNumber(number.text);
    const value = n === undefined ? undefined : token.text === "-" ? -n : n;
    const result = leaf(value, number);
    return result && { ...result, next: i + 2 };
  }
  return undefined;
}

function decodeNumber(text: string): number | undefined {
  if (/[jJ]$/.test(text)) return undefined;
  const digits = text.replaceAll("_", "");
  // Python reads `010` as an error, not octal; Number would read 10.
  if (/^0[0-9]+$/.test(digits) && /[1-9]/.test(digits)) return undefined;
  const n = Number(digits);
  return Number.isNaN(n) ? undefined : n;
}

/** A string literal's value; undefined for bytes, f-strings and `\N{...}` escapes. */
function decodeString(literal: string): string | undefined {
  const prefix = /^[a-zA-Z]*/.exec(literal)![0].toLowerCase();
  if (!VALID_PREFIXES.has(prefix) && prefix !== "") return undefined;
  if (/[bft]/.test(prefix)) return undefined;
  const rest = literal.slice(prefix.length);
  const quoteLength = rest.startsWith(rest[0].repeat(3)) && rest.length >= 6 ? 3 : 1;
  // Python reads every line break in source as \n, in strings too.
  const body = rest.slice(quoteLength, -quoteLength).replace(/\r\n?/g, "\n");
  return prefix.includes("r") ? body : decodeEscapes(body);
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\n": "",
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

function decodeEscapes(body: string): string | undefined {
  let undecodable = false;
  const value = body.replace(
    /\\(N\{[^}]*\}|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|[\s\S])/g,
    (whole, esc: string) => {
      if (esc in SIMPLE_ESCAPES) return SIMPLE_ESCAPES[esc];
      if (/^[0-7]/.test(esc)) return String.fromCodePoint(parseInt(esc, 8));
      if (/^[xuU]/.test(esc)) {
        const code = parseInt(esc.slice(1), 16);
        if (code <= 0x10ffff) return String.fromCodePoint(code);
      }
      // Named escapes need Unicode's name table; such a string is no flag.
      if (esc.startsWith("N{")) undecodable = true;
      return whole;
    },
  );
  return undecodable ? undefined : value;
}

// --- Writing -------------------------------------------------------------------------

function renderPython(leaf: PythonLeaf, value: FlagValue): string {
  if (value === null) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return formatNumber(value);
  return pythonString(value, leaf.quote ?? '"');
}

/** Python's repr of a string, in the given quotes. */
function pythonString(value: string, quote: "'" | '"'): string {
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\" || ch === quote) out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch !== " " && /^[\p{C}\p{Z}]$/u.test(ch)) {
      const [letter, width] = code < 0x100 ? ["x", 2] : code < 0x10000 ? ["u", 4] : ["U", 8];
      out += "\\" + letter + code.toString(16).padStart(width, "0");
    } else out += ch;
  }
  return quote + out + quote;
}
