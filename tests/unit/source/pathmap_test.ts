import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assertNoLinkOut,
  assertNoLinksOut,
  checkMappedPaths,
  mapPath,
} from "../../../lib/source/pathmap.ts";
import { parsePathMap, type PathMap } from "../../../lib/gagefile/pathmap.ts";
import {
  assertUserError,
  assertUserErrorAsync,
  withTempDir,
  writeTree,
} from "../../support/fixtures.ts";

const WHERE = 'gage.toml: op "train"';

// --- parsePathMap ---------------------------------------------------------------------

Deno.test("parsePathMap normalizes both sides: / separators, no ./, no trailing /", () => {
  const cases: [Record<string, string>, PathMap][] = [
    [{ ".": "src/myapp" }, [{ from: "", to: "src/myapp" }]],
    [{ "./": "./src/myapp/" }, [{ from: "", to: "src/myapp" }]],
    [{ "src": "." }, [{ from: "src", to: "" }]],
    [{ "./data//raw/": "inputs/./raw" }, [{ from: "data/raw", to: "inputs/raw" }]],
    [{ "conf/a.yaml": "a.yaml" }, [{ from: "conf/a.yaml", to: "a.yaml" }]],
    [{ "a..b": "c..d" }, [{ from: "a..b", to: "c..d" }]],
    [{}, []],
  ];
  for (const [table, expected] of cases) {
    assert.deepEqual(parsePathMap(WHERE, table), expected, JSON.stringify(table));
  }
});

Deno.test("parsePathMap sorts the longest from first, whatever the table order", () => {
  const map = parsePathMap(WHERE, { ".": "app", "src/lib/x": "x", "data": "in", "src/lib": "l" });
  assert.deepEqual(map.map((m) => m.from), ["src/lib/x", "src/lib", "data", ""]);
});

Deno.test("parsePathMap refuses a target that leaves the run dir, naming the fix", () => {
  const leaves = [
    ["../x", "x"],
    ["..", "."],
    ["a/../../x", "x"],
    ["/x", "x"],
    ["/", "."],
    ["C:\\x", "x"],
    ["C:/x", "x"],
    ["c:x", "x"],
    ["\\\\server\\x", "server/x"],
    ["\\x", "x"],
  ];
  for (const [to, hint] of leaves) {
    assertUserError(
      () => parsePathMap(WHERE, { data: to }),
      `${WHERE}: path-map "data" -> "${to}" leaves the run dir: map it to a relative path ` +
        `inside the run dir, e.g. "${hint}"`,
    );
  }
});

Deno.test("parsePathMap refuses .. in a target even when it stays inside", () => {
  assertUserError(
    () => parsePathMap(WHERE, { data: "a/../b" }),
    /^gage\.toml: op "train": path-map "data" -> "a\/\.\.\/b" holds "\.\.": write it without \.\., as in "b"$/,
  );
  assertUserError(() => parsePathMap(WHERE, { data: "a/b/.." }), 'write it without .., as in "a"');
});

Deno.test("parsePathMap refuses an empty target, a backslash and a NUL", () => {
  assertUserError(
    () => parsePathMap(WHERE, { data: "" }),
    `${WHERE}: path-map "data" -> "" is empty: map it to a path inside the run dir, or "." ` +
      `for the run dir`,
  );
  assertUserError(
    () => parsePathMap(WHERE, { ".": "src\\app" }),
    `path-map "." -> "src\\app" holds a backslash: separate dirs with /, as in "src/app"`,
  );
  assertUserError(
    () => parsePathMap(WHERE, { ".": "src\0x" }),
    'path-map "." -> "src\\0x" holds a NUL character: remove it',
  );
});

Deno.test("parsePathMap refuses keys outside the project or not written plainly", () => {
  const outside = ["../x", "..", "/etc", "C:\\x", "D:/x", "\\\\server\\share", "a/../../b"];
  for (const key of outside) {
    assertUserError(
      () => parsePathMap(WHERE, { [key]: "x" }),
      `${WHERE}: path-map key "${key}" is outside the project: keys are project paths such ` +
        `as "." or "src"`,
    );
  }
  assertUserError(
    () => parsePathMap(WHERE, { "src/../lib": "x" }),
    'path-map key "src/../lib" holds "..": write it without .., as in "lib"',
  );
  assertUserError(
    () => parsePathMap(WHERE, { "src\\lib": "x" }),
    'path-map key "src\\lib" holds a backslash: separate dirs with /, as in "src/lib"',
  );
  assertUserError(
    () => parsePathMap(WHERE, { "": "x" }),
    'path-map key "" is empty: write "." for the whole project',
  );
  assertUserError(
    () => parsePathMap(WHERE, { "a\0": "x" }),
    'path-map key "a\\0" holds a NUL character',
  );
});

Deno.test("parsePathMap refuses two keys that name the same project path", () => {
  assertUserError(
    () => parsePathMap(WHERE, { src: "a", "./src/": "b" }),
    `${WHERE}: path-map keys "src" and "./src/" both name "src"; keep one`,
  );
  assertUserError(
    () => parsePathMap(WHERE, { ".": "a", "./": "b" }),
    'path-map keys "." and "./" both name "."; keep one',
  );
});

