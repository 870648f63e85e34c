/**
 * Where a run's code comes from, end to end through the CLI with real git repos:
 * a dirty work tree, an older commit, a CI-named commit, a bare repo, and what
 * meta `vcs` records of each.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listTree, onlyRun, runstage } from "../support/cli.ts";
import { commitAll, git, withTempDir, writeTree } from "../support/fixtures.ts";

const CI_VARIABLES = ["CI", "GITHUB_SHA", "CI_COMMIT_SHA", "BUILDKITE_COMMIT", "GIT_COMMIT"];
const NO_CI = ["CIRCLE_SHA1", ...CI_VARIABLES];

/** A repo whose first commit has train.py v1 and old.py, the second v2 and extra.py. */
async function withHistory(
  fn: (repo: string, runs: string, commits: { first: string; second: string }) => Promise<void>,
) {
  await withTempDir(async (dir) => {
    const repo = join(dir, "repo");
    const runs = join(dir, "runs");
    await writeTree(repo, {
      "gage.toml": '[train]\nexec = "sh train.sh"\ndescription = "first"\n',
      "train.sh": "echo v1\n",
      "old.txt": "old\n",
      ".gitignore": "*.log\n",
    });
    const first = await commitAll(repo, "first");
    await writeTree(repo, {
      "gage.toml": '[train]\nexec = "sh train.sh"\ndescription = "second"\n',
      "train.sh": "echo v2\n",
      "extra.txt": "extra\n",
    });
    const second = await commitAll(repo, "second");
    await fn(repo, runs, { first, second });
  });
}

async function readVcs(metaDir: string) {
  return JSON.parse(await Deno.readTextFile(join(metaDir, "vcs")));
}

async function runFiles(runDir: string): Promise<string[]> {
  return (await listTree(runDir)).filter((p) => !p.endsWith("/"));
}

/** What git says is in the work tree: every byte of the status, the index and HEAD. */
async function workTreeState(repo: string) {
  return {
    status: await git(repo, "status", "--porcelain=v1", "--untracked-files=all"),
    index: await Deno.readFile(join(repo, ".git", "index")),
    head: await git(repo, "rev-parse", "HEAD"),
  };
}

Deno.test("a worktree run of a dirty tree copies the edits and records the diff", async () => {
  await withHistory(async (repo, runs, { second }) => {
    await writeTree(repo, { "train.sh": "echo dirty\n", "new.txt": "new\n", "run.log": "x\n" });
    await Deno.remove(join(repo, "extra.txt"));
    const r = await runstage(["--runs", runs, "stage", "train"], { cwd: repo, unsetEnv: NO_CI });
    assert.equal(r.code, 0, r.stderr);
    const { runDir, metaDir } = await onlyRun(runs);
    // The work tree as it is: the edit, the new file, not the deleted or ignored one.
    assert.deepEqual(await runFiles(runDir), [
      ".gitignore",
      "gage.toml",
      "new.txt",
      "old.txt",
      "train.sh",
    ]);
    assert.equal(await Deno.readTextFile(join(runDir, "train.sh")), "echo dirty\n");
    const vcs = await readVcs(metaDir);
    assert.deepEqual(vcs, {
      origin: "worktree",
      requested: "worktree",
      commit: second,
      branch: "main",
      dirty: true,
      changed: ["extra.txt", "new.txt", "train.sh"],
      omitted: [],
      remote: null,
      path: "",
    });
    // The diff rebuilds the work tree from the commit: apply it to a clean clone.
    await withTempDir(async (dir) => {
      const clone = join(dir, "clone");
      await git(dir, "clone", "-q", repo, clone);
      await git(clone, "apply", join(metaDir, "vcs.diff"));
      assert.equal(await Deno.readTextFile(join(clone, "train.sh")), "echo dirty\n");
      assert.equal(await Deno.readTextFile(join(clone, "new.txt")), "new\n");
      assert.deepEqual((await listTree(clone)).includes("extra.txt"), false);
    });
  });
});

