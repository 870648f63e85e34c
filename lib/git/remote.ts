/**
 * The remote a run's provenance names: the one the current branch tracks, else
 * `origin`, else the first, always with credentials taken out of its URL (meta
 * is shared; a token in it would be leaked). Split from vcs.ts.
 */
import { type GitRepo, inRepo, runGit } from "./command.ts";

/** URL schemes whose user name is part of the address (`ssh://git@host`), not a secret. */
const SSH_SCHEMES = new Set(["ssh", "git+ssh", "ssh+git"]);

/**
 * A remote URL with its credentials removed: user and password of URLs (`https://
 * user:token@host/p` -> `https://host/p`), keeping the user name of ssh URLs but
 * never a password, and their query string and fragment, where tokens hide too.
 * scp-like addresses (`git@host:org/repo.git`) and local paths are kept, less any
 * `:password` before an `@`.
 */
export function redactRemoteUrl(url: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (!scheme) return url.replace(/^([^@/:\\]+):[^@/\\]*@/, "$1@");
  const head = scheme[0];
  const rest = url.slice(head.length).replace(/[?#].*$/s, "");
  const slash = rest.indexOf("/");
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? "" : rest.slice(slash);
  const at = authority.lastIndexOf("@");
  if (at === -1) return head + rest;
  const user = authority.slice(0, at).split(":")[0];
  const keepUser = SSH_SCHEMES.has(scheme[1].toLowerCase()) && user;
  return head + (keepUser ? `${user}@` : "") + authority.slice(at + 1) + path;
}

/**
 * The URL of the remote the current branch tracks, else `origin`, else the first
 * remote configured; redacted. Null when the repository has no remote.
 */
export async function remoteUrl(repo: GitRepo): Promise<string | null> {
  const [branch, config] = await Promise.all([
    currentBranch(repo),
    runGit(inRepo(repo), [
      "config",
      "-z",
      "--get-regexp",
      "^(remote\\..+\\.url|branch\\..+\\.remote)$",
    ]),
  ]);
  // Exit 1: no such key at all.
  if (config.code !== 0) return null;
  const urls = new Map<string, string>();
  let upstream: string | undefined;
  for (const record of new TextDecoder().decode(config.stdout).split("\0")) {
    const nl = record.indexOf("\n");
    if (nl === -1) continue;
    const [key, value] = [record.slice(0, nl), record.slice(nl + 1)];
    const remote = /^remote\.(.+)\.url$/.exec(key);
    // A remote's first url is the one git fetches from.
    if (remote && !urls.has(remote[1])) urls.set(remote[1], value);
    else if (branch !== null && key === `branch.${branch}.remote`) upstream = value;
  }
  const url = (upstream !== undefined ? urls.get(upstream) : undefined) ?? urls.get("origin") ??
    urls.values().next().value;
  return url === undefined ? null : redactRemoteUrl(url);
}

/** The branch HEAD is on, born or not; null when detached. */
async function currentBranch(repo: GitRepo): Promise<string | null> {
  const out = await runGit(inRepo(repo), ["symbolic-ref", "--quiet", "--short", "HEAD"]);
  const branch = new TextDecoder().decode(out.stdout).trim();
  return out.code === 0 && branch ? branch : null;
}
