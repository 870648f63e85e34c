/// <reference lib="dom" />
/**
 * `runstage board` in a real browser (tests/support/browser.ts): the runs
 * table with flags and metrics, sorting and `--where`, compare, scatter,
 * parallel coordinates, metric curves of selected runs, a run's page with its
 * output, a running run's new scalars without a reload, the static report
 * from file:// with no request leaving it; and over plain HTTP: no path
 * outside the runs home, no bind off loopback without a token. With
 * RUNSTAGE_SCREENSHOTS=1 the screenshots land in docs/board/ (docs/board.md).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { cliFor, ok, runstage, type Spawned, spawnRunstage } from "../support/cli.ts";
import { withProject, writeTree } from "../support/fixtures.ts";
import { screenshotPath, withBrowser } from "../support/browser.ts";

const GAGE = `
[train]
exec = "for i in 1 2 3 4 5 6; do echo step: $i; echo loss: 0.$((9 - i)); done; echo warning >&2"
free-flags = true

[wait]
exec = "sleep 60"
free-flags = true
`;

const EVIL = "<script>alert(1)</script>";

interface Fixture {
  project: string;
  runsHome: string;
  /** Run ids by lr. */
  ids: Map<number, string>;
}

/** Three completed `train` runs (lr 0.1, 0.2, 0.3), one labelled with markup. */
async function withRuns(fn: (f: Fixture) => Promise<void>): Promise<void> {
  await withProject({ "gage.toml": GAGE }, async (project, runsHome) => {
    const cli = cliFor(project, runsHome);
    const ids = new Map<number, string>();
    for (const lr of [0.1, 0.2, 0.3]) {
      await ok(cli("run", "train", `lr=${lr}`, `batch=${lr * 320}`));
      const [latest] = JSON.parse(await ok(cli("runs", "--json", "--limit", "1")));
      ids.set(lr, latest.id);
    }
    await ok(cli("label", "1", EVIL));
    // The first run keeps the scalars its output made; the others get curves of their own.
    for (const lr of [0.2, 0.3]) {
      const lines = [1, 2, 3, 4, 5, 6].map((step) =>
        JSON.stringify({ time: 1e15 + step, step, key: "loss", value: lr + 1 / step }) + "\n"
      );
      const meta = join(runsHome, `${ids.get(lr)}.meta`);
      await Deno.writeTextFile(join(meta, "scalars"), lines.join(""));
      const summary = { metrics: { loss: lr + 1 / 6 }, source: "output" };
      await Deno.writeTextFile(join(meta, "summary.json"), JSON.stringify(summary, null, 2));
    }
    await fn({ project, runsHome, ids });
  });
}

/** `runstage board` on the runs home, on a free port; its URL. */
async function startBoard(runsHome: string, ...args: string[]) {
  const board = spawnRunstage(["--runs", runsHome, "board", "--no-open", "--port", "0", ...args]);
  const out = await board.readUntil(/http:\/\/\S+\n/);
  const url = /http:\/\/\S+/.exec(out)![0];
  return { board, url };
}

async function stop(board: Spawned): Promise<void> {
  board.child.kill("SIGTERM");
  await board.result;
}

async function cells(page: Page, column: string): Promise<string[]> {
  return await page.$$eval(
    `#runs-table tbody td[data-col="${column}"]`,
    (tds) => tds.map((td) => td.textContent ?? ""),
  );
}

