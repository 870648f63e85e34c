/**
 * Source origins, commit extraction and provenance against real git repositories
 * in temp dirs: what runstage writes and records is checked against what git
 * itself says (ls-tree, hash-object, apply).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { comparePaths } from "../../../lib/fs/pathorder.ts";
import { selectSourcecode } from "../../../lib/source/select.ts";
import {
  CI_COMMIT_VARIABLES,
  describeWorkTree,
  extractCommit,
  type GitRepo,
  openGitRepo,
  parseSourceOrigin,
  readVcs,
  redactRemoteUrl,
  remoteUrl,
  resolveCommit,
  type WorkTreeState,
} from "../../../lib/git/vcs.ts";
import {
  assertUserError,
  assertUserErrorAsync,
  commitAll,
  type Files,
  git,
  listTree,
  sha256File,
  withTempDir,
  writeTree,
} from "../../support/fixtures.ts";

/** lib/git/vcs.ts for scripts run in a process of their own. */
const VCS_MODULE = new URL("../../../lib/git/vcs.ts", import.meta.url).href;

const BINARY = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 0xff, 0xfe]);

/** A repo at `dir` holding `files`, committed; returns the commit. */
async function makeRepo(dir: string, files: Files, message = "first"): Promise<string> {
  await writeTree(dir, files);
  return await commitAll(dir, message);
}

async function openRepo(dir: string): Promise<GitRepo> {
  const repo = await openGitRepo(dir);
  assert.ok(repo, `${dir} is in no repository`);
  return repo;
}

/** What `git ls-tree` lists for `commit` (whole tree, or `paths`): mode, object id, path. */
async function lsTree(repoDir: string, commit: string, paths: string[] = []) {
  const out = await git(repoDir, "ls-tree", "-r", "-z", "--full-tree", commit, "--", ...paths);
  return out.split("\0").filter(Boolean).map((record) => {
    const [meta, path] = record.split("\t");
    const [mode, , oid] = meta.split(" ");
    return { mode, oid, path };
  });
}

/**
 * Asserts `root` holds exactly the given blobs: the same paths, each file hashing
 * to its object id with the exec bit its mode says, each link with its stored target.
 */
async function assertHoldsBlobs(
  repoDir: string,
  root: string,
  blobs: { mode: string; oid: string; path: string }[],
): Promise<void> {
  const written = (await listTree(root)).filter((p) => !p.endsWith("/"));
  assert.deepEqual(written, blobs.map((b) => b.path).sort());
  for (const blob of blobs) {
    const abs = join(root, blob.path);
    const st = await Deno.lstat(abs);
    if (blob.mode === "120000") {
      assert.ok(st.isSymlink, `${blob.path} is a symlink`);
      assert.equal(await Deno.readLink(abs), await git(repoDir, "cat-file", "blob", blob.oid));
      continue;
    }
    assert.ok(st.isFile, `${blob.path} is a file`);
    assert.equal((await git(repoDir, "hash-object", "--no-filters", abs)).trim(), blob.oid);
    assert.equal((st.mode! & 0o111) !== 0, blob.mode === "100755", `exec bit of ${blob.path}`);
  }
}

/** Every file and link under `dir` but `.git`: content digest or link target, and exec bit. */
async function snapshot(dir: string, skip: string[] = []): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const path of await listTree(dir)) {
    if (path.endsWith("/") || path.startsWith(".git/") || skip.some((s) => path.startsWith(s))) {
      continue;
    }
    const abs = join(dir, path);
    const st = await Deno.lstat(abs);
    out[path] = st.isSymlink
      ? `-> ${await Deno.readLink(abs)}`
      : `${await sha256File(abs)} ${(st.mode! & 0o111) !== 0 ? "x" : "-"}`;
  }
  return out;
}

/** What must not change when runstage reads a repo: index bytes, HEAD, status, files. */
async function repoState(dir: string) {
  // The index first: the status below must not be what rewrites it.
  const index = await Deno.readFile(join(dir, ".git", "index"));
  const head = await git(dir, "rev-parse", "HEAD");
  const status = await git(dir, "--no-optional-locks", "status", "--porcelain", "-uall");
  return { index, head, status, files: await snapshot(dir) };
}

/**
 * Asserts that `git apply` of the state's diff, in a clean export of its commit
 * (or an empty dir before the first commit), gives back the project dir's files.
 */
async function assertDiffReproduces(
  repo: GitRepo,
  projectDir: string,
  state: WorkTreeState,
  skip: string[] = [],
): Promise<void> {
  await withTempDir(async (tmp) => {
    const exportDir = join(tmp, "export");
    await Deno.mkdir(exportDir);
    let target = join(exportDir, repo.prefix);
    if (state.commit) target = (await extractCommit(repo, state.commit, exportDir)).projectDir;
    else await Deno.mkdir(target, { recursive: true });
    const patch = join(tmp, "vcs.diff");
    await Deno.writeFile(patch, state.diff);
    await git(target, "apply", patch);
    assert.deepEqual(await snapshot(target), await snapshot(projectDir, skip));
  });
}

