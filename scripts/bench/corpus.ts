/**
 * What the benchmarks run on: the synthetic 1 GB project (seeded, so the same on
 * every machine, and cached under .bench/ until its description changes) and
 * runs homes of many runs, cloned from one real run.
 *
 * @module
 */
import { BENCH_DIR, cli, moveToTrash, readTextOr, removeIfPresent, run } from "./harness.ts";
import { count, megabytes, seconds } from "./report.ts";

/**
 * The synthetic project. Changing anything here changes the marker's content,
 * which rebuilds the cached project on the next run.
 */
export const PROJECT_SPEC = {
  version: 1,
  seed: 0x5eed_2026,
  /** Dirs per level, 3 levels: 5 × 6 × 10 = 300 leaf dirs of 20 files. */
  fanout: [5, 6, 10],
  filesPerDir: 20,
  smallMinBytes: 4 * 1024,
  smallMaxBytes: 14 * 1024,
  midFiles: 10,
  midBytes: 20 * 1024 * 1024,
  hugeBytes: 768 * 1024 * 1024,
  /** Big files are rotations of one random block, each page stamped differently. */
  blockBytes: 64 * 1024 * 1024,
};
const PROJECT_DIR = `${BENCH_DIR}/staging-project`;
const PROJECT_MARKER = `${BENCH_DIR}/staging-project.json`;
export const HUGE_PATH = "data/huge.bin";
const GAGE_TOML = `[bench]
default = true
sourcecode = ["**/*"]
exec = "true"
`;

export interface ProjectFiles {
  dir: string;
  /** Project-relative, `/`-separated. */
  paths: string[];
  bytes: number;
}

export async function ensureProject(rebuild: boolean): Promise<ProjectFiles> {
  const wanted = JSON.stringify(PROJECT_SPEC);
  const marker = await readTextOr(PROJECT_MARKER, undefined);
  if (rebuild || marker !== wanted) {
    console.log(`Generating the synthetic project in ${PROJECT_DIR} (about 1 GB)...`);
    const started = performance.now();
    // The marker goes first and comes back last: an interrupted build is never trusted.
    await removeIfPresent(PROJECT_MARKER);
    await generateProject(PROJECT_DIR);
    await Deno.writeTextFile(PROJECT_MARKER, wanted);
    // The generated GB must reach the disk before anything is timed.
    await run(["sync"]);
    console.log(`Generated in ${seconds((performance.now() - started) / 1000)}`);
  } else {
    console.log(`Using the cached project in ${PROJECT_DIR} (--rebuild regenerates it)`);
  }
  return await listProject(PROJECT_DIR);
}

export function describeProject(project: ProjectFiles): string {
  const s = PROJECT_SPEC;
  const leafDirs = s.fanout.reduce((a, b) => a * b, 1);
  return `${count(project.paths.length)} files, ${megabytes(project.bytes / 1024)} in all: ` +
    `${count(leafDirs * s.filesPerDir)} text files of ${s.smallMinBytes / 1024}-` +
    `${s.smallMaxBytes / 1024} KiB in ${leafDirs} dirs 3 levels deep, ` +
    `${s.midFiles} × ${s.midBytes / 2 ** 20} MiB and 1 × ${s.hugeBytes / 2 ** 20} MiB ` +
    `of random bytes, and gage.toml (sourcecode = ["**/*"]).`;
}

async function generateProject(dir: string): Promise<void> {
  const tmp = `${dir}.tmp`;
  await moveToTrash(tmp);
  await moveToTrash(dir);
  await Deno.mkdir(tmp, { recursive: true });
  const rand = mulberry32(PROJECT_SPEC.seed);
  await Deno.writeTextFile(`${tmp}/gage.toml`, GAGE_TOML);
  writeSmallFiles(tmp, rand);
  await writeBigFiles(tmp, rand);
  await Deno.rename(tmp, dir);
}

/** The typical source tree: thousands of small text files in nested dirs. */
function writeSmallFiles(root: string, rand: () => number): void {
  const { fanout, filesPerDir, smallMinBytes, smallMaxBytes } = PROJECT_SPEC;
  for (let a = 0; a < fanout[0]; a++) {
    for (let b = 0; b < fanout[1]; b++) {
      for (let c = 0; c < fanout[2]; c++) {
        const dir = `${root}/pkg_${a}/mod_${b}/part_${c}`;
        Deno.mkdirSync(dir, { recursive: true });
        for (let f = 0; f < filesPerDir; f++) {
          const size = smallMinBytes + rand() % (smallMaxBytes - smallMinBytes + 1);
          Deno.writeFileSync(
            `${dir}/file_${String(f).padStart(2, "0")}.txt`,
            randomText(rand, size),
          );
        }
      }
    }
  }
}

const TEXT_ALPHABET = new TextEncoder().encode(
  "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:()[]{}=+-*/_#'\"",
);

/** Printable text in lines of 40 to 100 characters. */
export function randomText(rand: () => number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let lineLeft = 40 + rand() % 60;
  for (let i = 0; i < size; i++) {
    if (--lineLeft === 0) {
      out[i] = 10;
      lineLeft = 40 + rand() % 60;
    } else {
      out[i] = TEXT_ALPHABET[rand() % TEXT_ALPHABET.length];
    }
  }
  return out;
}

