/**
 * What the benchmark reports: the machine it ran on, tables for the terminal and
 * for markdown, numbers formatted alike in every section, and the rewriting of
 * a section's generated block in docs/performance.md.
 *
 * @module
 */
import { BENCH_DIR, DOC_PATH, readTextOr, REPO, run, type Sample, tryRun } from "./harness.ts";

// ---------------------------------------------------------------------------
// Machine facts

export interface MachineFacts {
  date: string;
  cpus: number;
  cpuModel: string;
  memBytes: number;
  kernel: string;
  deno: string;
  /** Of the filesystem holding .bench, where every copy is written. */
  fsType: string;
  commit: string;
}

export async function machineFacts(): Promise<MachineFacts> {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    cpus: navigator.hardwareConcurrency,
    cpuModel: await cpuModel(),
    memBytes: Deno.systemMemoryInfo().total,
    kernel: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    fsType: await fsType(BENCH_DIR),
    commit: await commitText(),
  };
}

/** ext4 without a journal says so: it changes how file creation behaves (see moveToTrash). */
export async function fsType(path: string): Promise<string> {
  const [type, source] = (await tryRun(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", path]) ?? "")
    .split(/\s+/);
  if (!type) return await tryRun(["stat", "-f", "-c", "%T", path]) ?? "unknown";
  if (type !== "ext4" || !source?.startsWith("/dev/")) return type;
  const device = source.slice("/dev/".length);
  const journals = await Array.fromAsync(Deno.readDir("/proc/fs/jbd2")).catch(() => undefined);
  if (!journals) return type;
  return journals.some((j) => j.name.startsWith(`${device}-`)) ? type : `${type} without a journal`;
}

async function cpuModel(): Promise<string> {
  const cpuinfo = await readTextOr("/proc/cpuinfo", "");
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1].trim() ?? "unknown CPU";
}

/** The figures belong to a version of the code: name it, and say when it was edited. */
async function commitText(): Promise<string> {
  const head = await tryRun(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]);
  if (!head) return "no git commit";
  const dirty = await tryRun(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"]);
  return dirty ? `commit ${head} with uncommitted changes` : `commit ${head}`;
}

export function formatFacts(f: MachineFacts): string {
  return `${f.cpus} CPUs (${f.cpuModel}), ${(f.memBytes / 2 ** 30).toFixed(1)} GiB RAM, ` +
    `${f.kernel}, ${f.fsType} filesystem, Deno ${f.deno}`;
}

// ---------------------------------------------------------------------------
// docs/performance.md

/** Replaces the section's generated block, or appends one under its title. */
export async function updateDocSection(
  section: { name: string; title: string },
  markdown: string,
): Promise<void> {
  const start = `<!-- bench:${section.name}:start -->`;
  const end = `<!-- bench:${section.name}:end -->`;
  const block = `${start}\n\n${markdown.trim()}\n\n${end}`;
  const doc = await readTextOr(DOC_PATH, "# Performance\n");
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  const updated = from >= 0 && to > from
    ? doc.slice(0, from) + block + doc.slice(to + end.length)
    : `${doc.trimEnd()}\n\n## ${section.title}\n\n${block}\n`;
  await Deno.writeTextFile(DOC_PATH, updated);
  // `deno task check` runs fmt --check on markdown too: aligned tables, wrapped prose.
  await run([Deno.execPath(), "fmt", "--quiet", DOC_PATH]);
}

// ---------------------------------------------------------------------------
// Tables and numbers

export interface Table {
  head: string[];
  rows: string[][];
}

export function textTable(t: Table): string {
  const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => r[i].length)));
  const right = figureColumns(t);
  const line = (cells: string[]) =>
    cells.map((c, i) => right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])).join("  ");
  return [line(t.head), widths.map((w) => "-".repeat(w)).join("  "), ...t.rows.map(line)]
    .join("\n");
}

export function markdownTable(t: Table): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const rule = figureColumns(t).map((right) => right ? "---:" : "---");
  return [line(t.head), line(rule), ...t.rows.map(line)].join("\n");
}

/** Figures align right, so their digits line up; words and labels align left. */
function figureColumns(t: Table): boolean[] {
  const isFigure = (cell: string) => /^[0-9>]/.test(cell) || cell === "n/a" || cell === "";
  return t.head.map((_, i) => i > 0 && t.rows.every((row) => isFigure(row[i])));
}

export function seconds(s: number): string {
  return `${s.toFixed(2)} s`;
}

export function optionalSeconds(s: number | undefined): string {
  return s === undefined ? "n/a" : seconds(s);
}

export function milliseconds(s: number): string {
  return `${(s * 1000).toFixed(0)} ms`;
}

export function ratio(r: number): string {
  return `${r.toFixed(2)}×`;
}

/** KiB (as the kernel reports) to MB of 10^6 bytes. */
export function megabytes(kib: number): string {
  return `${(kib * 1024 / 1e6).toFixed(kib * 1024 < 10e6 ? 1 : 0)} MB`;
}

export function count(n: number): string {
  return n.toLocaleString("en-US");
}

export function passOrMiss(pass: boolean): string {
  return pass ? "PASS" : "MISS";
}

/** One sample on one terminal line. */
export function describe(sample: Sample): string {
  const parts = [seconds(sample.wallS)];
  if (sample.userS !== undefined) parts.push(`user ${seconds(sample.userS)}`);
  if (sample.sysS !== undefined) parts.push(`sys ${seconds(sample.sysS)}`);
  if (sample.peakRssKb !== undefined) parts.push(`rss ${megabytes(sample.peakRssKb)}`);
  return parts.join("  ");
}
