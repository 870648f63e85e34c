/**
 * scripts/check_layers.ts, the part of `deno task check` that keeps lib/'s
 * architecture: each test builds a small checkout that breaks one rule, runs the
 * script as `deno task check` does, and expects it to fail naming the offence.
 * The repository itself must pass.
 */
import assert from "node:assert/strict";
import { REPO_ROOT } from "../../support/cli.ts";
import { type Files, withTempDir, writeTree } from "../../support/fixtures.ts";

const SCRIPT = `${REPO_ROOT}scripts/check_layers.ts`;

async function checkLayers(root: string): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", SCRIPT, root],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** A checkout that keeps every rule; each test adds one file that breaks one. */
const GOOD: Files = {
  "main.ts": 'import { main } from "./lib/cli/main.ts";\nmain();\n',
  "lib/errors.ts": "export class RunstageError extends Error {}\n",
  "lib/fs/walk.ts":
    'import { RunstageError } from "../errors.ts";\nexport const w = RunstageError;\n',
  "lib/run/meta.ts": 'import { w } from "../fs/walk.ts";\nexport const m = w;\n',
  "lib/stage/stage.ts": 'import type { m } from "../run/meta.ts";\nexport type S = typeof m;\n',
  "lib/cli/main.ts":
    'import type { S } from "../stage/stage.ts";\nexport function main(): S | void {}\n',
  // A comment may name Deno.exit and an import from "../cli/main.ts" freely.
  "lib/source/origin.ts": '// Deno.exit(1); import x from "../cli/main.ts"\nexport const o = 1;\n',
};

async function expectOffence(extra: Files, pattern: RegExp): Promise<void> {
  await withTempDir(async (root) => {
    await writeTree(root, GOOD);
    const good = await checkLayers(root);
    assert.equal(good.code, 0, `the good checkout fails:\n${good.stderr}`);
    await writeTree(root, extra);
    const bad = await checkLayers(root);
    assert.equal(bad.code, 1, `no failure for ${Object.keys(extra)}`);
    assert.match(bad.stderr, pattern);
    assert.match(bad.stderr, /check_layers: \d+ offence/);
  });
}

Deno.test("check_layers: this repository keeps its layers", async () => {
  const out = await checkLayers(REPO_ROOT);
  assert.equal(out.code, 0, out.stderr);
});

Deno.test("check_layers fails on an import against the layer order", async () => {
  await expectOffence(
    { "lib/run/meta.ts": 'import type { S } from "../stage/stage.ts";\nexport type M = S;\n' },
    /lib\/run\/meta\.ts: imports lib\/stage\/stage\.ts against the layer order \(lib\/run\/ may not import lib\/stage\/\)/,
  );
});

Deno.test("check_layers fails on an import between two folders of one layer", async () => {
  await expectOffence(
    {
      "lib/config/config.ts": 'import { o } from "../source/origin.ts";\nexport const c = o;\n',
    },
    /lib\/config\/config\.ts: imports lib\/source\/origin\.ts against the layer order/,
  );
});

Deno.test("check_layers fails on an import cycle, type-only imports included", async () => {
  await expectOffence(
    {
      "lib/copy/a.ts": 'import type { B } from "./b.ts";\nexport type A = B | 1;\n',
      "lib/copy/b.ts": 'import type { A } from "./a.ts";\nexport type B = A | 2;\n',
    },
    /import cycle lib\/copy\/a\.ts -> lib\/copy\/b\.ts -> lib\/copy\/a\.ts/,
  );
});

Deno.test("check_layers fails on the Deno global in lib/, not in its comments", async () => {
  await expectOffence(
    { "lib/fs/pool.ts": "export const cwd = () => Deno.cwd();\n" },
    /lib\/fs\/pool\.ts:1: uses the Deno global/,
  );
  await expectOffence(
    { "main.ts": 'import "./lib/cli/main.ts";\nDeno["exit"](0);\n' },
    /main\.ts:2: uses the Deno global/,
  );
});

Deno.test("check_layers fails on a lib/ module over the line limit, and on an unknown folder", async () => {
  await expectOffence(
    { "lib/run/long.ts": "export const x = 1;\n".repeat(451) },
    /lib\/run\/long\.ts: 451 lines, over 450/,
  );
  await expectOffence(
    { "lib/misc/helpers.ts": 'import { m } from "../run/meta.ts";\nexport const h = m;\n' },
    /lib\/misc\/ is in no layer/,
  );
});

Deno.test("check_layers fails on a dynamic import against the layer order", async () => {
  await expectOffence(
    {
      "lib/fs/lazy.ts": 'export const load = () => import("../archive/export.ts");\n',
      "lib/archive/export.ts": "export const e = 1;\n",
    },
    /lib\/fs\/lazy\.ts: imports lib\/archive\/export\.ts against the layer order/,
  );
});
