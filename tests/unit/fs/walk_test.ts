/** The project walker: order, pruning, links, loops, excludes, unreadable dirs, stopping. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { setImmediate } from "node:timers";
import {
  type Descent,
  type WalkEntry,
  type WalkOptions,
  walkTree,
  YIELD_EVERY,
} from "../../../lib/fs/walk.ts";
import { RunInterrupted } from "../../../lib/interrupt.ts";
import { RunstageError } from "../../../lib/errors.ts";
import { withTempDir, writeTree } from "../../support/fixtures.ts";

/** Walks everything `enter` allows; returns the dirs read and every entry seen, in order. */
async function walkAll(root: string, options: Partial<WalkOptions> = {}) {
  const read: string[] = [];
  const seen: string[] = [];
  const descents: Record<string, Descent> = {};
  await walkTree(root, {
    links: "follow",
    unreadable: "ignore",
    onDirRead: (rel) => read.push(rel),
    visit: async (dir, descend) => {
      for (const e of dir.entries) {
        seen.push(`${e.rel}${e.kind === "dir" ? "/" : ""}${e.link ? " (link)" : ""}`);
        if (e.kind === "dir" || e.kind === "link") descents[e.rel] = await descend(e);
      }
    },
    ...options,
  });
  return { read, seen, descents };
}

Deno.test("walkTree: depth first, entries in path order, a dir sorting as name/", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, { "a.txt": "", "a/b.txt": "", "a-z.txt": "", "b/c/d.txt": "" });
    const { read, seen } = await walkAll(root);
    assert.deepEqual(read, ["", "a", "b", "b/c"]);
    assert.deepEqual(seen, ["a-z.txt", "a.txt", "a/", "a/b.txt", "b/", "b/c/", "b/c/d.txt"]);
  });
});

Deno.test("walkTree: enter prunes, and a pruned dir is never read", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, {
      "train.py": "",
      "conf/a.yaml": "",
      "conf/deep/b.yaml": "",
      "data/huge/x.bin": "",
    });
    const { read, descents } = await walkAll(root, { enter: (e) => e.rel === "conf" });
    assert.deepEqual(read, ["", "conf"]);
    assert.equal(descents["data"], "pruned");
    assert.equal(descents["conf/deep"], "pruned");
  });
});

Deno.test("walkTree: links followed report their target, or are reported as links", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, { "real/f.txt": "12345" });
    await Deno.symlink("real", join(root, "dirlink"));
    await Deno.symlink("real/f.txt", join(root, "filelink"));
    await Deno.symlink("missing", join(root, "broken"));
    const entries: WalkEntry[] = [];
    await walkTree(root, {
      links: "follow",
      unreadable: "error",
      visit: (dir) => void entries.push(...dir.entries),
    });
    const byName = Object.fromEntries(entries.map((e) => [e.name, e]));
    assert.equal(byName.dirlink.kind, "dir");
    assert.equal(byName.dirlink.real, join(root, "real"));
    assert.equal(byName.filelink.kind, "file");
    assert.equal(byName.filelink.stats?.size, 5n);
    assert.equal(byName.broken.kind, "broken");

    const followed = await walkAll(root, { links: "follow" });
    assert.deepEqual(followed.read, ["", "dirlink", "real"]);
    const reported = await walkAll(root, { links: "report" });
    assert.deepEqual(reported.read, ["", "real"]);
    assert.equal(reported.descents["dirlink"], "not-a-dir");
    assert.ok(reported.seen.includes("filelink (link)"));
  });
});

Deno.test("walkTree: a link back up the chain is a loop, not entered", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, { "sub/a.txt": "" });
    await Deno.symlink("..", join(root, "sub/up"));
    await Deno.symlink(".", join(root, "sub/self"));
    const { read, descents } = await walkAll(root);
    assert.deepEqual(read, ["", "sub"]);
    assert.equal(descents["sub/up"], "loop");
    assert.equal(descents["sub/self"], "loop");
  });
});

Deno.test("walkTree: excluded dirs and skipped names are never read", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, { ".git/HEAD": "", "runs/x/y": "", "src/a.py": "" });
    const { read, seen, descents } = await walkAll(root, {
      exclude: [join(root, "runs")],
      skipNames: [".git"],
    });
    assert.deepEqual(read, ["", "src"]);
    assert.equal(descents["runs"], "excluded");
    assert.ok(!seen.some((s) => s.startsWith(".git")));
    // An excluded root: nothing at all.
    assert.deepEqual((await walkAll(root, { exclude: [root] })).read, []);
  });
});

