/**
 * Two commands acting on the same runs at once (issue 10, point 5): `delete`
 * and `purge`, two deletes, two purges, started together round after round.
 * Exactly one of them gets the runs, and gets all of them: each run ends up
 * wholly in the trash or wholly gone, never split, its meta dir never lost;
 * the other exits 1 with one line that says what became of the runs. Also: a
 * claim left by a command that was killed is finished by the next command
 * (any command that writes to the runs home), and a live command's claim is
 * never touched.
 */
import assert from "node:assert/strict";
import { runName } from "../../lib/run/identity.ts";
import { cliFor, type CliResult, rows, runstageIn, spawnRunstage } from "../support/cli.ts";
import { exists, listTree, withProject, writeTree } from "../support/fixtures.ts";
import { deadPid, ownerTag, waitFor } from "../support/process.ts";

const PROJECT = { "gage.toml": `[a]\nexec = "true"\n` };
const ROUNDS = 20;
const RUNS_PER_ROUND = 6;
const FILES_PER_RUN = 50;
/**
 * Other runs in the runs home: listing them takes both commands a while, and a
 * command acts on what it listed, so the two overlap: each has listed the runs
 * before the other moves them, the case where both used to report success.
 */
const FILLER_RUNS = 1500;

/** FILLER_RUNS runs with a meta dir of two files: cheap to write, each read by a listing. */
async function fillerRuns(home: string): Promise<void> {
  const files: Record<string, string> = {};
  for (let i = 0; i < FILLER_RUNS; i++) {
    const id = crypto.randomUUID();
    files[`${id}.meta/opref`] = "2 proj a";
    files[`${id}.meta/initialized`] = String(1e15 - i);
  }
  await writeTree(home, files);
}

/** A completed run written directly, with FILES_PER_RUN files in its run dir; returns its id. */
async function fakeRun(home: string, initialized: number): Promise<string> {
  const id = crypto.randomUUID();
  const files: Record<string, string> = {
    [`${id}.meta/__schema__`]: "1",
    [`${id}.meta/id`]: id,
    [`${id}.meta/name`]: runName(id),
    [`${id}.meta/opref`]: "2 proj a",
    [`${id}.meta/initialized`]: String(initialized),
    [`${id}.meta/staged`]: String(initialized + 1),
    [`${id}.meta/started`]: String(initialized + 2),
    [`${id}.meta/stopped`]: String(initialized + 3),
    [`${id}.meta/proc/exit`]: "0",
    [`${id}.project`]: "/nowhere\n",
  };
  for (let i = 0; i < FILES_PER_RUN; i++) files[`${id}/f${i}.txt`] = `file ${i}\n`;
  await writeTree(home, files);
  return id;
}

/** Where a run is: wholly in the runs home, wholly in the trash, wholly gone, or split. */
async function whereIs(home: string, id: string): Promise<"home" | "trash" | "gone" | string> {
  const parts = async (dir: string) => [
    await exists(`${dir}/${id}.meta/proc/exit`),
    (await listTree(`${dir}/${id}`)).length === FILES_PER_RUN,
    await exists(`${dir}/${id}.project`),
  ];
  const inHome = await parts(home);
  const inTrash = await parts(`${home}/.trash`);
  const all = (p: boolean[]) => p.every(Boolean);
  const none = (p: boolean[]) => !p.some(Boolean);
  if (all(inHome) && none(inTrash)) return "home";
  if (all(inTrash) && none(inHome)) return "trash";
  if (none(inHome) && none(inTrash)) return "gone";
  return `split (in the runs home: ${inHome}, in the trash: ${inTrash})`;
}

const PAST = { delete: "deleted", purge: "purged" } as const;
const DOING = { delete: "deleting", purge: "purging" } as const;
type Verb = keyof typeof PAST;

function args(verb: Verb, ids: string[]): string[] {
  return verb === "purge" ? ["purge", "-y", ...ids] : ["delete", ...ids];
}

Deno.test("delete and purge of the same runs at once: one wins them whole, the other says so", async () => {
  await withProject(PROJECT, async (project, home) => {
    const pairs: [Verb, Verb][] = [
      ["delete", "purge"],
      ["purge", "delete"],
      ["delete", "delete"],
      ["purge", "purge"],
    ];
    await fillerRuns(home);
    for (let round = 0; round < ROUNDS; round++) {
      const ids: string[] = [];
      for (let i = 0; i < RUNS_PER_ROUND; i++) ids.push(await fakeRun(home, 1e15 + round * 10 + i));
      const verbs = pairs[round % pairs.length];
      const results = await Promise.all(
        verbs.map((verb) => runstageIn(project, home, ...args(verb, ids))),
      );
      const what = `round ${round}, ${verbs.join(" + ")}:\n${
        results.map((r) => `exit ${r.code}: ${r.stdout}${r.stderr}`).join("\n")
      }`;
      const winners = verbs.filter((_, i) => results[i].code === 0);
      assert.equal(winners.length, 1, `exactly one command wins; ${what}`);
      const winner = winners[0];
      const loserAt = results.findIndex((r) => r.code !== 0);
      checkLoser(verbs[loserAt], winner, results[loserAt], what);
      const expected = winner === "delete" ? "trash" : "gone";
      for (const id of ids) assert.equal(await whereIs(home, id), expected, what);
      const hidden = [...Deno.readDirSync(home)].filter((e) => e.name.startsWith(".claim-"));
      assert.deepEqual(hidden, [], `no claim is left behind; ${what}`);
    }
  });
});

