/// <reference lib="dom" />
/**
 * Where the board's front end gets its data: the server's JSON API
 * (`runstage board`), or the data inlined in the static report
 * (`board --html`), queried in the page with the same table code the server
 * runs (lib/board/table.ts).
 */
import type { RunPage, ScalarSeries } from "../data.ts";
import type { StaticData } from "../static.ts";
import { type BoardRow, queryTable, rowValues, type TablePage, type TableQuery } from "../table.ts";
import type { WhereValue } from "../../run/where.ts";

export type { BoardRow, RunPage, ScalarSeries, TablePage, TableQuery };

export interface Values {
  id: string;
  name: string;
  values: (WhereValue | undefined)[];
}

export interface Source {
  /** Whether its data changes: the page then polls. */
  live: boolean;
  runs(query: TableQuery): Promise<TablePage>;
  values(where: string, keys: string[]): Promise<Values[]>;
  rows(ids: string[]): Promise<BoardRow[]>;
  scalars(ids: string[]): Promise<Record<string, ScalarSeries[]>>;
  run(id: string): Promise<RunPage | undefined>;
  /** A link to a file of a run dir, where it can be served. */
  fileUrl(id: string, path: string): string | undefined;
}

/** The API of `runstage board`; the page's token (if any) goes along with each request. */
export function serverSource(): Source {
  const token = new URLSearchParams(location.search).get("token");
  const url = (path: string, params: Record<string, string | number | undefined>) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
    if (token) q.set("token", token);
    return `${path}?${q}`;
  };
  const get = async <T>(path: string, params: Record<string, string | number | undefined>) => {
    const res = await fetch(url(path, params));
    if (res.status === 404) return undefined as T;
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ?? res.statusText);
    return body as T;
  };
  return {
    live: true,
    runs: (q) => get<TablePage>("/api/runs", { ...q }),
    values: (where, keys) => get<Values[]>("/api/values", { where, keys: keys.join(",") }),
    rows: (ids) => get<BoardRow[]>("/api/rows", { ids: ids.join(",") }),
    scalars: (ids) => get("/api/scalars", { ids: ids.join(",") }),
    run: (id) => get<RunPage | undefined>("/api/run", { id }),
    fileUrl: (id, path) =>
      url(`/files/${id}/${path.split("/").map(encodeURIComponent).join("/")}`, {}),
  };
}

/** The static report's inlined data. */
export function staticSource(data: StaticData): Source {
  const byId = new Map(data.rows.map((r) => [r.id, r]));
  const wrap = <T>(make: () => T) =>
    new Promise<T>((done, fail) => {
      try {
        done(make());
      } catch (err) {
        fail(err);
      }
    });
  return {
    live: false,
    runs: (q) => wrap(() => queryTable(data.rows, q)),
    values: (where, keys) => wrap(() => rowValues(data.rows, where, keys)),
    rows: (ids) => wrap(() => ids.flatMap((id) => byId.get(id) ?? [])),
    scalars: (ids) => wrap(() => Object.fromEntries(ids.map((id) => [id, data.scalars[id] ?? []]))),
    run: (id) =>
      wrap(() => {
        const row = byId.get(id);
        return row && data.pages[id] ? { row, ...data.pages[id] } : undefined;
      }),
    fileUrl: () => undefined,
  };
}