// ---------------------------------------------------------------------------
// Source origins

Deno.test("parseSourceOrigin: worktree, git:REF, and auto outside CI", () => {
  const ciCommit = { GITHUB_SHA: "abc123" };
  assert.deepEqual(parseSourceOrigin("worktree", {}), { mode: "worktree", requested: "worktree" });
  assert.deepEqual(parseSourceOrigin("git:v1.0", {}), {
    mode: "git",
    ref: "v1.0",
    requested: "git:v1.0",
  });
  assert.deepEqual(parseSourceOrigin("git:refs/heads/a:b", {}), {
    mode: "git",
    ref: "refs/heads/a:b",
    requested: "git:refs/heads/a:b",
  });
  // A CI commit variable alone is not CI: a developer's shell may hold one.
  assert.deepEqual(parseSourceOrigin("auto", ciCommit), { mode: "worktree", requested: "auto" });
});

Deno.test("parseSourceOrigin: auto under CI takes the first CI commit variable set", () => {
  assert.deepEqual(CI_COMMIT_VARIABLES, [
    "GITHUB_SHA",
    "CI_COMMIT_SHA",
    "BUILDKITE_COMMIT",
    "GIT_COMMIT",
    "CIRCLE_SHA1",
  ]);
  const env = { CI: "true", GIT_COMMIT: "jenkins", CI_COMMIT_SHA: "gitlab", CIRCLE_SHA1: "circle" };
  assert.deepEqual(parseSourceOrigin("auto", env), {
    mode: "git",
    ref: "gitlab",
    requested: "auto",
    ciVariable: "CI_COMMIT_SHA",
  });
  // Each variable on its own, and an empty one passed over.
  for (const variable of CI_COMMIT_VARIABLES) {
    const origin = parseSourceOrigin("auto", { CI: "1", GITHUB_SHA: " ", [variable]: "c0ffee" });
    assert.deepEqual(origin, {
      mode: "git",
      ref: "c0ffee",
      requested: "auto",
      ciVariable: variable,
    });
  }
  // CI with no commit named: the work tree, still recorded as asked for by auto.
  assert.deepEqual(parseSourceOrigin("auto", { CI: "true" }), {
    mode: "worktree",
    requested: "auto",
  });
});

Deno.test("parseSourceOrigin: CI counts as set unless empty, false or 0", () => {
  for (const ci of ["true", "1", "yes", "TRUE", "woodpecker"]) {
    assert.equal(parseSourceOrigin("auto", { CI: ci, GITHUB_SHA: "abc" }).mode, "git", ci);
  }
  for (const ci of [undefined, "", "  ", "false", "FALSE", "False", "0"]) {
    assert.equal(parseSourceOrigin("auto", { CI: ci, GITHUB_SHA: "abc" }).mode, "worktree", ci);
  }
});

Deno.test("parseSourceOrigin: a bad spec is a one-line user error", () => {
  for (const spec of ["x", "", "Worktree", "AUTO", "git", "head", "a\nb"]) {
    assertUserError(
      () => parseSourceOrigin(spec, {}),
      `invalid source ${JSON.stringify(spec)}: use worktree, git:REF or auto`,
    );
  }
  assertUserError(() => parseSourceOrigin("git:", {}), 'invalid source "git:"', "git:main");
});

// ---------------------------------------------------------------------------
// Repositories and refs

Deno.test("openGitRepo: outside a repo, at its root, in a subdir, through a link, bare", async () => {
  await withTempDir(async (tmp) => {
    await writeTree(tmp, { "plain/x.txt": "x\n" });
    assert.equal(await openGitRepo(join(tmp, "plain")), undefined);

    const work = join(tmp, "work");
    await makeRepo(work, { "a.txt": "a\n", "sub/dir/b.txt": "b\n" });
    assert.deepEqual(await openGitRepo(work), {
      gitDir: join(work, ".git"),
      workTree: work,
      bare: false,
      prefix: "",
    });
    const inSubdir = { gitDir: join(work, ".git"), workTree: work, bare: false, prefix: "sub/dir" };
    assert.deepEqual(await openGitRepo(join(work, "sub", "dir")), inSubdir);
    await Deno.symlink(join(work, "sub", "dir"), join(tmp, "link"));
    assert.deepEqual(await openGitRepo(join(tmp, "link")), inSubdir);

    await git(tmp, "clone", "-q", "--bare", work, "bare.git");
    assert.deepEqual(await openGitRepo(join(tmp, "bare.git")), {
      gitDir: join(tmp, "bare.git"),
      bare: true,
      prefix: "",
    });
    // Inside a git dir there is no work tree either.
    assert.deepEqual(await openGitRepo(join(work, ".git", "refs")), {
      gitDir: join(work, ".git"),
      bare: true,
      prefix: "",
    });
  });
});

