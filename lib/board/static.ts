/**
 * `runstage board --html FILE`: the board as one self-contained HTML file, the
 * runs' rows, scalars and pages inlined, to open from file:// with no server
 * and no network. Kept small for a sweep of a thousand runs: scalars thinned
 * to at most {@link MAX_POINTS} points per key and 6 significant digits (the
 * table keeps every digit of a summary's metrics), the last {@link MAX_LINES}
 * lines of each phase's output, and the whole gzipped (lib/board/page.ts).
 */
import { writeFileSync } from "node:fs";
import { RunstageError } from "../errors.ts";
import { quotePath } from "../fs/quote.ts";
import { readScalars } from "../run/scalars.ts";
import { listRuns } from "../run/listing.ts";
import { boardRow, runPage, type ScalarSeries, scalarSeries } from "./data.ts";
import { boardHtml } from "./page.ts";
import type { RunPage } from "./data.ts";
import type { BoardRow } from "./table.ts";

export const MAX_POINTS = 500;
export const MAX_LINES = 200;

export interface StaticData {
  created: number;
  runsHome: string;
  rows: BoardRow[];
  scalars: Record<string, ScalarSeries[]>;
  pages: Record<string, Omit<RunPage, "row">>;
}

export function staticData(runsHome: string): StaticData {
  const infos = listRuns(runsHome);
  const data: StaticData = {
    created: Date.now() * 1000,
    runsHome,
    rows: [],
    scalars: {},
    pages: {},
  };
  for (const info of infos) {
    const row = boardRow(info);
    data.rows.push(row);
    const series = scalarSeries(readScalars(info.run), MAX_POINTS).map((s) => ({
      ...s,
      y: s.y.map((v) => Number(v.toPrecision(6))),
    }));
    if (series.length > 0) data.scalars[row.id] = series;
    const { row: _, ...page } = runPage(row, info.run, MAX_LINES);
    data.pages[row.id] = page;
  }
  return data;
}

/** Writes the report; returns how many runs it holds and its size in bytes. */
export function writeStaticBoard(runsHome: string, file: string): { runs: number; bytes: number } {
  const data = staticData(runsHome);
  const html = boardHtml({ mode: "static", data });
  try {
    writeFileSync(file, html);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new RunstageError(
      `cannot write the board to ${quotePath(file)} (${code}): give --html a file in a` +
        " directory that exists and can be written",
    );
  }
  return { runs: data.rows.length, bytes: new TextEncoder().encode(html).length };
}
