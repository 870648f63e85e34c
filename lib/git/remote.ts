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
 *
 * A password may hold `/`, `?` or `#` unescaped (`https://u:ab/tok3n@host/r.git`),
 * so where the authority ends is not always clear. When a `:` comes before the
 * first `@`, a password may have begun there: everything up to the last `@`
 * before the next `/`, `?` or `#` is taken for credentials and dropped. A URL
 * read wrongly this way loses part of its address, never keeps part of a secret.
 */
export function redactRemoteUrl(url: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (!scheme) return redactScpLike(url);
  const head = scheme[0];
  const rest = url.slice(head.length);
  const end = userinfoEnd(rest, /[/?#]/);
  const hostAndPath = (end === -1 ? rest : rest.slice(end + 1)).replace(/[?#].*$/s, "");
  if (end === -1) return head + hostAndPath;
  const user = rest.slice(0, end).split(":")[0];
  const keepUser = SSH_SCHEMES.has(scheme[1].toLowerCase()) && user && !/[/?#@]/.test(user);
  return head + (keepUser ? `${user}@` : "") + hostAndPath;
}

/**
 * Where the user info of `text` (a URL less its scheme, or an scp-like address)
 * ends: the index of its last `@`, or -1 when it has none. `delimiters` end the
 * host part after the `@`.
 */
function userinfoEnd(text: string, delimiters: RegExp): number {
  const firstAt = text.indexOf("@");
  if (firstAt === -1) return -1;
  const before = text.slice(0, firstAt);
  const authorityEnd = before.search(delimiters);
  // No delimiter before the first @: a plain authority, `user:pass@host`.
  // A delimiter with no ":" before it: the @ is in the path or query, no password.
  if (authorityEnd !== -1 && !before.slice(0, authorityEnd).includes(":")) return -1;
  const after = text.slice(firstAt + 1).search(delimiters);
  const upTo = after === -1 ? text.length : firstAt + 1 + after;
  return text.lastIndexOf("@", upTo - 1);
}

/** `user:pass@host:path` -> `user@host:path`; local paths as they are. */
function redactScpLike(address: string): string {
  // A local path: a `/`, `.` or drive letter first, or a `/` before any `:`.
  if (/^[./\\]|^[A-Za-z]:[\\/]/.test(address)) return address;
  const colon = address.indexOf(":");
  const firstAt = address.indexOf("@");
  if (colon === -1 || firstAt === -1 || colon > firstAt) return address;
  const user = address.slice(0, colon);
  if (/[/\\]/.test(user)) return address;
  const next = address.indexOf(":", firstAt);
  const at = address.lastIndexOf("@", next === -1 ? address.length : next - 1);
  return (user ? `${user}@` : "") + address.slice(at + 1);
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