Deno.test("resolveCommit: branches, tags and short ids give the full id; others fail", async () => {
  await withTempDir(async (tmp) => {
    const first = await makeRepo(tmp, { "a.txt": "1\n" });
    await git(tmp, "tag", "-a", "-m", "annotated", "v1");
    await git(tmp, "tag", "light");
    await writeTree(tmp, { "a.txt": "2\n" });
    const second = await commitAll(tmp, "second");
    const repo = await openRepo(tmp);

    assert.match(first, /^[0-9a-f]{40}$/);
    assert.equal(await resolveCommit(repo, "main"), second);
    assert.equal(await resolveCommit(repo, "refs/heads/main"), second);
    assert.equal(await resolveCommit(repo, "v1"), first, "an annotated tag peels to its commit");
    assert.equal(await resolveCommit(repo, "light"), first);
    assert.equal(await resolveCommit(repo, first.slice(0, 8)), first);
    assert.equal(await resolveCommit(repo, "main~1"), first);

    await assertUserErrorAsync(
      resolveCommit(repo, "nope"),
      `unknown git ref "nope" in ${tmp}: name a commit, branch or tag (see git log)`,
    );
    // A tree is not a commit.
    await assertUserErrorAsync(resolveCommit(repo, "main^{tree}"), "unknown git ref");
    // Refs are never options: this one would otherwise write a file.
    const trap = join(tmp, "trap");
    await assertUserErrorAsync(resolveCommit(repo, `--output=${trap}`), "unknown git ref");
    await assert.rejects(Deno.lstat(trap), Deno.errors.NotFound);
    await assertUserErrorAsync(resolveCommit(repo, "a\nb"), 'unknown git ref "a\\nb"');
  });
});

// ---------------------------------------------------------------------------
// Extraction

Deno.test("extractCommit: an older commit, the work tree moved on and left alone", async () => {
  await withTempDir(async (tmp) => {
    const work = join(tmp, "work");
    await writeTree(work, {
      "train.py": "print('one')\n",
      "conf/model.yaml": "lr: 0.1\n",
      "run.sh": "#!/bin/sh\necho run\n",
      "data.bin": BINARY,
      "with space é.txt": "spaced\n",
    });
    await Deno.chmod(join(work, "run.sh"), 0o755);
    await Deno.symlink("conf/model.yaml", join(work, "model.yaml"));
    await Deno.symlink("missing-target", join(work, "dangling"));
    const old = await commitAll(work, "old");
    // The work tree moves on: a commit, then staged and unstaged edits.
    await Deno.remove(join(work, "run.sh"));
    await writeTree(work, { "train.py": "print('two')\n", "new.py": "new\n" });
    await commitAll(work, "new");
    await writeTree(work, { "staged.py": "s\n", "conf/model.yaml": "lr: 0.5\n" });
    await git(work, "add", "staged.py");
    await writeTree(work, { "untracked.txt": "u\n" });
    const before = await repoState(work);

    const repo = await openRepo(work);
    await withTempDir(async (dest) => {
      const extracted = await extractCommit(repo, old, dest);
      assert.equal(extracted.projectDir, dest);
      assert.equal(extracted.files, 7);
      assert.deepEqual(extracted.warnings, []);
      await assertHoldsBlobs(work, dest, await lsTree(work, old));
      assert.equal(await Deno.readTextFile(join(dest, "train.py")), "print('one')\n");
      assert.deepEqual(await listTree(join(dest, ".git")), [], "an empty .git marks the root");
    });
    assert.deepEqual(await repoState(work), before);
  });
});

Deno.test("extractCommit: from a bare clone", async () => {
  await withTempDir(async (tmp) => {
    const work = join(tmp, "work");
    await writeTree(work, { "train.py": "x\n", "pkg/mod.py": "y\n", "pkg/tool": "#!/bin/sh\n" });
    await Deno.chmod(join(work, "pkg/tool"), 0o755);
    await commitAll(work, "first");
    await git(tmp, "clone", "-q", "--bare", work, "bare.git");
    const bareDir = join(tmp, "bare.git");
    const repo = await openRepo(bareDir);
    const commit = await resolveCommit(repo, "main");

    await withTempDir(async (dest) => {
      const extracted = await extractCommit(repo, commit, dest);
      assert.equal(extracted.projectDir, dest);
      await assertHoldsBlobs(bareDir, dest, await lsTree(bareDir, commit));
    });
  });
});

