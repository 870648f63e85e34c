/**
 * `deno task build`: runstage as one executable per platform, in dist/.
 *
 * Each target is built with `deno compile`, whose base runtime (denort, the
 * same version as the Deno running this script) comes from DENORT_BIN (for the
 * host target only: deno compile would put it into any target), else the Deno
 * cache, else the network. Where none of them has it (as on machines whose only
 * network is the npm registry), the host binary is built with `bun build
 * --compile` from the npm package `bun`, pinned and installed into .tools/ as
 * ./denow does for Deno, so a real binary is always produced and tested. Every
 * host binary is run once (`--version`) before it counts as built.
 *
 * dist/ then holds `runstage-<target>[.exe]` per target built, `SHA256SUMS`
 * for them (`sha256sum -c SHA256SUMS`), and `runstage`, a link to the host's.
 * The build's commit reaches the binary without a generated file in the source
 * tree: bun substitutes it (`--define`), and deno compiles a generated entry
 * under dist/.build/ that sets it and imports main.ts; that entry is removed
 * after the build.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { BUILD_INFO_GLOBAL, type BuildInfo } from "../lib/buildinfo.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
/** deno compile wants the base runtime of its own version. */
const DENO_VERSION = Deno.version.deno;
const BUN_VERSION = "1.4.5";
const BUN_TOOLS = `${REPO}.tools/bun-${BUN_VERSION}`;
const DENORT_HOST = "dl.deno.land";
const NETWORK_PROBE_MS = 3000;

export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;
export type Target = typeof TARGETS[number];

/**
 * The permissions baked into a deno-compiled runstage: all of them. What it
 * does needs read, write, run (ops, git, /bin/sh), env (ops inherit the
 * environment) and sys (process.umask), and telling a live op from a zombie
 * reads /proc/PID/stat, which Deno grants only with --allow-all; with the
 * five flags alone, a killed run's zombie op read as running forever. And an
 * unrestricted --allow-run already lets any op do anything, so a narrower
 * list would only fail, never protect. A compiled binary never prompts.
 */
export const COMPILE_PERMISSIONS = ["--allow-all"];
/** Loaded by `new Worker(url)`, which deno compile cannot follow: every build lists it. */
const COPY_WORKER = "lib/copy/worker.ts";

const USAGE = `usage: deno task build [--host | --target TARGET...] [--offline] [--out DIR]

  --host           build for this machine only (${hostTarget() ?? "not a known target"})
  --target T       build for T (repeatable); default: all of
                   ${TARGETS.join(", ")}
  --offline        never download deno compile's base runtime; use DENORT_BIN or the Deno cache
  --out DIR        where the binaries go (default: dist)

The base runtime for deno compile comes from DENORT_BIN (host target only),
the Deno cache, or ${DENORT_HOST}; without one, the host binary is built with
bun ${BUN_VERSION} (npm package bun, installed into .tools/).`;

interface BuildOptions {
  targets: Target[];
  offline: boolean;
  outDir: string;
}

/** A binary that was built and (for the host) ran. */
interface Built {
  target: Target;
  file: string;
  how: string;
}

/** Where deno compile gets its base runtime from for one target. */
type BaseRuntime =
  | { from: "DENORT_BIN"; path: string }
  | { from: "cache"; path: string }
  | { from: "network"; url: string };

