/**
 * Sweep syntax in flag values (Guild's, which users know): `lr=[0.1,0.2]` is a
 * list, `range[a:b:step]`, `linspace[a:b:n]` and `logspace[a:b:n]` expand to
 * lists, `uniform[a:b]`, `loguniform[a:b]` and `choice[x,y,z]` are sampled.
 * Several lists make a grid; samplers (or `maxRuns` below the grid's size) make
 * a seeded random search. Pure: flag arguments in, each trial's flag arguments
 * out, so a trial stages exactly as `run NAME=VALUE...` would (docs/sweeps.md).
 */
import { RunstageError } from "../errors.ts";
import type { FlagValue } from "../config/formats/format.ts";
import { formatFlagValue, parseFlagValue } from "../config/config.ts";

/** What one `NAME=VALUE` argument asks of a sweep. */
export type FlagSweep =
  | { kind: "fixed"; arg: string }
  | { kind: "list"; name: string; values: FlagValue[] }
  | { kind: "sample"; name: string; sample: (random: () => number) => FlagValue };

export interface SweepOptions {
  /** `--max-runs`: at most this many trials. */
  maxRuns?: number;
  /** `--seed`: the random search's seed. */
  seed: number;
}

/** Trials a random search makes when `--max-runs` is not given (as Guild). */
export const DEFAULT_RANDOM_TRIALS = 20;

/** One trial: the flag arguments it stages with, and the swept ones by name. */
export interface Trial {
  args: string[];
  swept: Record<string, FlagValue>;
}

const CALL = /^(range|linspace|logspace|uniform|loguniform|choice)\[(.*)\]$/s;

/** One `NAME=VALUE` argument read for sweep syntax; anything else is fixed, as it is. */
export function parseFlagSweep(arg: string): FlagSweep {
  const eq = arg.indexOf("=");
  if (eq <= 0) return { kind: "fixed", arg };
  const name = arg.slice(0, eq);
  const text = arg.slice(eq + 1);
  if (text.startsWith("[") && text.endsWith("]")) {
    return { kind: "list", name, values: splitItems(text.slice(1, -1), arg).map(parseFlagValue) };
  }
  const call = CALL.exec(text);
  if (!call) return { kind: "fixed", arg };
  const [, fn, inner] = call;
  if (fn === "choice") {
    const values = splitItems(inner, arg).map(parseFlagValue);
    return { kind: "sample", name, sample: (random) => values[pick(random, values.length)] };
  }
  const numbers = inner.split(":").map((part) => numberIn(part, arg));
  switch (fn) {
    case "range":
      return { kind: "list", name, values: rangeValues(numbers, arg) };
    case "linspace":
      return { kind: "list", name, values: linspace(numbers, arg) };
    case "logspace":
      return { kind: "list", name, values: linspace(numbers, arg).map((x) => tidy(10 ** x)) };
    default:
      return samplerOf(fn, name, numbers, arg);
  }
}

/** The trials of a sweep, in a stable order: the first flag varies slowest. */
export function expandSweep(args: string[], options: SweepOptions): Trial[] {
  const sweeps = args.map(parseFlagSweep);
  const fixed = sweeps.filter((s) => s.kind === "fixed").map((s) => s.arg);
  const lists = sweeps.filter((s) => s.kind === "list");
  const samplers = sweeps.filter((s) => s.kind === "sample");
  const random = seededRandom(options.seed);
  const trial = (values: [string, FlagValue][]): Trial => ({
    args: [...fixed, ...values.map(([n, v]) => `${n}=${formatFlagValue(v)}`)],
    swept: Object.fromEntries(values),
  });
  if (samplers.length > 0) {
    const count = options.maxRuns ?? DEFAULT_RANDOM_TRIALS;
    return Array.from(
      { length: count },
      () =>
        trial(
          sweeps.flatMap((s): [string, FlagValue][] =>
            s.kind === "list"
              ? [[s.name, s.values[pick(random, s.values.length)]]]
              : s.kind === "sample"
              ? [[s.name, s.sample(random)]]
              : []
          ),
        ),
    );
  }
  const grid = cartesian(lists.map((l) => l.values.map((v): [string, FlagValue] => [l.name, v])));
  const points = options.maxRuns !== undefined && options.maxRuns < grid.length
    ? randomSubset(grid, options.maxRuns, random)
    : grid;
  return points.map(trial);
}

