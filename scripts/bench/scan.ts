/**
 * Section `scan`: how long selecting source files takes before anything is
 * copied, timed with `runstage run --preview --json` (it selects as `stage`
 * does and writes nothing):
 *
 * - a project that links out (`root_link -> /`) and holds a 50,000-file
 *   `data/` that its rules (`train.py`, `conf/*.yaml`) can never select,
 *   against a project of only `train.py` and `conf/`, in the same rounds: the
 *   ratio is what walking what no rule can match costs;
 * - the default rules on a project of a few thousand files.
 *
 * It only runs the CLI and reports. A command still running after
 * `--scan-timeout` seconds is killed and reported as stopped; a command stopped
 * on its untimed first run is not timed again.
 *
 * @module
 */
import { mulberry32, randomText } from "./corpus.ts";
import {
  BENCH_DIR,
  type BenchOptions,
  cli,
  median,
  moveToTrash,
  readTextOr,
  removeIfPresent,
  rotate,
  run,
  timeWithWatchdog,
  WORK_DIR,
} from "./harness.ts";
import {
  count,
  formatFacts,
  type MachineFacts,
  markdownTable,
  ratio,
  seconds,
  type Table,
  textTable,
} from "./report.ts";

/** The scanned projects; changing this rebuilds the cached ones under .bench/. */
const SCAN_SPEC = {
  version: 2,
  seed: 0x5ca9_2026,
  dataDirs: 50,
  filesPerDataDir: 1000,
  dataFileBytes: 64,
  confFiles: 8,
  /** The default-rules project: dirs of text files, every tenth file binary. */
  defaultsDirs: 60,
  filesPerDefaultsDir: 50,
};
const SCAN_DIR = `${BENCH_DIR}/scan-projects`;
const SCAN_MARKER = `${BENCH_DIR}/scan-projects.json`;
const RULES = ["train.py", "conf/*.yaml"];
const dataFiles = SCAN_SPEC.dataDirs * SCAN_SPEC.filesPerDataDir;
const defaultsFiles = SCAN_SPEC.defaultsDirs * SCAN_SPEC.filesPerDefaultsDir;
/** The default rules' include rule stops at this many files (`max-matches=500`). */
const DEFAULT_MAX_MATCHES = 500;

interface ScanVariant {
  key: string;
  label: string;
  argv: string[];
  /** Checks the preview printed; throws if it is wrong. */
  check?: (stdout: string) => void;
}

export async function benchScan(options: BenchOptions, facts: MachineFacts): Promise<string> {
  const dirs = await ensureScanProjects(options.rebuild);
  const runsHome = `${WORK_DIR}/scan-runs`;
  const preview = (dir: string) => cli("-C", dir, "--runs", runsHome, "run", "--preview", "--json");
  const expected = ["conf/", "train.py"];
  const selects = (want: (paths: string[]) => boolean, what: string) => (stdout: string) => {
    const paths = (JSON.parse(stdout).files as { path: string }[]).map((f) => f.path);
    if (!want(paths)) throw new Error(`preview selected ${paths.length} files, not ${what}`);
  };
  const onlyRules = selects(
    (ps) =>
      ps.length === SCAN_SPEC.confFiles + 1 &&
      ps.every((p) => expected.some((e) => p === e || p.startsWith(e))),
    `train.py and ${SCAN_SPEC.confFiles} conf/*.yaml`,
  );
  const variants: ScanVariant[] = [
    { key: "version", label: "runstage --version (startup only)", argv: cli("--version") },
    {
      key: "bare",
      label: "train.py and conf/ only",
      argv: preview(dirs.bare),
      check: onlyRules,
    },
    {
      key: "data",
      label: `+ ${count(dataFiles)} files in data/, no link`,
      argv: preview(dirs.data),
      check: onlyRules,
    },
    {
      key: "linked",
      label: `+ root_link -> /, ${count(dataFiles)} files in data/`,
      argv: preview(dirs.linked),
      check: onlyRules,
    },
    {
      key: "defaults",
      label: `default rules, ${count(defaultsFiles)} files`,
      argv: preview(dirs.defaults),
      check: selects((ps) => ps.length === DEFAULT_MAX_MATCHES, `${DEFAULT_MAX_MATCHES}`),
    },
  ];

  // Untimed first runs: Deno's caches and the page cache of the dirs, and the checks.
  const stopped = new Set<string>();
  for (const v of variants) {
    const first = await timeWithWatchdog(v.argv, options.scanTimeoutS);
    if ("stopped" in first) {
      stopped.add(v.key);
      console.log(`${v.label}: stopped after ${options.scanTimeoutS} s; not timed again`);
    } else v.check?.(first.stdout);
  }
  const timed = variants.filter((v) => !stopped.has(v.key));
  const walls = new Map(variants.map((v) => [v.key, [] as number[]]));
  for (let r = 0; r < options.rounds; r++) {
    for (const v of rotate(timed, r)) {
      const watched = await timeWithWatchdog(v.argv, options.scanTimeoutS);
      if ("stopped" in watched) {
        throw new Error(`${v.label} took over ${options.scanTimeoutS} s in round ${r + 1}`);
      }
      walls.get(v.key)!.push(watched.wallS);
      console.error(
        `  round ${r + 1}/${options.rounds}  ${v.label.padEnd(44)} ${seconds(watched.wallS)}`,
      );
    }
  }
  await removeIfPresent(runsHome);
  return scanReport(variants, walls, stopped, options, facts);
}

