/**
 * The read side of provenance and live runs, through the real CLI: `show`'s
 * source block, `runs`' live marker, JSON fields and `--commit` filter, `diff`'s
 * source section, and `select --run-dir`'s warning for a live run. Runs are
 * staged with the CLI; meta `vcs`, `vcs.diff` and `live` are written by hand in
 * the format docs/run-format.md fixes, so every value is chosen by the test.
 */
import assert from "node:assert/strict";
import { metaJson } from "../../lib/run/meta.ts";
import { runName } from "../../lib/run/identity.ts";
import { type Cli, cliFor, fails, json, ok, rows, runstage } from "../support/cli.ts";
import { commitAll, git, withProject, withTempDir, writeTree } from "../support/fixtures.ts";

const GAGE = `
[train]
exec = "echo training"
[eval]
exec = "echo evaluating"
`;

/** Stages `op` with the CLI and returns the run's id. */
async function stage(cli: Cli, op = "train"): Promise<string> {
  const out = await ok(cli("stage", op));
  return /\(([0-9a-f-]{36})\)/.exec(out)![1];
}

/** Meta `vcs` as staging writes it; fields not given are those of a clean worktree run. */
interface Vcs {
  origin: "worktree" | "git";
  requested: string;
  ciVariable?: string;
  ref?: string;
  commit: string | null;
  branch: string | null;
  dirty: boolean | null;
  changed: string[];
  remote: string | null;
  path: string | null;
}

const C1 = "1111111aaaa0000000000000000000000000000a";
const C2 = "2222222bbbb0000000000000000000000000000b";
/** Shares its first 9 digits with C1. */
const C1_TWIN = "1111111aacccccccccccccccccccccccccccccc1";

function vcs(fields: Partial<Vcs> = {}): Vcs {
  return {
    origin: "worktree",
    requested: "worktree",
    commit: C1,
    branch: "main",
    dirty: false,
    changed: [],
    remote: "https://example.com/org/repo.git",
    path: "",
    ...fields,
  };
}

async function writeMetaFiles(home: string, id: string, files: Record<string, string>) {
  await writeTree(`${home}/${id}.meta`, files);
}

/** The lines of a `title:` section of show's text: the heading and its indented lines. */
function section(text: string, title: string): string[] {
  const lines = rows(text);
  const start = lines.indexOf(`${title}:`);
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && !l.startsWith("  "));
  return lines.slice(start, end < 0 ? undefined : end);
}

// --- show ----------------------------------------------------------------------------

Deno.test("show: the source block of a dirty worktree run, and --json vcs and live", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    const id = await stage(cli);
    const changed = ["a.py", "b.py", "conf/c.yaml", "d.py", "e.py", "f.py", "g.py"];
    const meta = { ...vcs({ dirty: true, changed, path: "ml/proj" }), omitted: ["g.py"] };
    await writeMetaFiles(home, id, {
      vcs: metaJson(meta),
      "vcs.diff": "diff --git a/a.py b/a.py\n",
    });
    assert.deepEqual(section(await ok(cli("show", "1")), "source"), [
      "source:",
      `  origin  worktree`,
      `  commit  ${C1}`,
      "  branch  main",
      "  dirty   yes, 7 changed: a.py, b.py, conf/c.yaml, d.py, e.py, and 2 more",
      `  patch   ${home}/${id}.meta/vcs.diff (leaves out 1: g.py)`,
      "  remote  https://example.com/org/repo.git",
      "  path    ml/proj",
    ]);
    // Between the run's own fields and its config, like the other sections.
    assert.match(await ok(cli("show", "1")), /^meta dir:.*\nsource:\n/m);
    const d = await json<{ vcs: unknown; live: unknown; commit: unknown }>(
      cli("show", "1", "--json"),
    );
    assert.deepEqual(d.vcs, meta, "the meta object as written");
    assert.equal(d.live, null);
    assert.equal(d.commit, C1);
  });
});

