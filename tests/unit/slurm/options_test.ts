/**
 * Slurm options (lib/slurm/options.ts) and the batch script (lib/slurm/script.ts):
 * precedence, what a Gage file's `slurm` table may hold, and a script that
 * says everything it asks as `#SBATCH` lines and quotes what the shell reads.
 */
import assert from "node:assert/strict";
import { mergeSlurmOptions, readSlurmTable, sbatchOptionArgs } from "../../../lib/slurm/options.ts";
import { batchScript, runstageCommand, shellWord } from "../../../lib/slurm/script.ts";
import { makeRun } from "../../../lib/run/identity.ts";
import { RunstageError } from "../../../lib/errors.ts";

Deno.test("slurm options: the command line over the op's slurm over $slurm; sbatch args add up", () => {
  const file = readSlurmTable(
    { partition: "cpu", time: "10", "sbatch-args": ["--nice=5"] },
    "$slurm",
  );
  const op = readSlurmTable({ partition: "gpu", gpus: 2, cpus: 8 }, "op");
  const cli = { time: "1:00:00", sbatchArgs: ["--exclusive"] };
  const merged = mergeSlurmOptions(file, op, cli);
  assert.deepEqual(sbatchOptionArgs(merged), [
    "--partition=gpu",
    "--time=1:00:00",
    "--gpus=2",
    "--cpus-per-task=8",
    "--nice=5",
    "--exclusive",
  ]);
});

Deno.test("slurm options: a bad table is one error naming the key and the fix", () => {
  assert.throws(() => readSlurmTable({ partiton: "gpu" }, "op"), (e: Error) => {
    assert.ok(e instanceof RunstageError);
    assert.match(e.message, /^op: unknown Slurm option "partiton"; one of partition, /);
    return true;
  });
  assert.throws(() => readSlurmTable("gpu", "op"), /must be a table/);
  assert.throws(
    () => readSlurmTable({ "sbatch-args": ["exclusive"] }, "op"),
    /is not an sbatch option/,
  );
  assert.throws(() => readSlurmTable({ "signal-before": -1 }, "op"), /whole number of seconds/);
  assert.throws(() => sbatchOptionArgs({ partition: "a\nb" }), /line break/);
});

Deno.test("slurm script: #SBATCH lines, the time-limit signal, one start per array task", () => {
  const runs = [makeRun("/runs home"), makeRun("/runs home")];
  const script = batchScript({
    runs,
    runsHome: "/runs home",
    options: { partition: "gpu", signalBefore: 90 },
    command: ["/opt/run stage/runstage"],
    parallel: 2,
  });
  const lines = script.split("\n");
  assert.equal(lines[0], "#!/bin/sh");
  assert.ok(lines.includes("#SBATCH --signal=B:USR1@90"));
  assert.ok(lines.includes("#SBATCH --array=0-1%2"));
  assert.ok(lines.includes("#SBATCH --partition=gpu"));
  assert.ok(lines.includes(`  0) run=${runs[0].id} ;;`));
  assert.ok(lines.includes(`  1) run=${runs[1].id} ;;`));
  assert.ok(lines.includes(`exec '/opt/run stage/runstage' --runs '/runs home' start "$run"`));
  const single = batchScript({ runs: [runs[0]], runsHome: "/r", options: {}, command: ["rs"] });
  assert.match(single, new RegExp(`^exec rs --runs /r start ${runs[0].id}$`, "m"));
  assert.doesNotMatch(single, /--array/);
});

Deno.test("slurm script: shell words are quoted so the shell reads them back as given", () => {
  for (const word of ["plain", "with space", "it's", "$HOME", "a;b", "`x`"]) {
    const out = new Deno.Command("sh", { args: ["-c", `printf %s ${shellWord(word)}`] })
      .outputSync();
    assert.equal(new TextDecoder().decode(out.stdout), word);
  }
});

Deno.test("slurm command: the environment's override, then the options', then this runstage", () => {
  assert.deepEqual(runstageCommand({}, { RUNSTAGE_SLURM_COMMAND: "/shared/bin/runstage" }), [
    "/shared/bin/runstage",
  ]);
  assert.deepEqual(
    runstageCommand({}, { RUNSTAGE_SLURM_COMMAND: '["/a b/runstage", "--quiet"]' }),
    ["/a b/runstage", "--quiet"],
  );
  assert.throws(() => runstageCommand({}, { RUNSTAGE_SLURM_COMMAND: "[1" }), /JSON list/);
  assert.deepEqual(runstageCommand({ runstage: ["/nfs/runstage"] }, {}), ["/nfs/runstage"]);
  // From source under Deno: the runtime, its permissions and the main module.
  const own = runstageCommand({}, {});
  assert.equal(own[0], Deno.execPath());
});
