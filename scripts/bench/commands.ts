/**
 * Timing short CLI commands against each other: each round runs every variant
 * once, starting from a different one (`rotate`), and keeps each wall time.
 * Used by the sections whose commands take well under a second (runs listings,
 * compare), where `/usr/bin/time` and RSS would only add noise.
 */
import { rotate } from "./harness.ts";

export interface CommandVariant {
  key: string;
  label: string;
  argv: string[];
  /** Checks what the command printed in the first round; throws if it is wrong. */
  check?: (stdout: string) => void;
}

/** Wall times in seconds by variant key, one per round. */
export async function timeCommandRounds(
  variants: CommandVariant[],
  rounds: number,
  labelWidth: number,
): Promise<Map<string, number[]>> {
  const walls = new Map(variants.map((v) => [v.key, [] as number[]]));
  for (let r = 0; r < rounds; r++) {
    for (const v of rotate(variants, r)) {
      const start = performance.now();
      const out = await new Deno.Command(v.argv[0], {
        args: v.argv.slice(1),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const wall = (performance.now() - start) / 1000;
      if (!out.success) {
        throw new Error(`${v.label} failed: ${new TextDecoder().decode(out.stderr)}`);
      }
      if (r === 0) v.check?.(new TextDecoder().decode(out.stdout));
      walls.get(v.key)!.push(wall);
      console.error(
        `  round ${r + 1}/${rounds}  ${v.label.padEnd(labelWidth)} ${wall.toFixed(3)} s`,
      );
    }
  }
  return walls;
}
