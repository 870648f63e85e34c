/**
 * The `/`-separated paths of files in a project or run dir: which dirs hold a
 * path, and the order of paths in log/files and the manifest: byte order of their UTF-8
 * encodings. JS compares UTF-16 code units, which agrees with UTF-8 byte order
 * except that surrogates (astral characters) must sort after U+E000..U+FFFF.
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) {
      if (ca >= 0xd800 && cb >= 0xd800) return utf8Rank(ca) - utf8Rank(cb);
      return ca - cb;
    }
  }
  return a.length - b.length;
}

function utf8Rank(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** The dirs that hold a `/`-separated path, nearest first: `a/b/c` → `a/b`, `a`. */
export function parentDirs(path: string): string[] {
  const dirs: string[] = [];
  for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
    dirs.push(path.slice(0, i));
  }
  return dirs;
}
