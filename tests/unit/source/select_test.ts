import assert from "node:assert/strict";
import { join } from "node:path";
import { RunstageError } from "../../../lib/errors.ts";
import {
  DEFAULT_SOURCECODE_RULES,
  parseSourcecodeRules,
  selectSourcecode,
  type SourceSelection,
} from "../../../lib/source/select.ts";
import { findGitWorkTree } from "../../../lib/git/vcs.ts";
import { type Files, git, withProject } from "../../support/fixtures.ts";

function paths(selection: SourceSelection): string[] {
  return selection.files.map((f) => f.path);
}

const BINARY = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3]);

Deno.test("defaults select text files outside hidden, venv, cache and nocopy dirs", async () => {
  await withProject({
    "train.py": "print('hi')\n",
    ".env": "A=1\n",
    "empty.txt": "",
    "src/model.py": "x = 1\n",
    "model.bin": BINARY,
    ".hidden/secret.py": "x\n",
    "sub/.cache/c.txt": "x\n",
    "venv/bin/activate": "# venv\n",
    "venv/lib/site.py": "x\n",
    "data/.nocopy": "",
    "data/big.csv": "a,b\n",
    "__pycache__/train.cpython-312.pyc": "x\n",
    "pkg/__pycache__/m.pyc": "x\n",
    "node_modules/left-pad/index.js": "x\n",
    "summary.json": "{}\n",
    "sub/summary.json": "{}\n",
  }, async (dir) => {
    const selection = await selectSourcecode(dir, undefined);
    assert.deepEqual(paths(selection), [".env", "empty.txt", "src/model.py", "train.py"]);
    assert.deepEqual(selection.patterns, DEFAULT_SOURCECODE_RULES);
    assert.deepEqual(selection.leftOut, [
      { reason: "not text", count: 1, examples: ["model.bin"] },
    ]);
    assert.deepEqual(selection.warnings, []);
    const train = selection.files.find((f) => f.path === "train.py")!;
    assert.equal(train.src, join(dir, "train.py"));
    assert.equal(train.size, 12);
    assert.deepEqual(await selectSourcecode(dir, true), selection);
  });
});

Deno.test("defaults leave out files of 100000 bytes or more and say so", async () => {
  await withProject({
    "small.txt": "x".repeat(99_999),
    "big.txt": "x".repeat(100_000),
    "sub/huge.txt": "x".repeat(250_000),
  }, async (dir) => {
    const selection = await selectSourcecode(dir, undefined);
    assert.deepEqual(paths(selection), ["small.txt"]);
    assert.deepEqual(selection.leftOut, [
      {
        reason: "larger than 100000 bytes (size<100000)",
        count: 2,
        examples: ["big.txt", "sub/huge.txt"],
      },
    ]);
  });
});

Deno.test("defaults stop at 500 files, in path order, and say so", async () => {
  const tree: Files = {};
  for (let i = 0; i < 504; i++) tree[`f/${String(i).padStart(3, "0")}.txt`] = `${i}\n`;
  await withProject(tree, async (dir) => {
    const selection = await selectSourcecode(dir, undefined);
    assert.equal(selection.files.length, 500);
    assert.equal(selection.files.at(-1)!.path, "f/499.txt");
    assert.deepEqual(selection.leftOut, [
      {
        reason: "over max-matches=500",
        count: 4,
        examples: ["f/500.txt", "f/501.txt", "f/502.txt"],
      },
    ]);
  });
});

Deno.test("files come out in byte order of their paths", async () => {
  await withProject({
    "a/b.txt": "x",
    "a.txt": "x",
    "a-b.txt": "x",
    "B.txt": "x",
    "é.txt": "x",
    "\u{1F600}.txt": "x",
    "\uFF21.txt": "x",
  }, async (dir) => {
    const selection = await selectSourcecode(dir, undefined);
    const bytes = (s: string) => [...new TextEncoder().encode(s)];
    const expected = paths(selection).toSorted((x, y) => {
      const [a, b] = [bytes(x), bytes(y)];
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
      return a.length - b.length;
    });
    assert.deepEqual(paths(selection), expected);
    assert.deepEqual(paths(selection), [
      "B.txt",
      "a-b.txt",
      "a.txt",
      "a/b.txt",
      "é.txt",
      "\uFF21.txt",
      "\u{1F600}.txt",
    ]);
  });
});