Deno.test("show: git and auto origins, no repository, live runs, and runs without provenance", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    const id = await stage(cli);
    const show = async (files: Record<string, string>) => {
      await writeMetaFiles(home, id, files);
      return section(await ok(cli("show", id)), "source");
    };
    assert.deepEqual(
      await show({
        vcs: metaJson(vcs({ origin: "git", requested: "git:v1.0", ref: "v1.0", branch: null })),
      }),
      [
        "source:",
        "  origin  git:v1.0",
        `  commit  ${C1}`,
        "  dirty   no",
        "  remote  https://example.com/org/repo.git",
        "  path    . (the repository root)",
      ],
    );
    const ci = vcs({ origin: "git", requested: "auto", ciVariable: "GITHUB_SHA", ref: C2 });
    assert.equal(
      (await show({ vcs: metaJson({ ...ci, commit: C2 }) }))[1],
      "  origin  git (auto, from $GITHUB_SHA)",
    );
    assert.equal(
      (await show({ vcs: metaJson(vcs({ requested: "auto" })) }))[1],
      "  origin  worktree (auto)",
    );
    // A project outside any repository: git could tell nothing but that.
    const outside = vcs({ commit: null, branch: null, dirty: null, remote: null, path: null });
    assert.deepEqual(await show({ vcs: metaJson(outside) }), [
      "source:",
      "  origin  worktree",
      "  commit  (none: not a git repository)",
    ]);

    // A live run: its origin says where its files link to, in text; JSON has the dir.
    assert.equal(
      (await show({ vcs: metaJson(vcs()), live: project }))[1],
      `  origin  worktree, live (links into ${project})`,
    );
    const d = await json<{ vcs: object; live: string }>(cli("show", id, "--json"));
    assert.equal(d.live, project);
    await Deno.remove(`${home}/${id}.meta/vcs`);
    assert.deepEqual(await show({}), ["source:", `  origin  live (links into ${project})`]);

    // A run staged before provenance, or with a vcs file half-written: no block, no crash.
    await Deno.remove(`${home}/${id}.meta/live`);
    assert.deepEqual(await show({}), []);
    const old = await json<{ vcs: null; live: null; commit: null }>(cli("show", id, "--json"));
    assert.deepEqual([old.vcs, old.live, old.commit], [null, null, null]);
    for (const broken of ['{"origin": "worktree", "comm', '{"origin": "svn"}', "[]"]) {
      assert.deepEqual(await show({ vcs: broken }), [], broken);
      assert.equal((await json<{ vcs: null }>(cli("show", id, "--json"))).vcs, null);
    }
  });
});

// --- runs ----------------------------------------------------------------------------

Deno.test("runs: a live run is marked in its status; --json has live and commit", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    const old = await stage(cli);
    const snap = await stage(cli);
    const live = await stage(cli, "eval");
    await writeMetaFiles(home, snap, { vcs: metaJson(vcs({ commit: C2 })) });
    await writeMetaFiles(home, live, { vcs: metaJson(vcs()), live: project });
    const table = rows(await ok(cli("runs")));
    assert.match(table[0], /^#\s+NAME\s+OP\s+STATUS\s+STARTED$/);
    assert.deepEqual(table.slice(1), [
      `[1]  ${runName(live)}  eval   staged (live)`,
      `[2]  ${runName(snap)}  train  staged`,
      `[3]  ${runName(old)}  train  staged`,
    ]);
    // The STARTED column still starts where the widened STATUS column ends.
    assert.equal(table[0].indexOf("STARTED"), table[1].indexOf("staged (live)") + 15);
    const listed = await json<{ id: string; live: boolean; commit: string | null }[]>(
      cli("runs", "--json"),
    );
    assert.deepEqual(listed.map((r) => [r.id, r.live, r.commit]), [
      [live, true, C1],
      [snap, false, C2],
      [old, false, null],
    ]);
    // The status filter sees the status, not the marker.
    assert.deepEqual(
      (await json<{ id: string }[]>(cli("runs", "--json", "--status", "staged", "--op", "eval")))
        .map((r) => r.id),
      [live],
    );
  });
});

