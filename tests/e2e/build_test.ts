/**
 * The single binary: `--version` says what runs (source or a build, which
 * commit, which runtime), and scripts/build.ts builds a host binary that runs
 * and checks out. Building here costs one bun build of the host binary (under a
 * second, 110 MB in a temp dir, removed after) and one deno compile that is
 * rejected: the all-targets build, and the end-to-end suite against the
 * binary, run in .ci/run and the release workflow.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { BUILD_INFO_GLOBAL } from "../../lib/buildinfo.ts";
import { VERSION, versionText } from "../../lib/cli/version.ts";
import { REPO_ROOT, runstage, RUNSTAGE_BIN, sourceCommand } from "../support/cli.ts";
import { withTempDir, writeFile } from "../support/fixtures.ts";

const decoder = new TextDecoder();
const COMPILED_VERSION = new RegExp(
  `^runstage ${VERSION.replaceAll(".", "\\.")} ` +
    String.raw`\(commit ([0-9a-f]{12})(-dirty)?, (deno|bun) \d+\.\d+\.\d+ compile\)$`,
);

async function run(cmd: string, args: string[], options: Deno.CommandOptions = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...options,
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The commit a build of this checkout names: HEAD's first 12 hex digits. */
async function headCommit(): Promise<string> {
  const out = await run("git", ["-C", REPO_ROOT, "rev-parse", "HEAD"]);
  assert.equal(out.code, 0, out.stderr);
  return out.stdout.trim().slice(0, 12);
}

Deno.test("--version from source: the version, `source` and the runtime; git is not run", async () => {
  await withTempDir(async (dir) => {
    // A git that leaves a mark: startup must not ask git anything.
    const mark = `${dir}/git-ran`;
    await writeFile(dir, "bin/git", `#!/bin/sh\necho "$@" >>"${mark}"\nexit 1\n`);
    await Deno.chmod(`${dir}/bin/git`, 0o755);
    for (const flag of ["--version", "-V"]) {
      const [cmd, args] = sourceCommand([flag]);
      const out = await run(cmd, args, {
        env: { PATH: `${dir}/bin:${Deno.env.get("PATH")}` },
      });
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout, `runstage ${VERSION} (source, deno ${Deno.version.deno})\n`);
    }
    assert.equal(existsSync(mark), false, "runstage ran git at startup");
  });
});

Deno.test("--version of the CLI under test: a build names its 12-hex commit and compile runtime", async () => {
  const out = await runstage(["--version"]);
  assert.equal(out.code, 0, out.stderr);
  if (RUNSTAGE_BIN) assert.match(out.stdout.trimEnd(), COMPILED_VERSION);
  else assert.equal(out.stdout, `runstage ${VERSION} (source, deno ${Deno.version.deno})\n`);
});

Deno.test("versionText: commit, -dirty, and the runtime with `compile` for a build", () => {
  assert.equal(
    versionText({ commit: "1a2b3c4d5e6f", dirty: false }, "deno 2.9.6"),
    `runstage ${VERSION} (commit 1a2b3c4d5e6f, deno 2.9.6 compile)`,
  );
  assert.equal(
    versionText({ commit: "1a2b3c4d5e6f", dirty: true }, "bun 1.4.5"),
    `runstage ${VERSION} (commit 1a2b3c4d5e6f-dirty, bun 1.4.5 compile)`,
  );
  assert.equal(versionText(undefined, "node 20.1.0"), `runstage ${VERSION} (source, node 20.1.0)`);
  assert.equal(BUILD_INFO_GLOBAL, "RUNSTAGE_BUILD", "the name bun --define and the entry set");
});

/** Runs scripts/build.ts as `deno task build` does, with `env` on top of this process's. */
function build(args: string[], env: Record<string, string>, unset: string[] = []) {
  const merged: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1", ...env };
  for (const name of unset) delete merged[name];
  return run(Deno.execPath(), ["run", "--allow-all", `${REPO_ROOT}scripts/build.ts`, ...args], {
    cwd: REPO_ROOT,
    env: merged,
    clearEnv: true,
  });
}

const HOST = `runstage-${Deno.build.target}`;

Deno.test({
  name:
    "build --host with no base runtime anywhere: says what it tried, builds with bun, checks out",
  // sha256sum and /bin/true as below are GNU/Linux's; CI and the release build run there.
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await withTempDir(async (dir) => {
      const out = `${dir}/dist`;
      // An empty Deno cache and --offline: no denort can be found, as on our machines.
      await Deno.mkdir(`${dir}/deno-dir`);
      const result = await build(
        ["--host", "--offline", "--out", out],
        { DENO_DIR: `${dir}/deno-dir` },
        ["DENORT_BIN"],
      );
      assert.equal(result.code, 0, result.stdout + result.stderr);
      const said = result.stdout.split("\n").find((l) =>
        l.includes("no deno compile base runtime")
      );
      assert.ok(said, result.stdout);
      assert.match(said, /DENORT_BIN \(not set/);
      assert.ok(said.includes(`${dir}/deno-dir/dl/release/v${Deno.version.deno}/`), said);
      assert.match(said, /the network \(--offline\)/);
      assert.match(said, /with bun build --compile instead$/);

      assert.deepEqual(
        [...Deno.readDirSync(out)].map((e) => e.name).sort(),
        ["SHA256SUMS", "runstage", HOST],
      );
      const sums = await Deno.readTextFile(`${out}/SHA256SUMS`);
      assert.match(sums, new RegExp(`^[0-9a-f]{64}  ${HOST}\n$`));
      const check = await run("sha256sum", ["-c", "SHA256SUMS"], { cwd: out });
      assert.equal(check.code, 0, check.stdout + check.stderr);

      const version = await run(`${out}/runstage`, ["--version"]);
      assert.equal(version.code, 0, version.stderr);
      const match = COMPILED_VERSION.exec(version.stdout.trimEnd());
      assert.ok(match, version.stdout);
      assert.equal(match[1], await headCommit(), "the commit the binary was built from");
      assert.equal(match[3], "bun");
    });
  },
});

Deno.test({
  name: "build: DENORT_BIN is the host's base runtime; a binary that does not run is not built",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await withTempDir(async (dir) => {
      const out = `${dir}/dist`;
      await Deno.mkdir(out);
      await Deno.writeTextFile(`${out}/SHA256SUMS`, "stale\n");
      // deno compile appends runstage to /bin/true, which ignores it: a binary that runs true.
      const result = await build(["--host", "--out", out], { DENORT_BIN: "/bin/true" });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stdout, /deno compile [\d.]+, base runtime from DENORT_BIN \/bin\/true/);
      assert.match(result.stderr, /failed .*: the built binary does not run as built: /);
      assert.match(result.stderr, /no binary was built/);
      // Nothing half-built stays, not even the last build's checksums or the generated entry.
      assert.deepEqual([...Deno.readDirSync(out)], []);
      const entry = /dist\/\.build\/[\w-]+\/runstage\.ts/.exec(result.stdout + result.stderr);
      assert.ok(entry, "deno compile names the generated entry");
      assert.equal(existsSync(`${REPO_ROOT}${entry[0]}`), false, `${entry[0]} is left behind`);
    });
  },
});

Deno.test("build: an unknown target is one line and exit 2, before anything is built", async () => {
  await withTempDir(async (dir) => {
    const result = await build(["--target", "riscv64-unknown-linux-gnu", "--out", `${dir}/d`], {});
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^build: unknown target riscv64-unknown-linux-gnu; targets: x86_64/,
    );
    assert.equal(existsSync(`${dir}/d`), false);
  });
});
