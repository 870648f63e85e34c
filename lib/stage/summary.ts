/**
 * Run summaries: the metrics a run reports about itself, gathered after the run
 * so `runs` can show them as columns. The sources, first found wins:
 *
 * 1. `summary.json` in the run dir (or the file the op's `summary` attribute
 *    names, JSON or TOML, as Gage reads it), written by the op. Nested
 *    objects flatten to dotted keys (`{"val": {"loss": 1}}` is `val.loss`);
 *    numbers stay numbers, other scalars become strings, lists their JSON text,
 *    nulls are dropped. Gage's layout (`{"metrics": {...}, "attributes": {...}}`,
 *    values plain or `{"value": V}`) is read as its metrics and attributes.
 * 2. The op's `output-summary` pattern, matched against each line of the `run`
 *    phase's output (below).
 * 3. The last complete `--- summary ---` ... `---` block of that output, its
 *    lines `key: value`, or (as Gage prints it) one JSON object.
 * 4. Output that is, as a whole, one JSON object (as Gage reads it): a stream
 *    of the `run` phase's output, stdout first.
 *
 * `output-summary = false` (or `""`, as in Gage) turns off both output sources;
 * `true` is the default.
 * The full semantics are in docs/depends-and-summary.md.
 */
import { readScalars, scalarStats } from "../run/scalars.ts";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { typeName } from "../gagefile/attributes.ts";
import { RunstageError } from "../errors.ts";
import type { OpDef } from "../gagefile/opdef.ts";
import { type OutputLine, readOutput } from "../run/output.ts";
import type { Run } from "../run/identity.ts";
import { isObject, type Metrics, parseScalar, summaryDataMetrics } from "./summarydata.ts";

export { parseScalar, summaryDataMetrics };
export type { Metrics };

export interface RunSummary {
  metrics: Metrics;
  source: "run-dir" | "output" | "output-summary" | "scalars";
}

/** Where a problem that does not stop the run goes: the runner log, stderr. */
export type Warn = (message: string) => void;

/** The run-dir file an op writes its summary to; sourcecode never copies one in. */
export const SUMMARY_FILE = "summary.json";
/** The output the summary is read from: the `run` phase's. */
export const RUN_OUTPUT = "output/40_run";
export const BLOCK_START = "--- summary ---";
export const BLOCK_END = "---";

/**
 * How an `output-summary` pattern yields metrics:
 * - `key-value`: groups named `key` and `value`, one metric per match;
 * - `named`: every other named group is a metric of that name;
 * - `json`: Gage's form, no named groups: group 1 captures a JSON summary.
 */
export type SummaryPattern =
  | { kind: "key-value"; source: string; regex: RegExp }
  | { kind: "named"; source: string; regex: RegExp; names: string[] }
  | { kind: "json"; source: string; regex: RegExp };

// --- Collecting ------------------------------------------------------------------

/** The run's summary from the first source that has one, or undefined when none does. */
export async function collectSummary(
  run: Run,
  op: OpDef,
  warn: Warn = () => {},
): Promise<RunSummary | undefined> {
  const fromFile = await readRunDirSummary(run, op.summary ?? SUMMARY_FILE, warn);
  if (fromFile) return { metrics: fromFile, source: "run-dir" };
  const setting = op.raw["output-summary"];
  if (isOff(setting)) return undefined;
  const lines = await readRunOutput(run);
  if (!lines) return undefined;
  if (typeof setting === "string") {
    const pattern = compileSetting(op, setting, warn);
    const metrics = pattern && matchPattern(lines, pattern, warn);
    if (metrics) return { metrics, source: "output-summary" };
  }
  const metrics = outputMetrics(lines, warn);
  if (metrics) return { metrics, source: "output" };
  return lastScalars(run);
}

/**
 * Else the last value of each scalar the run reported as it went (meta
 * `scalars`): an op that prints `loss: 0.3` each epoch is summarized by its
 * last loss, as Guild shows a run's last scalars.
 */
function lastScalars(run: Run): RunSummary | undefined {
  const stats = scalarStats(readScalars(run));
  if (stats.size === 0) return undefined;
  const metrics: Metrics = {};
  for (const [key, s] of stats) metrics[key] = s.last;
  return { metrics, source: "scalars" };
}

/** Without a pattern: the last summary block, else output that is one whole JSON summary. */
function outputMetrics(lines: OutputLine[], warn: Warn): Metrics | undefined {
  return lastBlockMetrics(lines, warn) ?? wholeJsonMetrics(lines);
}

/**
 * A stream of the output that is, whole, one JSON object (stdout first): an op
 * that prints its summary as JSON and nothing else, as Gage reads it.
 */
function wholeJsonMetrics(lines: OutputLine[]): Metrics | undefined {
  for (const stream of byStream(lines)) {
    const text = stream.texts.join("\n").trim();
    if (!text.startsWith("{")) continue;
    const data = parseJson(text);
    if (isObject(data)) return summaryDataMetrics(data);
  }
  return undefined;
}

/** `false`, or as Gage also reads it, an empty pattern: no summary from output. */
function isOff(setting: unknown): boolean {
  return setting === false || setting === "";
}

