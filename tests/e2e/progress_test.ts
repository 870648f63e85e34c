/**
 * Progress on a terminal (docs/faults.md, "Progress"), through the real CLI on
 * a pseudo-terminal (util-linux `script`): `stage`, `verify`, `export` and
 * `import` of a run holding one big file draw a progress line while they work,
 * and its bytes move while that one file is read; with stderr piped there is
 * no progress line at all. Ordering, not timing: the line appears in the
 * output before the command's last line, and later draws show more bytes than
 * earlier ones.
 */
import assert from "node:assert/strict";
import { runstage, runstageCommand } from "../support/cli.ts";
import { withProject, withTempDir } from "../support/fixtures.ts";

const hasScript = new Deno.Command("sh", { args: ["-c", "command -v script"] }).outputSync()
  .success;

/** Big enough that copying or hashing it spans several redraws. */
const BIG_BYTES = 300 * 1024 * 1024;
/** Kills a hung command: generous, never a measure of speed. */
const WATCHDOG_MS = 180_000;

const PROJECT = { "gage.toml": `[op]\nsourcecode = ["**/*"]\nexec = "true"\n` };

/** A project holding `big.bin` of BIG_BYTES, written a chunk at a time. */
async function writeBigFile(project: string): Promise<void> {
  const file = await Deno.open(`${project}/big.bin`, { write: true, create: true });
  try {
    const chunk = new Uint8Array(8 * 1024 * 1024).fill(7);
    for (let n = 0; n < BIG_BYTES; n += chunk.length) await file.write(chunk);
  } finally {
    file.close();
  }
}