Deno.test("an include list selects only what it names, with no default limits", async () => {
  await withProject({
    "train.py": "x".repeat(200_000),
    "eval.py": "x\n",
    "sub/train.py": "x\n",
    "model.bin": BINARY,
  }, async (dir) => {
    const selection = await selectSourcecode(dir, ["train.py"]);
    assert.deepEqual(paths(selection), ["train.py"]);
    assert.deepEqual(selection.patterns, ["train.py"]);
    assert.deepEqual(selection.leftOut, []);
    assert.deepEqual(paths(await selectSourcecode(dir, "train.py")), ["train.py"]);
  });
});

Deno.test("an exclude-only list keeps the defaults", async () => {
  await withProject({
    "train.py": "x\n",
    "README.md": "# hi\n",
    "docs/guide.md": "x\n",
    "model.bin": BINARY,
    ".hidden/a.py": "x\n",
  }, async (dir) => {
    const selection = await selectSourcecode(dir, ["-*.md"]);
    assert.deepEqual(paths(selection), ["docs/guide.md", "train.py"]);
    assert.deepEqual(selection.patterns, ["-*.md"]);
    assert.deepEqual(selection.leftOut.map((l) => l.reason), ["not text"]);
    assert.deepEqual(
      parseSourcecodeRules(["-*.md"]).map((r) => r.source),
      [...DEFAULT_SOURCECODE_RULES, "-*.md"],
    );
  });
});

Deno.test("an include list keeps the default excludes first, then the user's rules", () => {
  assert.deepEqual(
    parseSourcecodeRules(["**/*.py", "-**/test_*.py"]).map((r) => r.source),
    [...DEFAULT_SOURCECODE_RULES.slice(1), "**/*.py", "-**/test_*.py"],
  );
  assert.deepEqual(parseSourcecodeRules(false), []);
});

Deno.test("the last matching rule decides", async () => {
  await withProject({
    "train.py": "x\n",
    "tests/test_model.py": "x\n",
    "tests/test_keep.py": "x\n",
    "tests/helpers.py": "x\n",
    "notes.txt": "x\n",
  }, async (dir) => {
    const selection = await selectSourcecode(dir, [
      "**/*.py",
      "-**/test_*.py",
      "tests/test_keep.py",
    ]);
    assert.deepEqual(paths(selection), ["tests/helpers.py", "tests/test_keep.py", "train.py"]);
    const reversed = await selectSourcecode(dir, ["tests/test_keep.py", "-**/test_*.py"]);
    assert.deepEqual(paths(reversed), []);
  });
});

Deno.test("a dir rule after the default exclude re-opens a hidden dir", async () => {
  await withProject({
    ".github/workflows/ci.yml": "on: push\n",
    ".other/x.yml": "x\n",
    "config.yml": "x\n",
    "train.py": "x\n",
  }, async (dir) => {
    const withFiles = await selectSourcecode(dir, ["**/*.yml", ".github dir"]);
    assert.deepEqual(paths(withFiles), [".github/workflows/ci.yml", "config.yml"]);
    // A dir rule alone includes no files: the default include rule still applies.
    const dirOnly = await selectSourcecode(dir, [".github dir"]);
    assert.deepEqual(paths(dirOnly), [".github/workflows/ci.yml", "config.yml", "train.py"]);
    const without = await selectSourcecode(dir, ["**/*.yml"]);
    assert.deepEqual(paths(without), ["config.yml"]);
  });
});

Deno.test("brace and globstar globs", async () => {
  await withProject({
    "src/a.ts": "x",
    "src/a.js": "x",
    "lib/deep/er/b.ts": "x",
    "other/c.ts": "x",
    "d.ts": "x",
  }, async (dir) => {
    assert.deepEqual(
      paths(await selectSourcecode(dir, ["{src,lib}/**/*.ts"])),
      ["lib/deep/er/b.ts", "src/a.ts"],
    );
    assert.deepEqual(
      paths(await selectSourcecode(dir, ["**/*.ts"])),
      ["d.ts", "lib/deep/er/b.ts", "other/c.ts", "src/a.ts"],
    );
    assert.deepEqual(paths(await selectSourcecode(dir, ["*.ts"])), ["d.ts"]);
    assert.deepEqual(paths(await selectSourcecode(dir, ["src/?.{ts,js}"])), [
      "src/a.js",
      "src/a.ts",
    ]);
  });
});

