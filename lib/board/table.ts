/**
 * The board's runs table as data: a row per run, filtered with the `--where`
 * language (lib/run/where.ts), sorted as `compare --sort` sorts, and paged.
 * Pure, with no file access, so the server (lib/board/server.ts) and the
 * browser (lib/board/web/, for the static report) run the very same code.
 */
import {
  parseWhere,
  sortByValues,
  valueOf,
  type WhereSubject,
  type WhereValue,
} from "../run/where.ts";

/** One run as the board shows it. Times are microseconds since the epoch. */
export interface BoardRow {
  index: number;
  id: string;
  name: string;
  op: string;
  status: string;
  label?: string;
  started?: number;
  stopped?: number;
  initialized?: number;
  exitCode?: number;
  flags: Record<string, WhereValue>;
  metrics: Record<string, number | string>;
}

export interface TableQuery {
  where?: string;
  /** Comma-separated names, `-` first for descending (`-loss,lr`), as `compare --sort`. */
  sort?: string;
  offset?: number;
  limit?: number;
}

export interface TablePage {
  /** Every run of the runs home. */
  total: number;
  /** The runs the query's `where` holds for. */
  matched: number;
  offset: number;
  rows: BoardRow[];
  /** The flag and metric names of the matched runs, first-seen order. */
  flags: string[];
  metrics: string[];
}

/** A row's values as `--where` reads them. */
export function rowSubject(row: BoardRow): WhereSubject {
  return {
    flag: (name) => row.flags[name],
    metric: (name) => row.metrics[name],
    attribute: (name) => {
      switch (name) {
        case "id":
          return row.id;
        case "name":
          return row.name;
        case "op":
          return row.op;
        case "status":
          return row.status;
        case "label":
          return row.label;
        case "started":
          return row.started === undefined ? undefined : row.started / 1e6;
        case "duration":
          return duration(row);
        default:
          return undefined;
      }
    },
  };
}

/** Seconds from start to stop (or to now, while running); undefined before a start. */
export function duration(row: BoardRow, now = Date.now() * 1000): number | undefined {
  if (row.started === undefined) return undefined;
  const end = row.stopped ?? (row.status === "running" ? now : undefined);
  return end === undefined ? undefined : (end - row.started) / 1e6;
}

/** The rows a `where` holds for; a malformed one throws the parser's one-line UsageError. */
export function filterRows(rows: BoardRow[], where: string | undefined): BoardRow[] {
  if (where === undefined || where.trim() === "") return rows;
  const holds = parseWhere(where);
  return rows.filter((r) => holds(rowSubject(r)));
}

/** Sorted as `compare --sort` sorts (lib/run/where.ts). */
export function sortRows(rows: BoardRow[], sort: string | undefined): BoardRow[] {
  const keys = (sort ?? "").split(",").map((k) => k.trim()).filter((k) => k !== "" && k !== "-")
    .map((k) => {
      const read = valueOf(k.replace(/^-/, ""));
      return { descending: k.startsWith("-"), read: (r: BoardRow) => read(rowSubject(r)) };
    });
  return keys.length === 0 ? rows : sortByValues(rows, keys);
}

/** Flag and metric names of the rows, in first-seen order. */
export function columnNames(rows: BoardRow[]): { flags: string[]; metrics: string[] } {
  const flags = new Set<string>();
  const metrics = new Set<string>();
  for (const r of rows) {
    for (const name in r.flags) flags.add(name);
    for (const name in r.metrics) metrics.add(name);
  }
  return { flags: [...flags], metrics: [...metrics] };
}

/** Filter, sort and page: what the runs table shows. */
export function queryTable(rows: BoardRow[], query: TableQuery): TablePage {
  const matched = sortRows(filterRows(rows, query.where), query.sort);
  const offset = Math.max(0, query.offset ?? 0);
  const limit = Math.max(1, Math.min(query.limit ?? 100, 1000));
  return {
    total: rows.length,
    matched: matched.length,
    offset,
    rows: matched.slice(offset, offset + limit),
    ...columnNames(matched),
  };
}

/** The values of `keys` (names as `--where` reads them) for every row `where` holds for. */
export function rowValues(
  rows: BoardRow[],
  where: string | undefined,
  keys: string[],
): { id: string; name: string; values: (WhereValue | undefined)[] }[] {
  const readers = keys.map((k) => valueOf(k));
  return filterRows(rows, where).map((r) => {
    const s = rowSubject(r);
    return { id: r.id, name: r.name, values: readers.map((read) => read(s)) };
  });
}
