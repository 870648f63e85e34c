/**
 * The board's one HTML page: its script and styles (lib/board/assets.gen.ts,
 * made by `deno task board-assets`) inlined, so a page needs no other request
 * for them. The static report (`board --html`) also inlines its data and
 * forbids every request with its Content-Security-Policy: it opens from
 * file:// and nothing leaves it.
 */
import { gzipSync } from "node:zlib";
import { APP_CSS, APP_JS } from "./assets.gen.ts";

export interface PageOptions {
  mode: "server" | "static";
  /** The static report's data, as the front end reads it. */
  data?: unknown;
}

export function boardHtml(options: PageOptions): string {
  const connect = options.mode === "server" ? "'self'" : "'none'";
  const csp = `default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline';` +
    ` img-src data: blob:; connect-src ${connect}; base-uri 'none'; form-action 'none'`;
  const config = { mode: options.mode };
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>runstage board</title>",
    `<style>${APP_CSS}</style>`,
    "</head><body>",
    '<div id="app">Loading…</div>',
    `<script type="application/json" id="board-config">${scriptJson(config)}</script>`,
    options.data === undefined
      ? ""
      : `<script type="application/octet-stream" id="board-data">${
        packData(options.data)
      }</script>`,
    `<script>${APP_JS}</script>`,
    "</body></html>",
    "",
  ].join("\n");
}

/**
 * The static report's data: JSON, gzipped, in base64 (no `<` in it), which the
 * page unpacks with the browser's own DecompressionStream: a sweep's scalars
 * and output are a fifth of their JSON's size.
 */
export function packData(value: unknown): string {
  return gzipSync(JSON.stringify(value), { level: 9 }).toString("base64");
}

/** JSON safe inside a script element: no `<` at all, so no `</script>` or `<!--` in it. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}