/** Whether any argument uses sweep syntax (else a run is one plain run). */
export function isSweep(args: string[]): boolean {
  return args.some((a) => parseFlagSweep(a).kind !== "fixed");
}

function cartesian<T>(axes: T[][]): T[][] {
  return axes.reduce<T[][]>((points, axis) => points.flatMap((p) => axis.map((v) => [...p, v])), [
    [],
  ]);
}

/** `count` points of the grid, chosen at random, kept in grid order. */
function randomSubset<T>(grid: T[], count: number, random: () => number): T[] {
  const indexes = grid.map((_, i) => i);
  for (let i = indexes.length - 1; i > 0; i--) {
    const j = pick(random, i + 1);
    [indexes[i], indexes[j]] = [indexes[j], indexes[i]];
  }
  return indexes.slice(0, count).sort((a, b) => a - b).map((i) => grid[i]);
}

/** mulberry32: a small, fast PRNG whose sequence depends only on the seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(random: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n));
}

/** Items between commas, outside quotes: `a,'b,c'` is two items. */
function splitItems(text: string, arg: string): string[] {
  const items: string[] = [];
  let current = "";
  let quote: string | undefined;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === ",") {
      items.push(current.trim());
      current = "";
      continue;
    }
    current += ch;
  }
  items.push(current.trim());
  if (quote || items.some((i) => i === "")) {
    throw new RunstageError(
      `flag "${arg}" has an empty or unclosed item; write a list as NAME=[A,B,C], or quote it` +
        ` (NAME='[A,B]') for the text itself`,
    );
  }
  return items;
}

function numberIn(text: string, arg: string): number {
  const value = parseFlagValue(text.trim());
  if (typeof value !== "number") {
    throw new RunstageError(
      `flag "${arg}": "${text}" is not a number; write e.g. range[1:10:2], linspace[0:1:5]` +
        ` or uniform[0.1:0.5]`,
    );
  }
  return value;
}

function arity(numbers: number[], allowed: number[], arg: string, form: string): void {
  if (!allowed.includes(numbers.length)) {
    throw new RunstageError(`flag "${arg}" takes ${form}; write it so`);
  }
}

/** `range[a:b:step]`, b included, step 1 by default. */
function rangeValues(numbers: number[], arg: string): number[] {
  arity(numbers, [2, 3], arg, "range[START:STOP] or range[START:STOP:STEP]");
  const [start, stop, step = 1] = numbers;
  if (step <= 0 || stop < start) {
    throw new RunstageError(
      `flag "${arg}": a range goes up from START to STOP by a STEP above 0; write e.g. range[1:10:2]`,
    );
  }
  const values: number[] = [];
  for (let i = 0; start + i * step <= stop + step * 1e-9; i++) values.push(tidy(start + i * step));
  return values;
}

/** `linspace[a:b:n]`: n evenly spaced values from a to b, both included (5 by default). */
function linspace(numbers: number[], arg: string): number[] {
  arity(numbers, [2, 3], arg, "NAME[START:STOP] or NAME[START:STOP:COUNT]");
  const [start, stop, count = 5] = numbers;
  if (!Number.isInteger(count) || count < 1) {
    throw new RunstageError(`flag "${arg}": COUNT must be a whole number above 0`);
  }
  if (count === 1) return [start];
  return Array.from({ length: count }, (_, i) => tidy(start + (stop - start) * i / (count - 1)));
}

function samplerOf(fn: string, name: string, numbers: number[], arg: string): FlagSweep {
  arity(numbers, [2], arg, `${fn}[LOW:HIGH]`);
  const [low, high] = numbers;
  if (!(low < high) || (fn === "loguniform" && low <= 0)) {
    throw new RunstageError(
      `flag "${arg}": LOW must be below HIGH${fn === "loguniform" ? " and above 0" : ""}`,
    );
  }
  const sample = fn === "uniform"
    ? (random: () => number) => low + (high - low) * random()
    : (random: () => number) => Math.exp(Math.log(low) + Math.log(high / low) * random());
  return { kind: "sample", name, sample };
}

/** 0.30000000000000004 as 0.3: sums of steps, shown as a user wrote them. */
function tidy(x: number): number {
  return Number(x.toPrecision(12));
}
