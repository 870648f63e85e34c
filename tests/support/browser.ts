/**
 * A real browser for the board's tests: Debian's chromium driven by
 * playwright-core (pinned in deno.json; it never downloads a browser). Where
 * /usr/bin/chromium is missing a browser test prints `skipped: no chromium`
 * and passes, unless RUNSTAGE_REQUIRE_BROWSER=1 (CI), where it fails.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { REPO_ROOT } from "./cli.ts";

export const CHROMIUM = "/usr/bin/chromium";

/** Runs `fn` with a headless chromium, closed afterwards; skips (or fails) without one. */
export async function withBrowser(fn: (browser: Browser) => Promise<void>): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    if (Deno.env.get("RUNSTAGE_REQUIRE_BROWSER") === "1") {
      throw new Error(
        `RUNSTAGE_REQUIRE_BROWSER=1 but there is no ${CHROMIUM}: apt-get install chromium`,
      );
    }
    console.log("skipped: no chromium");
    return;
  }
  Deno.env.set("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  try {
    await fn(browser);
  } finally {
    await browser.close();
  }
}

/**
 * Where a test's screenshot goes: docs/board/NAME.png with
 * RUNSTAGE_SCREENSHOTS=1 (how docs/board.md's pictures are made), else a temp
 * dir, so a test run leaves the checkout alone.
 */
export function screenshotPath(name: string, tempDir: string): string {
  return Deno.env.get("RUNSTAGE_SCREENSHOTS") === "1"
    ? join(REPO_ROOT, "docs", "board", `${name}.png`)
    : join(tempDir, `${name}.png`);
}