Deno.test("sentinel dir rules skip only dirs holding the sentinel", async () => {
  await withProject({
    "keep/a.py": "x\n",
    "skip/DONOTCOPY": "",
    "skip/b.py": "x\n",
    "egg/pkg.egg-info/PKG-INFO": "x\n",
    "egg/c.py": "x\n",
    "deep/a/b/MARK": "",
    "deep/d.py": "x\n",
  }, async (dir) => {
    const plain = await selectSourcecode(dir, ["-**/* dir sentinel=DONOTCOPY"]);
    assert.deepEqual(paths(plain), [
      "deep/a/b/MARK",
      "deep/d.py",
      "egg/c.py",
      "egg/pkg.egg-info/PKG-INFO",
      "keep/a.py",
    ]);
    const glob = await selectSourcecode(dir, ["-**/* dir sentinel=*.egg-info"]);
    assert.deepEqual(paths(glob).filter((p) => p.startsWith("egg")), []);
    const star = await selectSourcecode(dir, ["-* dir sentinel=**/MARK"]);
    assert.deepEqual(paths(star).filter((p) => p.startsWith("deep")), []);
    const shallow = await selectSourcecode(dir, ["-* dir sentinel=*/MARK"]);
    assert.deepEqual(paths(shallow).filter((p) => p.startsWith("deep")), [
      "deep/a/b/MARK",
      "deep/d.py",
    ]);
  });
});

Deno.test("excluded dirs such as the runs home are never walked, by real path", async () => {
  await withProject({
    "train.py": "x\n",
    "runs/abc/train.py": "x\n",
    "runs/abc.meta/id": "abc",
  }, async (dir) => {
    assert.deepEqual(paths(await selectSourcecode(dir, undefined)), [
      "runs/abc.meta/id",
      "runs/abc/train.py",
      "train.py",
    ]);
    const direct = await selectSourcecode(dir, undefined, { exclude: [join(dir, "runs")] });
    assert.deepEqual(paths(direct), ["train.py"]);
    const alias = `${dir}-alias`;
    await Deno.symlink(dir, alias);
    try {
      const viaLink = await selectSourcecode(dir, undefined, { exclude: [join(alias, "runs")] });
      assert.deepEqual(paths(viaLink), ["train.py"]);
    } finally {
      await Deno.remove(alias);
    }
  });
});

Deno.test("git ignores apply from the work tree root down, nested ones first", async () => {
  await withProject({
    ".gitignore": "*.log\n/top-only.txt\n",
    "proj/.gitignore": "build/\nsecret.txt\n!keep.log\n",
    "proj/train.py": "x\n",
    "proj/run.log": "x\n",
    "proj/keep.log": "x\n",
    "proj/secret.txt": "x\n",
    "proj/top-only.txt": "x\n",
    "proj/info-excluded.txt": "x\n",
    "proj/build/out.txt": "x\n",
    "proj/src/build/gen.py": "x\n",
    "proj/src/.gitignore": "local.py\n",
    "proj/src/local.py": "x\n",
    "proj/src/model.py": "x\n",
    "proj/src/notes.log": "x\n",
  }, async (repo) => {
    await git(repo, "init", "-q");
    await Deno.writeTextFile(join(repo, ".git/info/exclude"), "info-excluded.txt\n");
    const project = join(repo, "proj");
    assert.equal(await findGitWorkTree(join(project, "src")), repo);
    const selection = await selectSourcecode(project, ["**/*"]);
    assert.deepEqual(paths(selection), [
      ".gitignore",
      "keep.log",
      "src/.gitignore",
      "src/model.py",
      "top-only.txt",
      "train.py",
    ]);
    // Git itself agrees on what it would show as untracked.
    const untracked = (await git(project, "ls-files", "--others", "--exclude-standard", "-z"))
      .split("\0").filter(Boolean).sort();
    assert.deepEqual(paths(selection), untracked);
  });
});