Deno.test("board: the runs table lists runs with flags and metrics; sort and --where change it; markup stays text", async () => {
  await withBrowser(async (browser) => {
    await withRuns(async ({ runsHome }) => {
      const { board, url } = await startBoard(runsHome);
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
        let dialogs = 0;
        page.on("dialog", (d) => (dialogs++, d.dismiss()));
        await page.goto(url);
        await page.waitForSelector("#runs-table tbody tr");
        assert.deepEqual(await cells(page, "config.lr"), ["0.3", "0.2", "0.1"]);
        assert.deepEqual(await cells(page, "metric.loss"), ["0.4667", "0.3667", "0.3"]);
        assert.deepEqual(await cells(page, "label"), [EVIL, "", ""]);
        assert.equal(await page.locator("#runs-table script").count(), 0);
        await page.screenshot({ path: screenshotPath("runs", runsHome) });

        await page.click('#runs-table th[data-col="metric.loss"]');
        await page.waitForFunction(() =>
          document.querySelector('#runs-table tbody td[data-col="metric.loss"]')?.textContent ===
            "0.3"
        );
        assert.deepEqual(await cells(page, "config.lr"), ["0.1", "0.2", "0.3"]);

        await page.fill("#where", "lr>=0.2 and loss<0.4");
        await page.press("#where", "Enter");
        await page.waitForFunction(() =>
          document.querySelectorAll("#runs-table tbody tr").length === 1
        );
        assert.deepEqual(await cells(page, "config.lr"), ["0.2"]);
        assert.match(await page.textContent("#runs-info") ?? "", /^1 of 3 runs/);

        await page.fill("#where", "lr<");
        await page.press("#where", "Enter");
        await page.waitForFunction(() => document.querySelector("#where-error")?.textContent);
        assert.match(await page.textContent("#where-error") ?? "", /bad --where "lr<": column 4/);
        assert.equal(dialogs, 0);
      } finally {
        await stop(board);
      }
    });
  });
});

Deno.test("board: selected runs are compared and their metric curves drawn; scatter and parallel coordinates; a run page shows its output", async () => {
  await withBrowser(async (browser) => {
    await withRuns(async ({ runsHome, ids }) => {
      const { board, url } = await startBoard(runsHome);
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
        await page.goto(url);
        await page.waitForSelector("#runs-table tbody tr");
        const names = await page.$$eval(
          "#runs-table a.run-link",
          (as) => as.map((a) => a.textContent),
        );
        for (const lr of [0.1, 0.2, 0.3]) {
          await page.check(`#runs-table tr[data-id="${ids.get(lr)}"] input.select`);
        }
        await page.click('nav a[href="#compare"]');
        await page.waitForSelector("table.compare");
        assert.equal(
          await page.locator('table.compare tr.differs[data-key="config.lr"]').count(),
          1,
        );
        assert.equal(await page.locator('table.compare tr.differs[data-key="op"]').count(), 0);
        await page.screenshot({ path: screenshotPath("compare", runsHome) });

        await page.click('nav a[href="#history"]');
        const chart = page.locator('.history-chart[data-key="loss"]');
        await chart.waitFor();
        assert.equal(await chart.getAttribute("data-runs"), "3");
        assert.equal(await chart.getAttribute("data-points"), "18");
        assert.equal(await chart.locator("canvas").count(), 1);
        const legend = await chart.locator(".u-legend").textContent();
        for (const name of names) assert.ok(legend?.includes(name!), `${name} in ${legend}`);
        await page.screenshot({ path: screenshotPath("history", runsHome) });

        await page.click('nav a[href="#scatter"]');
        await page.selectOption("#scatter-x", "config.lr");
        await page.selectOption("#scatter-y", "metric.loss");
        await page.waitForSelector('#scatter-chart[data-points="3"] svg');
        await page.screenshot({ path: screenshotPath("scatter", runsHome) });

        await page.click('nav a[href="#parallel"]');
        await page.waitForSelector('#parallel-chart[data-lines="3"] svg');
        await page.screenshot({ path: screenshotPath("parallel", runsHome) });

        await page.goto(`${url}#run=${ids.get(0.1)}`);
        await page.waitForSelector("#output table.output");
        const out = await page.$$eval(
          '#output .phase[data-phase="40_run"] tr',
          (trs) => trs.map((tr) => [tr.className, tr.querySelector(".text")?.textContent]),
        );
        assert.deepEqual(out[0], ["stdout", "step: 1"]);
        assert.deepEqual(out.at(-1), ["stderr", "warning"]);
        assert.match(await page.textContent("table.files") ?? "", /gage\.toml\s*in manifest/);
        await page.screenshot({ path: screenshotPath("run", runsHome), fullPage: true });
      } finally {
        await stop(board);
      }
    });
  });
});

