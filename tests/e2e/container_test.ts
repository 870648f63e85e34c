/**
 * The container hand-off recipe of docs/container.md, checked without a Docker
 * engine: runs are staged with the real CLI, the Dockerfiles are read from the
 * doc itself, and a model of what `docker build` does with them (COPY from the
 * build context, .dockerignore) gives the image's file list, which must be the
 * run's manifest mapped to the COPY destination.
 *
 * The model knows only what the recipe uses and fails loudly on anything else,
 * so a recipe that grows an instruction it cannot check does not pass unchecked.
 */
import assert from "node:assert/strict";
import { posix } from "node:path";
import picomatch from "picomatch";
import { type CliResult, REPO_ROOT, runstage, runstageCommand } from "../support/cli.ts";
import { sha256File, withProject, withTempDir, writeFile } from "../support/fixtures.ts";

// --- the recipe, as docs/container.md shows it ----------------------------------------

const RECIPE_DOC = `${REPO_ROOT}docs/container.md`;

/** The fenced `lang` block right after `<!-- container-recipe: NAME -->`, unindented. */
async function recipeBlock(name: string, lang: string): Promise<string> {
  const doc = await Deno.readTextFile(RECIPE_DOC);
  const marker = `<!-- container-recipe: ${name} -->`;
  const at = doc.indexOf(marker);
  assert.ok(at >= 0, `docs/container.md has no ${marker}`);
  const block = new RegExp(`^\\s*( *)\`\`\`${lang}\\n([\\s\\S]*?)^ *\`\`\`$`, "m")
    .exec(doc.slice(at + marker.length));
  assert.ok(block && block.index === 0, `no ${lang} block right after ${marker}`);
  const [, indent, body] = block;
  return body.replaceAll(new RegExp(`^${indent}`, "gm"), "");
}

const recipeDockerfile = (name: string) => recipeBlock(name, "dockerfile");

/**
 * Runs the doc's build commands with `sh` in `project`, with `runstage` being
 * this runstage and `docker` a stand-in that records its arguments, and returns
 * the `docker build` it was asked for.
 */
