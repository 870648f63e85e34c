/**
 * `runstage open [RUN] [PATH]` through the real CLI: with no opener on PATH it
 * prints the path; with one (a fake `xdg-open` that records its argument) it
 * calls it with the right path; a PATH leading out of the run dir is refused.
 */
import assert from "node:assert/strict";
import { type Cli, cliFor, fails, ok, runstage } from "../support/cli.ts";
import { withProject, withTempDir } from "../support/fixtures.ts";

const GAGE = `[a]\nexec = "mkdir -p out; echo made > out/made.txt"\n`;

async function runOp(cli: Cli): Promise<string> {
  const r = await cli("run", "a");
  assert.equal(r.code, 0, r.stderr);
  return /\(([0-9a-f-]{36})\)/.exec(r.stderr)![1];
}

/** runstage ARGS with PATH holding only `bin`. */
function withPath(project: string, home: string, bin: string): Cli {
  return (...args) => runstage(["-C", project, "--runs", home, ...args], { env: { PATH: bin } });
}

Deno.test("open: prints the path where there is no opener", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const older = await runOp(cliFor(project, home));
    const newest = await runOp(cliFor(project, home));
    await withTempDir(async (bin) => {
      const cli = withPath(project, home, bin);
      const r = await cli("open");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${home}/${newest}\n`);
      assert.match(r.stderr, /^runstage: no (xdg-open|open) on PATH/);
      assert.equal(await ok(cli("open", "2", "out/made.txt")), `${home}/${older}/out/made.txt\n`);
      assert.equal(await ok(cli("open", "1", "out")), `${home}/${newest}/out\n`);
    });
  }, { realPath: true });
});

Deno.test("open: calls the system's opener with the run dir or a path in it", async () => {
  if (Deno.build.os !== "linux") return console.log("skipped: xdg-open is the opener on Linux");
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const id = await runOp(cliFor(project, home));
    await withTempDir(async (bin) => {
      const record = `${bin}/opened`;
      await Deno.writeTextFile(
        `${bin}/xdg-open`,
        `#!/bin/sh\nprintf '%s\\n' "$@" >> '${record}'\n`,
        { mode: 0o755 },
      );
      const cli = withPath(project, home, bin);
      assert.equal(await ok(cli("open")), "");
      assert.equal(await ok(cli("open", "1", "out/made.txt")), "");
      assert.equal(
        await Deno.readTextFile(record),
        `${home}/${id}\n${home}/${id}/out/made.txt\n`,
      );
      // A way out of the run dir is refused before the opener runs.
      await fails(cli, home, ["open", "1", "../.."], /leads outside the run dir/);
      await fails(cli, home, ["open", "1", "/etc"], /leads outside the run dir/);
      await Deno.symlink(`${project}/gage.toml`, `${home}/${id}/out/link`);
      await fails(cli, home, ["open", "1", "out/link"], /leads outside the run dir/);
      assert.equal((await Deno.readTextFile(record)).split("\n").length, 3, "opened no more");
      // An opener that fails is one line naming the path.
      await Deno.writeTextFile(`${bin}/xdg-open`, "#!/bin/sh\nexit 4\n");
      await fails(
        cli,
        home,
        ["open"],
        /xdg-open could not open .* \(exit code 4\): open it yourself/,
      );
    });
  }, { realPath: true });
});
