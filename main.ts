// runstage: the one entry point. It wires the CLI and nothing else.
import process from "node:process";
import { main } from "./lib/cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