Deno.test("extractCommit: a subdir project gets the .gitignore files above it", async () => {
  await withTempDir(async (tmp) => {
    const work = join(tmp, "work");
    await writeTree(work, {
      ".gitignore": "*.log\n",
      "top.txt": "not the project\n",
      "a/.gitignore": "secret/\n",
      "a/other.txt": "not the project\n",
      "a/proj2/sibling.py": "a sibling whose name starts like the project's\n",
      "a/proj/.gitignore": "tmp.txt\n",
      "a/proj/train.py": "x\n",
      "a/proj/sub/.gitignore": "!keep.log\n",
      "a/proj/sub/keep.log": "kept by the deeper rule\n",
      "b/.gitignore": "not above the project\n",
    });
    await commitAll(work, "first");
    // Tracked yet ignored: selection skips them in a checkout, and must in the export.
    await writeTree(work, {
      "a/proj/run.log": "log\n",
      "a/proj/secret/key.txt": "k\n",
      "a/proj/tmp.txt": "t\n",
    });
    await git(work, "add", "--force", "a/proj");
    const commit = await commitAll(work, "ignored files");
    const project = join(work, "a", "proj");
    const repo = await openRepo(project);
    assert.equal(repo.prefix, "a/proj");

    await withTempDir(async (dest) => {
      const extracted = await extractCommit(repo, commit, dest);
      assert.equal(extracted.projectDir, join(dest, "a", "proj"));
      const expected = await lsTree(work, commit, ["a/proj", ".gitignore", "a/.gitignore"]);
      assert.ok(expected.some((e) => e.path === "a/proj/run.log"));
      await assertHoldsBlobs(work, dest, expected);

      const inCheckout = await selectSourcecode(project, undefined);
      const inExport = await selectSourcecode(extracted.projectDir, undefined);
      const paths = (s: typeof inCheckout) => s.files.map((f) => f.path);
      assert.deepEqual(paths(inCheckout), [
        ".gitignore",
        "sub/.gitignore",
        "sub/keep.log",
        "train.py",
      ]);
      assert.deepEqual(paths(inExport), paths(inCheckout));
    });
  });
});

Deno.test("extractCommit: submodules are skipped with a warning", async () => {
  await withTempDir(async (tmp) => {
    const work = join(tmp, "work");
    const commit0 = await makeRepo(work, { "train.py": "x\n" });
    await git(work, "update-index", "--add", "--cacheinfo", `160000,${commit0},libs/dep`);
    await git(work, "commit", "-q", "-m", "with a submodule");
    const commit = (await git(work, "rev-parse", "HEAD")).trim();
    assert.equal((await lsTree(work, commit)).find((e) => e.path === "libs/dep")?.mode, "160000");
    const repo = await openRepo(work);
    await withTempDir(async (dest) => {
      const extracted = await extractCommit(repo, commit, dest);
      assert.deepEqual(extracted.warnings, [
        "skipped submodule libs/dep: submodules are not copied",
      ]);
      assert.deepEqual(await listTree(dest), [".git/", "train.py"]);
    });
  });
});

Deno.test("extractCommit: a 20 MB blob arrives whole", async () => {
  await withTempDir(async (tmp) => {
    const big = new Uint8Array(20 * 1024 * 1024);
    for (let at = 0; at < big.length; at += 65536) {
      crypto.getRandomValues(big.subarray(at, at + 65536));
    }
    const commit = await makeRepo(tmp, { "weights.bin": big, "small.txt": "s\n" });
    const expected = await sha256File(join(tmp, "weights.bin"));
    const repo = await openRepo(tmp);
    await withTempDir(async (dest) => {
      const extracted = await extractCommit(repo, commit, dest);
      assert.equal(extracted.files, 2);
      assert.equal((await Deno.stat(join(dest, "weights.bin"))).size, big.length);
      assert.equal(await sha256File(join(dest, "weights.bin")), expected);
      assert.equal(await Deno.readTextFile(join(dest, "small.txt")), "s\n");
    });
  });
});

/** Peak RSS growth of a process that extracts `commit`, in bytes (Linux: /proc). */
async function extractionPeakGrowth(repoDir: string, commit: string, dest: string) {
  const script = join(dest, "..", "measure.ts");
  await Deno.writeTextFile(
    script,
    `import { extractCommit, openGitRepo } from ${JSON.stringify(VCS_MODULE)};
const peak = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))![1]) * 1024;
const repo = (await openGitRepo(Deno.args[0]))!;
const before = peak();
await extractCommit(repo, Deno.args[1], Deno.args[2]);
console.log(peak() - before);
`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", script, repoDir, commit, dest],
    stderr: "inherit",
  }).output();
  assert.ok(out.success);
  return Number(new TextDecoder().decode(out.stdout));
}

