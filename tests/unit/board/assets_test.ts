import assert from "node:assert/strict";
import { generatedDigest, sourceDigest } from "../../../scripts/board_assets.ts";
import { APP_CSS, APP_JS } from "../../../lib/board/assets.gen.ts";

Deno.test("lib/board/assets.gen.ts is up to date with the front end's sources", () => {
  assert.equal(
    generatedDigest(),
    sourceDigest(),
    "lib/board/assets.gen.ts is out of date: run ./denow task board-assets",
  );
});

Deno.test("the bundled front end can be inlined in a <script> and carries its charts", () => {
  assert.ok(!/<\/script/i.test(APP_JS), "no </script in the script");
  assert.ok(APP_JS.length > 100_000, "ECharts and uPlot are in the bundle");
  assert.match(APP_CSS, /\.uplot/);
});
