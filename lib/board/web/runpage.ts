/// <reference lib="dom" />
/**
 * A run's page: its meta, flags, summary, provenance, dependencies, files with
 * their manifest state, and the captured output of each phase, each line with
 * its time and stream (stderr marked and coloured). A running run's output
 * grows in place as the page polls.
 */
import { fmt, fmtTime, h, kvTable } from "./dom.ts";
import type { RunPage } from "./source.ts";
import type { Context, View } from "./state.ts";

export async function runView(main: HTMLElement, ctx: Context, id: string): Promise<View> {
  const holder = h("div", { id: "run-page" });
  main.append(holder);
  let drawn = "";
  const refresh = async () => {
    const page = await ctx.source.run(id);
    if (!page) {
      holder.replaceChildren(h("p", { className: "error" }, "No such run."));
      return;
    }
    const text = JSON.stringify(page);
    if (text === drawn) return;
    drawn = text;
    holder.replaceChildren(...sections(page, ctx));
  };
  await refresh();
  return { refresh };
}

function sections(page: RunPage, ctx: Context): HTMLElement[] {
  const { row } = page;
  return [
    h(
      "h2",
      {},
      h("span", { id: "run-name" }, row.name),
      " ",
      h("span", { className: `status ${row.status}`, id: "run-status" }, row.status),
      row.label ? h("span", { className: "label", id: "run-label" }, row.label) : "",
    ),
    h("p", { className: "hint" }, `${row.op} · ${row.id}`),
    h(
      "div",
      { className: "columns" },
      h("section", {}, h("h3", {}, "Meta"), kvTable(metaValues(page))),
      h("section", {}, h("h3", {}, "Flags"), kvTable(page.config as Record<string, unknown>)),
      h(
        "section",
        {},
        h("h3", {}, "Summary"),
        kvTable(((page.summary as { metrics?: Record<string, unknown> })?.metrics) ?? {}),
      ),
    ),
    h(
      "div",
      { className: "columns" },
      h(
        "section",
        {},
        h("h3", {}, "Provenance"),
        kvTable((page.vcs ?? {}) as Record<string, unknown>),
      ),
      h(
        "section",
        {},
        h("h3", {}, "Dependencies and batch"),
        kvTable({ deps: page.deps ?? undefined, batch: page.batch ?? undefined }),
      ),
    ),
    h("section", {}, h("h3", {}, "Files"), filesTable(page, ctx)),
    h("section", { id: "output" }, h("h3", {}, "Output"), ...outputBlocks(page)),
  ];
}

function metaValues(page: RunPage): Record<string, unknown> {
  const m = page.meta as Record<string, unknown>;
  const time = (k: string) => typeof m[k] === "number" ? fmtTime(m[k] as number) : undefined;
  return {
    opref: m.opref,
    command: m.cmd,
    env: m.env && Object.keys(m.env).length > 0 ? m.env : undefined,
    initialized: time("initialized"),
    staged: time("staged"),
    started: time("started"),
    stopped: time("stopped"),
    "exit code": m.exit,
    live: m.live,
    slurm: m.slurm,
  };
}

function filesTable(page: RunPage, ctx: Context): HTMLElement {
  if (page.files.length === 0) return h("p", { className: "empty" }, "no files");
  return h(
    "table",
    { className: "grid files" },
    h(
      "thead",
      {},
      h("tr", {}, ["path", "manifest", "type", "size", "sha256"].map((c) => h("th", {}, c))),
    ),
    h(
      "tbody",
      {},
      page.files.map((f) => {
        const url = f.state === "missing" ? undefined : ctx.source.fileUrl(page.row.id, f.path);
        return h(
          "tr",
          { className: f.state },
          h(
            "td",
            {},
            url ? h("a", { href: url, target: "_blank", rel: "noopener" }, f.path) : f.path,
          ),
          h(
            "td",
            {},
            f.state === "listed"
              ? "in manifest"
              : f.state === "missing"
              ? "missing"
              : "not in manifest",
          ),
          h("td", {}, f.type ?? ""),
          h("td", { className: "num" }, fmt(f.size)),
          h("td", { className: "digest" }, f.digest ? f.digest.slice(0, 12) : ""),
        );
      }),
    ),
    page.filesOmitted > 0 ? h("caption", {}, `${page.filesOmitted} more files not shown`) : "",
  );
}

function outputBlocks(page: RunPage): HTMLElement[] {
  if (page.output.length === 0) return [h("p", { className: "empty" }, "no output captured")];
  return page.output.map((phase) =>
    h(
      "div",
      { className: "phase", "data-phase": phase.phase },
      h("h4", {}, `output/${phase.phase}`),
      phase.omitted > 0
        ? h("p", { className: "hint" }, `${phase.omitted} earlier lines not shown`)
        : "",
      h(
        "table",
        { className: "output" },
        h(
          "tbody",
          {},
          phase.lines.map(([time, stream, text]) =>
            h(
              "tr",
              { className: stream === 1 ? "stderr" : "stdout" },
              h("td", { className: "time" }, clock(time)),
              h("td", { className: "stream" }, stream === 1 ? "err" : "out"),
              h("td", { className: "text" }, text),
            )
          ),
        ),
      ),
    )
  );
}

/** Milliseconds since the epoch as the local time of day, to the millisecond. */
function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${
    p(d.getMilliseconds(), 3)
  }`;
}