Deno.test({
  name: "extractCommit: a big blob streams through, never held in memory whole",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await withTempDir(async (tmp) => {
      // Compressible, so the repo is quick to make; git still pipes out every byte.
      const big = new Uint8Array(128 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = i % 251;
      const work = join(tmp, "work");
      const commit = await makeRepo(work, { "weights.bin": big });
      const dest = join(tmp, "dest");
      await Deno.mkdir(dest);
      const growth = await extractionPeakGrowth(work, commit, dest);
      assert.equal(
        await sha256File(join(dest, "weights.bin")),
        await sha256File(join(work, "weights.bin")),
      );
      // Streaming leaves garbage chunks for the GC, bounded whatever the blob's size
      // (about 50 MiB seen for 64 MiB and 200 MiB alike); holding the blob takes it all.
      assert.ok(growth < 96 * 1024 * 1024, `peak RSS grew by ${growth} bytes for a 128 MiB blob`);
    });
  },
});

Deno.test("extractCommit: Git LFS pointers are written as stored, with a warning", async () => {
  await withTempDir(async (tmp) => {
    const pointer = "version https://git-lfs.github.com/spec/v1\n" +
      "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n";
    const commit = await makeRepo(tmp, { "model.pt": pointer, "train.py": "x\n" });
    const repo = await openRepo(tmp);
    await withTempDir(async (dest) => {
      const extracted = await extractCommit(repo, commit, dest);
      assert.equal(await Deno.readTextFile(join(dest, "model.pt")), pointer);
      assert.equal(extracted.warnings.length, 1);
      assert.match(extracted.warnings[0], /^1 file is a Git LFS pointer \(model\.pt\)/);
    });
  });
});

Deno.test("extractCommit: a project dir the commit does not have is a user error", async () => {
  await withTempDir(async (tmp) => {
    const first = await makeRepo(tmp, { "README": "r\n" });
    await writeTree(tmp, { "proj/train.py": "x\n" });
    await commitAll(tmp, "the project");
    const repo = await openRepo(join(tmp, "proj"));
    await withTempDir(async (dest) => {
      await assertUserErrorAsync(
        extractCommit(repo, first, dest),
        `commit ${first.slice(0, 12)} has no "proj": the project dir is not in that commit`,
      );
    });
  });
});

// ---------------------------------------------------------------------------
// Work tree state

Deno.test("describeWorkTree: a clean tree", async () => {
  await withTempDir(async (tmp) => {
    const commit = await makeRepo(tmp, { "train.py": "x\n", ".gitignore": "*.log\n" });
    await writeTree(tmp, { "out.log": "ignored, so not a change\n" });
    const { diff, ...state } = await describeWorkTree(await openRepo(tmp), tmp);
    assert.deepEqual(state, { commit, branch: "main", dirty: false, changed: [], omitted: [] });
    assert.equal(diff.length, 0);
  });
});

Deno.test("describeWorkTree: every kind of change is listed, and the diff reproduces it", async () => {
  await withTempDir(async (tmp) => {
    await writeTree(tmp, {
      "a.txt": "one\ntwo\nthree\n",
      "keep.txt": "unchanged\n",
      "gone.txt": "deleted\n",
      "old-name.txt": "renamed\n",
      "bin.dat": BINARY,
      "run.sh": "#!/bin/sh\n",
      "latin1.txt": new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]),
    });
    await Deno.chmod(join(tmp, "run.sh"), 0o755);
    await Deno.symlink("a.txt", join(tmp, "link"));
    const commit = await commitAll(tmp, "first");

    await writeTree(tmp, {
      "a.txt": "one\n2\nthree\nfour\n",
      "bin.dat": new Uint8Array([...BINARY, 0, 9, 9]),
      "dätä file.txt": "untracked, with a space\n",
      "newdir/x.py": "untracked in a new dir\n",
      "new.bin": BINARY,
      "staged.txt": "staged only\n",
      "latin1.txt": new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x21, 0x0a]),
    });
    await Deno.remove(join(tmp, "gone.txt"));
    await git(tmp, "mv", "old-name.txt", "new-name.txt");
    await git(tmp, "add", "staged.txt");
    await Deno.chmod(join(tmp, "run.sh"), 0o644);
    await Deno.remove(join(tmp, "link"));
    await Deno.symlink("keep.txt", join(tmp, "link"));
    await writeTree(tmp, { "new.sh": "#!/bin/sh\necho new\n" });
    await Deno.chmod(join(tmp, "new.sh"), 0o755);
    // Same content, new mtime: a plain `git status` would rewrite the index.
    await Deno.utime(join(tmp, "keep.txt"), new Date(), new Date(Date.now() + 5000));
    const before = await repoState(tmp);

    const repo = await openRepo(tmp);
    const state = await describeWorkTree(repo, tmp);
    assert.equal(state.commit, commit);
    assert.equal(state.branch, "main");
    assert.equal(state.dirty, true);
    assert.deepEqual(state.changed, [
      "a.txt",
      "bin.dat",
      "dätä file.txt",
      "gone.txt",
      "latin1.txt",
      "link",
      "new-name.txt",
      "new.bin",
      "new.sh",
      "newdir/x.py",
      "old-name.txt",
      "run.sh",
      "staged.txt",
    ]);
    assert.deepEqual(state.omitted, []);
    assert.deepEqual(await repoState(tmp), before, "index, HEAD, status and files untouched");
    await assertDiffReproduces(repo, tmp, state);
  });
});

