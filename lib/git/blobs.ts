/**
 * Reading blobs from `git cat-file --batch` for extracting a commit (tree.ts):
 * headers and contents, in order, handed on in the chunks the pipe delivers so
 * a blob's size never decides how much memory it takes. Split from tree.ts:
 * this is the byte-level protocol, tree.ts decides what to write where.
 */
import { Buffer } from "node:buffer";
import type { ChildProcess } from "node:child_process";
import { RunstageError } from "../errors.ts";
import { gitFailed, type GitRepo, inRepo, spawnGit } from "./command.ts";

/**
 * `git cat-file --batch` over a list of object ids, read in order: a header
 * `<oid> blob <size>\n`, then exactly `size` bytes, then `\n`. Content is handed
 * on in the chunks the pipe delivers; nothing more than a chunk is held.
 */
export class BlobStream {
  #child: ChildProcess;
  #bytes: ByteReader;
  #exit: Promise<{ code: number | null; error?: Error }>;
  #stderr: Uint8Array[] = [];
  #where: string[];

  constructor(repo: GitRepo, oids: string[]) {
    this.#where = inRepo(repo);
    // --buffer: all ids are known up front, so git need not flush after each object.
    this.#child = spawnGit(this.#where, ["cat-file", "--batch", "--buffer"], [
      "pipe",
      "pipe",
      "pipe",
    ]);
    this.#exit = new Promise((resolve) => {
      this.#child.on("close", (code) => resolve({ code }));
      this.#child.on("error", (error) => resolve({ code: null, error }));
    });
    this.#child.stderr!.on("data", (chunk: Uint8Array) => this.#stderr.push(chunk));
    this.#child.stdin!.on("error", () => {}); // git exited early: its stderr says why.
    this.#child.stdin!.end(oids.map((oid) => `${oid}\n`).join(""));
    this.#bytes = new ByteReader(this.#child.stdout!);
  }

  /** The next object's header: checks it is `oid` and a blob, returns its size. */
  async next(oid: string): Promise<number> {
    const header = await this.#bytes.line();
    if (header === undefined) throw await this.#failure();
    const [got, type, size] = header.split(" ");
    if (got !== oid || type !== "blob" || !/^\d+$/.test(size ?? "")) {
      throw new RunstageError(
        `git object ${oid} is missing or not a file (${header}): ` +
          "the repository is incomplete, fetch it again",
      );
    }
    return Number(size);
  }

  /** The content of the current blob, `size` bytes, chunk by chunk. */
  async read(size: number, sink: (chunk: Uint8Array) => Promise<void> | void): Promise<void> {
    if (!(await this.#bytes.take(size, sink)) || !(await this.#bytes.take(1, () => {}))) {
      throw await this.#failure();
    }
  }

  async readWhole(size: number): Promise<Uint8Array> {
    const content = new Uint8Array(size);
    let at = 0;
    await this.read(size, (chunk) => {
      content.set(chunk, at);
      at += chunk.length;
    });
    return content;
  }

  skip(size: number): Promise<void> {
    return this.read(size, () => {});
  }

  /** After the last blob: git must have exited cleanly. */
  async finish(): Promise<void> {
    const exit = await this.#exit;
    if (exit.code !== 0) throw await this.#failure();
  }

  /** Stops git if it still runs (an error while writing); harmless once it has exited. */
  abort(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill();
  }

  async #failure(): Promise<Error> {
    const exit = await this.#exit;
    if (exit.error) return exit.error;
    const stderr = Buffer.concat(this.#stderr).toString("utf8");
    return gitFailed(this.#where, ["cat-file"], {
      code: exit.code ?? 1,
      stdout: new Uint8Array(),
      stderr: stderr || "output ended early",
    });
  }
}

/** Pull-based reading of a byte stream: lines and exact byte counts, across chunks. */
class ByteReader {
  #chunks: AsyncIterator<Uint8Array>;
  #head: Uint8Array = new Uint8Array();

  constructor(stream: AsyncIterable<Uint8Array>) {
    this.#chunks = stream[Symbol.asyncIterator]();
  }

  /** The next line without its `\n`; undefined at the end of the stream. */
  async line(): Promise<string | undefined> {
    const parts: Uint8Array[] = [];
    while (true) {
      const nl = this.#head.indexOf(10);
      if (nl !== -1) {
        parts.push(this.#head.subarray(0, nl));
        this.#head = this.#head.subarray(nl + 1);
        return Buffer.concat(parts).toString("utf8");
      }
      parts.push(this.#head);
      if (!(await this.#more())) return undefined;
    }
  }

  /** Hands the next `n` bytes to `sink`; false when the stream ends first. */
  async take(n: number, sink: (chunk: Uint8Array) => Promise<void> | void): Promise<boolean> {
    let left = n;
    while (left > 0) {
      if (this.#head.length === 0 && !(await this.#more())) return false;
      const piece = this.#head.subarray(0, Math.min(left, this.#head.length));
      this.#head = this.#head.subarray(piece.length);
      left -= piece.length;
      await sink(piece);
    }
    return true;
  }

  async #more(): Promise<boolean> {
    const next = await this.#chunks.next();
    if (next.done) return false;
    this.#head = next.value;
    return true;
  }
}