Deno.test("runs --commit: a prefix of 4+ hex digits, any case, combined with the other filters", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    const ids: string[] = [];
    for (const op of ["train", "eval", "train", "train", "eval"]) ids.push(await stage(cli, op));
    // Oldest first: C1, C1 (eval), C2, C1_TWIN (labelled), none.
    await writeMetaFiles(home, ids[0], { vcs: metaJson(vcs()) });
    await writeMetaFiles(home, ids[1], { vcs: metaJson(vcs()) });
    await writeMetaFiles(home, ids[2], { vcs: metaJson(vcs({ commit: C2, origin: "git" })) });
    await writeMetaFiles(home, ids[3], { vcs: metaJson(vcs({ commit: C1_TWIN })), label: "best" });
    await writeMetaFiles(home, ids[4], { vcs: metaJson(vcs({ commit: null, path: null })) });
    const listed = async (...args: string[]) =>
      (await json<{ index: number }[]>(cli("runs", "--json", ...args))).map((r) => r.index);
    assert.deepEqual(await listed("--commit", "1111"), [2, 4, 5], "indexes kept");
    assert.deepEqual(await listed("--commit", "1111111AAA"), [4, 5], "any case");
    assert.deepEqual(await listed("--commit", "1111111aac"), [2]);
    assert.deepEqual(await listed("--commit", C2), [3], "the whole id");
    assert.deepEqual(await listed("--commit", "1111", "--op", "eval"), [4]);
    assert.deepEqual(await listed("--commit", "1111", "--label", "BEST"), [2]);
    assert.deepEqual(await listed("--commit", "1111", "--limit", "2"), [2, 4]);
    assert.deepEqual(await listed("--commit", "1111", "--status", "completed"), []);
    assert.deepEqual(await listed("--commit", "dead"), []);
    const table = rows(await ok(cli("runs", "--commit", "2222")));
    assert.equal(table.length, 2);
    assert.match(table[1], new RegExp(`^\\[3\\]\\s+${runName(ids[2])}\\s`));
    const none = await cli("runs", "--commit", "dead");
    assert.deepEqual([none.code, none.stdout], [0, ""]);
    assert.equal(none.stderr, "runstage: no runs match the filters\n");
    // Deleted runs keep their provenance: --all and --deleted filter them too.
    await ok(cli("delete", ids[2]));
    assert.deepEqual(
      (await json<{ id: string }[]>(cli("runs", "--json", "--deleted", "--commit", "2222")))
        .map((r) => r.id),
      [ids[2]],
    );

    for (const bad of ["111", "xyzw", "1111 2222", "", "1".repeat(41)]) {
      await fails(
        cli,
        home,
        ["runs", "--commit", bad],
        new RegExp(
          `^runstage: bad commit "${bad}" for --commit: give 4 to 40 hex digits of a commit id,`,
        ),
        2,
      );
    }
    assert.match((await runstage(["runs", "--help"])).stdout, /--commit <sha>/);
  });
});

// How long these listings take is measured by `deno task bench --only runs`, not asserted here.
Deno.test("runs, runs --json and --commit on 1,000 runs with meta vcs: live marks and the commit filter", async () => {
  await withTempDir(async (home) => {
    const t0 = 1_700_000_000_000_000;
    for (let i = 0; i < 1000; i++) {
      const id = crypto.randomUUID();
      const commit = i % 10 === 0 ? C2 : C1;
      const meta: Record<string, string> = {
        id,
        name: runName(id),
        opref: "2 proj train",
        initialized: String(t0 + i),
        staged: String(t0 + i + 1),
        vcs: metaJson(vcs({ commit })),
      };
      if (i % 100 === 0) meta.live = "/some/project";
      await writeTree(
        home,
        Object.fromEntries(Object.entries(meta).map(([k, v]) => [`${id}.meta/${k}`, v])),
      );
    }
    const listed = async (...args: string[]) => ({
      out: await ok(runstage(["--runs", home, ...args], { cwd: home })),
    });
    const table = await listed("runs");
    const all = await listed("runs", "--json");
    const filtered = await listed("runs", "--json", "--commit", "2222");
    const rowsOf = (out: string) => JSON.parse(out) as { live: boolean; commit: string }[];
    assert.equal(rowsOf(all.out).length, 1000);
    assert.equal(rowsOf(all.out).filter((r) => r.live).length, 10);
    assert.equal(rowsOf(filtered.out).length, 100);
    assert.ok(rowsOf(filtered.out).every((r) => r.commit === C2));
    assert.equal(rows(table.out).filter((r) => r.includes("(live)")).length, 10);
  });
});

// --- diff ----------------------------------------------------------------------------

