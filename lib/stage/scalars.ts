/**
 * Per-step scalars from the op's output, as Guild's output-scalars reads
 * them: each line of the `run` phase is matched as it arrives, `step: 10` sets
 * the step, `loss: 0.52` records loss at that step, and each value goes to
 * meta `scalars` (lib/run/scalars.ts) at once, so a running run's history
 * grows while it runs. The op's `output-scalars` attribute chooses:
 *
 * - absent: the default, `KEY: NUMBER` alone on a line (KEY a word that may
 *   hold `.`, `/` and `-`);
 * - `false` (or `""`): none;
 * - a pattern or a list of them: each a regex where `\key`, `\value` and
 *   `\step` stand for a key, a number and a step, or with named groups
 *   `key`/`value`/`step`, or two plain groups (key, value);
 * - a table `{ KEY = PATTERN }`: the pattern's first group is KEY's value.
 *
 * The run's own history, `scalars.jsonl` in the run dir (lines of
 * `{"step": 3, "loss": 0.4, ...}`), is read when the run ends.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RunstageError } from "../errors.ts";
import type { OpDef } from "../gagefile/opdef.ts";
import { timestampMicros } from "../run/clock.ts";
import type { Run } from "../run/identity.ts";
import { appendScalars, type Scalar } from "../run/scalars.ts";

/** The run-dir file an op may write its history to. */
export const RUN_SCALARS_FILE = "scalars.jsonl";

const NUMBER = String.raw`[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan`;
const KEY = String.raw`[A-Za-z_][\w./-]*`;
/** `step: N` sets the step whatever the rules, unless output-scalars is off. */
const STEP_LINE = /^\s*step\s*:\s*(\d+)\s*$/;
const DEFAULT_PATTERN = new RegExp(String.raw`^\s*(?<key>${KEY})\s*:\s*(?<value>${NUMBER})\s*$`);

interface Rule {
  pattern: RegExp;
  /** For a table entry: the key every match records. */
  key?: string;
}

/** The rules an op's `output-scalars` sets; throws a RunstageError for a bad one. */
export function scalarRules(op: OpDef): Rule[] {
  const setting = op.raw["output-scalars"];
  if (setting === undefined || setting === true) return [{ pattern: DEFAULT_PATTERN }];
  if (setting === false || setting === "" || setting === null) return [];
  const where = `op "${op.name}": attribute "output-scalars"`;
  if (typeof setting === "string") return [{ pattern: compile(setting, where) }];
  if (Array.isArray(setting)) {
    return setting.map((p) => {
      if (typeof p !== "string") throw new RunstageError(`${where}: each pattern must be a string`);
      return { pattern: compile(p, where) };
    });
  }
  if (typeof setting === "object") {
    return Object.entries(setting as Record<string, unknown>).map(([key, p]) => {
      if (typeof p !== "string") throw new RunstageError(`${where}: "${key}" must be a pattern`);
      return { pattern: compile(p, where), key };
    });
  }
  throw new RunstageError(`${where} must be false, a pattern, a list of them, or a table`);
}

function compile(source: string, where: string): RegExp {
  const expanded = source
    .replaceAll(String.raw`\key`, `(?<key>${KEY})`)
    .replaceAll(String.raw`\value`, `(?<value>${NUMBER})`)
    .replaceAll(String.raw`\step`, String.raw`(?<step>\d+)`);
  try {
    return new RegExp(expanded);
  } catch (err) {
    throw new RunstageError(`${where}: bad pattern "${source}": ${(err as Error).message}`);
  }
}

function toNumber(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  const n = t.endsWith("inf") ? (t.startsWith("-") ? -Infinity : Infinity) : Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** Reads scalars out of output lines as they come, and records them in the run's meta. */
export class ScalarCapture {
  #step: number | null = null;
  #decoder = new TextDecoder();

  constructor(readonly run: Run, readonly rules: Rule[]) {}

  /** A whole line of the op's output (stdout or stderr), newline included or not. */
  line(bytes: Uint8Array): void {
    if (this.rules.length === 0) return;
    const text = this.#decoder.decode(bytes).replace(/\r?\n$/, "");
    const found: Scalar[] = [];
    const step = STEP_LINE.exec(text);
    if (step) this.#step = Number(step[1]);
    for (const rule of this.rules) {
      const m = rule.pattern.exec(text);
      if (!m) continue;
      const groups = m.groups ?? {};
      if (groups.step !== undefined) this.#step = Number(groups.step);
      const key = rule.key ?? groups.key ?? (groups.value === undefined ? m[1] : undefined);
      const valueText = groups.value ?? (rule.key !== undefined ? m[1] : m[2]);
      if (key === undefined || valueText === undefined) continue;
      const value = toNumber(valueText);
      if (value === undefined) continue;
      if (key === "step") {
        this.#step = value;
        continue;
      }
      found.push({ time: timestampMicros(), step: this.#step, key, value });
    }
    appendScalars(this.run, found);
  }
}

/**
 * After the run: the history the op wrote itself, `scalars.jsonl` in the run
 * dir, appended to meta `scalars`. Lines that are not JSON objects are skipped
 * and counted, for the caller's note.
 */
export function recordRunDirScalars(run: Run): { recorded: number; skipped: number } {
  let text: string;
  try {
    text = readFileSync(join(run.runDir, RUN_SCALARS_FILE), "utf8");
  } catch {
    return { recorded: 0, skipped: 0 };
  }
  const scalars: Scalar[] = [];
  let skipped = 0;
  const time = timestampMicros();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      skipped++;
      continue;
    }
    const r = row as Record<string, unknown>;
    const step = typeof r.step === "number" && Number.isFinite(r.step) ? r.step : null;
    for (const [key, value] of Object.entries(r)) {
      if (key === "step" || typeof value !== "number" || !Number.isFinite(value)) continue;
      scalars.push({ time, step, key, value });
    }
  }
  appendScalars(run, scalars);
  return { recorded: scalars.length, skipped };
}
