/**
 * `--batch FILE`: trials listed in a file, one a row, as Gage's `--batch`
 * reads them. A CSV file with a header row (each cell typed as a flag value
 * on the command line is), or a JSON or YAML list of objects of scalars. Each
 * row becomes flag arguments, so a trial stages as `run NAME=VALUE...` would.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { parse as parseYaml } from "yaml";
import { RunstageError } from "../errors.ts";
import { quotePath } from "../fs/quote.ts";
import { formatFlagValue } from "../config/config.ts";

/** One row of a batch file as `NAME=VALUE` arguments. */
export type BatchRow = string[];

/** The rows of a batch file; throws a one-line RunstageError for one that cannot be read. */
export function readBatchFile(path: string): BatchRow[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new RunstageError(`cannot read batch file ${quotePath(path)} (${code}); check the path`);
  }
  const ext = extname(path).toLowerCase();
  if (ext === ".csv") return csvRows(text, path);
  if (ext === ".json" || ext === ".yaml" || ext === ".yml") return objectRows(text, path, ext);
  throw new RunstageError(
    `batch file ${quotePath(path)} has no known format; name it .csv, .json, .yaml or .yml`,
  );
}

/** CSV cells are flag text: `0.1` is a number, `'0.1'` a string, an empty cell no flag. */
function csvRows(text: string, path: string): BatchRow[] {
  let records: Record<string, string>[];
  try {
    records = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
  } catch (err) {
    throw new RunstageError(
      `batch file ${quotePath(path)} is not valid CSV (${oneLine(err)}); fix it: a header row` +
        ` of flag names, then one row per trial`,
    );
  }
  return records.map((record) =>
    Object.entries(record).filter(([, cell]) => cell !== "").map(([name, cell]) =>
      `${name}=${cell}`
    )
  );
}

function objectRows(text: string, path: string, ext: string): BatchRow[] {
  let rows: unknown;
  try {
    rows = ext === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new RunstageError(`batch file ${quotePath(path)} does not parse (${oneLine(err)})`);
  }
  const isRow = (row: unknown): row is Record<string, unknown> =>
    row !== null && typeof row === "object" && !Array.isArray(row);
  if (!Array.isArray(rows) || !rows.every(isRow)) {
    throw new RunstageError(
      `batch file ${quotePath(path)} must be a list of objects, one per trial:` +
        ` [{"lr": 0.1}, {"lr": 0.2}]`,
    );
  }
  return rows.map((row, i) =>
    Object.entries(row).map(([name, value]) => {
      if (value !== null && typeof value === "object") {
        throw new RunstageError(
          `batch file ${quotePath(path)}, trial ${i + 1}: flag "${name}" is not a number,` +
            ` string, boolean or null; give it one of those`,
        );
      }
      return `${name}=${formatFlagValue(value as string | number | boolean | null)}`;
    })
  );
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}
