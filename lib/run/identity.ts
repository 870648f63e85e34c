/**
 * A run's identity and where its three parts live in the runs home:
 * `<id>/` (the run dir), `<id>.meta/` (the meta dir) and `<id>.project`.
 */
import { join } from "node:path";

export interface Run {
  id: string;
  name: string;
  runsHome: string;
  runDir: string;
  metaDir: string;
  /** The `<id>.project` file pointing back at the project dir. */
  projectRef: string;
}

/** A run id as runstage writes it: a lowercase UUID with hyphens. */
export const RUN_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A new random run: a lowercase UUID v4 and its proquint name. Writes nothing. */
export function makeRun(runsHome: string, id: string = crypto.randomUUID()): Run {
  return runAt(runsHome, id, runName(id));
}

/** The paths of an existing run whose id and name are known. */
export function runAt(runsHome: string, id: string, name: string): Run {
  return {
    id,
    name,
    runsHome,
    runDir: join(runsHome, id),
    metaDir: join(runsHome, `${id}.meta`),
    projectRef: join(runsHome, `${id}.project`),
  };
}

const CONSONANTS = "bdfghjklmnprstvz";
const VOWELS = "aiou";

/**
 * The run's name: the proquint of the id's first 32 bits, high 16 bits first.
 * Proquints are pronounceable, so people can say and type a run's name.
 */
export function runName(id: string): string {
  const head = id.replaceAll("-", "").slice(0, 8);
  if (!/^[0-9a-f]{8}$/i.test(head)) throw new Error(`not a run id: ${id}`);
  const bits = parseInt(head, 16);
  return `${proquintWord(bits >>> 16)}-${proquintWord(bits & 0xffff)}`;
}

/** One proquint word for 16 bits: consonant-vowel-consonant-vowel-consonant. */
function proquintWord(n: number): string {
  return CONSONANTS[(n >> 12) & 0xf] + VOWELS[(n >> 10) & 0x3] + CONSONANTS[(n >> 6) & 0xf] +
    VOWELS[(n >> 4) & 0x3] + CONSONANTS[n & 0xf];
}
