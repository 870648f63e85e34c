/**
 * What import would refuse of the runs export is about to write, asked before
 * anything is written, so that export never makes an archive import rejects:
 * a name or link target holding a control character, a one-line meta file
 * holding one, an index over import's bounds. The rules are import's own
 * (format.ts for names and bounds, admit.ts for meta); this module says them
 * as export's refusals, naming the run and the path.
 */
import { Buffer } from "node:buffer";
import { metaWithControlCharacters } from "./admit.ts";
import {
  type ArchiveEntry,
  type ArchiveIndex,
  entryTextReason,
  formatIndex,
  MAX_INDEX_BYTES,
  MAX_INDEX_ENTRIES,
} from "./format.ts";
import { RunstageError } from "../errors.ts";
import { quotePath } from "../fs/quote.ts";
import type { RunInfo } from "../run/listing.ts";

/** Refuses a run whose names, link targets or one-line meta import would refuse. */
export function checkImportable(info: RunInfo, entries: readonly ArchiveEntry[]): void {
  const { name, id } = info.run;
  for (const entry of entries) {
    const reason = entryTextReason(entry);
    if (reason) {
      throw new RunstageError(
        `cannot export run ${name}: ${quotePath(entry.path)} ${reason}, which import refuses;` +
          ` rename or remove it, or export other runs`,
      );
    }
  }
  const meta = metaWithControlCharacters(info.run);
  if (meta !== undefined) {
    throw new RunstageError(
      `cannot export run ${name}: its meta file ${quotePath(`${id}.meta/${meta}`)} holds` +
        ` control characters, which import refuses; rewrite it as one line of text, or export` +
        ` other runs`,
    );
  }
}

/** Refuses an index bigger than import reads (lib/archive/entry.ts), in entries or in bytes. */
export function checkIndexBounds(runs: readonly RunInfo[], index: ArchiveIndex): void {
  const count = index.entries.length;
  const bytes = count > MAX_INDEX_ENTRIES ? 0 : Buffer.byteLength(formatIndex(index));
  if (count <= MAX_INDEX_ENTRIES && bytes <= MAX_INDEX_BYTES) return;
  const size = count > MAX_INDEX_ENTRIES
    ? `list ${count} entries (files, dirs and links), more than runstage imports from one` +
      ` archive (${MAX_INDEX_ENTRIES})`
    : `take ${bytes} bytes, more than runstage reads of one archive's index (${MAX_INDEX_BYTES})`;
  throw new RunstageError(
    runs.length === 1
      ? `cannot export run ${runs[0].run.name}: its index would ${size}; no archive can carry` +
        ` it: pack some of its files into one of their own first`
      : `cannot export ${runs.length} runs in one archive: its index would ${size}; export them` +
        ` into several archives`,
  );
}