Deno.test("diff: a source section where origin, commit or dirty state differ; --json vcs", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    const a = await stage(cli);
    const b = await stage(cli);
    const header = [`--- ${runName(a)} (${a})`, `+++ ${runName(b)} (${b})`];
    const diffText = async (va: Vcs | undefined, vb: Vcs | undefined) => {
      for (const [id, v] of [[a, va], [b, vb]] as const) {
        await Deno.remove(`${home}/${id}.meta/vcs`).catch(() => {});
        if (v) await writeMetaFiles(home, id, { vcs: metaJson(v) });
      }
      return rows(await ok(cli("diff", a, b)));
    };

    assert.deepEqual(
      await diffText(vcs(), vcs({ origin: "git", requested: "git:main", commit: C2 })),
      [
        ...header,
        "source:",
        "  origin: worktree -> git",
        "  commit: 1111111 -> 2222222",
        `  code change: git diff ${C1} ${C2}`,
      ],
    );
    assert.deepEqual(await diffText(vcs(), vcs({ dirty: true, changed: ["a.py"] })), [
      ...header,
      "source:",
      "  dirty: false -> true",
    ]);
    // Two commits that share git's 7 digits are told apart.
    assert.equal(
      (await diffText(vcs(), vcs({ commit: C1_TWIN })))[3],
      "  commit: 1111111aaa -> 1111111aac",
    );
    // One run recorded nothing: what it lacks is unknown, and there is no commit to diff.
    assert.deepEqual(await diffText(undefined, vcs()), [
      ...header,
      "source:",
      "  origin: (unknown) -> worktree",
      "  commit: (unknown) -> 1111111",
      "  dirty: (unknown) -> false",
    ]);
    assert.deepEqual(
      await diffText(vcs({ commit: null, dirty: null, path: null }), vcs({ commit: null })),
      [...header, "source:", "  dirty: (unknown) -> false"],
    );
    // Same provenance, or none at all: no section, and nothing differs.
    for (const [va, vb] of [[vcs(), vcs()], [undefined, undefined]]) {
      assert.deepEqual(await diffText(va, vb), [
        ...header,
        "no differences in config, summary or source code",
      ]);
    }

    const va = vcs();
    const vb = vcs({ origin: "git", requested: "auto", ciVariable: "CI_COMMIT_SHA", commit: C2 });
    await diffText(va, vb);
    const d = await json<{ vcs: { a: unknown; b: unknown } }>(cli("diff", a, b, "--json"));
    assert.deepEqual(d.vcs, { a: va, b: vb });
    await Deno.remove(`${home}/${a}.meta/vcs`);
    assert.deepEqual(
      (await json<{ vcs: { a: unknown; b: unknown } }>(cli("diff", a, b, "--json"))).vcs,
      { a: null, b: vb },
    );
  });
});

// --- select --------------------------------------------------------------------------

Deno.test("select --run-dir on a live run prints the dir and warns on stderr that it holds links", async () => {
  await withProject({ "gage.toml": GAGE }, async (project, home) => {
    const cli = cliFor(project, home);
    const snap = await stage(cli);
    const live = await stage(cli);
    await writeMetaFiles(home, live, { live: project });
    const r = await cli("select", live, "--run-dir");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${home}/${live}\n`, "the path alone, for $(...)");
    const name = runName(live);
    assert.equal(
      r.stderr,
      `runstage: warning: run ${name} is live: its source files are links into "${project}";` +
        ` restage it first (runstage restage ${name}) before copying it into an image\n`,
    );
    // Only the run dir holds the links: the id and the meta dir are printed quietly.
    for (const args of [[live], [live, "--meta-dir"], [snap, "--run-dir"]]) {
      const quiet = await cli("select", ...args);
      assert.deepEqual([quiet.code, quiet.stderr], [0, ""], args.join(" "));
    }
  });
});

// --- end to end ----------------------------------------------------------------------

Deno.test("show, runs --commit and diff read the provenance staging records in a real git repo", async () => {
  await withProject({ "gage.toml": GAGE, "train.py": "v1\n" }, async (project, home) => {
    const cli = cliFor(project, home);
    const first = await commitAll(project, "first");
    const clean = await stage(cli);
    await Deno.writeTextFile(`${project}/train.py`, "v2\n");
    const dirty = await stage(cli);

    const source = section(await ok(cli("show", dirty)), "source");
    assert.deepEqual(source.slice(0, 5), [
      "source:",
      "  origin  worktree",
      `  commit  ${first}`,
      "  branch  main",
      "  dirty   yes, 1 changed: train.py",
    ]);
    assert.equal(section(await ok(cli("show", clean)), "source")[4], "  dirty   no");
    assert.deepEqual(
      (await json<{ id: string }[]>(cli("runs", "--json", "--commit", first.slice(0, 7))))
        .map((r) => r.id),
      [dirty, clean],
    );
    assert.deepEqual(rows(await ok(cli("diff", clean, dirty))).slice(2, 4), [
      "source:",
      "  dirty: false -> true",
    ]);

    await git(project, "commit", "-q", "-am", "second");
    const second = (await git(project, "rev-parse", "HEAD")).trim();
    const later = await stage(cli);
    assert.deepEqual(rows(await ok(cli("diff", clean, later))).slice(2, 5), [
      "source:",
      `  commit: ${first.slice(0, 7)} -> ${second.slice(0, 7)}`,
      `  code change: git diff ${first} ${second}`,
    ]);
  });
});