Deno.test("board: a running run's new scalars appear without a reload", async () => {
  await withBrowser(async (browser) => {
    await withProject({ "gage.toml": GAGE }, async (project, runsHome) => {
      const running = spawnRunstage(["-C", project, "--runs", runsHome, "run", "wait"]);
      const { board, url } = await startBoard(runsHome);
      try {
        const page = await browser.newPage();
        await page.goto(url);
        await page.waitForSelector("#runs-table td.status.running", { timeout: 60_000 });
        const id = await page.getAttribute("#runs-table tbody tr", "data-id");
        const scalars = join(runsHome, `${id}.meta`, "scalars");
        const append = (from: number, to: number) => {
          const lines = [];
          for (let step = from; step <= to; step++) {
            lines.push(
              JSON.stringify({ time: Date.now() * 1000, step, key: "acc", value: step / 10 }),
            );
          }
          Deno.writeTextFileSync(scalars, lines.join("\n") + "\n", { append: true });
        };
        append(1, 2);
        await page.check("#runs-table input.select");
        await page.click('nav a[href="#history"]');
        await page.waitForSelector('.history-chart[data-key="acc"][data-points="2"]');
        await page.evaluate(() => ((globalThis as Record<string, unknown>).marker = "same page"));
        append(3, 5);
        await page.waitForSelector('.history-chart[data-key="acc"][data-points="5"]');
        assert.equal(
          await page.evaluate(() => (globalThis as Record<string, unknown>).marker),
          "same page",
        );
      } finally {
        await stop(board);
        if (!running.exited()) running.child.kill("SIGTERM");
        await running.result;
      }
    });
  });
});

Deno.test("board --html: one file that renders the runs from file:// with no request leaving the page", async () => {
  await withBrowser(async (browser) => {
    await withRuns(async ({ runsHome, ids }) => {
      const file = join(runsHome, "..", `board-${crypto.randomUUID()}.html`);
      try {
        const out = await ok(runstage(["--runs", runsHome, "board", "--html", file]));
        assert.match(out, /: 3 runs, /);
        const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
        const requests: string[] = [];
        await page.route("**/*", (route) => {
          requests.push(route.request().url());
          return route.request().url() === `file://${file}` ? route.continue() : route.abort();
        });
        await page.goto(`file://${file}`);
        await page.waitForSelector("#runs-table tbody tr");
        assert.deepEqual(await cells(page, "config.lr"), ["0.3", "0.2", "0.1"]);
        assert.deepEqual(await cells(page, "label"), [EVIL, "", ""]);
        await page.fill("#where", "lr<0.25");
        await page.press("#where", "Enter");
        await page.waitForFunction(() =>
          document.querySelectorAll("#runs-table tbody tr").length === 2
        );
        await page.check(`#runs-table tr[data-id="${ids.get(0.1)}"] input.select`);
        await page.click('nav a[href="#history"]');
        await page.waitForSelector('.history-chart[data-key="loss"][data-points="6"] canvas');
        await page.click('nav a[href="#scatter"]');
        await page.waitForSelector("#scatter-chart svg");
        await page.goto(`file://${file}#run=${ids.get(0.1)}`);
        await page.waitForSelector("#output table.output");
        await page.screenshot({ path: screenshotPath("static", runsHome) });
        assert.deepEqual(requests, [`file://${file}`]);
      } finally {
        await Deno.remove(file).catch(() => {});
      }
    });
  });
});

/** A GET with the path sent exactly as written (fetch would resolve `..`); status and body. */
async function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  await conn.write(
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    ),
  );
  const text = await new Response(conn.readable).text();
  return {
    status: Number(text.split(" ")[1]),
    body: text.split("\r\n\r\n").slice(1).join("\r\n\r\n"),
  };
}

