/**
 * What the board's views share: the data source, the table's query and
 * columns, the runs selected, and the axes the charts last showed.
 */
import type { Source } from "./source.ts";

export interface State {
  where: string;
  sort: string;
  offset: number;
  limit: number;
  hidden: Set<string>;
  selected: Set<string>;
  flags: string[];
  metrics: string[];
  x?: string;
  y?: string;
  metric?: string;
}

/** A view on the page; `refresh` brings its data up to date in place. */
export interface View {
  refresh?: () => Promise<void>;
}

export interface Context {
  source: Source;
  state: State;
}
