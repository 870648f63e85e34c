/**
 * `runstage board`: the runs home in the browser (runs table, compare,
 * scatter, parallel coordinates, metric history, run pages), served by
 * runstage itself on 127.0.0.1 until Ctrl-C; `--html FILE` writes the same
 * views as one file instead. docs/board.md.
 */
import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import process from "node:process";
import { RunstageError } from "../errors.ts";
import { quotePath } from "../fs/quote.ts";
import { commandContext, formatBytes, globalOptions } from "./context.ts";

export function boardCommand() {
  return new Command("board")
    .description(
      "serve the runs as a web page (runs table, compare, scatter, parallel coordinates," +
        " metric history, run pages) on 127.0.0.1 until Ctrl-C; --html FILE writes one" +
        " self-contained HTML file instead",
    )
    .option("--host <host>", "address to bind; any but loopback needs the token", "127.0.0.1")
    .option("--port <port>", "port to listen on; 0 takes any free one", parsePort, 8870)
    .option("--token <token>", "the token the URL must carry (default: a random one off loopback)")
    .option("--no-token", "no token (refused off loopback)")
    .option("--no-open", "do not open the browser; just print the URL")
    .option("--html <file>", "write the board as one HTML file, data inlined, and exit")
    .action(async (options, command) => {
      const { runsHome } = await commandContext(globalOptions(command));
      // Loaded here, not at start-up: the page's script is a megabyte every other command skips.
      if (options.html !== undefined) {
        const { writeStaticBoard } = await import("../board/static.ts");
        const { runs, bytes } = writeStaticBoard(runsHome, options.html);
        process.stdout.write(
          `${quotePath(options.html)}: ${runs} runs, ${formatBytes(bytes)}\n`,
        );
        return;
      }
      const { isLoopback, startBoardServer } = await import("../board/server.ts");
      const token = tokenFor(options.host, options.token, isLoopback);
      const board = await startBoardServer({
        runsHome,
        host: options.host,
        port: options.port,
        token,
      });
      process.stdout.write(`runstage board: ${board.url}\n`);
      if (options.open) openBrowser(board.url);
      await new Promise<void>((done) => {
        const stop = () => {
          board.server.closeAllConnections();
          board.close().then(done);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new InvalidArgumentError("a port is a number from 0 to 65535");
  }
  return port;
}

/** The token: as given; none with --no-token; a random one off loopback; else none. */
function tokenFor(
  host: string,
  token: string | boolean | undefined,
  isLoopback: (host: string) => boolean,
): string | undefined {
  if (typeof token === "string") {
    if (!/^[\w-]{8,}$/.test(token)) {
      throw new RunstageError(
        "a --token is at least 8 letters, digits, '-' or '_': pick a longer one",
      );
    }
    return token;
  }
  if (token === false) return undefined;
  return isLoopback(host) ? undefined : randomBytes(16).toString("hex");
}

/** xdg-open, open or start, in the background; a missing opener is a note, not an error. */
function openBrowser(url: string): void {
  const [command, args] = process.platform === "darwin"
    ? ["open", [url]]
    : process.platform === "win32"
    ? ["cmd", ["/d", "/c", "start", '""', url.replace(/&/g, "^&")]]
    : ["xdg-open", [url]];
  try {
    const child = spawn(command, args as string[], { stdio: "ignore", detached: true });
    child.once("error", () => {
      process.stderr.write(`runstage: no ${command} to open the browser with; open the URL\n`);
    });
    child.unref();
  } catch {
    process.stderr.write(`runstage: cannot start ${command}; open the URL yourself\n`);
  }
}