Deno.test("the .git dir is never walked, even when re-opened", async () => {
  await withProject({ "train.py": "x\n", ".github/ci.yml": "x\n" }, async (dir) => {
    await git(dir, "init", "-q");
    const selection = await selectSourcecode(dir, ["**/*", "**/.* dir"]);
    assert.deepEqual(paths(selection), [".github/ci.yml", "train.py"]);
  });
});

Deno.test("a project dir git ignores as a whole still has its files", async () => {
  await withProject({
    ".gitignore": "scratch/\n*.log\n",
    "scratch/train.py": "x\n",
    "scratch/run.log": "x\n",
  }, async (repo) => {
    await git(repo, "init", "-q");
    const selection = await selectSourcecode(join(repo, "scratch"), undefined);
    assert.deepEqual(paths(selection), ["run.log", "train.py"]);
  });
});

Deno.test(".gitignore files outside a git work tree are not read", async () => {
  await withProject({ ".gitignore": "*.log\n", "run.log": "x\n" }, async (dir) => {
    // A temp dir could sit inside a work tree; then this test says nothing.
    if (await findGitWorkTree(dir)) return;
    assert.deepEqual(paths(await selectSourcecode(dir, undefined)), [".gitignore", "run.log"]);
  });
});

Deno.test("a symlinked file is selected as a file, with the target's size and mode", async () => {
  await withProject({ "real/target.py": "print(1)\n" }, async (dir) => {
    const outside = await Deno.makeTempFile({ suffix: ".py" });
    try {
      await Deno.writeTextFile(outside, "x".repeat(42));
      await Deno.chmod(outside, 0o750);
      await Deno.symlink(outside, join(dir, "linked.py"));
      await Deno.symlink("real/target.py", join(dir, "relative.py"));
      const selection = await selectSourcecode(dir, ["*.py"]);
      assert.deepEqual(selection.files, [
        { path: "linked.py", src: join(dir, "linked.py"), size: 42, mode: 0o750 },
        {
          path: "relative.py",
          src: join(dir, "relative.py"),
          size: 9,
          mode: (await Deno.stat(join(dir, "real/target.py"))).mode! & 0o7777,
        },
      ]);
    } finally {
      await Deno.remove(outside);
    }
  });
});

Deno.test("a broken link is skipped with a warning", async () => {
  await withProject({ "train.py": "x\n" }, async (dir) => {
    await Deno.symlink("missing.txt", join(dir, "dangling.txt"));
    await Deno.symlink("self.txt", join(dir, "self.txt"));
    const selection = await selectSourcecode(dir, undefined);
    assert.deepEqual(paths(selection), ["train.py"]);
    assert.deepEqual(selection.warnings, [
      'skipped broken link "dangling.txt"',
      'skipped broken link "self.txt"',
    ]);
    // A link no include rule wants is no news.
    assert.deepEqual((await selectSourcecode(dir, ["*.py"])).warnings, []);
  });
});

Deno.test("symlinked dirs are followed and loops are caught", async () => {
  await withProject({ "sub/a.txt": "x\n", "shared/b.txt": "x\n" }, async (dir) => {
    await Deno.symlink("..", join(dir, "sub/loop"));
    await Deno.symlink(".", join(dir, "sub/self"));
    await Deno.symlink("../shared", join(dir, "sub/shared"));
    const selection = await selectSourcecode(dir, undefined);
    assert.deepEqual(paths(selection), ["shared/b.txt", "sub/a.txt", "sub/shared/b.txt"]);
    assert.deepEqual(selection.warnings, [
      'skipped symlink loop "sub/loop"',
      'skipped symlink loop "sub/self"',
    ]);
  });
});

Deno.test("file modes keep their exec bits", async () => {
  await withProject({ "run.sh": "#!/bin/sh\n", "data.txt": "x\n" }, async (dir) => {
    await Deno.chmod(join(dir, "run.sh"), 0o755);
    await Deno.chmod(join(dir, "data.txt"), 0o640);
    const modes = Object.fromEntries(
      (await selectSourcecode(dir, undefined)).files.map((f) => [f.path, f.mode]),
    );
    assert.deepEqual(modes, { "data.txt": 0o640, "run.sh": 0o755 });
  });
});

