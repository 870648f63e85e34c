/// <reference lib="dom" />
/**
 * Building the page: every run-provided string goes in as a text node or an
 * attribute value set through the DOM, never as markup, so a label such as
 * `<script>` shows as those characters.
 */

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | EventListener | undefined>;

export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.replace(/^on/, ""), value);
    else if (name === "className") el.className = String(value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el: HTMLElement, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
}

/** A value as a cell shows it: numbers with 4 significant digits unless integers. */
export function fmt(value: unknown): string {
  if (value === undefined) return "";
  if (typeof value === "number") {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  }
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** Microseconds since the epoch as a local date and time. */
export function fmtTime(micros: number | undefined): string {
  if (micros === undefined) return "";
  const d = new Date(micros / 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtDuration(seconds: number | undefined): string {
  if (seconds === undefined) return "";
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.floor(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** A table of key/value pairs; objects shown as indented JSON. */
export function kvTable(values: Record<string, unknown>): HTMLElement {
  const entries = Object.entries(values).filter(([, v]) => v !== undefined && v !== null);
  if (entries.length === 0) return h("p", { className: "empty" }, "none");
  return h(
    "table",
    { className: "kv" },
    entries.map(([k, v]) =>
      h(
        "tr",
        {},
        h("th", {}, k),
        h("td", {}, typeof v === "object" ? h("pre", {}, JSON.stringify(v, null, 2)) : fmt(v)),
      )
    ),
  );
}