Deno.test("parse error messages stay on one line", () => {
  assertUserError(() => parsePathMap(WHERE, { "a\nb": "../x" }), 'path-map "a\\nb" -> "../x"');
});

// --- mapPath --------------------------------------------------------------------------

Deno.test("mapPath: the empty map is the identity", () => {
  for (const path of ["train.py", "src/a.py", "", "a/b/c/d.txt"]) {
    assert.equal(mapPath([], path), path);
  }
});

Deno.test("mapPath puts the whole project under a dir with '.'", () => {
  const map = parsePathMap(WHERE, { ".": "src/myapp" });
  assert.equal(mapPath(map, "train.py"), "src/myapp/train.py");
  assert.equal(mapPath(map, "conf/a.yaml"), "src/myapp/conf/a.yaml");
  assert.equal(mapPath(map, ""), "src/myapp");
});

Deno.test("mapPath takes the longest matching prefix, on segment boundaries", () => {
  const map = parsePathMap(WHERE, {
    ".": "app",
    "src": "lib",
    "src/vendor": "third_party",
    "data/raw.csv": "inputs/raw.csv",
  });
  const cases: [string, string][] = [
    ["train.py", "app/train.py"],
    ["src/a.py", "lib/a.py"],
    ["src", "lib"],
    ["srcx/a.py", "app/srcx/a.py"],
    ["src.py", "app/src.py"],
    ["src/vendor/x/y.py", "third_party/x/y.py"],
    ["src/vendorx.py", "lib/vendorx.py"],
    ["data/raw.csv", "inputs/raw.csv"],
    ["data/raw.csv.bak", "app/data/raw.csv.bak"],
    ["data/other.csv", "app/data/other.csv"],
  ];
  for (const [path, expected] of cases) assert.equal(mapPath(map, path), expected, path);
});

Deno.test("mapPath: a path no mapping matches stays; a dir mapped to '.' is lifted", () => {
  const map = parsePathMap(WHERE, { "src": ".", "docs/guide": "guide" });
  assert.equal(mapPath(map, "src/a.py"), "a.py");
  assert.equal(mapPath(map, "src/pkg/b.py"), "pkg/b.py");
  assert.equal(mapPath(map, "docs/guide/x.md"), "guide/x.md");
  assert.equal(mapPath(map, "docs/other.md"), "docs/other.md");
  assert.equal(mapPath(map, "README.md"), "README.md");
});

// What mapping costs is part of staging's figures (`deno task bench`); this checks the outcome only.
Deno.test("mapPath on 100,000 paths: the same answers as for one, segment boundaries kept", () => {
  const paths = Array.from(
    { length: 100_000 },
    (_, i) => `pkg${i % 50}/sub${i % 7}/file${i}.py`,
  );
  const empty: PathMap = [];
  const map = parsePathMap(WHERE, { ".": "app", "pkg1": "one", "pkg2/sub3": "deep" });
  const expected = (path: string) => {
    const [pkg, sub, file] = path.split("/");
    if (pkg === "pkg1") return `one/${sub}/${file}`;
    if (pkg === "pkg2" && sub === "sub3") return `deep/${file}`;
    return `app/${path}`;
  };
  const counts = { one: 0, deep: 0, app: 0 };
  for (const path of paths) {
    assert.equal(mapPath(empty, path), path);
    const mapped = mapPath(map, path);
    assert.equal(mapped, expected(path), path);
    counts[mapped.slice(0, mapped.indexOf("/")) as keyof typeof counts]++;
  }
  // pkg1 is 1 in 50; pkg2/sub3 1 in 350 (50 × 7 are coprime); pkg10..pkg19 stay under app.
  assert.deepEqual(counts, { one: 2000, deep: 286, app: 100_000 - 2000 - 286 });
});

// --- checkMappedPaths -----------------------------------------------------------------

const files = (...paths: string[]) => paths.map((path) => ({ path }));

Deno.test("checkMappedPaths returns the run paths in the files' order", () => {
  const map = parsePathMap(WHERE, { ".": "app", "data": "inputs" });
  assert.deepEqual(
    checkMappedPaths(files("z.py", "data/a.csv", "a.py"), map),
    ["app/z.py", "inputs/a.csv", "app/a.py"],
  );
  assert.deepEqual(checkMappedPaths(files("b", "a"), []), ["b", "a"]);
});

Deno.test("checkMappedPaths refuses two files at one run path", () => {
  const map = parsePathMap(WHERE, { "a": ".", "b": "." });
  assertUserError(
    () => checkMappedPaths(files("a/x.py", "a/y.py", "b/x.py"), map),
    /^path-map puts "a\/x\.py" and "b\/x\.py" both at "x\.py"; change the path-map$/,
  );
  const onFile = parsePathMap(WHERE, { "data/new.csv": "data/old.csv" });
  assertUserError(
    () => checkMappedPaths(files("data/old.csv", "data/new.csv"), onFile),
    'path-map puts "data/old.csv" and "data/new.csv" both at "data/old.csv"',
  );
});