async function recipeBuild(project: string, runsHome: string) {
  return await withTempDir(async (bin) => {
    const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    const [cmd, args] = runstageCommand([]);
    await writeFile(
      bin,
      "runstage",
      `#!/bin/sh\nexec ${[cmd, ...args].map(quote).join(" ")} "$@"\n`,
    );
    await writeFile(bin, "docker", `#!/bin/sh\nprintf '%s\\n' "$@" >"$DOCKER_ARGS"\n`);
    for (const tool of ["runstage", "docker"]) await Deno.chmod(`${bin}/${tool}`, 0o755);
    const out = await new Deno.Command("sh", {
      args: ["-ec", await recipeBlock("build", "sh")],
      cwd: project,
      env: {
        PATH: `${bin}:${Deno.env.get("PATH")}`,
        GAGE_RUNS: runsHome,
        DOCKER_ARGS: `${bin}/docker-args`,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `the doc's build commands failed:\n${stderr}`);
    const argv = (await Deno.readTextFile(`${bin}/docker-args`)).trimEnd().split("\n");
    // `docker build -f FILE -t TAG CONTEXT`, as the recipe writes it.
    assert.deepEqual(
      [argv[0], argv[1], argv[3], argv.length],
      ["build", "-f", "-t", 6],
      argv.join(" "),
    );
    return { dockerfile: posix.resolve(project, argv[2]), tag: argv[4], context: argv[5], stderr };
  });
}

// --- a model of docker build -----------------------------------------------------------

/** What the build put at a path of the image: a file's digest, or a symlink's target. */
type ImageFiles = Map<string, string>;

const fileEntry = (sha256: string) => `file ${sha256}`;
const linkEntry = (target: string) => `symlink -> ${target}`;

/** Instructions that put no files into the image. */
const NO_FILES = new Set(["CMD", "ENTRYPOINT", "ENV", "LABEL", "EXPOSE"]);

/**
 * The files `docker build -f DOCKERFILE CONTEXT` puts into the image from the
 * context. The base image's own files are not the run's and are left out.
 */
async function buildImage(dockerfilePath: string, context: string): Promise<ImageFiles> {
  const ignored = await dockerIgnore(dockerfilePath, context);
  const image: ImageFiles = new Map();
  let workdir = "/";
  let froms = 0;
  for (const { keyword, args } of instructions(await Deno.readTextFile(dockerfilePath))) {
    if (keyword === "FROM") {
      if (++froms > 1) throw new Error("multi-stage builds are not modelled");
    } else if (keyword === "WORKDIR") workdir = posix.resolve(workdir, args);
    else if (keyword === "COPY") await copy(args, workdir, context, ignored, image);
    else if (!NO_FILES.has(keyword)) {
      throw new Error(`Dockerfile instruction ${keyword} is not modelled: teach buildImage it`);
    }
  }
  return image;
}

/** Instructions with their argument text: comments and blank lines dropped, `\` lines joined. */
function instructions(dockerfile: string): { keyword: string; args: string }[] {
  const out: { keyword: string; args: string }[] = [];
  let pending = "";
  for (const line of dockerfile.split("\n")) {
    if (pending === "" && (line.trim() === "" || line.trim().startsWith("#"))) continue;
    pending += line.trimEnd();
    if (pending.endsWith("\\")) {
      pending = pending.slice(0, -1) + " ";
      continue;
    }
    const [, keyword, args] = /^\s*(\S+)\s*(.*)$/.exec(pending)!;
    out.push({ keyword: keyword.toUpperCase(), args: args.trim() });
    pending = "";
  }
  return out;
}

/**
 * `COPY SRC... DEST`: a dir source copies its contents recursively (regular
 * files as they are, symlinks as symlinks), a file source the file; DEST is
 * relative to WORKDIR and is a dir for a dir source, several sources or a
 * trailing `/`. Paths the ignore file excludes are not in the context at all.
 */
async function copy(
  args: string,
  workdir: string,
  context: string,
  ignored: (path: string) => boolean,
  image: ImageFiles,
): Promise<void> {
  if (args.startsWith("--")) throw new Error(`COPY flags are not modelled: ${args}`);
  const parts = args.startsWith("[") ? JSON.parse(args) as string[] : args.split(/\s+/);
  assert.ok(parts.length >= 2, `COPY needs a source and a destination: ${args}`);
  const dest = posix.resolve(workdir, parts.at(-1)!);
  const destIsDir = parts.length > 2 || parts.at(-1)!.endsWith("/");
  for (const src of parts.slice(0, -1)) {
    if (/[*?[]/.test(src)) throw new Error(`COPY wildcards are not modelled: ${src}`);
    // Sources are relative to the context root, even when written absolute.
    const rel = posix.normalize(src.replace(/^\/+/, "")).replace(/\/$/, "");
    if (rel === ".." || rel.startsWith("../")) throw new Error(`${src} is outside the context`);
    const inContext = rel === "." ? "" : rel;
    if (inContext !== "" && ignored(inContext)) {
      throw new Error(`COPY ${src}: not found (excluded by the ignore file)`);
    }
    const st = await Deno.lstat(posix.join(context, inContext));
    if (st.isDirectory) await copyDir(context, inContext, dest, ignored, image);
    else if (st.isFile) {
      const to = destIsDir ? posix.join(dest, posix.basename(inContext)) : dest;
      image.set(to, fileEntry(await sha256File(posix.join(context, inContext))));
    } else throw new Error(`COPY of a ${src} that is neither a file nor a dir is not modelled`);
  }
}

async function copyDir(
  context: string,
  dir: string,
  dest: string,
  ignored: (path: string) => boolean,
  image: ImageFiles,
  under = "",
): Promise<void> {
  for await (const entry of Deno.readDir(posix.join(context, dir, under))) {
    const rel = under ? `${under}/${entry.name}` : entry.name;
    const inContext = dir ? `${dir}/${rel}` : rel;
    const abs = posix.join(context, inContext);
    if (entry.isDirectory) await copyDir(context, dir, dest, ignored, image, rel);
    else if (ignored(inContext)) continue;
    else if (entry.isSymlink) image.set(posix.join(dest, rel), linkEntry(await Deno.readLink(abs)));
    else if (entry.isFile) image.set(posix.join(dest, rel), fileEntry(await sha256File(abs)));
    else throw new Error(`${inContext} is neither a file, a dir nor a symlink`);
  }
}

/**
 * The ignore file BuildKit reads: `<Dockerfile>.dockerignore` beside the
 * Dockerfile, else `.dockerignore` at the context root. As moby's patternmatcher
 * has it: comments and blank lines skipped, patterns cleaned of `./`, a leading
 * `/` and a trailing `/`, `!` re-includes, the last matching pattern decides,
 * and a pattern matching a parent dir matches everything under it.
 */
async function dockerIgnore(
  dockerfilePath: string,
  context: string,
): Promise<(path: string) => boolean> {
  let text = "";
  for (const path of [`${dockerfilePath}.dockerignore`, `${context}/.dockerignore`]) {
    try {
      text = await Deno.readTextFile(path);
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  const patterns = text.split("\n").filter((l) => !l.startsWith("#")).map((l) => l.trim())
    .filter(Boolean).map((line) => {
      const exclusion = line.startsWith("!");
      const glob = posix.normalize(exclusion ? line.slice(1).trim() : line)
        .replace(/^\/+/, "").replace(/\/+$/, "");
      return { exclusion, matches: picomatch(glob, { dot: true }) };
    });
  return (path) => {
    const parents = path.split("/").slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join("/"));
    let matched = false;
    for (const p of patterns) {
      if (p.exclusion !== matched) continue;
      if (p.matches(path) || parents.some((dir) => p.matches(dir))) matched = !p.exclusion;
    }
    return matched;
  };
}

// --- runs, through the CLI -------------------------------------------------------------

async function ok(result: Promise<CliResult>): Promise<CliResult> {
  const r = await result;
  assert.equal(r.code, 0, `exit code; stderr:\n${r.stderr}`);
  return r;
}

/**
 * The run the recipe builds from: staged (or run) with the CLI in `project`,
 * verified, and its run dir as `runstage select 1 --run-dir` prints it.
 */
async function runFor(project: string, home: string, ...command: string[]) {
  const cli = (...args: string[]) => runstage(["-C", project, "--runs", home, ...args]);
  await ok(cli(...command));
  const verified = await cli("verify", "1");
  const select = await ok(cli("select", "1", "--run-dir"));
  const meta = (await ok(cli("select", "1", "--meta-dir"))).stdout.trim();
  return {
    cli,
    verified,
    context: select.stdout.trim(),
    selectWarning: select.stderr,
    manifest: await readManifestLines(`${meta}/manifest`),
  };
}

interface ManifestLine {
  type: string;
  digest: string;
  path: string;
}

/** The manifest, read independently of lib/run/manifest.ts: `<type> <sha256> <path>` lines. */
async function readManifestLines(path: string): Promise<ManifestLine[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter(Boolean).map((line) => {
    const [, type, digest, p] = /^([srdg]) ([0-9a-f]{64}) (.+)$/.exec(line)!;
    return { type, digest, path: p };
  });
}

/** The image the manifest promises: its entries under `under` (a run-dir dir) at `dest`. */
function promisedImage(manifest: ManifestLine[], dest: string, under = ""): ImageFiles {
  const prefix = under ? `${under}/` : "";
  return new Map(
    manifest.filter((e) => e.path.startsWith(prefix))
      .map((e) => [posix.join(dest, e.path.slice(prefix.length)), fileEntry(e.digest)]),
  );
}

/** Sorted lines, so a mismatch shows as a readable diff. */
function listing(image: ImageFiles): string[] {
  return [...image].map(([path, entry]) => `${path} ${entry}`).sort();
}

const APP = "/usr/local/src/myapp";

// --- tests -----------------------------------------------------------------------------

Deno.test("the recipe: COPY of a staged run dir puts exactly the manifest's files into the image", async () => {
  await withProject({
    "gage.toml": '[train]\nexec = "python train.py"\n',
    "train.py": "print('train')\n",
    "pkg/__init__.py": "",
    "pkg/model.py": "class Model: pass\n",
    "conf/base.yaml": "lr: 0.1\n",
    "data notes/read me.txt": "spaces in paths\n",
    "run.sh": "#!/bin/sh\npython train.py\n",
  }, async (project, home) => {
    await Deno.chmod(`${project}/run.sh`, 0o755);
    // A symlinked project file is staged as a copy, so the image gets a file.
    await Deno.symlink("train.py", `${project}/latest.py`);
    await writeFile(project, "Dockerfile", await recipeDockerfile("Dockerfile"));
    const run = await runFor(project, home, "stage", "train");
    assert.equal(run.verified.code, 0, run.verified.stdout + run.verified.stderr);

    // The doc's own commands: the run dir is the context, the run's id the tag.
    const build = await recipeBuild(project, home);
    assert.equal(build.context, run.context);
    assert.equal(build.tag, `myapp:${run.context.slice(home.length + 1)}`);
    assert.equal(build.stderr, "", "a staged snapshot is handed over without a warning");

    const image = await buildImage(build.dockerfile, build.context);
    assert.deepEqual(listing(image), listing(promisedImage(run.manifest, APP)));
    assert.ok(run.manifest.length >= 9, `a non-trivial run: ${run.manifest.length} files`);
    assert.equal(image.get(`${APP}/latest.py`), fileEntry(await sha256File(`${project}/train.py`)));
    assert.equal(
      image.get(`${APP}/data notes/read me.txt`),
      fileEntry(await sha256File(`${project}/data notes/read me.txt`)),
    );
  });
});

Deno.test("the recipe on a run with runtime, dependency and generated files: every type is in the image", async () => {
  await withProject({
    "gage.toml": `
[train]
sourcecode = ["**/*.py"]
exec.init-runtime = "mkdir -p cache && echo runtime > cache/env.txt"
exec.run = "mkdir -p out && echo model > out/model.txt"

[[train.depends]]
type = "project-files"
files = ["data/*.csv"]
target = "inputs"
`,
    "train.py": "print('train')\n",
    "data/a.csv": "x,y\n1,2\n",
  }, async (project, home) => {
    const dockerfile = await writeFile(project, "Dockerfile", await recipeDockerfile("Dockerfile"));
    const run = await runFor(project, home, "run", "train");
    assert.equal(run.verified.code, 0, run.verified.stdout + run.verified.stderr);
    assert.deepEqual(
      run.manifest.map((e) => `${e.type} ${e.path}`),
      ["s train.py", "r cache/env.txt", "d inputs/data/a.csv", "g out/model.txt"],
    );
    const image = await buildImage(dockerfile, run.context);
    assert.deepEqual(listing(image), listing(promisedImage(run.manifest, APP)));
  });
});

Deno.test("the recipe: a .dockerignore in the run dir drops files; a Dockerfile.dockerignore restores them", async () => {
  await withProject({
    "gage.toml": '[train]\nexec = "python train.py"\n',
    "train.py": "print('train')\n",
    ".dockerignore": "# not for images\nnotes/\n*.log\n!keep.log\n",
    "notes/todo.txt": "later\n",
    "debug.log": "noise\n",
    "keep.log": "wanted\n",
  }, async (project, home) => {
    const dockerfile = await writeFile(project, "Dockerfile", await recipeDockerfile("Dockerfile"));
    const run = await runFor(project, home, "stage", "train");
    const promised = promisedImage(run.manifest, APP);
    assert.ok(promised.has(`${APP}/.dockerignore`), "the project's .dockerignore was staged");

    const dropped = listing(promised).filter((l) =>
      l.startsWith(`${APP}/notes/todo.txt `) || l.startsWith(`${APP}/debug.log `)
    );
    assert.equal(dropped.length, 2);
    const image = await buildImage(dockerfile, run.context);
    assert.deepEqual(listing(image), listing(promised).filter((l) => !dropped.includes(l)));

    // An ignore file named after the Dockerfile replaces the context's.
    await writeFile(project, "Dockerfile.dockerignore", "");
    assert.deepEqual(listing(await buildImage(dockerfile, run.context)), listing(promised));
  });
});

Deno.test("the recipe with path-map: COPY of the mapped dir gives the manifest's entries under it", async () => {
  await withProject({
    "gage.toml": `
[train]
exec.init-runtime = "echo runtime > venv.txt"
exec.run = "python src/myapp/train.py"
path-map = { "." = "src/myapp" }
`,
    "train.py": "print('train')\n",
    "pkg/__init__.py": "",
  }, async (project, home) => {
    const dockerfile = await writeFile(
      project,
      "Dockerfile",
      await recipeDockerfile("Dockerfile.path-map"),
    );
    const run = await runFor(project, home, "stage", "train");
    assert.equal(run.verified.code, 0, run.verified.stdout + run.verified.stderr);
    assert.deepEqual(run.manifest.map((e) => `${e.type} ${e.path}`), [
      "s src/myapp/Dockerfile",
      "s src/myapp/gage.toml",
      "s src/myapp/pkg/__init__.py",
      "s src/myapp/train.py",
      "r venv.txt",
    ]);
    const image = await buildImage(dockerfile, run.context);
    // The runtime file at the run dir's root stays out, as the recipe says.
    assert.deepEqual(listing(image), listing(promisedImage(run.manifest, APP, "src/myapp")));
    assert.equal(image.size, 4);
  });
});

Deno.test("a live run's dir would give the image links, not files: select warns, restage fixes it", async () => {
  await withProject({
    "gage.toml": '[train]\nexec = "python train.py"\n',
    "train.py": "print('train')\n",
    "pkg/model.py": "class Model: pass\n",
  }, async (project, home) => {
    const dockerfile = await writeFile(project, "Dockerfile", await recipeDockerfile("Dockerfile"));
    const live = await runFor(project, home, "stage", "train", "--live");
    assert.match(live.selectWarning, /is live: its source files are links into ".*"; restage it/);
    // The doc's build commands pass the warning on to whoever runs them.
    const build = await recipeBuild(project, home);
    assert.equal(build.stderr, live.selectWarning);
    const linked = await buildImage(dockerfile, build.context);
    const promised = promisedImage(live.manifest, APP);
    assert.deepEqual([...linked.keys()].sort(), [...promised.keys()].sort());
    // Same paths, but each a link to the project's file by its absolute path on this machine.
    for (const [path, entry] of linked) {
      const rel = path.slice(APP.length + 1);
      assert.equal(entry, linkEntry(`${project}/${rel}`), path);
    }

    const frozen = await runFor(project, home, "restage", "1");
    assert.equal(frozen.verified.code, 0, frozen.verified.stdout + frozen.verified.stderr);
    assert.equal(frozen.selectWarning, "");
    const image = await buildImage(dockerfile, frozen.context);
    assert.deepEqual(listing(image), listing(promisedImage(frozen.manifest, APP)));
  });
});

Deno.test("the build model refuses what it does not model, rather than passing it unchecked", async () => {
  await withProject({ "a.txt": "a\n" }, async (project) => {
    const refused = async (dockerfile: string, message: RegExp) => {
      const path = await writeFile(project, "Dockerfile", dockerfile);
      await assert.rejects(buildImage(path, project), message);
    };
    await refused("FROM x\nRUN pip install -e .\n", /instruction RUN is not modelled/);
    await refused("FROM x\nADD a.txt /a\n", /instruction ADD is not modelled/);
    await refused("FROM x\nCOPY --chown=1 . /app\n", /COPY flags are not modelled/);
    await refused("FROM x\nCOPY *.txt /app/\n", /COPY wildcards are not modelled/);
    await refused("FROM x\nCOPY ../a /app\n", /outside the context/);
    await refused("FROM x AS a\nFROM y\nCOPY . /app\n", /multi-stage builds are not modelled/);
    // What it models: continuation lines, JSON form, a file source into a dir.
    const path = await writeFile(
      project,
      "Dockerfile",
      'FROM x\n# comment\nWORKDIR /app\nCOPY ["a.txt", \\\n  "sub/"]\nCOPY . .\n',
    );
    assert.deepEqual(listing(await buildImage(path, project)), [
      `/app/Dockerfile ${fileEntry(await sha256File(path))}`,
      `/app/a.txt ${fileEntry(await sha256File(`${project}/a.txt`))}`,
      `/app/sub/a.txt ${fileEntry(await sha256File(`${project}/a.txt`))}`,
    ]);
  });
});
