/**
 * Ops in containers against a real engine (podman, set up by
 * tests/support/containers.ts): the seed's scenarios, each one runstage
 * command, through the real CLI. Without an engine each test prints
 * "skipped: no container engine" (and fails under RUNSTAGE_REQUIRE_CONTAINERS=1).
 */
import assert from "node:assert/strict";
import { type CliResult, onlyRun, runstage, spawnRunstage } from "../support/cli.ts";
import { commitAll, sha256File, withProject, writeFile } from "../support/fixtures.ts";
import { BASE_IMAGE, type ContainerEnv, containerTest } from "../support/containers.ts";

const APP = "/usr/local/src/myapp";

/** The seed's Dockerfile: the code copied to where the image wants it. */
const DOCKERFILE = `FROM ${BASE_IMAGE}\nCOPY . ${APP}\nWORKDIR ${APP}\n`;

/** The seed's op: built from its Dockerfile, the run dir at the path-map target. */
const GAGE = `
"$container-engine" = "podman"

[train]
dockerfile = "Dockerfile"
path-map = { "." = "usr/local/src/myapp" }
env = { GREETING = "hello" }
exec.init-runtime = "echo runtime > runtime.txt"
exec.run = "sh train.sh"
`;

const TRAIN = 'echo "code v1 in $(pwd) with $GREETING"; echo model > model.txt\n';

function cliIn(project: string, home: string, engine: ContainerEnv) {
  return (...args: string[]) =>
    runstage(["-C", project, "--runs", home, ...args], { env: engine.env });
}