Deno.test("--source git:REF stages an older commit and leaves the work tree untouched", async () => {
  await withHistory(async (repo, runs, { first }) => {
    await writeTree(repo, { "train.sh": "echo uncommitted\n", "scratch.txt": "wip\n" });
    const before = await workTreeState(repo);
    const r = await runstage(["--runs", runs, "run", "train", "--source", `git:${first}`], {
      cwd: repo,
      unsetEnv: NO_CI,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "v1\n");
    const { runDir, metaDir } = await onlyRun(runs);
    // Exactly the files of that commit: git says so.
    const inCommit = (await git(repo, "ls-tree", "-r", "--name-only", first)).trim().split("\n");
    assert.deepEqual(await runFiles(runDir), inCommit.sort());
    assert.equal(await Deno.readTextFile(join(runDir, "train.sh")), "echo v1\n");
    // The op definition is the commit's too.
    const opdef = JSON.parse(await Deno.readTextFile(join(metaDir, "opdef.json")));
    assert.equal(opdef.description, "first");
    assert.deepEqual(await workTreeState(repo), before);
    assert.equal(await Deno.readTextFile(join(repo, "train.sh")), "echo uncommitted\n");
    assert.deepEqual(await readVcs(metaDir), {
      origin: "git",
      requested: `git:${first}`,
      ref: first,
      commit: first,
      branch: null,
      dirty: false,
      changed: [],
      omitted: [],
      remote: null,
      path: "",
    });
    assert.equal((await listTree(metaDir)).includes("vcs.diff"), false);
  });
});

Deno.test("--source git:BRANCH records the branch; an unknown ref writes nothing", async () => {
  await withHistory(async (repo, runs, { second }) => {
    const r = await runstage(["--runs", runs, "stage", "--source", "git:main"], {
      cwd: repo,
      unsetEnv: NO_CI,
    });
    assert.equal(r.code, 0, r.stderr);
    const vcs = await readVcs((await onlyRun(runs)).metaDir);
    assert.equal(vcs.commit, second);
    assert.equal(vcs.branch, "main");

    const other = join(runs, "..", "other-runs");
    const bad = await runstage(["--runs", other, "stage", "--source", "git:no-such-ref"], {
      cwd: repo,
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^runstage: unknown git ref "no-such-ref" in .*\n$/);
    assert.deepEqual(await listTree(other), []);
  });
});

Deno.test("--source auto takes the commit CI names, and the work tree outside CI", async () => {
  await withHistory(async (repo, runs, { first, second }) => {
    await writeTree(repo, { "train.sh": "echo local\n" });
    const ci = await runstage(["--runs", runs, "run", "--source", "auto"], {
      cwd: repo,
      unsetEnv: NO_CI,
      env: { CI: "true", GITHUB_SHA: first },
    });
    assert.equal(ci.code, 0, ci.stderr);
    assert.equal(ci.stdout, "v1\n");
    const local = await runstage(["--runs", runs, "run", "--source", "auto"], {
      cwd: repo,
      unsetEnv: NO_CI,
    });
    assert.equal(local.stdout, "local\n");
    const json = JSON.parse(
      (await runstage(["--runs", runs, "runs", "--json"], { cwd: repo })).stdout,
    );
    const vcsOf = async (id: string) => await readVcs(join(runs, `${id}.meta`));
    const [newest, oldest] = json.map((row: { id: string }) => row.id);
    const fromCi = await vcsOf(oldest);
    assert.equal(fromCi.origin, "git");
    assert.equal(fromCi.requested, "auto");
    assert.equal(fromCi.ciVariable, "GITHUB_SHA");
    assert.equal(fromCi.commit, first);
    const fromTree = await vcsOf(newest);
    assert.equal(fromTree.origin, "worktree");
    assert.equal(fromTree.requested, "auto");
    assert.equal(fromTree.commit, second);
    assert.equal(fromTree.dirty, true);
  });
});

Deno.test('an op\'s source = "auto" is its default, and --source overrides it', async () => {
  await withTempDir(async (dir) => {
    const repo = join(dir, "repo");
    await writeTree(repo, {
      "gage.toml": '[train]\nexec = "cat msg.txt"\nsource = "auto"\n',
      "msg.txt": "committed\n",
    });
    const commit = await commitAll(repo, "one");
    await writeTree(repo, { "msg.txt": "edited\n" });
    const env = { CI: "1", CI_COMMIT_SHA: commit };
    const byOp = await runstage(["--runs", "runs", "run"], { cwd: repo, unsetEnv: NO_CI, env });
    assert.equal(byOp.stdout, "committed\n", byOp.stderr);
    const forced = await runstage(["--runs", "runs", "run", "--source", "worktree"], {
      cwd: repo,
      unsetEnv: NO_CI,
      env,
    });
    assert.equal(forced.stdout, "edited\n", forced.stderr);
  });
});

Deno.test("a bare repo is a source: the files git says, nothing else", async () => {
  await withHistory(async (repo, runs, { second }) => {
    const bare = join(runs, "..", "bare.git");
    await git(repo, "clone", "-q", "--bare", repo, bare);
    const r = await runstage(["-C", bare, "--runs", runs, "stage", "--source", "git:main"], {
      unsetEnv: NO_CI,
    });
    assert.equal(r.code, 0, r.stderr);
    const { runDir, metaDir } = await onlyRun(runs);
    const inCommit = (await git(bare, "ls-tree", "-r", "--name-only", "main")).trim().split("\n");
    assert.deepEqual(await runFiles(runDir), inCommit.sort());
    const vcs = await readVcs(metaDir);
    assert.equal(vcs.commit, second);
    assert.equal(vcs.origin, "git");
  });
});

Deno.test("a subdir project of a repo gets its own files and the repo's ignores", async () => {
  await withTempDir(async (dir) => {
    const repo = join(dir, "repo");
    await writeTree(repo, {
      ".gitignore": "*.tmp\n",
      "README.md": "top\n",
      "ml/gage.toml": '[train]\nexec = "ls"\n',
      "ml/train.py": "print(1)\n",
      "ml/keep.tmp": "force-added\n",
    });
    await commitAll(repo, "one");
    await git(repo, "add", "-f", "ml/keep.tmp");
    await git(repo, "commit", "-q", "-m", "force");
    const worktree = await runstage(["--runs", join(dir, "a"), "stage"], {
      cwd: join(repo, "ml"),
      unsetEnv: NO_CI,
    });
    const fromGit = await runstage(["--runs", join(dir, "b"), "stage", "--source", "git:HEAD"], {
      cwd: join(repo, "ml"),
      unsetEnv: NO_CI,
    });
    assert.equal(worktree.code + fromGit.code, 0, worktree.stderr + fromGit.stderr);
    // One selection for both origins: a clean checkout gives the same files either way.
    const a = await runFiles((await onlyRun(join(dir, "a"))).runDir);
    const b = await runFiles((await onlyRun(join(dir, "b"))).runDir);
    assert.deepEqual(a, ["gage.toml", "train.py"]);
    assert.deepEqual(b, a);
    const vcs = await readVcs((await onlyRun(join(dir, "b"))).metaDir);
    assert.equal(vcs.path, "ml");
  });
});

Deno.test("credentials in a remote URL never reach meta", async () => {
  // Well-formed, and malformed: a password holding "/", "?", "#" or "@" unescaped.
  const remotes: [string, string][] = [
    ["https://alice:s3cr3t-t0ken@example.com/org/repo.git", "https://example.com/org/repo.git"],
    ["https://alice:s3cr/3t-t0ken@example.com/org/repo.git", "https://example.com/org/repo.git"],
    ["https://alice:s3cr?3t-t0ken@example.com/org/repo.git", "https://example.com/org/repo.git"],
    ["https://alice:s3cr#3t-t0ken@example.com/org/repo.git", "https://example.com/org/repo.git"],
    ["https://alice:s3cr@3t-t0ken@example.com/org/repo.git", "https://example.com/org/repo.git"],
    ["ssh://alice:s3cr/3t-t0ken@example.com/org/repo.git", "ssh://alice@example.com/org/repo.git"],
    ["alice:s3cr/3t-t0ken@example.com:org/repo.git", "alice@example.com:org/repo.git"],
  ];
  for (const [url, redacted] of remotes) {
    await withHistory(async (repo, runs) => {
      await git(repo, "remote", "add", "origin", url);
      for (const source of ["worktree", "git:HEAD"]) {
        const r = await runstage(["--runs", runs, "stage", "--source", source], {
          cwd: repo,
          unsetEnv: NO_CI,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stdout + r.stderr, /s3cr|t0ken/, url);
      }
      for (const path of await listTree(runs)) {
        if (path.endsWith("/")) continue;
        const text = await Deno.readTextFile(join(runs, path));
        // No part of the password, before or after its "/", "?", "#" or "@".
        assert.doesNotMatch(text, /s3cr|t0ken/, `${url}: ${path}`);
        if (!redacted.includes("alice")) assert.doesNotMatch(text, /alice/, `${url}: ${path}`);
      }
      const metas = (await listTree(runs)).filter((p) => p.endsWith(".meta/vcs"));
      assert.equal(metas.length, 2);
      for (const meta of metas) {
        assert.equal((await readVcs(join(runs, meta, ".."))).remote, redacted, url);
      }
    });
  }
});

Deno.test("--source outside a repo, or malformed, fails before anything is written", async () => {
  await withTempDir(async (dir) => {
    await writeTree(dir, { "p/gage.toml": '[train]\nexec = "ls"\n' });
    const runs = join(dir, "runs");
    const cases: [string, RegExp][] = [
      ["git:main", /^runstage: --source git:main needs a git repository: .* is not in one/],
      ["svn", /^runstage: invalid source "svn": use worktree, git:REF or auto/],
    ];
    for (const [source, message] of cases) {
      const r = await runstage(["--runs", runs, "stage", "--source", source], {
        cwd: join(dir, "p"),
      });
      assert.equal(r.code, 1, source);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1);
    }
    assert.deepEqual(await listTree(runs), []);
    // Outside a repo there is no provenance to record: no meta vcs, as in the reference.
    const ok = await runstage(["--runs", runs, "stage"], { cwd: join(dir, "p"), unsetEnv: NO_CI });
    assert.equal(ok.code, 0, ok.stderr);
    const { metaDir } = await onlyRun(runs);
    assert.equal((await listTree(metaDir)).includes("vcs"), false);
  });
});

Deno.test("rerun stages from the origin the run came from, unless told otherwise", async () => {
  await withHistory(async (repo, runs, { first }) => {
    const r = await runstage(["--runs", runs, "run", "--source", `git:${first}`], {
      cwd: repo,
      unsetEnv: NO_CI,
    });
    assert.equal(r.stdout, "v1\n", r.stderr);
    const again = await runstage(["--runs", runs, "rerun", "1"], { cwd: repo, unsetEnv: NO_CI });
    assert.equal(again.stdout, "v1\n", again.stderr);
    const fromTree = await runstage(["--runs", runs, "rerun", "1", "--source", "worktree"], {
      cwd: repo,
      unsetEnv: NO_CI,
    });
    assert.equal(fromTree.stdout, "v2\n", fromTree.stderr);
  });
});
