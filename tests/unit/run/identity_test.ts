/**
 * lib/run/identity.ts (run ids, names and paths) and lib/run/clock.ts (meta timestamps and
 * runner-log times). Expected names are worked out by hand from the proquint
 * tables, not by calling the code under test.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { localIsoTime, microsToDate, timestampMicros } from "../../../lib/run/clock.ts";
import { makeRun, runAt, runName } from "../../../lib/run/identity.ts";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("runName: the proquint of the id's first 32 bits, high 16 bits first", () => {
  // The run format's own example.
  assert.equal(runName("60a825b1-3c3e-4c5e-9d9e-0123456789ab"), "kafom-fikud");
  // All zero bits: every consonant is b (0), every vowel a (0).
  assert.equal(runName("00000000-0000-4000-8000-000000000000"), "babab-babab");
  // All one bits: every consonant is z (15), every vowel u (3).
  assert.equal(runName("ffffffff-ffff-4fff-bfff-ffffffffffff"), "zuzuz-zuzuz");
  // The proquint paper's examples: 127.0.0.1 and 63.84.220.193.
  assert.equal(runName("7f000001-0000-4000-8000-000000000000"), "lusab-babad");
  assert.equal(runName("3f54dcc1-0000-4000-8000-000000000000"), "gutih-tugad");
  // High half and low half are not swapped: 0x0001 0000 and 0x0000 0001 differ.
  assert.equal(runName("00010000-0000-4000-8000-000000000000"), "babad-babab");
  assert.equal(runName("00000001-0000-4000-8000-000000000000"), "babab-babad");
  // Only the first 32 bits count.
  assert.equal(runName("60a825b1-ffff-4fff-bfff-ffffffffffff"), "kafom-fikud");
  // Upper-case hex names the same run.
  assert.equal(runName("60A825B1-3C3E-4C5E-9D9E-0123456789AB"), "kafom-fikud");
});

Deno.test("runName: every bit position lands in its own letter", () => {
  // Setting one bit at a time must change exactly one letter, to the letter the
  // tables give for that bit's value within its group.
  const consonants = "bdfghjklmnprstvz";
  const vowels = "aiou";
  // Groups of a 16-bit word from the high bits: C(4) V(2) C(4) V(2) C(4).
  const groups = [[12, 4], [10, 2], [6, 4], [4, 2], [0, 4]] as const;
  for (let bit = 0; bit < 32; bit++) {
    const value = (2 ** bit).toString(16).padStart(8, "0");
    const name = runName(`${value}-0000-4000-8000-000000000000`);
    const word = bit >= 16 ? 0 : 1;
    const inWord = bit % 16;
    const g = groups.findIndex(([shift, width]) => inWord >= shift && inWord < shift + width);
    const [shift, width] = groups[g];
    const letter = (width === 4 ? consonants : vowels)[2 ** (inWord - shift)];
    const expected = ["babab".split(""), "babab".split("")];
    expected[word][g] = letter;
    assert.equal(name, `${expected[0].join("")}-${expected[1].join("")}`, `bit ${bit}`);
  }
});

Deno.test("runName rejects what is not an id", () => {
  assert.throws(() => runName("zzzzzzzz-0000-4000-8000-000000000000"), /not a run id/);
  assert.throws(() => runName(""), /not a run id/);
});

Deno.test("makeRun: a lowercase UUID v4, its name, and the three sibling paths", () => {
  const home = "/tmp/some runs home";
  const run = makeRun(home);
  assert.match(run.id, UUID_V4);
  assert.equal(run.name, runName(run.id));
  assert.match(run.name, /^[bdfghjklmnprstvz][aiou][bdfghjklmnprstvz][aiou][bdfghjklmnprstvz]-/);
  assert.equal(run.runsHome, home);
  assert.equal(run.runDir, `${home}/${run.id}`);
  assert.equal(run.metaDir, `${home}/${run.id}.meta`);
  assert.equal(run.projectRef, `${home}/${run.id}.project`);
});

Deno.test("makeRun: ids are distinct and random in every non-fixed position", () => {
  const ids = Array.from({ length: 2000 }, () => makeRun("/runs").id);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, UUID_V4);
  // The variant nibble takes all of 8, 9, a, b: the id is not a constant pattern.
  assert.deepEqual(new Set(ids.map((id) => id[19])), new Set(["8", "9", "a", "b"]));
  // Names spread too: 2000 random 32-bit prefixes almost never collide.
  assert.ok(new Set(ids.map(runName)).size > 1990);
});

Deno.test("makeRun with a given id, and runAt, name the same paths", () => {
  const id = "60a825b1-3c3e-4c5e-9d9e-0123456789ab";
  const run = makeRun("/r", id);
  assert.equal(run.name, "kafom-fikud");
  assert.deepEqual(runAt("/r", id, "kafom-fikud"), run);
  assert.equal(run.runDir, join("/r", id));
});

Deno.test("timestampMicros strictly increases over 10,000 calls and tracks the clock", () => {
  const before = Date.now() * 1000;
  const stamps = Array.from({ length: 10_000 }, () => timestampMicros());
  const after = Date.now() * 1000;
  for (let i = 1; i < stamps.length; i++) {
    assert.ok(stamps[i] > stamps[i - 1], `call ${i}: ${stamps[i]} after ${stamps[i - 1]}`);
  }
  for (const s of stamps) assert.ok(Number.isSafeInteger(s), `${s} is an integer`);
  // Within a second of the wall clock, in microseconds (not ms, not ns).
  assert.ok(stamps[0] > before - 1_000_000 && stamps[0] < after + 1_000_000, `${stamps[0]}`);
  const last = stamps[stamps.length - 1];
  assert.ok(last > before - 1_000_000 && last < after + 1_000_000, `${last}`);
});

Deno.test("microsToDate turns a meta timestamp back into its millisecond", () => {
  assert.equal(microsToDate(1_795_258_239_020_999).getTime(), 1_795_258_239_020);
});

Deno.test("localIsoTime: YYYY-MM-DDTHH:MM:SS+HHMM, agreeing with the local offset", () => {
  const dates = [
    new Date(),
    new Date(Date.UTC(2026, 0, 1, 0, 0, 0)),
    new Date(Date.UTC(2026, 6, 15, 23, 59, 59)),
  ];
  for (const date of dates) {
    const text = localIsoTime(date);
    const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)([+-])(\d\d)(\d\d)$/.exec(text);
    assert.ok(m, `${text} has the format`);
    const [, y, mo, d, h, mi, s, sign, oh, om] = m;
    const offsetMinutes = (sign === "+" ? 1 : -1) * (Number(oh) * 60 + Number(om));
    // `0 -` so that UTC compares as 0, not -0.
    assert.equal(offsetMinutes, 0 - date.getTimezoneOffset());
    // The local wall time minus the offset is the instant, to the second.
    const utc = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s) - offsetMinutes * 60_000;
    assert.equal(utc, Math.floor(date.getTime() / 1000) * 1000);
  }
});

Deno.test("localIsoTime in other time zones (a subprocess per TZ)", async () => {
  const clock = new URL("../../../lib/run/clock.ts", import.meta.url).href;
  const cases: [string, number, string][] = [
    // The run format's example: winter time in Berlin is +0100.
    ["Europe/Berlin", Date.UTC(2026, 10, 21, 9, 31, 2), "2026-11-21T10:31:02+0100"],
    ["Europe/Berlin", Date.UTC(2026, 6, 1, 12, 0, 0), "2026-07-01T14:00:00+0200"],
    ["UTC", Date.UTC(2026, 10, 21, 9, 31, 2), "2026-11-21T09:31:02+0000"],
    // Negative offsets with minutes: the sign covers both hours and minutes.
    ["America/St_Johns", Date.UTC(2026, 0, 15, 12, 0, 0), "2026-01-15T08:30:00-0330"],
    ["America/New_York", Date.UTC(2026, 0, 15, 3, 4, 5), "2026-01-14T22:04:05-0500"],
    ["Asia/Kathmandu", Date.UTC(2026, 0, 15, 12, 0, 0), "2026-01-15T17:45:00+0545"],
    // The local date is a day (and a year) ahead of UTC's.
    ["Pacific/Kiritimati", Date.UTC(2026, 11, 31, 12, 0, 0), "2027-01-01T02:00:00+1400"],
  ];
  for (const [tz, ms, expected] of cases) {
    const code = `import { localIsoTime } from ${JSON.stringify(clock)};\n` +
      `console.log(localIsoTime(new Date(${ms})));`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", code],
      env: { TZ: tz },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(new TextDecoder().decode(out.stdout), expected + "\n", tz);
  }
});