/** Model checkpoints and data: ten 20 MiB files and one 768 MiB file. */
async function writeBigFiles(root: string, rand: () => number): Promise<void> {
  await Deno.mkdir(`${root}/data`);
  // One random block, reused: generating 1 GB of PRNG output would take longer
  // than everything else, and memory stays at one block however big the file.
  const block = randomBytes(rand, PROJECT_SPEC.blockBytes);
  for (let i = 0; i < PROJECT_SPEC.midFiles; i++) {
    const name = `data/blob_${String(i).padStart(2, "0")}.bin`;
    await writeRotatedBlocks(`${root}/${name}`, PROJECT_SPEC.midBytes, block, rand, i);
  }
  await writeRotatedBlocks(
    `${root}/${HUGE_PATH}`,
    PROJECT_SPEC.hugeBytes,
    block,
    rand,
    PROJECT_SPEC.midFiles,
  );
}

function randomBytes(rand: () => number, size: number): Uint8Array {
  const words = new Uint32Array(size / 4);
  for (let i = 0; i < words.length; i++) words[i] = rand();
  return new Uint8Array(words.buffer);
}

/**
 * Writes `size` bytes as copies of `block`, each rotated by a random offset and
 * with every 4 KiB page stamped by file and chunk, so no two pages of the project
 * are alike (nothing a filesystem or a cache could deduplicate).
 */
async function writeRotatedBlocks(
  path: string,
  size: number,
  block: Uint8Array,
  rand: () => number,
  fileNo: number,
): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let left = size;
    for (let chunkNo = 0; left > 0; chunkNo++) {
      stampPages(block, (fileNo << 16) | chunkNo, rand);
      const offset = rand() % block.length;
      for (const part of [block.subarray(offset), block.subarray(0, offset)]) {
        const piece = part.subarray(0, Math.min(part.length, left));
        await writeAll(file, piece);
        left -= piece.length;
      }
    }
  } finally {
    file.close();
  }
}

function stampPages(block: Uint8Array, stamp: number, rand: () => number): void {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  for (let page = 0; page + 8 <= block.length; page += 4096) {
    view.setUint32(page, stamp);
    view.setUint32(page + 4, rand());
  }
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  // A write may take only part of a big buffer.
  for (let done = 0; done < data.length;) done += await file.write(data.subarray(done));
}

/** A small, fast, seedable PRNG (mulberry32): the project is the same on every machine. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The project as it is on disk, so a cached project is described truthfully. */
async function listProject(dir: string): Promise<ProjectFiles> {
  const paths: string[] = [];
  let bytes = 0;
  const walk = async (rel: string) => {
    for await (const entry of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory) await walk(path);
      else {
        paths.push(path);
        bytes += (await Deno.stat(`${dir}/${path}`)).size;
      }
    }
  };
  await walk("");
  return { dir, paths: paths.sort(), bytes };
}

// ---------------------------------------------------------------------------
// Runs homes

/** How the clones of a runs home differ from the run they are cloned from. */
export interface ListedRunsOptions {
  /**
   * Stage the run in a git repo, so each run has meta `vcs`; every tenth clone
   * then names `otherCommit` instead of the repo's commit.
   */
  otherCommit?: string;
  /** Every hundredth clone is a live run (meta `live` naming the project). */
  live?: boolean;
}

/**
 * One real run, staged and run through the CLI, then cloned to `count` runs.
 * Returns the commit the runs were made from, with `otherCommit`.
 */
export async function makeListedRuns(
  home: string,
  count: number,
  options: ListedRunsOptions = {},
): Promise<string | undefined> {
  const project = `${home}-project`;
  await Deno.mkdir(project, { recursive: true });
  await Deno.writeTextFile(`${project}/gage.toml`, '[train]\nexec = "echo loss: 0.5"\n');
  await Deno.writeTextFile(`${project}/train.py`, "print(1)\n");
  const commit = options.otherCommit ? await commitProject(project) : undefined;
  await run(cli("-C", project, "--runs", home, "run"));
  const [meta] = [...Deno.readDirSync(home)].filter((e) => e.name.endsWith(".meta"));
  const id = meta.name.slice(0, -".meta".length);
  if (commit && !(await readTextOr(`${home}/${id}.meta/vcs`, "")).includes(commit)) {
    throw new Error(`the run staged in a git repo has no meta vcs naming ${commit}`);
  }
  for (let i = 1; i < count; i++) {
    const clone = crypto.randomUUID();
    await run(["cp", "-r", `${home}/${id}.meta`, `${home}/${clone}.meta`]);
    await Deno.writeTextFile(`${home}/${clone}.meta/id`, clone);
    await Deno.mkdir(`${home}/${clone}`);
    if (commit && options.otherCommit && i % 10 === 0) {
      const vcs = `${home}/${clone}.meta/vcs`;
      await Deno.writeTextFile(
        vcs,
        (await Deno.readTextFile(vcs)).replaceAll(commit, options.otherCommit),
      );
    }
    if (options.live && i % 100 === 0) {
      await Deno.writeTextFile(`${home}/${clone}.meta/live`, project);
    }
  }
  return commit;
}

/** Makes `dir` a git repo of one commit, the user's git config kept out; returns the commit. */
async function commitProject(dir: string): Promise<string> {
  const git = (...args: string[]) =>
    run([
      "env",
      "GIT_CONFIG_GLOBAL=/dev/null",
      "GIT_CONFIG_NOSYSTEM=1",
      "git",
      "-C",
      dir,
      "-c",
      "user.name=bench",
      "-c",
      "user.email=bench@example.com",
      "-c",
      "commit.gpgsign=false",
      ...args,
    ]);
  await git("init", "-q");
  await git("add", "-A");
  await git("commit", "-q", "-m", "bench");
  return (await git("rev-parse", "HEAD")).trim();
}
