import assert from "node:assert/strict";
import { type BoardRow, queryTable, rowValues } from "../../../lib/board/table.ts";

function row(index: number, flags: BoardRow["flags"], metrics: BoardRow["metrics"]): BoardRow {
  return {
    index,
    id: `id${index}`,
    name: `run${index}`,
    op: "train",
    status: "completed",
    flags,
    metrics,
  };
}

const rows = [
  row(1, { lr: 0.1 }, { loss: 0.5 }),
  row(2, { lr: 0.2 }, { loss: 0.2 }),
  row(3, { lr: 0.3 }, {}),
];

Deno.test("the board's table filters with --where, sorts as compare --sort, and pages", () => {
  assert.deepEqual(queryTable(rows, { where: "lr<0.25" }).rows.map((r) => r.index), [1, 2]);
  assert.deepEqual(queryTable(rows, { sort: "loss" }).rows.map((r) => r.index), [2, 1, 3]);
  assert.deepEqual(queryTable(rows, { sort: "-loss" }).rows.map((r) => r.index), [1, 2, 3]);
  const page = queryTable(rows, { offset: 1, limit: 1 });
  assert.deepEqual([page.total, page.matched, page.rows[0].index], [3, 3, 2]);
  assert.deepEqual(page.flags, ["lr"]);
  assert.deepEqual(page.metrics, ["loss"]);
  assert.throws(() => queryTable(rows, { where: "lr<" }), /bad --where "lr<": column 4/);
  assert.deepEqual(rowValues(rows, "loss>0.3", ["lr", "loss"]), [
    { id: "id1", name: "run1", values: [0.1, 0.5] },
  ]);
});