async function main(args: string[]): Promise<number> {
  let options: BuildOptions | "help";
  try {
    options = parseOptions(args);
  } catch (err) {
    console.error(`build: ${(err as Error).message} (see deno task build --help)`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  const info = await buildInfo();
  console.log(
    `build: runstage at commit ${info.commit}${info.dirty ? "-dirty" : ""} for ${
      options.targets.join(", ")
    }`,
  );
  await Deno.mkdir(options.outDir, { recursive: true });
  await removeOldOutputs(options.outDir);

  const built: Built[] = [];
  const failed: string[] = [];
  const lookups = new BaseRuntimeLookup(options.offline);
  const missing: Target[] = [];
  for (const target of options.targets) {
    const base = await lookups.find(target);
    if (!base) {
      missing.push(target);
      continue;
    }
    const result = await denoCompile(target, base, info, options.outDir);
    if (typeof result === "string") failed.push(`${target}: ${result}`);
    else built.push(result);
  }
  if (missing.length > 0) {
    const host = hostTarget();
    const fallback = host !== undefined && missing.includes(host);
    console.log(
      `build: no deno compile base runtime (denort ${DENO_VERSION}) for ${missing.join(", ")}; ` +
        `tried ${(await lookups.tried()).join(", ")}; ` +
        (fallback
          ? `building the host binary (${host}) with bun build --compile instead`
          : "skipped"),
    );
    if (fallback) {
      const result = await bunCompile(host, info, options.outDir);
      if (typeof result === "string") failed.push(`${host}: ${result}`);
      else built.push(result);
    }
  }

  if (built.length > 0) await writeChecksums(options.outDir, built);
  const host = built.find((b) => b.target === hostTarget());
  if (host) await linkHostBinary(options.outDir, host);
  report(options.outDir, built, failed, host);
  return built.length > 0 ? 0 : 1;
}

function parseOptions(args: string[]): BuildOptions | "help" {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: "boolean", default: false },
      target: { type: "string", multiple: true },
      offline: { type: "boolean", default: false },
      out: { type: "string", default: "dist" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  if (values.host && values.target) throw new Error("--host and --target exclude each other");
  let targets: Target[];
  if (values.host) {
    const host = hostTarget();
    if (!host) throw new Error(`this machine (${Deno.build.target}) is not a target`);
    targets = [host];
  } else if (values.target) {
    const named = values.target.flatMap((t) => t.split(",")).map((t) => t.trim());
    for (const t of named) {
      if (!isTarget(t)) throw new Error(`unknown target ${t}; targets: ${TARGETS.join(", ")}`);
    }
    targets = [...new Set(named as Target[])];
  } else {
    targets = [...TARGETS];
  }
  return { targets, offline: values.offline, outDir: resolve(values.out) };
}

function isTarget(name: string): name is Target {
  return (TARGETS as readonly string[]).includes(name);
}

/** The target this machine runs, if runstage is built for it. */
export function hostTarget(): Target | undefined {
  return isTarget(Deno.build.target) ? Deno.build.target : undefined;
}

function binaryName(target: Target): string {
  return `runstage-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** The commit built; uncommitted changes and untracked files make it `dirty`. */
async function buildInfo(): Promise<BuildInfo> {
  const head = await git(["rev-parse", "HEAD"]);
  if (head === undefined) return { commit: "unknown", dirty: false };
  // --no-optional-locks: a status must not rewrite the index of a checkout being built.
  const status = await git(["--no-optional-locks", "status", "--porcelain"]);
  return { commit: head.slice(0, 12), dirty: status !== "" };
}

async function git(args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("git", {
      args: ["-C", REPO, ...args],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined; // no git
  }
}

/** Outputs of an earlier build: dist/ holds exactly what this one made. */
async function removeOldOutputs(outDir: string): Promise<void> {
  for await (const entry of Deno.readDir(outDir)) {
    if (entry.name === "SHA256SUMS" || /^runstage(-|\.exe$|$)/.test(entry.name)) {
      await Deno.remove(join(outDir, entry.name));
    }
  }
}

// ---------------------------------------------------------------------------
// deno compile

/** Finds each target's base runtime, and remembers what it tried for the report. */
class BaseRuntimeLookup {
  /** The Deno dir, asked of deno once. */
  #denoDir: Promise<string | undefined> | undefined;
  /** Whether the download host answers (true) or why not; asked once. */
  #network: Promise<string | true> | undefined;
  #networkAnswer: string | true | undefined;

  constructor(readonly offline: boolean) {}

  async find(target: Target): Promise<BaseRuntime | undefined> {
    const denortBin = Deno.env.get("DENORT_BIN");
    if (denortBin && target === hostTarget() && await isFile(denortBin)) {
      return { from: "DENORT_BIN", path: denortBin };
    }
    const cached = await this.#cachePath(target);
    if (cached && await isFile(cached)) return { from: "cache", path: cached };
    if (this.offline) return undefined;
    const url = `https://${DENORT_HOST}/release/v${DENO_VERSION}/denort-${target}.zip`;
    this.#network ??= probe(url);
    this.#networkAnswer = await this.#network;
    return this.#networkAnswer === true ? { from: "network", url } : undefined;
  }

  /** The sources tried, for the line that says none had a base runtime. */
  async tried(): Promise<string[]> {
    const denortBin = Deno.env.get("DENORT_BIN");
    const network = this.offline
      ? "--offline"
      : this.#networkAnswer === true
      ? `${DENORT_HOST} reachable`
      : this.#networkAnswer ?? "not tried";
    return [
      `DENORT_BIN (${denortBin ? `${denortBin}: not a file` : "not set"}; host only)`,
      `the Deno cache (${(await this.#cachePath("<target>")) ?? "no Deno dir found"})`,
      `the network (${network})`,
    ];
  }

  /** Where deno compile itself keeps the zips it downloads (cli/standalone/binary.rs). */
  async #cachePath(target: string): Promise<string | undefined> {
    this.#denoDir ??= denoDir();
    const dir = await this.#denoDir;
    return dir && join(dir, "dl", "release", `v${DENO_VERSION}`, `denort-${target}.zip`);
  }
}

