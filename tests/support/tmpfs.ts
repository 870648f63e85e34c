/**
 * Small file systems for tests of disk faults: a tmpfs of a few MiB fills at
 * once, and a remount makes it read-only. Mounting needs root (CI runs as
 * root); a test without it prints "skipped: no root" and passes.
 */
import { withTempDir } from "./fixtures.ts";

export const IS_ROOT = Deno.uid() === 0;

/** True (after saying so) when the test cannot run for want of root. */
export function skipUnlessRoot(): boolean {
  if (!IS_ROOT) console.log("skipped: no root");
  return !IS_ROOT;
}

/** Runs a command; throws with its stderr when it fails. */
export async function sh(...argv: string[]): Promise<void> {
  const out = await new Deno.Command(argv[0], { args: argv.slice(1), stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${argv.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Every mount point at or under `dir`, last mounted first. */
function mountsUnder(dir: string): string[] {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .map((line) => line.split(" ")[4])
    .filter((point) => point !== undefined && (point === dir || point.startsWith(`${dir}/`)))
    .reverse();
}

/** Unmounts whatever a test (or its op) mounted at or under `dir`. */
export async function unmountAll(dir: string): Promise<void> {
  for (let round = 0; round < 8 && mountsUnder(dir).length > 0; round++) {
    for (const point of mountsUnder(dir)) await sh("umount", "-l", point).catch(() => {});
  }
}

/**
 * Runs `fn` on a fresh tmpfs mounted with `options` (like "size=1m"),
 * unmounted and removed afterwards.
 */
export async function withTmpfs<T>(options: string, fn: (dir: string) => Promise<T>): Promise<T> {
  return await withTempDir(async (dir) => {
    await sh("mount", "-t", "tmpfs", "-o", options, "tmpfs", dir);
    try {
      return await fn(dir);
    } finally {
      await unmountAll(dir);
    }
  }, { prefix: "runstage-test-tmpfs-" });
}
