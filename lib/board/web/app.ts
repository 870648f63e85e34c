/// <reference lib="dom" />
/**
 * The board's front end: views chosen by the URL's hash (#runs, #compare,
 * #scatter, #parallel, #history, #run=ID), the runs selected in the table
 * shared by compare and history, and, where the data is live, a poll every
 * {@link POLL_MS} ms that refreshes the view in place.
 */
import { fmt, fmtDuration, fmtTime, h } from "./dom.ts";
import { type BoardRow, serverSource, staticSource } from "./source.ts";
import { historyView, parallelView, scatterView } from "./charts.ts";
import { runView } from "./runpage.ts";
import { duration } from "../table.ts";
import type { StaticData } from "../static.ts";
import type { Context, State, View } from "./state.ts";

const POLL_MS = 1500;

const FIXED = ["status", "op", "label", "started", "duration"];
const VIEWS: [string, string][] = [
  ["runs", "Runs"],
  ["compare", "Compare"],
  ["scatter", "Scatter"],
  ["parallel", "Parallel"],
  ["history", "History"],
];

/** The static report's data: base64 of gzipped JSON (lib/board/page.ts). */
async function unpack(packed: string): Promise<StaticData> {
  const bytes = Uint8Array.from(atob(packed.trim()), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return JSON.parse(await new Response(stream).text());
}

async function main(): Promise<void> {
  const config = JSON.parse(document.getElementById("board-config")!.textContent!);
  const dataEl = document.getElementById("board-data");
  const source = config.mode === "static" && dataEl
    ? staticSource(await unpack(dataEl.textContent!))
    : serverSource();
  const state: State = {
    where: "",
    sort: "",
    offset: 0,
    limit: 100,
    hidden: new Set(),
    selected: new Set(),
    flags: [],
    metrics: [],
  };
  const app = document.getElementById("app")!;
  const ctx: Context = { source, state };
  let view: View = {};
  let generation = 0;
  const render = async () => {
    const mine = ++generation;
    const hash = location.hash.slice(1) || "runs";
    const name = hash.startsWith("run=") ? "run" : hash;
    const nav = h(
      "nav",
      {},
      h("span", { className: "brand" }, "runstage board"),
      VIEWS.map(([id, label]) =>
        h("a", { href: `#${id}`, className: id === name ? "active" : "" }, label)
      ),
      h("span", { className: "selected-count", id: "selected-count" }, selectedText(state)),
      source.live ? "" : h("span", { className: "badge" }, "static report"),
    );
    const main = h("main", { id: `view-${name}` });
    app.replaceChildren(nav, main);
    const made = name === "run"
      ? await runView(main, ctx, decodeURIComponent(hash.slice(4)))
      : name === "compare"
      ? await compareView(main, ctx)
      : name === "scatter"
      ? await scatterView(main, ctx)
      : name === "parallel"
      ? await parallelView(main, ctx)
      : name === "history"
      ? await historyView(main, ctx)
      : await runsView(main, ctx);
    if (mine === generation) view = made;
  };
  addEventListener("hashchange", () => void render());
  void render();
  if (source.live) {
    let busy = false;
    setInterval(async () => {
      if (busy || !view.refresh) return;
      busy = true;
      try {
        await view.refresh();
      } catch (err) {
        console.error(err);
      } finally {
        busy = false;
      }
    }, POLL_MS);
  }
}

function selectedText(state: State): string {
  return state.selected.size === 0 ? "" : `${state.selected.size} selected`;
}

function updateSelectedCount(state: State): void {
  const el = document.getElementById("selected-count");
  if (el) el.textContent = selectedText(state);
}

/** A run's value in a column of the table. */
function cell(row: BoardRow, column: string): string {
  switch (column) {
    case "status":
      return row.status;
    case "op":
      return row.op;
    case "label":
      return row.label ?? "";
    case "started":
      return fmtTime(row.started ?? row.initialized);
    case "duration":
      return fmtDuration(duration(row));
  }
  if (column.startsWith("config.")) return fmt(row.flags[column.slice(7)]);
  return fmt(row.metrics[column.slice(7)]);
}

async function runsView(main: HTMLElement, ctx: Context): Promise<View> {
  const { state, source } = ctx;
  const whereInput = h("input", {
    id: "where",
    type: "search",
    placeholder: "--where, e.g. lr<0.15 and loss<=0.3",
    value: state.where,
  }) as HTMLInputElement;
  const error = h("div", { id: "where-error", className: "error" });
  const info = h("span", { id: "runs-info" });
  const columnsBox = h("details", { id: "columns" });
  const tableHolder = h("div", { className: "table-holder" });
  const pager = h("div", { className: "pager" });
  const apply = () => {
    state.where = whereInput.value.trim();
    state.offset = 0;
    void refresh();
  };
  whereInput.addEventListener("keydown", (e) => {
    if ((e as KeyboardEvent).key === "Enter") apply();
  });
  main.append(
    h(
      "div",
      { className: "toolbar" },
      whereInput,
      h("button", { id: "where-apply", onclick: apply }, "Filter"),
      info,
    ),
    error,
    columnsBox,
    tableHolder,
    pager,
  );

  let lastDrawn = "";
  const refresh = async () => {
    let page;
    try {
      page = await source.runs(state);
      error.textContent = "";
    } catch (err) {
      error.textContent = (err as Error).message;
      return;
    }
    const drawn = JSON.stringify([page, state.sort, [...state.hidden]]);
    if (drawn === lastDrawn) return;
    lastDrawn = drawn;
    state.flags = page.flags;
    state.metrics = page.metrics;
    const columns = [
      ...FIXED,
      ...page.flags.map((f) => `config.${f}`),
      ...page.metrics.map((m) => `metric.${m}`),
    ];
    renderColumnChooser(columnsBox, columns, state, () => void refresh());
    const shown = columns.filter((c) => !state.hidden.has(c));
    const sortKey = state.sort.replace(/^-/, "");
    const header = h(
      "tr",
      {},
      h("th", {}, ""),
      h("th", {}, "#"),
      h("th", {}, "name"),
      shown.map((c) => {
        const key = c === "started" ? "run.started" : c === "duration" ? "run.duration" : c;
        const arrow = sortKey === key ? (state.sort.startsWith("-") ? " ▼" : " ▲") : "";
        return h("th", {
          className: "sortable",
          "data-col": c,
          title: "sort",
          onclick: () => {
            state.sort = sortKey === key && !state.sort.startsWith("-") ? `-${key}` : key;
            void refresh();
          },
        }, c.replace(/^(config|metric)\./, "") + arrow);
      }),
    );
    const body = page.rows.map((row) =>
      h(
        "tr",
        { "data-id": row.id, className: state.selected.has(row.id) ? "selected" : "" },
        h(
          "td",
          {},
          h("input", {
            type: "checkbox",
            className: "select",
            checked: state.selected.has(row.id),
            onchange: (e: Event) => {
              const on = (e.target as HTMLInputElement).checked;
              if (on) state.selected.add(row.id);
              else state.selected.delete(row.id);
              (e.target as HTMLElement).closest("tr")!.className = on ? "selected" : "";
              updateSelectedCount(state);
            },
          }),
        ),
        h("td", { className: "num" }, row.index),
        h("td", {}, h("a", { href: `#run=${row.id}`, className: "run-link" }, row.name)),
        shown.map((c) =>
          h(
            "td",
            { "data-col": c, className: c === "status" ? `status ${row.status}` : "" },
            cell(row, c),
          )
        ),
      )
    );
    tableHolder.replaceChildren(
      h(
        "table",
        { id: "runs-table", className: "grid" },
        h("thead", {}, header),
        h("tbody", {}, body),
      ),
    );
    info.textContent = `${page.matched} of ${page.total} runs` +
      (page.matched > page.rows.length
        ? `, showing ${page.offset + 1}-${page.offset + page.rows.length}`
        : "");
    pager.replaceChildren(
      h("button", {
        disabled: page.offset === 0,
        onclick: () => {
          state.offset = Math.max(0, state.offset - state.limit);
          void refresh();
        },
      }, "Previous"),
      h("button", {
        id: "next-page",
        disabled: page.offset + page.rows.length >= page.matched,
        onclick: () => {
          state.offset += state.limit;
          void refresh();
        },
      }, "Next"),
      h("span", { className: "hint" }, "select runs to compare them and see their history"),
    );
  };
  await refresh();
  return { refresh };
}

function renderColumnChooser(
  box: HTMLElement,
  columns: string[],
  state: State,
  changed: () => void,
) {
  const open = (box as HTMLDetailsElement).open;
  box.replaceChildren(
    h("summary", {}, "Columns"),
    ...columns.map((c) =>
      h(
        "label",
        {},
        h("input", {
          type: "checkbox",
          "data-col": c,
          checked: !state.hidden.has(c),
          onchange: (e: Event) => {
            if ((e.target as HTMLInputElement).checked) state.hidden.delete(c);
            else state.hidden.add(c);
            changed();
          },
        }),
        c,
      )
    ),
  );
  (box as HTMLDetailsElement).open = open;
}

async function compareView(main: HTMLElement, ctx: Context): Promise<View> {
  const holder = h("div", { id: "compare" });
  main.append(holder);
  const refresh = async () => {
    const rows = await ctx.source.rows([...ctx.state.selected]);
    if (rows.length === 0) {
      holder.replaceChildren(h("p", { className: "empty" }, "Select runs in the runs table."));
      return;
    }
    const names = (pick: (r: BoardRow) => Record<string, unknown>) => [
      ...new Set(rows.flatMap((r) => Object.keys(pick(r)))),
    ];
    const lines: [string, (r: BoardRow) => unknown][] = [
      ["status", (r) => r.status],
      ["op", (r) => r.op],
      ["label", (r) => r.label],
      ["started", (r) => fmtTime(r.started)],
      ["duration", (r) => fmtDuration(duration(r))],
      ...names((r) => r.flags).map((f) => [`config.${f}`, (r: BoardRow) => r.flags[f]] as const),
      ...names((r) => r.metrics).map((m) =>
        [`metric.${m}`, (r: BoardRow) => r.metrics[m]] as const
      ),
    ] as [string, (r: BoardRow) => unknown][];
    holder.replaceChildren(
      h(
        "table",
        { className: "grid compare" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", {}, ""),
            rows.map((r) => h("th", {}, h("a", { href: `#run=${r.id}` }, r.name))),
          ),
        ),
        h(
          "tbody",
          {},
          lines.map(([name, read]) => {
            const values = rows.map((r) => fmt(read(r)));
            const differ = new Set(values).size > 1;
            return h(
              "tr",
              { className: differ ? "differs" : "", "data-key": name },
              h("th", {}, name),
              values.map((v) => h("td", {}, v)),
            );
          }),
        ),
      ),
    );
  };
  await refresh();
  return { refresh };
}

void main();