/** The Deno dir as deno itself resolves it ($DENO_DIR, or the platform's cache dir). */
async function denoDir(): Promise<string | undefined> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!out.success) return undefined;
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

/** true when the download host answers; otherwise why not, in a few words. Never hangs. */
async function probe(url: string): Promise<string | true> {
  try {
    const response = await fetch(url, {
      method: "HEAD",
      signal: AbortSignal.timeout(NETWORK_PROBE_MS),
    });
    await response.body?.cancel();
    // Only a 404 says the zip is not there; whatever else answers, deno compile may fetch it.
    return response.status === 404 ? `${url}: HTTP 404` : true;
  } catch (err) {
    const timedOut = (err as Error).name === "TimeoutError";
    return timedOut
      ? `${DENORT_HOST}: no answer in ${NETWORK_PROBE_MS / 1000} s`
      : `${DENORT_HOST} unreachable`;
  }
}

async function denoCompile(
  target: Target,
  base: BaseRuntime,
  info: BuildInfo,
  outDir: string,
): Promise<Built | string> {
  const how = `deno compile ${DENO_VERSION}, base runtime from ${
    base.from === "network" ? base.url : `${base.from} ${base.path}`
  }`;
  console.log(`build: ${target}: ${how}`);
  const file = join(outDir, binaryName(target));
  const entry = await writeDenoEntry(info);
  try {
    // DENORT_BIN would be used for every target, whatever it was built for.
    const env = Deno.env.toObject();
    if (base.from !== "DENORT_BIN") delete env.DENORT_BIN;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        ...COMPILE_PERMISSIONS,
        "--include",
        COPY_WORKER,
        "--target",
        target,
        "--output",
        file,
        relative(REPO, entry),
      ],
      cwd: REPO,
      env,
      clearEnv: true,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!out.success) return `deno compile exited with ${out.code}`;
  } finally {
    await Deno.remove(join(entry, ".."), { recursive: true });
    // The last build out leaves no dist/.build/ behind; another may still be using it.
    await Deno.remove(join(entry, "..", "..")).catch(() => {});
  }
  return await checkBuilt({ target, file, how }, info);
}

/**
 * The entry deno compiles: it sets the build's facts, then runs main.ts. Under
 * dist/.build/ (gitignored), one dir per build process, removed after use.
 */
async function writeDenoEntry(info: BuildInfo): Promise<string> {
  const dir = `${REPO}dist/.build/${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/runstage.ts`;
  const toRepo = relative(dir, REPO).split("\\").join("/");
  await Deno.writeTextFile(
    path,
    [
      "// Generated by scripts/build.ts for deno compile, and removed after it.",
      `Object.defineProperty(globalThis, ${JSON.stringify(BUILD_INFO_GLOBAL)}, {`,
      `  value: Object.freeze(${JSON.stringify(info)}),`,
      "});",
      // Dynamic: a static import would run main.ts before the line above.
      `await import(${JSON.stringify(`${toRepo}/main.ts`)});`,
      "",
    ].join("\n"),
  );
  return path;
}

// ---------------------------------------------------------------------------
// bun build --compile

