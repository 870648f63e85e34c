/**
 * `runstage board`'s web server (node:http): the page with its scripts
 * inlined, a JSON API over the runs home, and the files of a run dir.
 * Read-only; never a path outside the runs home: a run is looked up by id in
 * the listing (never joined from a request), a file path with `.`, `..`, a
 * backslash or NUL in any segment (decoded or not) is refused, and a file is
 * served only when its real path (links resolved) is inside the run's real
 * run dir. Bound to loopback without a token; any other address needs one,
 * given in the URL (`?token=`), checked on every request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { realpathSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, sep } from "node:path";
import { timingSafeEqual } from "node:crypto";
import { RunstageError } from "../errors.ts";
import { readScalars } from "../run/scalars.ts";
import { RUN_ID_PATTERN } from "../run/identity.ts";
import { RowCache, runPage, scalarSeries } from "./data.ts";
import { boardHtml } from "./page.ts";
import { queryTable, rowValues } from "./table.ts";

export interface BoardServerOptions {
  runsHome: string;
  host: string;
  port: number;
  /** Required in every request's URL when set. */
  token?: string;
}

export interface BoardServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function startBoardServer(options: BoardServerOptions): Promise<BoardServer> {
  if (!isLoopback(options.host) && !options.token) {
    throw new RunstageError(
      `refusing to serve the runs on ${options.host} without a token: anyone who can reach it` +
        " could read them; leave out --no-token (a token is made and put in the URL) or bind" +
        " 127.0.0.1",
    );
  }
  const cache = new RowCache(options.runsHome);
  const page = boardHtml({ mode: "server" });
  const server = createServer((req, res) => {
    handle(req, res, options, cache, page).catch((err) => {
      send(res, 500, "text/plain", `runstage board: ${(err as Error).message}\n`);
    });
  });
  await new Promise<void>((done, fail) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      fail(
        new RunstageError(
          `cannot serve the board on ${options.host}:${options.port} (${
            err.code ?? err.message
          }):` +
            " pick another --port (0 takes any free one) or --host",
        ),
      ));
    server.listen(options.port, options.host, () => done());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const query = options.token ? `?token=${options.token}` : "";
  // Rows are read from now on, while the browser loads the page.
  void cache.rows().catch(() => {});
  return {
    server,
    url: `http://${host}:${port}/${query}`,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: BoardServerOptions,
  cache: RowCache,
  page: string,
): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return send(res, 405, "text/plain", "the board is read-only\n");
  }
  const raw = req.url ?? "/";
  const rawPath = raw.split("?")[0];
  const url = new URL(raw, "http://board.invalid");
  if (!authorized(url, options.token)) return send(res, 403, "text/plain", "a token is needed\n");
  if (!options.token && !hostAllowed(req.headers.host)) {
    return send(res, 403, "text/plain", "wrong Host header\n");
  }
  const q = url.searchParams;
  if (rawPath === "/") return send(res, 200, "text/html; charset=utf-8", page);
  if (rawPath === "/api/runs") {
    const rows = await cache.rows();
    return json(res, () =>
      queryTable(rows, {
        where: q.get("where") ?? undefined,
        sort: q.get("sort") ?? undefined,
        offset: Number(q.get("offset") ?? 0) || 0,
        limit: Number(q.get("limit") ?? 100) || 100,
      }));
  }
  if (rawPath === "/api/values") {
    const keys = (q.get("keys") ?? "").split(",").filter(Boolean);
    const rows = await cache.rows();
    return json(res, () => rowValues(rows, q.get("where") ?? undefined, keys));
  }
  if (rawPath === "/api/rows") {
    const ids = new Set((q.get("ids") ?? "").split(","));
    const rows = await cache.rows();
    return json(res, () => rows.filter((r) => ids.has(r.id)));
  }
  if (rawPath === "/api/scalars") {
    const ids = (q.get("ids") ?? "").split(",").filter((id) => RUN_ID_PATTERN.test(id));
    const out: Record<string, unknown> = {};
    for (const id of ids) {
      const found = await cache.run(id);
      if (found) out[id] = scalarSeries(readScalars(found.run));
    }
    return json(res, () => out);
  }
  if (rawPath === "/api/run") {
    const id = q.get("id") ?? "";
    const found = RUN_ID_PATTERN.test(id) ? await cache.run(id) : undefined;
    if (!found) return send(res, 404, "text/plain", "no such run\n");
    return json(res, () => runPage(found.row, found.run));
  }
  if (rawPath.startsWith("/files/")) return await serveFile(res, rawPath, cache);
  return send(res, 404, "text/plain", "not found\n");
}

function authorized(url: URL, token: string | undefined): boolean {
  if (!token) return true;
  const given = new TextEncoder().encode(url.searchParams.get("token") ?? "");
  const wanted = new TextEncoder().encode(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Without a token, only a loopback Host: a page elsewhere cannot rebind its name to us. */
function hostAllowed(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.split(":")[0];
  return isLoopback(name);
}

/** `/files/<run id>/<path in the run dir>`: a file of a run dir, never anything outside it. */
async function serveFile(res: ServerResponse, rawPath: string, cache: RowCache): Promise<void> {
  const segments = rawPath.slice("/files/".length).split("/");
  let decoded: string[];
  try {
    decoded = segments.map((s) => decodeURIComponent(s));
  } catch {
    return send(res, 400, "text/plain", "bad path\n");
  }
  const bad = (s: string) => s === "" || s === "." || s === ".." || /[\\\0]/.test(s);
  if (segments.some(bad) || decoded.some(bad) || decoded.length < 2) {
    return send(res, 400, "text/plain", "bad path\n");
  }
  const run = RUN_ID_PATTERN.test(decoded[0]) ? (await cache.run(decoded[0]))?.run : undefined;
  if (!run) return send(res, 404, "text/plain", "no such run\n");
  let real: string;
  let root: string;
  try {
    root = realpathSync(run.runDir);
    real = realpathSync(join(run.runDir, ...decoded.slice(1)));
  } catch {
    return send(res, 404, "text/plain", "no such file\n");
  }
  if (!real.startsWith(root + sep) || !statSync(real).isFile()) {
    return send(res, 403, "text/plain", "outside the run dir\n");
  }
  const body = await readFile(real);
  res.writeHead(200, {
    "content-type": "text/plain; charset=utf-8",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'",
  });
  res.end(body);
}

function json(res: ServerResponse, make: () => unknown): void {
  let body: string;
  try {
    body = JSON.stringify(make());
  } catch (err) {
    if (err instanceof RunstageError) {
      return send(res, 400, "application/json", JSON.stringify({ error: err.message }));
    }
    throw err;
  }
  send(res, 200, "application/json", body);
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    "content-type": type,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  });
  res.end(body);
}
