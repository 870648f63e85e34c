/**
 * A summary as data: a JSON object (or TOML table) turned into metrics, the one
 * reading for a run-dir summary file, a JSON block of output and output that is
 * one whole JSON object. Gage's layout (`metrics`, `attributes`, `run`) is read
 * as Gage writes it. Used by lib/stage/summary.ts, which finds the sources.
 */

export type Metrics = Record<string, number | string>;

const GAGE_SUMMARY_KEYS = new Set(["metrics", "attributes", "run"]);

/**
 * A summary object as metrics. Gage's layout is recognised by its top-level keys
 * (only `metrics`, `attributes` and `run`); its `run` holds run attributes such
 * as a label, not results, and is left out.
 */
export function summaryDataMetrics(data: Record<string, unknown>): Metrics {
  const keys = Object.keys(data);
  const gage = keys.length > 0 && keys.every((k) => GAGE_SUMMARY_KEYS.has(k)) &&
    (isObject(data.metrics) || isObject(data.attributes));
  const metrics: Metrics = {};
  if (!gage) {
    flattenInto(metrics, "", data, false);
    return metrics;
  }
  // Metrics second: on a name both use, the measured value wins.
  if (isObject(data.attributes)) flattenInto(metrics, "", data.attributes, true);
  if (isObject(data.metrics)) flattenInto(metrics, "", data.metrics, true);
  return metrics;
}

function flattenInto(out: Metrics, prefix: string, value: unknown, unwrapValue: boolean): void {
  if (isObject(value)) {
    // Gage writes a metric as `{"value": V, ...}` when it records more about it.
    if (unwrapValue && prefix !== "" && "value" in value) {
      flattenInto(out, prefix, value.value, false);
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      flattenInto(out, prefix === "" ? key : `${prefix}.${key}`, item, unwrapValue);
    }
    return;
  }
  const scalar = metricValue(value);
  if (scalar !== undefined && prefix !== "") out[prefix] = scalar;
}

function metricValue(value: unknown): number | string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "number") return value;
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

/**
 * A decimal number as a number; anything else (`nan`, `inf`, `0x10`, `1,5`)
 * stays text, as JSON cannot hold NaN or infinities.
 */
export function parseScalar(text: string): number | string {
  const trimmed = text.trim();
  if (!NUMBER.test(trimmed)) return trimmed;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : trimmed;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