function ok(r: CliResult): string {
  assert.equal(r.code, 0, `exit code; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r.stdout;
}

async function metaContainer(metaDir: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(`${metaDir}/container`));
}

async function manifest(metaDir: string): Promise<string[]> {
  return (await Deno.readTextFile(`${metaDir}/manifest`)).split("\n").filter(Boolean);
}

/** The containers of a run the engine still has (running or not). */
async function containersOf(engine: ContainerEnv, runId: string): Promise<string> {
  return (await engine.podman("ps", "-a", "-q", "--filter", `label=runstage.run=${runId}`)).trim();
}

/** `<digest>  ./<path>` of every file under `dir` in the image, sorted. */
async function imageFiles(engine: ContainerEnv, image: string, dir: string): Promise<string[]> {
  const out = await engine.podman(
    "run",
    "--rm",
    image,
    "sh",
    "-c",
    `cd ${dir} && find . -type f -exec sha256sum {} +`,
  );
  return out.split("\n").filter(Boolean).sort();
}

containerTest(
  "dockerfile: the op runs in an image built from the staged run dir, whose files are the manifest's",
  async (engine) => {
    await withProject({
      "gage.toml": GAGE,
      "Dockerfile": DOCKERFILE,
      "train.sh": TRAIN,
      "notes/read me.txt": "spaces\n",
      // Left out of the run by the default size limit, so never in the image either.
      "big.txt": "x".repeat(200_000),
    }, async (project, home) => {
      const cli = cliIn(project, home, engine);
      const out = ok(await cli("run", "train"));
      assert.match(out, new RegExp(`code v1 in ${APP} with hello`));
      const { id, runDir, metaDir } = await onlyRun(home);
      assert.equal(
        await Deno.readTextFile(`${runDir}/model.txt`),
        "model\n",
        "outputs land in the run",
      );
      const lines = await manifest(metaDir);
      assert.ok(lines.some((l) => /^r [0-9a-f]{64} runtime.txt$/.test(l)), lines.join("\n"));
      assert.ok(lines.some((l) => /^g [0-9a-f]{64} model.txt$/.test(l)), lines.join("\n"));
      ok(await cli("verify", "1"));

      const meta = await metaContainer(metaDir);
      assert.equal(meta.engine, "podman");
      assert.match(String(meta.engineVersion), /^\d+\.\d+/);
      assert.equal(meta.image, `localhost/runstage-train:${id}`);
      assert.match(String(meta.imageId), /^sha256:[0-9a-f]{64}$/);
      assert.equal(meta.dockerfileDigest, await sha256File(`${project}/Dockerfile`));
      assert.equal(meta.dir, APP);
      const containers = meta.containers as Record<string, string>;
      assert.deepEqual(Object.keys(containers).sort(), ["init-runtime", "run"]);
      assert.equal(await containersOf(engine, id), "", "no container left behind");

      // The image's copy of the code is the manifest's source files, file for file.
      const source = lines.filter((l) => l.startsWith("s ")).map((l) => {
        const [, digest, path] = /^s ([0-9a-f]{64}) (.*)$/.exec(l)!;
        return `${digest}  ./${path}`;
      }).sort();
      assert.ok(source.length >= 4, source.join("\n"));
      assert.deepEqual(await imageFiles(engine, String(meta.imageId), APP), source);

      const show = ok(await cli("show", "1"));
      assert.match(show, /container:\n {2}engine: +podman \d/);
      assert.ok(show.includes(String(meta.imageId)), show);
      assert.ok(show.includes(String(meta.dockerfileDigest)), show);
    });
  },
);

containerTest(
  "build OP: image only, staged with its image id and Dockerfile digest in meta",
  async (engine) => {
    await withProject(
      { "gage.toml": GAGE, "Dockerfile": DOCKERFILE, "train.sh": TRAIN },
      async (project, home) => {
        const cli = cliIn(project, home, engine);
        const out = ok(await cli("build", "train"));
        const { id, metaDir } = await onlyRun(home);
        const meta = await metaContainer(metaDir);
        assert.ok(out.includes(`localhost/runstage-train:${id}`), out);
        assert.equal(meta.dockerfileDigest, await sha256File(`${project}/Dockerfile`));
        const runs = JSON.parse(ok(await cli("runs", "--json")));
        assert.equal(runs[0].status, "staged");
        const images = JSON.parse(ok(await cli("images", "--json")));
        assert.deepEqual(images.map((i: { run: string }) => i.run), [id]);
        // Purged, its image is gone from the run's side: --prune removes it.
        ok(await cli("purge", "-y", "1"));
        assert.match(ok(await cli("images", "--prune")), /Removed 1 image/);
        assert.deepEqual(JSON.parse(ok(await cli("images", "--json"))), []);
      },
    );
  },
);

containerTest(
  "image: the op sees the run dir at its path-map target, with its env and flags; outputs land in the run",
  async (engine) => {
    await withProject({
      "gage.toml": `
"$container-engine" = "podman"
[train]
image = "${BASE_IMAGE}"
path-map = { "." = "srv/app" }
config = "params.json"
env = { GREETING = "hi" }
exec = "echo \\"in $(pwd) dir=$RUN_DIR $GREETING $(cat params.json)\\" > where.txt"
`,
      "params.json": '{"lr": 0.1}\n',
    }, async (project, home) => {
      const cli = cliIn(project, home, engine);
      ok(await cli("run", "train", "lr=0.5"));
      const { id, runDir } = await onlyRun(home);
      const where = await Deno.readTextFile(`${runDir}/where.txt`);
      assert.match(where, /^in \/srv\/app dir=\/srv\/app hi \{"lr": 0\.5\}/);
      assert.equal(await containersOf(engine, id), "");
    });
  },
);

containerTest(
  "--source git:REF puts that commit's code in the image, not the work tree's",
  async (engine) => {
    await withProject(
      { "gage.toml": GAGE, "Dockerfile": DOCKERFILE, "train.sh": TRAIN },
      async (project, home) => {
        const commit = await commitAll(project, "v1");
        await writeFile(project, "train.sh", TRAIN.replace("v1", "v2 (uncommitted)"));
        await writeFile(project, "untracked.txt", "not in the commit\n");
        const cli = cliIn(project, home, engine);
        const out = ok(await cli("run", "train", "--source", `git:${commit}`));
        assert.match(out, /code v1 in/);
        const { metaDir } = await onlyRun(home);
        const meta = await metaContainer(metaDir);
        const image = await imageFiles(engine, String(meta.imageId), APP);
        const paths = image.map((line) => line.replace(/^[0-9a-f]{64} {2}\.\//, "")).sort();
        assert.deepEqual(paths, ["Dockerfile", "gage.toml", "train.sh"]);
        const v1 = await engine.podman(
          "run",
          "--rm",
          String(meta.imageId),
          "cat",
          `${APP}/train.sh`,
        );
        assert.equal(v1, TRAIN);
      },
    );
  },
);

containerTest(
  "live: an edit made in the project after staging shows at the next start, without a rebuild",
  async (engine) => {
    await withProject(
      { "gage.toml": GAGE, "Dockerfile": DOCKERFILE, "train.sh": TRAIN },
      async (project, home) => {
        const cli = cliIn(project, home, engine);
        assert.match(ok(await cli("run", "train", "--live")), /code v1 in/);
        const { metaDir } = await onlyRun(home);
        const built = (await metaContainer(metaDir)).imageId;
        await writeFile(project, "train.sh", TRAIN.replace("v1", "v2 (edited)"));
        assert.match(ok(await cli("start", "1", "--live")), /code v2 \(edited\) in/);
        assert.equal((await metaContainer(metaDir)).imageId, built, "the same image");
      },
    );
  },
);

containerTest(
  "SIGTERM during a containerized op: the run is terminated and no container is left",
  async (engine) => {
    await withProject({
      "gage.toml": GAGE.replace('exec.run = "sh train.sh"', 'exec.run = "echo started; sleep 600"'),
      "Dockerfile": DOCKERFILE,
    }, async (project, home) => {
      const child = spawnRunstage(["-C", project, "--runs", home, "run", "train"], {
        env: engine.env,
      });
      await child.readUntil(/started/);
      child.child.kill("SIGTERM");
      const result = await child.result;
      assert.equal(result.code, 143, result.stderr);
      const { id, metaDir } = await onlyRun(home);
      assert.equal(await Deno.readTextFile(`${metaDir}/proc/exit`), "-15");
      assert.equal(await containersOf(engine, id), "", "no container left behind");
    });
  },
);

containerTest("a missing engine and a failing build are one-line errors", async (engine) => {
  await withProject({
    "gage.toml": GAGE,
    "Dockerfile": `FROM ${BASE_IMAGE}\nRUN echo building && exit 3\n`,
    "train.sh": TRAIN,
  }, async (project, home) => {
    const cli = cliIn(project, home, engine);
    const missing = await cli("run", "train", "--engine", "no-such-engine");
    assert.equal(missing.code, 1);
    assert.deepEqual(missing.stderr.trimEnd().split("\n"), [
      'runstage: container engine "no-such-engine" is not on PATH: install it (podman or' +
      ' docker), or name another with --engine or "$container-engine"',
    ]);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(home)), [], "nothing written");

    const failed = await cli("run", "train");
    assert.equal(failed.code, 1);
    const errors = failed.stderr.split("\n").filter((l) => l.startsWith("runstage:"));
    assert.equal(errors.length, 1, failed.stderr);
    assert.match(
      errors[0],
      /^runstage: the image build failed \(podman build exited \d+\): .+; its whole log is ".*\/output\/15_build"$/,
    );
    assert.match(failed.stdout + failed.stderr, /\[build-image\] building/);
    const { metaDir } = await onlyRun(home);
    assert.match(await Deno.readTextFile(`${metaDir}/output/15_build`), /building/);
  });
});
