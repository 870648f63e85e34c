/**
 * Reading and writing tar files in tests, to craft archives that are wrong in
 * one chosen way: every entry in memory (test archives are small), the
 * runstage index as the first entry.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, gzipSync } from "node:zlib";
import { extract, type Header, pack } from "tar-stream";
import { type ArchiveIndex, INDEX_NAME } from "../../lib/archive/format.ts";

export interface TarEntry {
  header: Partial<Header> & { name: string };
  data: Uint8Array;
}

/** Every entry of a tar or tar.gz file, in order. */
export async function readTar(file: string): Promise<TarEntry[]> {
  const bytes = await Deno.readFile(file);
  const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
  const reader = extract();
  const source = Readable.from([bytes]);
  const sink = reader as unknown as NodeJS.WritableStream;
  const fed = gzipped ? pipeline(source, createGunzip(), sink) : pipeline(source, sink);
  const entries: TarEntry[] = [];
  for await (const entry of reader) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of entry as AsyncIterable<Uint8Array>) chunks.push(chunk);
    entries.push({ header: { ...entry.header }, data: Buffer.concat(chunks) });
  }
  await fed;
  return entries;
}

/** Writes `entries` as a tar (gzipped when asked); sizes follow the data. */
export async function writeTar(file: string, entries: TarEntry[], gzip = false): Promise<void> {
  const tar = pack();
  const chunks: Uint8Array[] = [];
  const collected = (async () => {
    for await (const chunk of tar as AsyncIterable<Uint8Array>) chunks.push(chunk);
  })();
  for (const { header, data } of entries) {
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      const { size: _size, pax: _pax, ...rest } = header;
      if (header.type === "file" || header.type === undefined) tar.entry(rest, data, done);
      else tar.entry(rest, done);
    });
  }
  tar.finalize();
  await collected;
  const bytes = Buffer.concat(chunks);
  await Deno.writeFile(file, gzip ? gzipSync(bytes) : bytes);
}

/** The index of an archive's entries. */
export function indexOf(entries: TarEntry[]): ArchiveIndex {
  assert.equal(entries[0].header.name, INDEX_NAME);
  return JSON.parse(new TextDecoder().decode(entries[0].data));
}

/** The entries with the index edited. */
export function withIndex(entries: TarEntry[], edit: (index: ArchiveIndex) => void): TarEntry[] {
  const index = indexOf(entries);
  edit(index);
  const data = new TextEncoder().encode(JSON.stringify(index, null, 2));
  return [{ header: entries[0].header, data }, ...entries.slice(1)];
}

/** A file entry and its index entry, for content `text` at `path`. */
export async function fileEntry(path: string, text: string) {
  const data = new TextEncoder().encode(text);
  const sha256 = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", data)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  return {
    tar: { header: { name: path, type: "file" as const, mode: 0o644 }, data },
    index: { path, type: "file" as const, mode: 0o644, size: data.length, sha256, mtime: 0 },
  };
}
