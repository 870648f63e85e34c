/** `--help-op`: how to give an op's flags, and each flag with its default and file. */
import type { OpDef } from "../gagefile/opdef.ts";
import type { FlagValue } from "./formats/format.ts";
import type { ConfigPlan } from "./files.ts";
import { formatFlagValue } from "./flags.ts";

/** `--help-op`: how to give flags, the op's description, then each flag, its default and file. */
export function formatOpHelp(op: OpDef, plan: ConfigPlan): string {
  const lines = [`Usage: runstage run ${op.name} [NAME=VALUE]...`, ""];
  if (op.description) lines.push(op.description, "");
  const rows = plan.files.flatMap((file) =>
    file.keys.map((key) => [key, displayValue(plan.defaults[key]), file.path])
  );
  if (rows.length === 0) lines.push("Flags: none");
  else lines.push("Flags:", ...alignColumns(rows).map((row) => `  ${row}`));
  if (op.freeFlags) {
    lines.push("", "Other flags are accepted as given (free-flags): recorded, written to no file.");
  }
  return lines.join("\n") + "\n";
}

/** A default as flag text; one that holds line breaks or tabs shows them escaped, as JSON. */
function displayValue(value: FlagValue): string {
  const text = formatFlagValue(value);
  return /\p{Cc}/u.test(text) ? JSON.stringify(value) : text;
}

/** Columns two spaces apart; the last one is not padded. */
function alignColumns(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ")
  );
}