Deno.test("describeWorkTree: before the first commit", async () => {
  await withTempDir(async (tmp) => {
    await git(tmp, "init", "-q");
    await writeTree(tmp, { "a.txt": "a\n", "sub/b.bin": BINARY, "c.txt": "c\n" });
    await git(tmp, "add", "a.txt", "sub/b.bin");
    const repo = await openRepo(tmp);
    const state = await describeWorkTree(repo, tmp);
    assert.equal(state.commit, null);
    assert.equal(state.branch, "main");
    assert.deepEqual(state.changed, ["a.txt", "c.txt", "sub/b.bin"]);
    await assertDiffReproduces(repo, tmp, state);
  });
});

Deno.test("describeWorkTree: a detached HEAD has a commit and no branch", async () => {
  await withTempDir(async (tmp) => {
    const first = await makeRepo(tmp, { "a.txt": "1\n" });
    await writeTree(tmp, { "a.txt": "2\n" });
    await commitAll(tmp, "second");
    await git(tmp, "checkout", "-q", "--detach", first);
    const state = await describeWorkTree(await openRepo(tmp), tmp);
    assert.equal(state.commit, first);
    assert.equal(state.branch, null);
    assert.equal(state.dirty, false);
  });
});

Deno.test("describeWorkTree: a subdir project sees its own changes, not the runs home", async () => {
  await withTempDir(async (tmp) => {
    await makeRepo(tmp, { "proj/a.py": "a\n", "proj/b.py": "b\n", "other/x.py": "x\n" });
    await writeTree(tmp, {
      "proj/a.py": "a2\n",
      "proj/new.py": "n\n",
      "other/x.py": "x2\n",
      "other/y.py": "y\n",
      "proj/.gage/runs/0000.meta/id": "0000",
      "proj/.gage/runs/0000/a.py": "a\n",
    });
    await Deno.remove(join(tmp, "proj/b.py"));
    const project = join(tmp, "proj");
    const repo = await openRepo(project);
    const runsHome = join(project, ".gage", "runs");

    const withRuns = await describeWorkTree(repo, project);
    assert.ok(withRuns.changed.includes(".gage/runs/0000/a.py"), "the exclusion is what hides it");

    const state = await describeWorkTree(repo, project, { exclude: [runsHome, join(tmp, "x")] });
    assert.deepEqual(state.changed, ["a.py", "b.py", "new.py"]);
    const text = new TextDecoder().decode(state.diff);
    assert.match(text, /^diff --git a\/a\.py b\/a\.py$/m, "paths are project-relative");
    assert.doesNotMatch(text, /other|\.gage/);
    await assertDiffReproduces(repo, project, state, [".gage/"]);

    // docs/source.md's recipe: a checkout of the commit, the diff applied from its root.
    const repro = join(tmp, "repro");
    await git(tmp, "worktree", "add", "-q", "--detach", repro, state.commit!);
    const patch = join(tmp, "vcs.diff");
    await Deno.writeFile(patch, state.diff);
    await git(repro, "apply", `--directory=${repo.prefix}`, patch);
    assert.deepEqual(await snapshot(join(repro, "proj")), await snapshot(project, [".gage/"]));
  });
});

Deno.test("describeWorkTree: big untracked files and nested repos stay out of the diff", async () => {
  await withTempDir(async (tmp) => {
    await makeRepo(tmp, { "train.py": "x\n" });
    await writeTree(tmp, { "small.txt": "0123456789\n", "big.csv": "x".repeat(100) });
    await makeRepo(join(tmp, "nested"), { "n.py": "n\n" });
    const state = await describeWorkTree(await openRepo(tmp), tmp, { maxUntrackedBytes: 11 });
    assert.deepEqual(state.changed, ["big.csv", "nested/", "small.txt"]);
    assert.deepEqual(state.omitted, ["big.csv", "nested/"]);
    const text = new TextDecoder().decode(state.diff);
    assert.match(text, /^\+\+\+ b\/small\.txt$/m);
    assert.doesNotMatch(text, /big\.csv|nested/);
  });
});