Deno.test("checkMappedPaths refuses a file where another file needs a dir", () => {
  const map = parsePathMap(WHERE, { "model.py": "model", "src": "model" });
  assertUserError(
    () => checkMappedPaths(files("model.py", "src/net.py"), map),
    /^path-map puts file "model\.py" at "model", where "src\/net\.py" needs a dir \("model\/net\.py"\); change the path-map$/,
  );
  // The same, found whichever of the two comes first.
  assertUserError(
    () => checkMappedPaths(files("a/b.py", "x.py"), parsePathMap(WHERE, { "x.py": "a" })),
    'path-map puts file "x.py" at "a", where "a/b.py" needs a dir',
  );
});

Deno.test("checkMappedPaths refuses a file mapped onto the run dir itself", () => {
  assertUserError(
    () => checkMappedPaths(files("train.py"), parsePathMap(WHERE, { "train.py": "." })),
    'path-map puts file "train.py" at the run dir itself; map it to a file path',
  );
});

// --- assertNoLinkOut ------------------------------------------------------------------

Deno.test("assertNoLinkOut refuses a path through a link that leaves the run dir", async () => {
  await withTempDir(async (tmp) => {
    const runDir = join(tmp, "run");
    await writeTree(tmp, { "outside/keep.txt": "x", "run/inside/a.txt": "a" });
    await Deno.symlink(join(tmp, "outside"), join(runDir, "src"));
    await Deno.symlink("../outside/keep.txt", join(runDir, "file-out"));
    await assertUserErrorAsync(
      assertNoLinkOut(runDir, "src/x/train.py"),
      /^path-map target "src\/x\/train\.py" goes through link "src" that leaves the run dir; /,
    );
    await assertUserErrorAsync(
      assertNoLinkOut(runDir, "file-out"),
      'path-map target "file-out" goes through link "file-out" that leaves the run dir',
    );
    // Paths that do not touch the link, or do not exist yet, are fine.
    await assertNoLinkOut(runDir, "inside/a.txt");
    await assertNoLinkOut(runDir, "new/dir/b.txt");
    await assertNoLinkOut(runDir, "srcx/train.py");
  });
});

Deno.test("assertNoLinkOut allows links that stay inside the run dir", async () => {
  await withTempDir(async (tmp) => {
    const runDir = join(tmp, "run");
    await writeTree(runDir, { "real/a.txt": "a" });
    await Deno.symlink(join(runDir, "real"), join(runDir, "abs-link"));
    await Deno.symlink("real", join(runDir, "rel-link"));
    await Deno.symlink(".", join(runDir, "self"));
    await assertNoLinkOut(runDir, "abs-link/a.txt");
    await assertNoLinkOut(runDir, "rel-link/new/b.txt");
    await assertNoLinkOut(runDir, "self/real/a.txt");
  });
});

Deno.test("assertNoLinkOut follows links inside to a link out, and dangling links", async () => {
  await withTempDir(async (tmp) => {
    const runDir = join(tmp, "run");
    await writeTree(tmp, { "outside/keep.txt": "x", "run/real/a.txt": "a" });
    await Deno.symlink(join(tmp, "outside"), join(runDir, "real", "out"));
    await Deno.symlink("real", join(runDir, "in"));
    await assertUserErrorAsync(
      assertNoLinkOut(runDir, "in/out/x.txt"),
      'goes through link "in/out" that leaves the run dir',
    );
    // A write through a dangling link would create its target, outside.
    await Deno.symlink(join(tmp, "nowhere", "f.txt"), join(runDir, "dangling"));
    await Deno.symlink("dangling", join(runDir, "to-dangling"));
    await assertUserErrorAsync(assertNoLinkOut(runDir, "dangling"), 'link "dangling"');
    await assertUserErrorAsync(assertNoLinkOut(runDir, "to-dangling"), 'link "to-dangling"');
    await Deno.symlink("loop-b", join(runDir, "loop-a"));
    await Deno.symlink("loop-a", join(runDir, "loop-b"));
    await assertUserErrorAsync(assertNoLinkOut(runDir, "loop-a/x"), "does not resolve (a loop)");
  });
});

Deno.test("assertNoLinksOut checks every path, sharing the dirs they have in common", async () => {
  await withTempDir(async (tmp) => {
    const runDir = join(tmp, "run");
    await writeTree(tmp, { "outside/keep.txt": "x", "run/pkg/a.py": "a" });
    await Deno.symlink(join(tmp, "outside"), join(runDir, "pkg", "data"));
    await assertNoLinksOut(runDir, ["pkg/a.py", "pkg/b.py", "other/c.py"]);
    await assertUserErrorAsync(
      assertNoLinksOut(runDir, ["pkg/a.py", "pkg/b.py", "pkg/data/c.csv"]),
      'path-map target "pkg/data/c.csv" goes through link "pkg/data"',
    );
  });
});
