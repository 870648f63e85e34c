/// <reference lib="dom" />
/**
 * The board's charts: a scatter of any flag or metric against another and
 * parallel coordinates from the flags to a metric (ECharts, SVG renderer),
 * and the metric history of the selected runs, one chart per key with a line
 * per run (uPlot).
 */
import * as echarts from "echarts/core";
import { ParallelChart, ScatterChart } from "echarts/charts";
import {
  GridComponent,
  ParallelComponent,
  TooltipComponent,
  VisualMapComponent,
} from "echarts/components";
import { SVGRenderer } from "echarts/renderers";
import uPlot from "uplot";
import { h } from "./dom.ts";
import type { Context, View } from "./state.ts";
import type { ScalarSeries } from "./source.ts";

echarts.use([
  ParallelChart,
  ScatterChart,
  GridComponent,
  ParallelComponent,
  TooltipComponent,
  VisualMapComponent,
  SVGRenderer,
]);

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"];

/** Names the charts can plot: the flags and metrics the runs table last saw. */
async function axisNames(ctx: Context): Promise<string[]> {
  if (ctx.state.flags.length + ctx.state.metrics.length === 0) {
    const page = await ctx.source.runs({ ...ctx.state, limit: 1 });
    ctx.state.flags = page.flags;
    ctx.state.metrics = page.metrics;
  }
  return [
    ...ctx.state.flags.map((f) => `config.${f}`),
    ...ctx.state.metrics.map((m) => `metric.${m}`),
  ];
}

function select(
  id: string,
  names: string[],
  value: string | undefined,
  changed: (v: string) => void,
) {
  const el = h(
    "select",
    { id, onchange: (e: Event) => changed((e.target as HTMLSelectElement).value) },
    names.map((n) => h("option", { value: n, selected: n === value }, n)),
  );
  return el;
}

function whereNote(ctx: Context): HTMLElement {
  return h(
    "span",
    { className: "hint" },
    ctx.state.where ? `runs where ${ctx.state.where}` : "all runs",
  );
}

/** Only the same data draws again: a poll that changes nothing leaves the chart alone. */
function unchanged(el: HTMLElement, data: unknown): boolean {
  const text = JSON.stringify(data);
  if (el.dataset.drawn === text) return true;
  el.dataset.drawn = text;
  return false;
}

export async function scatterView(main: HTMLElement, ctx: Context): Promise<View> {
  const names = await axisNames(ctx);
  const { state } = ctx;
  state.x ??= names[0];
  state.y ??= names.find((n) => n.startsWith("metric.")) ?? names[1];
  const chartEl = h("div", { id: "scatter-chart", className: "chart" });
  const chart = echarts.init(chartEl, undefined, { renderer: "svg", width: 800, height: 480 });
  const refresh = async () => {
    if (!state.x || !state.y) return;
    const values = (await ctx.source.values(state.where, [state.x, state.y]))
      .filter((v) => typeof v.values[0] === "number" && typeof v.values[1] === "number");
    if (unchanged(chartEl, [state.x, state.y, values])) return;
    chartEl.dataset.points = String(values.length);
    chart.setOption({
      animation: false,
      tooltip: {
        formatter: (p: { data: [number, number, string] }) =>
          escapeHtml(`${p.data[2]}: ${p.data[0]}, ${p.data[1]}`),
      },
      xAxis: { name: state.x, scale: true, nameLocation: "middle", nameGap: 28 },
      yAxis: { name: state.y, scale: true },
      series: [{
        type: "scatter",
        symbolSize: 9,
        data: values.map((v) => [v.values[0], v.values[1], v.name]),
      }],
    }, true);
  };
  main.append(
    h(
      "div",
      { className: "toolbar" },
      "x ",
      select("scatter-x", names, state.x, (v) => (state.x = v, void refresh())),
      " y ",
      select("scatter-y", names, state.y, (v) => (state.y = v, void refresh())),
      whereNote(ctx),
    ),
    chartEl,
  );
  await refresh();
  return { refresh };
}