function scanReport(
  variants: ScanVariant[],
  walls: Map<string, number[]>,
  stopped: Set<string>,
  options: BenchOptions,
  facts: MachineFacts,
): string {
  const over = `> ${options.scanTimeoutS} s`;
  const med = (key: string) => stopped.has(key) ? undefined : median(walls.get(key)!);
  const startup = med("version")!;
  const cell = (s: number | undefined, text: (s: number) => string) =>
    s === undefined ? over : text(s);
  const table: Table = {
    head: ["runstage run --preview", "median", "min", "max", "beyond startup"],
    rows: variants.filter((v) => v.key !== "version").map((v) => [
      v.label,
      cell(med(v.key), seconds),
      cell(med(v.key) && Math.min(...walls.get(v.key)!), seconds),
      cell(med(v.key) && Math.max(...walls.get(v.key)!), seconds),
      cell(med(v.key), (s) => seconds(s - startup)),
    ]),
  };
  table.rows.unshift(["runstage --version (startup only)", seconds(startup), "", "", ""]);
  const linked = med("linked");
  const bare = med("bare")!;
  const linkedRatio = linked === undefined
    ? `more than ${ratio(options.scanTimeoutS / bare)} (stopped after ${options.scanTimeoutS} s)`
    : ratio(linked / bare);
  const beyond = linked === undefined
    ? "n/a"
    : ratio(Math.max(linked - startup, 0) / Math.max(bare - startup, 1e-3));
  const data = med("data");
  const dataRatio = data === undefined ? "stopped" : ratio(data / bare);
  console.log(
    `\n${textTable(table)}\n\nlinked ÷ bare: ${linkedRatio}; beyond startup ${beyond}; ` +
      `data ÷ bare: ${dataRatio}`,
  );
  return [
    `Last run ${facts.date}, at ${facts.commit}, ${options.rounds} alternating rounds; medians.`,
    `Machine: ${formatFacts(facts)}.`,
    `Projects: \`sourcecode = ${JSON.stringify(RULES).replaceAll(",", ", ")}\` on \`train.py\` ` +
    `and ${SCAN_SPEC.confFiles} \`conf/*.yaml\`, alone and with \`root_link -> /\` and ` +
    `${count(dataFiles)} files of ${SCAN_SPEC.dataFileBytes} bytes in \`data/\` ` +
    `(${SCAN_SPEC.dataDirs} dirs), and with \`data/\` but no link; and the default rules ` +
    `on ${
      count(defaultsFiles)
    } files (${SCAN_SPEC.defaultsDirs} dirs of small \`.py\` files, every tenth binary), of which ` +
    `they select ${DEFAULT_MAX_MATCHES}. Each command after one untimed run; a command still ` +
    `running after ${options.scanTimeoutS} s is stopped.`,
    markdownTable(table),
    `Links out and \`data/\`: ${linkedRatio} the wall time of the project without them; ` +
    `beyond startup, ${beyond}. \`data/\` alone: ${dataRatio}.`,
  ].join("\n\n");
}