async function bunCompile(
  target: Target,
  info: BuildInfo,
  outDir: string,
): Promise<Built | string> {
  const bun = await bunBinary();
  if (!bun) return `bun ${BUN_VERSION} could not be installed (npm install bun@${BUN_VERSION})`;
  const how = `bun build --compile, bun ${BUN_VERSION}`;
  console.log(`build: ${target}: ${how}`);
  const file = join(outDir, binaryName(target));
  const out = await new Deno.Command(bun, {
    args: [
      "build",
      "--compile",
      "--define",
      `${BUILD_INFO_GLOBAL}=${JSON.stringify(info)}`,
      // The worker is an entry point of its own, which lib/copy/copy.ts finds beside main.
      "main.ts",
      COPY_WORKER,
      "--outfile",
      file,
    ],
    cwd: REPO,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) return `bun build exited with ${out.code}`;
  return await checkBuilt({ target, file, how }, info);
}

/** The pinned bun: one on PATH of exactly that version, else .tools/'s, installed from npm. */
async function bunBinary(): Promise<string | undefined> {
  const exe = Deno.build.os === "windows" ? ".exe" : "";
  const os = { darwin: "darwin", windows: "windows" }[Deno.build.os as string] ?? "linux";
  const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x64";
  const candidates = [
    "bun",
    // bun's postinstall moves the platform's binary here (named bun.exe everywhere)...
    `${BUN_TOOLS}/node_modules/bun/bin/bun.exe`,
    // ...and where install scripts are off, it stays in the platform package.
    `${BUN_TOOLS}/node_modules/@oven/bun-${os}-${arch}/bin/bun${exe}`,
  ];
  const found = async () => {
    for (const bin of candidates) {
      if (await commandOutput(bin, ["--version"]) === BUN_VERSION) return bin;
    }
    return undefined;
  };
  const bin = await found();
  if (bin) return bin;
  console.log(`build: installing bun@${BUN_VERSION} from npm into ${relative(REPO, BUN_TOOLS)}/`);
  await Deno.mkdir(BUN_TOOLS, { recursive: true });
  // --prefix pins the install there; without package.json npm would climb to an ancestor's.
  await Deno.writeTextFile(`${BUN_TOOLS}/package.json`, '{"private":true}\n');
  const npm = await new Deno.Command("npm", {
    args: [
      "install",
      "--prefix",
      BUN_TOOLS,
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      "--silent",
      `bun@${BUN_VERSION}`,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output().catch(() => undefined);
  if (!npm?.success) return undefined;
  return await found();
}

// ---------------------------------------------------------------------------
// Checking, checksums, report

/**
 * A host binary must run and name the commit it was built from before it
 * counts as built: one that does not (a wrong DENORT_BIN, a broken bundle, build
 * facts that did not reach it) is removed. Binaries for other platforms cannot
 * run here: the release workflow runs the linux one.
 */
async function checkBuilt(built: Built, info: BuildInfo): Promise<Built | string> {
  if (built.target !== hostTarget()) return built;
  const version = await commandOutput(built.file, ["--version"]);
  const expected = `(commit ${info.commit}${info.dirty ? "-dirty" : ""}, `;
  if (version?.startsWith("runstage ") && version.includes(expected)) {
    console.log(`build: ${basename(built.file)} --version: ${version}`);
    return built;
  }
  await Deno.remove(built.file).catch(() => {});
  const printed = version === undefined ? "nothing" : JSON.stringify(version.split("\n")[0]);
  return `the built binary does not run as built: \`${basename(built.file)} --version\` ` +
    `printed ${printed}, not runstage's version with "${expected}" (removed)`;
}

/** What a command prints on stdout, trimmed, or undefined when it fails or cannot start. */
async function commandOutput(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(30_000),
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** `sha256sum` format (two spaces: text mode), so `sha256sum -c SHA256SUMS` verifies it. */
async function writeChecksums(outDir: string, built: Built[]): Promise<void> {
  const lines: string[] = [];
  for (const b of [...built].sort((x, y) => x.file < y.file ? -1 : 1)) {
    lines.push(`${await sha256(b.file)}  ${basename(b.file)}`);
  }
  await Deno.writeTextFile(join(outDir, "SHA256SUMS"), lines.join("\n") + "\n");
}

function sha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => resolve(hash.digest("hex")))
      .on("error", reject);
  });
}

/** `dist/runstage`: the host's binary by its plain name (a link; a copy where links fail). */
async function linkHostBinary(outDir: string, host: Built): Promise<void> {
  const link = join(outDir, `runstage${Deno.build.os === "windows" ? ".exe" : ""}`);
  try {
    await Deno.symlink(basename(host.file), link);
  } catch {
    await Deno.copyFile(host.file, link);
  }
}

function report(outDir: string, built: Built[], failed: string[], host: Built | undefined) {
  const inside = relative(Deno.cwd(), outDir);
  const shown = inside === "" ? "." : inside.startsWith("..") ? outDir : inside;
  for (const b of built) {
    const mb = (Deno.statSync(b.file).size / 1e6).toFixed(0);
    console.log(`build: built ${join(shown, basename(b.file))} (${mb} MB; ${b.how})`);
  }
  for (const f of failed) console.error(`build: failed ${f}`);
  if (built.length === 0) {
    console.error("build: no binary was built");
    return;
  }
  if (host) {
    console.log(`build: ${join(shown, basename(host.file))} is also ${join(shown, "runstage")}`);
  }
  console.log(`build: verify with: (cd ${shown} && sha256sum -c SHA256SUMS)`);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