/** A pattern that slipped past `checkOutputSummary` (an old run's opdef) is a warning here. */
function compileSetting(op: OpDef, setting: string, warn: Warn): SummaryPattern | undefined {
  try {
    return compileOutputSummary(op.name, setting);
  } catch (err) {
    if (!(err instanceof RunstageError)) throw err;
    warn(`output summary skipped: ${err.message}`);
    return undefined;
  }
}

/** The op's summary file, JSON or TOML by its extension (Gage's `summary` attribute). */
async function readRunDirSummary(
  run: Run,
  file: string,
  warn: Warn,
): Promise<Metrics | undefined> {
  let text: string;
  try {
    text = await readFile(join(run.runDir, file), "utf8");
  } catch {
    return undefined;
  }
  const format = /\.toml$/i.test(file) ? "TOML" : "JSON";
  let data: unknown;
  try {
    data = format === "TOML" ? parseToml(text) : JSON.parse(text);
  } catch (err) {
    const reason = (err as Error).message.split("\n")[0];
    warn(`${file} in the run dir is not valid ${format} (${reason}); ignored`);
    return undefined;
  }
  if (!isObject(data)) {
    warn(`${file} in the run dir is not a JSON object; ignored`);
    return undefined;
  }
  return summaryDataMetrics(data);
}

/**
 * The `run` phase's output lines with their streams. Without the index (a copy
 * that lost it) the text is read as one stream.
 */
async function readRunOutput(run: Run): Promise<OutputLine[] | undefined> {
  const path = join(run.metaDir, RUN_OUTPUT);
  try {
    return readOutput(path);
  } catch {
    try {
      return textLines(await readFile(path, "utf8"));
    } catch {
      return undefined;
    }
  }
}

function textLines(text: string): OutputLine[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line) => ({ time: 0, stream: 0, text: line }));
}

// --- Parsing output ----------------------------------------------------------------

/**
 * Metrics from output text (or captured lines): with `pattern`, what it matches;
 * without, the last complete summary block. Undefined when there are none.
 */
export function parseOutputSummary(
  output: string | OutputLine[],
  pattern?: string,
  warn: Warn = () => {},
): Metrics | undefined {
  const lines = typeof output === "string" ? textLines(output) : output;
  if (isOff(pattern)) return undefined;
  if (pattern === undefined) return outputMetrics(lines, warn);
  return matchPattern(lines, compileOutputSummary(undefined, pattern), warn);
}

function matchPattern(
  lines: OutputLine[],
  pattern: SummaryPattern,
  warn: Warn,
): Metrics | undefined {
  return pattern.kind === "json"
    ? matchJsonPattern(lines, pattern, warn)
    : matchLines(lines, pattern);
}

/** Every match on every line, in output order: a value printed again replaces the earlier one. */
function matchLines(
  lines: OutputLine[],
  pattern: Exclude<SummaryPattern, { kind: "json" }>,
): Metrics | undefined {
  const metrics: Metrics = {};
  let found = false;
  for (const line of lines) {
    for (const match of line.text.matchAll(pattern.regex)) {
      for (const [key, value] of matchMetrics(match, pattern)) {
        metrics[key] = parseScalar(value);
        found = true;
      }
    }
  }
  return found ? metrics : undefined;
}

function matchMetrics(
  match: RegExpMatchArray,
  pattern: Exclude<SummaryPattern, { kind: "json" }>,
): [string, string][] {
  const groups = match.groups ?? {};
  const pairs: [string, string | undefined][] = pattern.kind === "key-value"
    ? [[groups.key?.trim() ?? "", groups.value]]
    : pattern.names.map((name) => [name, groups[name]]);
  // A group that took no part in the match, or caught only spaces, is no value.
  return pairs
    .map(([key, value]): [string, string] => [key, value?.trim() ?? ""])
    .filter(([key, value]) => key !== "" && value !== "");
}

/** Gage's form: the last match's group 1, searched across lines, holds a JSON summary. */
function matchJsonPattern(
  lines: OutputLine[],
  pattern: SummaryPattern,
  warn: Warn,
): Metrics | undefined {
  let last: { at: number; captured: string } | undefined;
  for (const stream of byStream(lines)) {
    const text = stream.texts.join("\n");
    for (const match of text.matchAll(pattern.regex)) {
      const endLine = countNewlines(text, match.index! + match[0].length);
      const at = stream.at[Math.min(endLine, stream.at.length - 1)];
      if (match[1] !== undefined && (!last || at >= last.at)) last = { at, captured: match[1] };
    }
  }
  if (!last) return undefined;
  const data = parseJson(last.captured);
  if (isObject(data)) return summaryDataMetrics(data);
  warn(
    `output-summary ${quote(pattern.source)} caught ${
      quote(clip(last.captured))
    }, which is not a JSON object; name a group after its metric, as in (?<loss>\\S+)`,
  );
  return undefined;
}

