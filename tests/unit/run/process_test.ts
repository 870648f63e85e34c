import assert from "node:assert/strict";
import { ownerGone, ownerTag, parseOwnerTag, thisOwner } from "../../../lib/run/owner.ts";
import { lockForProcess, lockHolder, thisHost } from "../../../lib/run/lock.ts";
import { processIdentity, processLives } from "../../../lib/run/process.ts";

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("one judge of a process: a lock and an owner tag of the same process agree", async () => {
  const me = processIdentity();
  assert.equal(me.pid, Deno.pid);
  assert.ok(processLives(me));
  assert.deepEqual(lockHolder(lockForProcess(Deno.pid)), { state: "alive" });
  assert.equal(ownerGone(thisOwner()), false);
  if (me.start !== undefined) {
    // The same pid started at another time: a reused pid, for both.
    const reused = { pid: Deno.pid, start: `1${me.start}` };
    assert.equal(processLives(reused), false);
    assert.deepEqual(lockHolder({ ...reused, host: thisHost() }), { state: "dead" });
    assert.equal(ownerGone({ ...thisOwner(), start: reused.start }), true);
  }
  const dead = await deadPid();
  assert.equal(processLives({ pid: dead }), false);
  assert.deepEqual(lockHolder({ pid: dead, host: thisHost() }), { state: "dead" });
  assert.equal(ownerGone({ ...thisOwner(), pid: dead }), true);
  // Another host's process is never judged from here.
  assert.deepEqual(lockHolder({ pid: dead, host: "node-7" }), {
    state: "elsewhere",
    host: "node-7",
  });
  assert.equal(ownerGone({ ...thisOwner(), pid: dead, host: "00000000" }), false);
});

Deno.test("owner tags keep their format: <pid>.<start or x>.<8 hex of the host>", () => {
  const tag = ownerTag();
  assert.match(tag, /^\d+\.(\d+|x)\.[0-9a-f]{8}$/);
  assert.deepEqual(parseOwnerTag(tag), thisOwner());
  assert.equal(parseOwnerTag("12.x.nothex00"), undefined);
});
