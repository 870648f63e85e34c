/**
 * A ring of chunk slots in shared memory, through which a copy's reader thread
 * (read and hash) hands chunks to its writer thread (write), so hashing one
 * chunk overlaps writing the one before. Deno runs every file write on the
 * calling thread, so this overlap needs a second thread; shared memory keeps it
 * at one read per file and no copying between threads.
 *
 * Per file: the writer opens the destination, decides whether direct I/O works
 * and publishes the aligned offset of each slot; the reader then fills slots in
 * order, the writer empties them in order. Either side can abort the file and
 * the other stops at its next wait.
 */
import { CHUNK_BYTES, DIRECT_BUFFER_BYTES, DirectBuffer } from "./filecopy.ts";

export const RING_SLOTS = 4;

/** Control cells (Int32). */
const DECISION = 0; // 0 undecided, 1 direct, 2 buffered
const ABORT = 1; // non-zero: one side failed; the other stops
const STATE = 2; // STATE + slot: 0 empty, 1 full, 2 end of file
const LENGTH = STATE + RING_SLOTS; // LENGTH + slot: bytes held
const ALIGN = LENGTH + RING_SLOTS; // ALIGN + slot: offset of the slot's aligned view
const WRITTEN = ALIGN + RING_SLOTS; // chunks of this file written so far, for progress
const CELLS = WRITTEN + 1;

const EMPTY = 0;
const FULL = 1;
const END = 2;
/** Waits wake up this often to notice an abort. */
const WAIT_MS = 100;

export interface SharedRing {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export class CopyAborted extends Error {
  constructor() {
    super("copy aborted by the other side");
  }
}

export class ChunkRing {
  readonly control: Int32Array;
  /** One DirectBuffer per slot, over the shared memory; alignment is probed once. */
  readonly slots: DirectBuffer[];

  constructor(readonly shared: SharedRing) {
    this.control = new Int32Array(shared.control);
    this.slots = Array.from(
      { length: RING_SLOTS },
      (_, i) =>
        new DirectBuffer(new Uint8Array(shared.data, i * DIRECT_BUFFER_BYTES, DIRECT_BUFFER_BYTES)),
    );
  }

  static allocate(): ChunkRing {
    return new ChunkRing({
      control: new SharedArrayBuffer(CELLS * Int32Array.BYTES_PER_ELEMENT),
      data: new SharedArrayBuffer(RING_SLOTS * DIRECT_BUFFER_BYTES),
    });
  }

  /** Before each file, with neither side running. */
  reset(): void {
    this.control.fill(0);
  }

  abort(): void {
    Atomics.store(this.control, ABORT, 1);
    for (let i = 0; i < CELLS; i++) Atomics.notify(this.control, i);
  }

  // -- writer side

  /** Publishes whether this file is written directly, and each slot's aligned offset. */
  decide(direct: boolean): void {
    this.slots.forEach((slot, i) => {
      Atomics.store(this.control, ALIGN + i, direct ? slot.alignedOffset! : 0);
    });
    Atomics.store(this.control, DECISION, direct ? 1 : 2);
    Atomics.notify(this.control, DECISION);
  }

  /** The next chunk: its slot's view and how many bytes it holds; undefined at the end. */
  takeChunk(index: number): { view: Uint8Array; length: number } | undefined {
    const slot = index % RING_SLOTS;
    this.#waitWhile(STATE + slot, EMPTY);
    if (Atomics.load(this.control, STATE + slot) === END) return undefined;
    return { view: this.#view(slot), length: Atomics.load(this.control, LENGTH + slot) };
  }

  /** Frees the slot of chunk `index`, now written. */
  releaseChunk(index: number): void {
    const slot = index % RING_SLOTS;
    Atomics.store(this.control, WRITTEN, index + 1);
    Atomics.store(this.control, STATE + slot, EMPTY);
    Atomics.notify(this.control, STATE + slot);
  }

  /** How many chunks of this file are written: any thread may ask, at any time. */
  chunksWritten(): number {
    return Atomics.load(this.control, WRITTEN);
  }

  // -- reader side

  /** Waits for the writer's decision; returns whether writes are direct. */
  awaitDecision(): boolean {
    this.#waitWhile(DECISION, 0);
    return Atomics.load(this.control, DECISION) === 1;
  }

  /** The view to read chunk `index` into, once its slot is free. */
  slotFor(index: number): Uint8Array {
    const slot = index % RING_SLOTS;
    this.#waitWhile(STATE + slot, FULL);
    return this.#view(slot);
  }

  /** Hands the chunk read into slotFor(index) to the writer; 0 bytes marks the end. */
  putChunk(index: number, length: number): void {
    const slot = index % RING_SLOTS;
    Atomics.store(this.control, LENGTH + slot, length);
    Atomics.store(this.control, STATE + slot, length === 0 ? END : FULL);
    Atomics.notify(this.control, STATE + slot);
  }

  #view(slot: number): Uint8Array {
    const offset = Atomics.load(this.control, ALIGN + slot);
    return this.slots[slot].raw.subarray(offset, offset + CHUNK_BYTES);
  }

  #waitWhile(cell: number, value: number): void {
    while (Atomics.load(this.control, cell) === value) {
      if (Atomics.load(this.control, ABORT) !== 0) throw new CopyAborted();
      Atomics.wait(this.control, cell, value, WAIT_MS);
    }
    if (Atomics.load(this.control, ABORT) !== 0) throw new CopyAborted();
  }
}