/** The loser exits 1 with one line naming what the winner did, or that the runs were gone. */
function checkLoser(loser: Verb, winner: Verb, result: CliResult, what: string): void {
  assert.equal(result.code, 1, what);
  assert.equal(result.stdout, "", what);
  const lines = rows(result.stderr);
  assert.equal(lines.length, 1, `one line; ${what}`);
  const truthful = new RegExp(
    `^runstage: (cannot ${loser} run [a-z-]+: (it was ${PAST[winner]} by another command` +
      ` meanwhile|another command is ${DOING[winner]} it right now); nothing was ${PAST[loser]}` +
      `|no runs? (matches |in ))`,
  );
  assert.match(lines[0], truthful, what);
}

Deno.test("a claim left by a killed delete or purge is finished by the next command; a live one is left alone", async () => {
  await withProject(PROJECT, async (project, home) => {
    const [deleted, purged, live, other] = [
      await fakeRun(home, 1e15 + 1),
      await fakeRun(home, 1e15 + 2),
      await fakeRun(home, 1e15 + 3),
      await fakeRun(home, 1e15 + 4),
    ];
    const dead = ownerTag(await deadPid());
    // A delete killed after it claimed the meta dir, before it took the run dir.
    const deleteClaim = `${home}/.claim-delete-home-${deleted}-${dead}`;
    await Deno.mkdir(deleteClaim);
    await Deno.rename(`${home}/${deleted}.meta`, `${deleteClaim}/${deleted}.meta`);
    // A purge killed while it removed the run: its meta dir is already gone.
    const purgeClaim = `${home}/.claim-purge-home-${purged}-${dead}`;
    await Deno.mkdir(purgeClaim);
    await Deno.rename(`${home}/${purged}`, `${purgeClaim}/${purged}`);
    await Deno.remove(`${home}/${purged}.meta`, { recursive: true });
    await Deno.remove(`${home}/${purged}.project`);
    // A delete of this very test process, which lives: its claim is not the sweeper's.
    const liveClaim = `${home}/.claim-delete-home-${live}-${ownerTag(Deno.pid)}`;
    await Deno.mkdir(liveClaim);
    await Deno.rename(`${home}/${live}.meta`, `${liveClaim}/${live}.meta`);

    const r = await runstageIn(project, home, "delete", other);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await whereIs(home, deleted), "trash", "the killed delete is finished");
    assert.equal(await whereIs(home, purged), "gone", "the killed purge is finished");
    assert.ok(await exists(`${liveClaim}/${live}.meta/proc/exit`), "a live claim is untouched");
    assert.ok(await exists(`${home}/${live}`), "a live claim's run dir is untouched");
    assert.deepEqual(
      (await listTree(home)).filter((p) =>
        /^\.claim-/.test(p) && p.endsWith("/") && !p.slice(0, -1).includes("/")
      ),
      [
        `${liveClaim.slice(home.length + 1)}/`,
      ],
    );
  });
});

/** The hidden staging dirs and claims in a runs home. */
function leftovers(home: string): string[] {
  return [...Deno.readDirSync(home)].map((e) => e.name)
    .filter((name) => /^\.(import|claim)-/.test(name)).sort();
}

Deno.test("every command that writes to a runs home tidies what killed commands left, never a live one's", async () => {
  await withProject(PROJECT, async (project, home) => {
    const cli = cliFor(project, home);
    const live = ownerTag(Deno.pid);
    const liveLeft = [`.import-${live}-aaaaaa`, `.claim-purge-home-${crypto.randomUUID()}-${live}`];
    for (const name of liveLeft) await Deno.mkdir(`${home}/${name}`);
    const dead = ownerTag(await deadPid());
    const writers = [
      ["stage", "a"],
      ["restage", "1"],
      ["start", "1"],
      ["run", "a"],
      ["rerun", "1"],
      ["label", "1", "tidy"],
    ];
    for (const args of writers) {
      // An import and a purge killed with kill -9: a staging dir, an emptied claim.
      const deadLeft = [
        `.import-${dead}-bbbbbb`,
        `.claim-purge-home-${crypto.randomUUID()}-${dead}`,
      ];
      for (const name of deadLeft) await Deno.mkdir(`${home}/${name}`);
      const r = await cli(...args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assert.deepEqual(
        leftovers(home),
        liveLeft.sort(),
        `${args[0]} tidied the dead, not the live`,
      );
    }
    // Commands that only read leave even a dead command's dirs to the next writer.
    const deadLeft = [`.import-${dead}-cccccc`];
    await Deno.mkdir(`${home}/${deadLeft[0]}`);
    for (const args of [["runs"], ["show", "1"], ["run", "a", "--preview"]]) {
      assert.equal((await cli(...args)).code, 0, args.join(" "));
    }
    assert.deepEqual(leftovers(home), [...liveLeft, ...deadLeft].sort());
  });
});

Deno.test({
  name: "a purge killed with kill -9 while it removes a run: the next purge finishes it",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await withProject(PROJECT, async (project, home) => {
      const id = await fakeRun(home, 1e15);
      // Big enough that removing it takes a while, to be killed in the middle.
      const more: Record<string, string> = {};
      for (let i = 0; i < 20_000; i++) more[`${id}/many/g${i}`] = "x";
      await writeTree(home, more);
      const purge = spawnRunstage(["-C", project, "--runs", home, "purge", "-y", id]);
      // Its meta dir leaves the runs home first: then it is at work on the rest.
      const metaGone = async () => !(await exists(`${home}/${id}.meta`));
      await waitFor(metaGone, { spawned: purge, everyMs: 1, what: "its meta dir to go" });
      purge.child.kill("SIGKILL");
      assert.equal((await purge.result).signal, "SIGKILL", "purge was killed while at work");
      const other = await fakeRun(home, 1e15 + 1);
      const r = await runstageIn(project, home, "purge", "-y", other);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await whereIs(home, id), "gone");
      assert.deepEqual(await listTree(home), []);
    });
  },
});