// ---------------------------------------------------------------------------
// Remotes

Deno.test("redactRemoteUrl: credentials, queries and fragments go, addresses stay", () => {
  const table: [string, string][] = [
    ["https://user:tok@host/p", "https://host/p"],
    ["https://tok@host/p", "https://host/p"],
    ["https://x-access-token:ghs_abc@github.com/o/r.git", "https://github.com/o/r.git"],
    ["https://user:p@ss@host/p", "https://host/p"],
    ["HTTPS://TOK@Host:8443/p", "HTTPS://Host:8443/p"],
    ["https://host/p?private_token=abc#frag", "https://host/p"],
    ["https://host?token=abc", "https://host"],
    ["https://host/p.git", "https://host/p.git"],
    ["http://[::1]:8080/r", "http://[::1]:8080/r"],
    ["ssh://git:pw@host/p", "ssh://git@host/p"],
    ["ssh://git@host:22/p", "ssh://git@host:22/p"],
    ["git+ssh://u:pw@host/p", "git+ssh://u@host/p"],
    ["ssh://:pw@host/p", "ssh://host/p"],
    ["git://host/p", "git://host/p"],
    ["git@host:org/repo.git", "git@host:org/repo.git"],
    ["host:org/repo.git", "host:org/repo.git"],
    ["me:secret@host:org/repo.git", "me@host:org/repo.git"],
    ["/srv/git/repo.git", "/srv/git/repo.git"],
    ["../sibling", "../sibling"],
    ["/home/a@b/repo", "/home/a@b/repo"],
    ["file:///srv/repo.git", "file:///srv/repo.git"],
    // Malformed: the password holds "/", "?" or "#"; nothing of it may stay.
    ["https://u:ab/tok3n@host/r.git", "https://host/r.git"],
    ["https://u:ab?tok3n@host/r.git", "https://host/r.git"],
    ["https://u:ab#tok3n@host/r.git", "https://host/r.git"],
    ["https://u:ab/c?d#e@f@host:8443/r.git?x", "https://host:8443/r.git"],
    ["ssh://git:ab/tok3n@host/r.git", "ssh://git@host/r.git"],
    ["me:ab/tok3n@host:org/r.git", "me@host:org/r.git"],
    ["https://host/p@v1?x", "https://host/p@v1"],
  ];
  for (const [url, redacted] of table) assert.equal(redactRemoteUrl(url), redacted, url);
});

Deno.test("remoteUrl: the upstream, else origin, else the first; never the secret", async () => {
  await withTempDir(async (tmp) => {
    await makeRepo(tmp, { "a.txt": "a\n" });
    const repo = await openRepo(tmp);
    assert.equal(await remoteUrl(repo), null);

    await git(tmp, "remote", "add", "zeta", "https://zeta:s3cret@example.com/z.git");
    assert.equal(await remoteUrl(repo), "https://example.com/z.git");
    await git(tmp, "remote", "add", "origin", "https://u:s3cret@example.com/o.git?t=s3cret");
    assert.equal(await remoteUrl(repo), "https://example.com/o.git");
    await git(tmp, "remote", "add", "up.stream", "ssh://git:s3cret@example.com/u.git");
    await git(tmp, "config", "branch.main.remote", "up.stream");
    assert.equal(await remoteUrl(repo), "ssh://git@example.com/u.git");

    const { vcs } = await readVcs({ mode: "worktree", requested: "worktree" }, tmp);
    assert.equal(vcs.remote, "ssh://git@example.com/u.git");
    assert.doesNotMatch(JSON.stringify(vcs), /s3cret/);
  });
});

// ---------------------------------------------------------------------------
// Provenance

Deno.test("readVcs: a work tree outside any repository records nulls", async () => {
  await withTempDir(async (tmp) => {
    await writeTree(tmp, { "train.py": "x\n" });
    const reading = await readVcs(parseSourceOrigin("auto", {}), tmp);
    assert.deepEqual(reading, {
      vcs: {
        origin: "worktree",
        requested: "auto",
        commit: null,
        branch: null,
        dirty: null,
        changed: [],
        omitted: [],
        remote: null,
        path: null,
      },
      warnings: [],
    });
  });
});