Deno.test("walkTree: statFiles gives plain files their stats (bigint: the digest cache's key)", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, { "a.txt": "abc" });
    const sizes: (bigint | undefined)[] = [];
    for (const statFiles of [false, true]) {
      await walkTree(root, {
        links: "follow",
        unreadable: "error",
        statFiles,
        visit: (dir) => void sizes.push(dir.entries[0].stats?.size),
      });
    }
    assert.deepEqual(sizes, [undefined, 3n]);
    const a = await Deno.stat(join(root, "a.txt"));
    await walkTree(root, {
      links: "follow",
      unreadable: "error",
      statFiles: true,
      visit: (dir) => {
        const stats = dir.entries[0].stats!;
        assert.equal(stats.ino, BigInt(a.ino!));
        assert.equal(stats.mtimeNs / 1_000_000n, BigInt(a.mtime!.getTime()));
      },
    });
  });
});

Deno.test("walkTree: statDirs gives each dir read its own stats, through links", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, { "sub/a.txt": "" });
    await Deno.symlink("sub", join(root, "sublink"));
    const inodes = new Map<string, bigint | undefined>();
    for (const statDirs of [false, true]) {
      await walkTree(root, {
        links: "follow",
        unreadable: "error",
        statDirs,
        visit: async (dir, descend) => {
          inodes.set(`${statDirs} ${dir.rel}`, dir.stats?.ino);
          for (const e of dir.entries) await descend(e);
        },
      });
    }
    const sub = BigInt((await Deno.stat(join(root, "sub"))).ino!);
    assert.equal(inodes.get("false sub"), undefined);
    assert.equal(inodes.get("true "), BigInt((await Deno.stat(root)).ino!));
    assert.equal(inodes.get("true sub"), sub);
    assert.equal(inodes.get("true sublink"), sub);
  });
});

/** A dir that vanishes between its listing and its reading: unreadable, whoever runs the test. */
async function walkVanishing(root: string, unreadable: WalkOptions["unreadable"]) {
  const warnings: string[] = [];
  const descents: Descent[] = [];
  await walkTree(root, {
    links: "follow",
    unreadable,
    warn: (m) => warnings.push(m),
    visit: async (dir, descend) => {
      for (const e of dir.entries) {
        if (e.name === "gone") await Deno.remove(e.abs, { recursive: true });
        if (e.kind === "dir") descents.push(await descend(e));
      }
    },
  });
  return { warnings, descents };
}

Deno.test("walkTree: an unreadable dir is ignored, warned about, or an error", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, { "gone/a": "", "kept/b": "" });
    assert.deepEqual(await walkVanishing(root, "ignore"), {
      warnings: [],
      descents: ["unreadable", "entered"],
    });
    await writeTree(root, { "gone/a": "" });
    assert.deepEqual(await walkVanishing(root, "warn"), {
      warnings: ['skipped unreadable dir "gone"'],
      descents: ["unreadable", "entered"],
    });
    await writeTree(root, { "gone/a": "" });
    await assert.rejects(
      walkVanishing(root, "error"),
      (err) =>
        err instanceof RunstageError && /^cannot list dir ".*gone" \(ENOENT\)/.test(err.message),
    );
    // A missing root follows the same policy.
    assert.deepEqual((await walkAll(join(root, "nothing"))).read, []);
    await assert.rejects(walkAll(join(root, "nothing"), { unreadable: "error" }), RunstageError);
  });
});

Deno.test("walkTree: an aborted signal stops the walk before it reads a dir", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, { "a/b": "" });
    const controller = new AbortController();
    controller.abort("SIGTERM");
    const read: string[] = [];
    await assert.rejects(
      walkAll(root, { signal: controller.signal, onDirRead: (rel) => read.push(rel) }),
      (err) => err instanceof RunInterrupted && err.sig === "SIGTERM",
    );
    assert.deepEqual(read, []);
  });
});

Deno.test("walkTree: yields to the event loop, so an abort from a callback stops a long walk", async () => {
  await withTempDir(async (root) => {
    // Enough entries for several yields, none of them doing async I/O.
    const files: Record<string, string> = {};
    for (let d = 0; d < 20; d++) {
      for (let f = 0; f < YIELD_EVERY / 8; f++) files[`d${d}/f${f}`] = "";
    }
    await writeTree(root, files);
    const controller = new AbortController();
    // Runs only when the walk lets the event loop turn.
    setImmediate(() => controller.abort("SIGINT"));
    const read: string[] = [];
    await assert.rejects(
      walkTree(root, {
        links: "follow",
        unreadable: "error",
        signal: controller.signal,
        onDirRead: (rel) => read.push(rel),
        visit: async (dir, descend) => {
          for (const e of dir.entries) if (e.kind === "dir") await descend(e);
        },
      }),
      (err) => err instanceof RunInterrupted && err.sig === "SIGINT",
    );
    assert.ok(read.length < 21, `stopped early, after ${read.length} of 21 dirs`);
  });
});
