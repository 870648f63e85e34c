/**
 * `runstage images [--prune] [--all]`: the images runstage built for the runs
 * of this runs home (each labelled with its run and runs home), and which run
 * each is for; `--prune` removes those whose run is gone (purged, or never
 * there), `--all` with it every image runstage built here.
 */
import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { escapeControl } from "../fs/quote.ts";
import { findEngine } from "../container/engine.ts";
import { removeImages, RUN_LABEL, runImages } from "../container/image.ts";
import { listRuns } from "../run/listing.ts";
import { commandContext, formatTable, globalOptions, printJson } from "./context.ts";
import { engineSetting } from "./run.ts";
import { plural } from "./runs.ts";

export function imagesCommand() {
  return new Command("images")
    .description(
      "list the images built for this runs home's runs (op dockerfile); --prune removes those" +
        " whose run is gone",
    )
    .option("--prune", "remove the images whose run is not in the runs home or its trash")
    .option("--all", "with --prune: remove every image built for this runs home's runs")
    .option("--engine <engine>", "the container engine: podman or docker")
    .option("--json", "print JSON")
    .action(async (options, command) => {
      const ctx = await commandContext(globalOptions(command));
      const engine = findEngine(options.engine ?? engineSetting(ctx));
      const images = await runImages(engine, ctx.runsHome);
      const runs = new Map(
        [...listRuns(ctx.runsHome), ...listRuns(ctx.runsHome, { deleted: true })]
          .map((info) => [info.run.id, info]),
      );
      const rows = images.map((image) => {
        const runId = image.labels[RUN_LABEL] ?? "";
        const info = runs.get(runId);
        return {
          id: image.id,
          tags: image.tags,
          run: runId,
          name: info?.run.name ?? null,
          status: info ? info.status : "gone",
          created: image.created,
        };
      });
      if (options.prune) {
        const doomed = rows.filter((r) => options.all || r.status === "gone");
        await removeImages(engine, doomed.map((r) => r.id));
        if (options.json) return printJson(doomed);
        process.stdout.write(`Removed ${plural(doomed.length, "image")}\n`);
        return;
      }
      if (options.json) return printJson(rows);
      if (rows.length === 0) return void process.stdout.write("No images built for runs here\n");
      const table = [["IMAGE", "ID", "RUN", "STATUS"]].concat(rows.map((r) => [
        escapeControl(r.tags[0] ?? "<none>"),
        r.id.replace(/^sha256:/, "").slice(0, 12),
        r.name ?? r.run.slice(0, 8),
        r.status,
      ]));
      process.stdout.write(formatTable(table));
    });
}