Deno.test("readVcs: a work tree records its commit, branch, changes and diff", async () => {
  await withTempDir(async (tmp) => {
    const commit = await makeRepo(tmp, { "proj/train.py": "x\n" });
    const project = join(tmp, "proj");
    const worktree = parseSourceOrigin("worktree", {});

    const clean = await readVcs(worktree, project);
    assert.deepEqual(clean.vcs, {
      origin: "worktree",
      requested: "worktree",
      commit,
      branch: "main",
      dirty: false,
      changed: [],
      omitted: [],
      remote: null,
      path: "proj",
    });
    assert.equal(clean.diff, undefined);

    await writeTree(project, { "train.py": "y\n", "runs/r1/out": "o\n" });
    const dirty = await readVcs(worktree, project, { exclude: [join(project, "runs")] });
    assert.equal(dirty.vcs.dirty, true);
    assert.deepEqual(dirty.vcs.changed, ["train.py"]);
    assert.match(new TextDecoder().decode(dirty.diff), /^-x\n\+y$/m);
  });
});

Deno.test("readVcs: a git origin records the ref, its commit and the branch it names", async () => {
  await withTempDir(async (tmp) => {
    const first = await makeRepo(tmp, { "proj/train.py": "1\n" });
    await git(tmp, "tag", "v1");
    await git(tmp, "update-ref", "refs/remotes/origin/feature", first);
    await writeTree(tmp, { "proj/train.py": "2\n" });
    const second = await commitAll(tmp, "second");
    await writeTree(tmp, { "proj/train.py": "dirty, and no matter\n" });
    const project = join(tmp, "proj");

    const tagged = await readVcs(parseSourceOrigin("git:v1", {}), project);
    assert.deepEqual(tagged, {
      vcs: {
        origin: "git",
        requested: "git:v1",
        ref: "v1",
        commit: first,
        branch: null,
        dirty: false,
        changed: [],
        omitted: [],
        remote: null,
        path: "proj",
      },
      warnings: [],
    });
    const branchOf = async (ref: string) =>
      (await readVcs(parseSourceOrigin(`git:${ref}`, {}), project)).vcs.branch;
    assert.equal(await branchOf("main"), "main");
    assert.equal(await branchOf("refs/heads/main"), "main");
    assert.equal(await branchOf("origin/feature"), "origin/feature");
    assert.equal(await branchOf("main~1"), null);
    assert.equal(await branchOf(second), null);

    // auto under CI: the CI variable is recorded; a given commit is not resolved again.
    const ci = parseSourceOrigin("auto", { CI: "true", GITHUB_SHA: first });
    const { vcs } = await readVcs(ci, project, { commit: first });
    assert.equal(vcs.ciVariable, "GITHUB_SHA");
    assert.equal(vcs.ref, first);
    assert.equal(vcs.commit, first);
    assert.equal(vcs.requested, "auto");
  });
});

Deno.test("readVcs: a git origin outside any repository is a user error", async () => {
  await withTempDir(async (tmp) => {
    await assertUserErrorAsync(
      readVcs(parseSourceOrigin("git:main", {}), tmp),
      `source "git:main" needs a git repository, but "${tmp}" is in none`,
    );
  });
});

Deno.test("without git: a git source is a user error, a work tree run only warns", async () => {
  await withTempDir(async (tmp) => {
    const project = join(tmp, "proj");
    await makeRepo(project, { "train.py": "x\n" });
    const noGit = join(tmp, "empty-path");
    await Deno.mkdir(noGit);
    const script = join(tmp, "without-git.ts");
    await Deno.writeTextFile(
      script,
      `import { openGitRepo, parseSourceOrigin, readVcs } from ${JSON.stringify(VCS_MODULE)};
const dir = Deno.args[0];
const error = await openGitRepo(dir).then(() => "none", (err) => err.name + ": " + err.message);
const reading = await readVcs(parseSourceOrigin("worktree", {}), dir);
console.log(JSON.stringify({ error, reading }));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--quiet", script, project],
      env: { PATH: noGit },
      stderr: "inherit",
    }).output();
    assert.ok(out.success);
    const { error, reading } = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(error, "GitNotFoundError: git not found: install git to use --source git:REF");
    assert.equal(reading.vcs.commit, null);
    assert.deepEqual(reading.warnings, [
      "git not found (install git): the run records no commit",
    ]);
  });
});

Deno.test("describeWorkTree: changed paths are in byte order, as in the manifest", async () => {
  await withTempDir(async (tmp) => {
    await makeRepo(tmp, { "keep.txt": "k\n" });
    await writeTree(tmp, {
      "b.txt": "",
      "B.txt": "",
      "a/b.txt": "",
      "a-b.txt": "",
      "\u{1F600}.txt": "",
    });
    const { changed } = await describeWorkTree(await openRepo(tmp), tmp);
    assert.deepEqual(changed, [...changed].sort(comparePaths));
    assert.deepEqual(changed, ["B.txt", "a-b.txt", "a/b.txt", "b.txt", "\u{1F600}.txt"]);
  });
});