// --- The scanned projects, cached under .bench/

interface ScanProjects {
  bare: string;
  /** The bare project and data/: hard links to the linked project's files. */
  data: string;
  linked: string;
  defaults: string;
}

async function ensureScanProjects(rebuild: boolean): Promise<ScanProjects> {
  const dirs = {
    bare: `${SCAN_DIR}/bare`,
    data: `${SCAN_DIR}/data`,
    linked: `${SCAN_DIR}/linked`,
    defaults: `${SCAN_DIR}/defaults`,
  };
  const wanted = JSON.stringify(SCAN_SPEC);
  if (!rebuild && await readTextOr(SCAN_MARKER, undefined) === wanted) {
    console.log(`Using the cached projects in ${SCAN_DIR} (--rebuild regenerates them)`);
    return dirs;
  }
  console.log(`Generating the scanned projects in ${SCAN_DIR}...`);
  await removeIfPresent(SCAN_MARKER);
  await moveToTrash(SCAN_DIR);
  const rand = mulberry32(SCAN_SPEC.seed);
  for (const dir of [dirs.bare, dirs.data, dirs.linked]) writeRulesProject(dir);
  Deno.symlinkSync("/", `${dirs.linked}/root_link`);
  for (let d = 0; d < SCAN_SPEC.dataDirs; d++) {
    const dir = `${dirs.linked}/data/part_${String(d).padStart(2, "0")}`;
    Deno.mkdirSync(dir, { recursive: true });
    const twin = dir.replace(dirs.linked, dirs.data);
    Deno.mkdirSync(twin, { recursive: true });
    for (let f = 0; f < SCAN_SPEC.filesPerDataDir; f++) {
      Deno.writeFileSync(`${dir}/${f}.txt`, randomText(rand, SCAN_SPEC.dataFileBytes));
      Deno.linkSync(`${dir}/${f}.txt`, `${twin}/${f}.txt`);
    }
  }
  writeDefaultsProject(dirs.defaults, rand);
  await Deno.writeTextFile(SCAN_MARKER, wanted);
  await run(["sync"]);
  return dirs;
}

function writeRulesProject(dir: string): void {
  Deno.mkdirSync(`${dir}/conf`, { recursive: true });
  Deno.writeTextFileSync(
    `${dir}/gage.toml`,
    `[train]\nsourcecode = ${JSON.stringify(RULES)}\nexec = "true"\n`,
  );
  Deno.writeTextFileSync(`${dir}/train.py`, "print('training')\n");
  for (let i = 0; i < SCAN_SPEC.confFiles; i++) {
    Deno.writeTextFileSync(`${dir}/conf/c${i}.yaml`, `lr: 0.${i + 1}\n`);
  }
}

function writeDefaultsProject(dir: string, rand: () => number): void {
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(`${dir}/gage.toml`, `[train]\nexec = "true"\n`);
  for (let d = 0; d < SCAN_SPEC.defaultsDirs; d++) {
    const sub = `${dir}/pkg_${String(d).padStart(2, "0")}`;
    Deno.mkdirSync(sub);
    for (let f = 0; f < SCAN_SPEC.filesPerDefaultsDir; f++) {
      if (f % 10 === 9) {
        Deno.writeFileSync(`${sub}/blob_${f}.bin`, new Uint8Array(1024));
      } else {
        Deno.writeFileSync(`${sub}/mod_${f}.py`, randomText(rand, 512 + rand() % 2048));
      }
    }
  }
}
