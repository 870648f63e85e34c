/**
 * Who owns a hidden work dir or temp file (import's staging dir, export's temp
 * file, a delete's or purge's claim on a run), written into its name: the pid,
 * the process's start time and a digest of the host name. A command killed
 * with kill -9 cannot clean up after itself, so the next one that writes there
 * does, but only once it is sure the owner is gone: a pid alone could have
 * been reused by another process, and a pid of another host (a runs home on a
 * network file system) says nothing about this host's processes.
 *
 * The tag goes into a name, so it is made when the dir or file is made, by the
 * same mkdir or open: there is no moment when a work dir exists with no owner.
 */
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { hostName, processIdentity, processLives } from "./process.ts";

export interface Owner {
  pid: number;
  /** Start time of the process in clock ticks since boot (Linux), or "x" where unknown. */
  start: string;
  /** 8 hex digits of the host name's SHA-256: short, and safe in a file name. */
  host: string;
}

/** `<pid>.<start>.<host>` as it appears in a name. */
export const OWNER_TAG = String.raw`\d+\.(?:\d+|x)\.[0-9a-f]{8}`;

/** This process as an owner. */
export function thisOwner(): Owner {
  const { pid, start } = processIdentity();
  return { pid, start: start ?? "x", host: hostDigest() };
}

/** The tag of `owner` (this process unless given) for a name. */
export function ownerTag(owner: Owner = thisOwner()): string {
  return `${owner.pid}.${owner.start}.${owner.host}`;
}

/** The owner a tag names, or undefined when it is not a tag. */
export function parseOwnerTag(tag: string): Owner | undefined {
  const match = /^(\d+)\.(\d+|x)\.([0-9a-f]{8})$/.exec(tag);
  if (!match) return undefined;
  return { pid: Number(match[1]), start: match[2], host: match[3] };
}

/**
 * True only when `owner` is surely dead: it ran on this host and that process
 * no longer lives (lib/run/process.ts: its pid is dead, or alive but started
 * at another time, a reused pid). The owner of another host is never judged
 * from here.
 */
export function ownerGone(owner: Owner): boolean {
  if (owner.host !== hostDigest()) return false;
  return !processLives({ pid: owner.pid, start: owner.start === "x" ? undefined : owner.start });
}

/** Whether the owner a tag names is surely gone (`ownerGone`); false for what is not a tag. */
export function tagOwnerGone(tag: string): boolean {
  const owner = parseOwnerTag(tag);
  return owner !== undefined && ownerGone(owner);
}

/**
 * The names in `dir` that `pattern` takes, its first group an owner tag, whose
 * owner is surely gone: what killed commands left there. [] when the dir cannot
 * be read: the command that asked will say so in its own terms.
 */
export function namesOfGoneOwners(dir: string, pattern: RegExp): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((name) => {
    const tag = pattern.exec(name)?.[1];
    return tag !== undefined && tagOwnerGone(tag);
  });
}

function hostDigest(): string {
  return createHash("sha256").update(hostName()).digest("hex").slice(0, 8);
}
