/**
 * Gage's habits for naming runs, through the real CLI: `show`, `cat` and
 * `select` act on the latest run when RUN is left out, a unique prefix of a run
 * name names it, and `label` takes several RUNs.
 */
import assert from "node:assert/strict";
import { runName } from "../../lib/run/identity.ts";
import { type Cli, cliFor, fails, json, ok } from "../support/cli.ts";
import { withProject } from "../support/fixtures.ts";

const GAGE = `
[a]
exec = "echo out of a; echo made > made.txt"
`;

async function runOp(cli: Cli): Promise<string> {
  const r = await cli("run", "a");
  assert.equal(r.code, 0, r.stderr);
  return /\(([0-9a-f-]{36})\)/.exec(r.stderr)![1];
}

Deno.test("show, cat and select default to the latest run; a name prefix names a run", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    await fails(cli, home, ["show"], /^runstage: no runs in .*: stage one with "runstage run"$/);
    const older = await runOp(cli);
    const newest = await runOp(cli);
    assert.equal((await json<{ id: string }>(cli("show", "--json"))).id, newest);
    assert.equal(await ok(cli("select")), `${newest}\n`);
    assert.equal(await ok(cli("select", "--run-dir")), `${home}/${newest}\n`);
    assert.equal(await ok(cli("cat", "made.txt")), "made\n");
    assert.equal(await ok(cli("cat", "--output")), "out of a\n");
    assert.equal(await ok(cli("cat", "2", "--output")), "out of a\n");
    assert.match(await ok(cli("show")), new RegExp(`^name:\\s+${runName(newest)}$`, "m"));

    // "kafom" for "kafom-fikud", when no other run's name starts so.
    const [olderWord, newestWord] = [older, newest].map((id) => runName(id).split("-")[0]);
    if (olderWord !== newestWord) {
      assert.equal(await ok(cli("select", olderWord)), `${older}\n`);
    }
    assert.equal(await ok(cli("select", runName(older).slice(0, 7))), `${older}\n`);
  });
});

Deno.test("label takes several RUNs: the last argument is the text; --clear clears them all", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    const oldest = await runOp(cli);
    const middle = await runOp(cli);
    const newest = await runOp(cli);
    assert.equal(
      await ok(cli("label", "1", "3", "best")),
      `Labelled 2 runs "best": ${runName(newest)}, ${runName(oldest)}\n`,
    );
    const labels = async () =>
      (await json<{ id: string; label: string | null }[]>(cli("runs", "--json")))
        .map((r) => r.label);
    assert.deepEqual(await labels(), ["best", null, "best"]);
    assert.equal(
      await ok(cli("label", "1", middle, "--clear")),
      `Cleared the label of 2 runs: ${runName(newest)}, ${runName(middle)}\n`,
    );
    assert.deepEqual(await labels(), [null, null, "best"]);
  });
});