Deno.test("conditions of include rules report left-out files; exclude rules do not", async () => {
  await withProject({
    "a.bin": BINARY,
    "b.txt": "text\n",
    "c.csv": "x".repeat(50),
    "d.csv": "x".repeat(5),
  }, async (dir) => {
    const binOnly = await selectSourcecode(dir, ["* binary"]);
    assert.deepEqual(paths(binOnly), ["a.bin"]);
    assert.deepEqual(binOnly.leftOut, [
      { reason: "not binary", count: 3, examples: ["b.txt", "c.csv", "d.csv"] },
    ]);
    const big = await selectSourcecode(dir, ["*.csv size>10"]);
    assert.deepEqual(paths(big), ["c.csv"]);
    assert.deepEqual(big.leftOut, [
      { reason: "not larger than 10 bytes (size>10)", count: 1, examples: ["d.csv"] },
    ]);
    const excluded = await selectSourcecode(dir, ["-*.bin"]);
    assert.deepEqual(paths(excluded), ["b.txt", "c.csv", "d.csv"]);
    assert.deepEqual(excluded.leftOut, []);
  });
});

Deno.test("false selects nothing", async () => {
  await withProject({ "train.py": "x\n" }, async (dir) => {
    assert.deepEqual(await selectSourcecode(dir, false), {
      patterns: [],
      files: [],
      leftOut: [],
      warnings: [],
    });
  });
});

Deno.test("parsed rules carry their tokens", () => {
  assert.deepEqual(parseSourcecodeRules(["-data/** text size<10 size>2 max-matches=3"]).at(-1), {
    include: false,
    glob: "data/**",
    text: true,
    dir: false,
    sizeLt: 10,
    sizeGt: 2,
    maxMatches: 3,
    source: "-data/** text size<10 size>2 max-matches=3",
  });
  assert.deepEqual(parseSourcecodeRules("  venv   dir sentinel=bin/activate ").at(-1), {
    include: true,
    glob: "venv",
    dir: true,
    sentinel: "bin/activate",
    source: "  venv   dir sentinel=bin/activate ",
  });
});

Deno.test("invalid rules are rejected with the cause and the fix", () => {
  const cases: [unknown, string][] = [
    [
      "x size<abc",
      'invalid sourcecode pattern "x size<abc": size takes a whole number of bytes, as in size<100000',
    ],
    ["x size>-1", "size takes a whole number of bytes, as in size>100000"],
    ["x big", 'unknown token "big"; use text, binary'],
    ["x max-matches=many", "max-matches takes a whole number, as in max-matches=500"],
    ["x text binary", "give at most one of text and binary"],
    ["x size<1 size<2", "size<2 repeats an earlier token"],
    ["x dir text", "text applies to files, not dirs; drop it or drop dir"],
    ["x dir size>5", "size>5 applies to files, not dirs"],
    ["x sentinel=a", "sentinel applies to dirs; add dir, as in x dir sentinel=a"],
    ["x dir sentinel=", "sentinel takes a glob of a path inside the dir"],
    ["x dir sentinel=../up", "sentinel takes a glob of a path inside the dir"],
    ["-", "nothing follows the -"],
    ["!*.log", "exclude with a leading -, as in -*.log"],
    ["/train.py", "drop the leading /, as in train.py"],
    ["   ", "the pattern is empty"],
    [["ok.py", 42], "invalid sourcecode pattern 42: patterns are strings"],
    [42, "invalid sourcecode 42: use true, false, a pattern or a list of patterns"],
  ];
  for (const [spec, message] of cases) {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => parseSourcecodeRules(spec as any),
      (e: unknown) => e instanceof RunstageError && e.message.includes(message),
      `spec ${JSON.stringify(spec)} should fail with ${message}`,
    );
  }
});

Deno.test("selectSourcecode rejects invalid rules before reading anything", async () => {
  await assert.rejects(
    selectSourcecode("/nonexistent/project", ["x bogus"]),
    (e: unknown) => e instanceof RunstageError && e.message.includes('unknown token "bogus"'),
  );
});