Deno.test("board serves nothing outside the runs home: .., %2e%2e, links out of a run dir", async () => {
  await withRuns(async ({ runsHome, ids }) => {
    const outside = await Deno.makeTempDir({ prefix: "runstage-test-secret-" });
    const id = ids.get(0.1)!;
    try {
      await writeTree(outside, { "secret.txt": "SECRET" });
      await Deno.symlink(join(outside, "secret.txt"), join(runsHome, id, "leak.txt"));
      await Deno.symlink(outside, join(runsHome, id, "leakdir"));
      await Deno.symlink(join(runsHome, id, "gage.toml"), join(runsHome, id, "inside.txt"));
      const { board, url } = await startBoard(runsHome);
      try {
        const good = await rawGet(url, `/files/${id}/gage.toml`);
        assert.equal(good.status, 200);
        assert.match(good.body, /\[train\]/);
        assert.equal((await rawGet(url, `/files/${id}/inside.txt`)).status, 200);
        for (
          const path of [
            "/../../../../etc/passwd",
            `/files/${id}/../${id}.meta/id`,
            `/files/${id}/%2e%2e/${id}.meta/id`,
            `/files/${id}/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd`,
            `/files/${id}/..%2f..%2fetc/passwd`,
            `/files/${id}/leak.txt`,
            `/files/${id}/leakdir/secret.txt`,
            `/files/..%2f${id}.meta/id`,
            "/files/%2e%2e/%2e%2e/etc/passwd",
          ]
        ) {
          const r = await rawGet(url, path);
          assert.ok(r.status >= 400, `${path}: ${r.status}`);
          assert.doesNotMatch(r.body, /SECRET|root:|[0-9a-f]{8}-[0-9a-f]{4}/, path);
        }
        const post = await fetch(`${url}api/runs`, { method: "POST" });
        assert.equal(post.status, 405);
        await post.body?.cancel();
      } finally {
        await stop(board);
      }
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  });
});

Deno.test("board refuses a non-loopback bind without a token, and checks the token it makes", async () => {
  await withRuns(async ({ runsHome }) => {
    // A board that serves instead of refusing is killed by the watchdog, and fails here.
    const refused = await spawnRunstage(
      ["--runs", runsHome, "board", "--host", "0.0.0.0", "--port", "0", "--no-token", "--no-open"],
      { watchdogMs: 20_000 },
    ).result;
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, "");
    assert.match(
      refused.stderr,
      /^runstage: refusing to serve the runs on 0\.0\.0\.0 without a token: .*\n$/,
    );

    const { board, url } = await startBoard(runsHome, "--host", "0.0.0.0");
    try {
      const token = new URL(url).searchParams.get("token")!;
      assert.match(token, /^[0-9a-f]{32}$/);
      const port = new URL(url).port;
      const without = await fetch(`http://127.0.0.1:${port}/api/runs`);
      assert.equal(without.status, 403);
      await without.body?.cancel();
      const wrong = await fetch(`http://127.0.0.1:${port}/api/runs?token=${"0".repeat(32)}`);
      assert.equal(wrong.status, 403);
      await wrong.body?.cancel();
      const right = await fetch(`http://127.0.0.1:${port}/api/runs?token=${token}`);
      assert.equal(right.status, 200);
      assert.equal((await right.json()).total, 3);
    } finally {
      await stop(board);
    }
  });
});

Deno.test("board --html to a file that cannot be written is one line with its cause and fix", async () => {
  await withRuns(async ({ runsHome }) => {
    const r = await runstage([
      "--runs",
      runsHome,
      "board",
      "--html",
      join(runsHome, "no", "x.html"),
    ]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(
      r.stderr,
      /^runstage: cannot write the board to ".*x\.html" \(ENOENT\): give --html a file in a directory that exists and can be written\n$/,
    );
  });
});