export async function parallelView(main: HTMLElement, ctx: Context): Promise<View> {
  const names = await axisNames(ctx);
  const { state } = ctx;
  const metrics = names.filter((n) => n.startsWith("metric."));
  state.metric ??= metrics[0];
  const chartEl = h("div", { id: "parallel-chart", className: "chart" });
  const chart = echarts.init(chartEl, undefined, { renderer: "svg", width: 900, height: 480 });
  const refresh = async () => {
    if (!state.metric) return;
    const keys = [...state.flags.map((f) => `config.${f}`), state.metric];
    const values = await ctx.source.values(state.where, keys);
    if (unchanged(chartEl, [keys, values])) return;
    chartEl.dataset.lines = String(values.length);
    const numeric = keys.map((_, i) =>
      values.every((v) => v.values[i] === undefined || typeof v.values[i] === "number")
    );
    const categories = keys.map((_, i) =>
      [...new Set(values.map((v) => String(v.values[i] ?? "")))].sort()
    );
    const last = keys.length - 1;
    const metricValues = values.map((v) => v.values[last]).filter((x): x is number =>
      typeof x === "number"
    );
    chart.setOption({
      animation: false,
      parallelAxis: keys.map((k, i) =>
        numeric[i] ? { dim: i, name: k.replace(/^(config|metric)\./, ""), scale: true } : {
          dim: i,
          name: k.replace(/^(config|metric)\./, ""),
          type: "category",
          data: categories[i],
        }
      ),
      parallel: { left: 60, right: 80, top: 60, bottom: 40 },
      visualMap: metricValues.length > 0
        ? {
          show: true,
          dimension: last,
          min: Math.min(...metricValues),
          max: Math.max(...metricValues),
          right: 0,
          inRange: { color: ["#2c7bb6", "#ffffbf", "#d7191c"] },
        }
        : undefined,
      series: [{
        type: "parallel",
        lineStyle: { width: 1.5, opacity: 0.6 },
        data: values.map((v) => v.values.map((x, i) => numeric[i] ? x ?? null : String(x ?? ""))),
      }],
    }, true);
  };
  main.append(
    h(
      "div",
      { className: "toolbar" },
      "metric ",
      select("parallel-metric", metrics, state.metric, (v) => (state.metric = v, void refresh())),
      whereNote(ctx),
    ),
    chartEl,
  );
  await refresh();
  return { refresh };
}

export async function historyView(main: HTMLElement, ctx: Context): Promise<View> {
  const holder = h("div", { id: "history" });
  main.append(holder);
  const refresh = async () => {
    const ids = [...ctx.state.selected];
    if (ids.length === 0) {
      holder.replaceChildren(h("p", { className: "empty" }, "Select runs in the runs table."));
      return;
    }
    const [rows, scalars] = await Promise.all([ctx.source.rows(ids), ctx.source.scalars(ids)]);
    if (unchanged(holder, [rows.map((r) => r.name), scalars])) return;
    const keys = [...new Set(Object.values(scalars).flatMap((s) => s.map((k) => k.key)))];
    if (keys.length === 0) {
      holder.replaceChildren(h("p", { className: "empty" }, "The selected runs have no scalars."));
      return;
    }
    holder.replaceChildren(...keys.map((key) => historyChart(key, rows, scalars)));
  };
  await refresh();
  return { refresh };
}

function historyChart(
  key: string,
  rows: { id: string; name: string }[],
  scalars: Record<string, ScalarSeries[]>,
): HTMLElement {
  const runs = rows.filter((r) => scalars[r.id]?.some((s) => s.key === key));
  const tables = runs.map((r) => {
    const s = scalars[r.id].find((s) => s.key === key)!;
    // uPlot wants x ascending and unique: the last value of a step wins.
    const byStep = new Map<number, number>();
    s.x.forEach((x, i) => byStep.set(x, s.y[i]));
    const xs = [...byStep.keys()].sort((a, b) => a - b);
    return [xs, xs.map((x) => byStep.get(x)!)] as uPlot.AlignedData;
  });
  const points = tables.reduce((n, t) => n + t[0].length, 0);
  const el = h("div", {
    className: "history-chart",
    "data-key": key,
    "data-runs": runs.length,
    "data-points": points,
  }, h("h3", {}, key));
  const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
  new uPlot(
    {
      width: 760,
      height: 260,
      scales: { x: { time: false } },
      axes: [{ label: "step" }, {}],
      series: [
        { label: "step" },
        ...runs.map((r, i) => ({
          label: r.name,
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          spanGaps: true,
        })),
      ],
    },
    data,
    el,
  );
  return el;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