function countNewlines(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < end; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/**
 * The last complete block, by where it ends in the output. Blocks are found in
 * each stream on its own: the other stream's lines may land inside a block.
 */
function lastBlockMetrics(lines: OutputLine[], warn: Warn): Metrics | undefined {
  let last: { end: number; body: string[] } | undefined;
  for (const stream of byStream(lines)) {
    const block = lastBlock(stream.texts);
    if (block && (!last || stream.at[block.end] > last.end)) {
      last = { end: stream.at[block.end], body: block.body };
    }
  }
  return last && blockMetrics(last.body, warn);
}

/** Each stream's lines, with each line's position in the whole output. */
function byStream(lines: OutputLine[]): { texts: string[]; at: number[] }[] {
  const streams = [{ texts: [] as string[], at: [] as number[] }, { texts: [], at: [] }];
  lines.forEach((line, i) => {
    streams[line.stream].texts.push(line.text);
    streams[line.stream].at.push(i);
  });
  return streams.filter((s) => s.texts.length > 0);
}

/** A block opened but never closed (a run that died printing it) does not count. */
function lastBlock(texts: string[]): { end: number; body: string[] } | undefined {
  let start: number | undefined;
  let last: { end: number; body: string[] } | undefined;
  texts.forEach((text, i) => {
    const marker = text.trim();
    if (marker === BLOCK_START) start = i;
    else if (marker === BLOCK_END && start !== undefined) {
      last = { end: i, body: texts.slice(start + 1, i) };
      start = undefined;
    }
  });
  return last;
}

/** `key: value` lines, or one JSON object (Gage's form). Other lines are skipped. */
function blockMetrics(body: string[], warn: Warn): Metrics | undefined {
  const text = body.join("\n").trim();
  if (text.startsWith("{")) {
    const data = parseJson(text);
    if (isObject(data)) return summaryDataMetrics(data);
    warn(`the last "${BLOCK_START}" block of the output is not valid JSON; no summary read`);
    return undefined;
  }
  const metrics: Metrics = {};
  for (const line of body) {
    const colon = line.indexOf(":");
    if (colon === -1) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key !== "" && value !== "") metrics[key] = parseScalar(value);
  }
  return metrics;
}

// --- Checking the pattern --------------------------------------------------------------

/**
 * Checks the op's `output-summary` before a run is written: absent, true,
 * false, or a pattern `compileOutputSummary` accepts.
 */
export function checkOutputSummary(op: OpDef): void {
  const setting = op.raw["output-summary"];
  if (setting === undefined || typeof setting === "boolean" || isOff(setting)) return;
  if (typeof setting !== "string") {
    throw new RunstageError(
      `op "${op.name}": attribute "output-summary" must be a regular expression or true/false ` +
        `(got ${typeName(setting)})`,
    );
  }
  compileOutputSummary(op.name, setting);
}

/**
 * Compiles an `output-summary` pattern (JavaScript syntax; Python's `(?P<name>`
 * and `(?P=name)` are accepted) and works out how its matches yield metrics.
 */
export function compileOutputSummary(opName: string | undefined, source: string): SummaryPattern {
  const where = `${opName === undefined ? "" : `op "${opName}": `}attribute "output-summary"`;
  const invalid = (why: string) => new RunstageError(`${where} ${quote(source)} ${why}`);
  if (source === "") {
    throw invalid("is empty; give a pattern, as in loss: (?<loss>\\S+), or false");
  }
  const js = source.replace(/\(\?P</g, "(?<").replace(/\(\?P=(\w+)\)/g, "\\k<$1>");
  try {
    new RegExp(js);
  } catch (err) {
    const reason = (err as Error).message.split("\n")[0];
    throw invalid(`is not a valid regular expression (${reason}); fix the pattern`);
  }
  // With an empty alternative the pattern matches "", so its groups can be read off.
  const probe = new RegExp(`${js}|`).exec("")!;
  if (new RegExp(js).test("")) {
    throw invalid("matches an empty line, so it would match anywhere; require some text");
  }
  const names = Object.keys(probe.groups ?? {});
  const hasKey = names.includes("key");
  const hasValue = names.includes("value");
  if (hasKey && hasValue) return { kind: "key-value", source, regex: new RegExp(js, "g") };
  if (hasKey !== hasValue) {
    throw invalid(
      `names a group ${hasKey ? "key" : "value"} but none ${hasKey ? "value" : "key"}; ` +
        `capture both, as in (?<key>\\w+)=(?<value>\\S+)`,
    );
  }
  if (names.length > 0) return { kind: "named", source, regex: new RegExp(js, "g"), names };
  if (probe.length > 1) return { kind: "json", source, regex: new RegExp(js, "gs") };
  throw invalid(
    "has no capture group; name groups key and value, as in (?<key>\\w+)=(?<value>\\S+), " +
      "or name a group after its metric, as in loss: (?<loss>\\S+)",
  );
}

// --- Helpers ----------------------------------------------------------------------

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Quoted as the user wrote it: JSON would double every backslash of a pattern. */
function quote(text: string): string {
  return `"${text.replace(/\r?\n/g, "\\n")}"`;
}

function clip(text: string): string {
  const flat = text.trim().replace(/\s+/g, " ");
  return flat.length > 40 ? `${flat.slice(0, 40)}…` : flat;
}