/** Runs the CLI on a pseudo-terminal; returns all it showed, in order. */
async function onTerminal(args: string[]): Promise<string> {
  const [cmd, cmdArgs] = runstageCommand(args);
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const child = new Deno.Command("script", {
    args: ["-qfec", [cmd, ...cmdArgs].map(quote).join(" "), "/dev/null"],
    // Redrawn every 20 ms instead of 100: more draws of a copy that takes a few tenths of a second.
    env: { NO_COLOR: "1", RUNSTAGE_PROGRESS_MS: "20" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const watchdog = setTimeout(() => child.kill("SIGKILL"), WATCHDOG_MS);
  try {
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, text);
    return text;
  } finally {
    clearTimeout(watchdog);
  }
}

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/** Every progress line drawn (`\r` + erase line, then its text), with where it starts. */
function draws(output: string): { at: number; text: string }[] {
  const found: { at: number; text: string }[] = [];
  for (let at = output.indexOf(ERASE); at !== -1; at = output.indexOf(ERASE, at + 1)) {
    found.push({ at, text: output.slice(at + ERASE.length).split(/[\r\n]/)[0] });
  }
  return found;
}

const ERASE = "\r\x1b[2K";

/**
 * A progress line matching `pattern` (its first group a byte count) is drawn
 * before `lastLine`; at least two such draws show bytes, they never go back,
 * the last shows more than the first, and the line is cleared before `lastLine`.
 */
function assertMovingProgress(output: string, pattern: RegExp, lastLine: RegExp): void {
  const shown = JSON.stringify(output);
  const matching = draws(output).map((d) => ({ at: d.at, m: pattern.exec(d.text) }))
    .filter((d) => d.m !== null);
  const end = output.search(lastLine);
  assert.ok(matching.length > 0, `no progress line matching ${pattern} in:\n${shown}`);
  assert.ok(end !== -1 && matching[0].at < end, `the progress line comes before ${lastLine}`);
  const bytes = matching.map(({ m }) => {
    const [value, unit] = m![1].split(" ");
    return Number(value) * UNITS[unit];
  });
  for (let i = 1; i < bytes.length; i++) assert.ok(bytes[i] >= bytes[i - 1], `${bytes}`);
  const moving = bytes.filter((b) => b > 0);
  assert.ok(
    moving.length >= 2 && moving[moving.length - 1] > moving[0],
    `bytes move while the big file is read: ${bytes} in:\n${shown}`,
  );
  assert.ok(output.lastIndexOf(ERASE) < end, "the line is cleared before the last line");
}

/** With stderr piped: no progress line, no carriage return, no escape. */
function assertNoProgress(result: { code: number; stderr: string; stdout: string }): void {
  assert.equal(result.code, 0, result.stderr);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(result.stderr, /[\r\x1b]|Copying|Verifying|Exporting|Importing/);
}

/** A project with the big file and a runs home holding one staged run of it. */
function withStagedBigRun(fn: (project: string, runsHome: string) => Promise<void>) {
  return withProject(PROJECT, async (project, runsHome) => {
    await writeBigFile(project);
    assertNoProgress(await runstage(["-C", project, "--runs", runsHome, "stage"]));
    await fn(project, runsHome);
  });
}

/** Staging's progress line, its byte count in group 1. */
const STAGE_PROGRESS = /^Copying source code: \d+\/2 files, ([\d.]+ \S*B) of/;

/**
 * Waits until the file system's clock has moved past `path`'s ctime second: a
 * file changed in the second a staging starts is racy, never vouched for by the
 * digest cache (lib/copy/digests.ts). Reads the clock of files, not of a watch.
 */
async function waitPastCtimeSecond(path: string): Promise<void> {
  const second = (p: string) => Math.floor(Deno.statSync(p).ctime!.getTime() / 1000);
  const probe = `${path}.clock`;
  try {
    for (;;) {
      Deno.writeTextFileSync(probe, "");
      if (second(probe) > second(path)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    Deno.removeSync(probe);
  }
}

Deno.test({
  name:
    "re-staging shows bytes moving while the kernel copies a big file the digest cache vouches for",
  ignore: !hasScript,
  fn: () =>
    withProject(PROJECT, async (project, runsHome) => {
      await writeBigFile(project);
      await waitPastCtimeSecond(`${project}/big.bin`);
      // The first staging hashes big.bin and remembers its digest; the second copies it unhashed.
      assertNoProgress(await runstage(["-C", project, "--runs", runsHome, "stage"]));
      const { ino, size } = Deno.statSync(`${project}/big.bin`);
      const cache = Deno.readTextFileSync(`${runsHome}/.cache/digests`);
      assert.match(cache, new RegExp(`^\\d+ ${ino} ${size} `, "m"), "big.bin is in the cache");
      const shown = await onTerminal(["-C", project, "--runs", runsHome, "stage"]);
      assertMovingProgress(shown, STAGE_PROGRESS, /Staged run/);
    }),
});

Deno.test({
  name: "stage shows bytes moving while one big file copies, and nothing when piped",
  ignore: !hasScript,
  fn: () =>
    withStagedBigRun(async (project, runsHome) => {
      const shown = await onTerminal(["-C", project, "--runs", runsHome, "stage"]);
      assertMovingProgress(shown, STAGE_PROGRESS, /Staged run/);
    }),
});

Deno.test({
  name: "verify shows bytes moving while it hashes one big file, and nothing when piped",
  ignore: !hasScript,
  fn: () =>
    withStagedBigRun(async (_project, runsHome) => {
      assertNoProgress(await runstage(["--runs", runsHome, "verify", "1"]));
      const shown = await onTerminal(["--runs", runsHome, "verify", "1"]);
      assertMovingProgress(shown, /^Verifying: \d+\/2 files, ([\d.]+ \S*B) of/, /files verified/);
    }),
});

Deno.test({
  name: "export shows bytes moving while it hashes and writes, and nothing when piped",
  ignore: !hasScript,
  fn: () =>
    withStagedBigRun(async (_project, runsHome) => {
      await withTempDir(async (out) => {
        assertNoProgress(await runstage(["--runs", runsHome, "export", "1", "-o", `${out}/p.tar`]));
        const shown = await onTerminal(["--runs", runsHome, "export", "1", "-o", `${out}/t.tar`]);
        // Both passes: hashing for the index, then writing.
        assertMovingProgress(shown, /^Exporting: hashing ([\d.]+ \S*B) of/, /Exported 1 run/);
        assertMovingProgress(shown, /^Exporting: writing ([\d.]+ \S*B) of/, /Exported 1 run/);
      });
    }),
});

Deno.test({
  name: "import shows bytes moving while it reads and checks, and nothing when piped",
  ignore: !hasScript,
  fn: () =>
    withStagedBigRun(async (_project, runsHome) => {
      await withTempDir(async (out) => {
        assertNoProgress(await runstage(["--runs", runsHome, "export", "1", "-o", `${out}/a.tar`]));
        assertNoProgress(await runstage(["--runs", `${out}/piped`, "import", `${out}/a.tar`]));
        const shown = await onTerminal(["--runs", `${out}/tty`, "import", `${out}/a.tar`]);
        // Both steps: reading the archive, then checking the runs against their manifests.
        assertMovingProgress(shown, /^Importing: reading ([\d.]+ \S*B) of/, /Imported 1 run/);
        assertMovingProgress(shown, /^Importing: checking ([\d.]+ \S*B) of/, /Imported 1 run/);
      });
    }),
});
