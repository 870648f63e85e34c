import assert from "node:assert/strict";
import {
  ARCHIVE_FORMAT,
  ARCHIVE_VERSION,
  type ArchiveEntry,
  type ArchiveIndex,
  MAX_INDEX_ENTRIES,
  parseIndex,
} from "../../../lib/archive/format.ts";
import { checkIndexBounds } from "../../../lib/archive/importable.ts";
import { runName } from "../../../lib/run/identity.ts";
import type { RunInfo } from "../../../lib/run/listing.ts";

const ID = "0b6a3f4e-4c1d-4f2a-9a55-1c2b3d4e5f60";

function indexWith(entries: ArchiveEntry[]): ArchiveIndex {
  return {
    format: ARCHIVE_FORMAT,
    version: ARCHIVE_VERSION,
    runstage: "test",
    created: "2026-01-01T00:00:00Z",
    runs: [{ id: ID, name: runName(ID) }],
    entries: [{ path: `${ID}.meta`, type: "dir", mode: 0o755 }, ...entries],
  };
}

Deno.test("import refuses a link target holding a control character, as a name", () => {
  const link: ArchiveEntry = { path: `${ID}.meta/link`, type: "symlink", target: "a\nb" };
  assert.throws(
    () => parseIndex(JSON.stringify(indexWith([link]))),
    /entry ".*\.meta\/link" has a control character in its link target/,
  );
});

Deno.test("export refuses an index over import's bound, naming the run or the runs", () => {
  const many: ArchiveEntry[] = [];
  for (let i = 0; i < MAX_INDEX_ENTRIES; i++) {
    many.push({ path: `${ID}.meta/d${i}`, type: "dir", mode: 0o755 });
  }
  const one = [{ run: { name: "kafom-fikud" } }] as RunInfo[];
  assert.throws(
    () => checkIndexBounds(one, indexWith(many)),
    /^RunstageError: cannot export run kafom-fikud: its index would list 250001 entries .*\(250000\)/,
  );
  assert.throws(
    () => checkIndexBounds([...one, ...one], indexWith(many)),
    /cannot export 2 runs in one archive: .*; export them into several archives$/,
  );
  checkIndexBounds(one, indexWith(many.slice(1)));
});
