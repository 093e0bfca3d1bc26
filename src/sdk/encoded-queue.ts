// Owns the SDK's bounded queue kept mostly off the JS heap: items encoded as text live in reused byte slabs, so a
// queue that churns (the store down, the oldest dropped) leaves the garbage collector nothing long-lived to move.

/** Bytes per slab: one allocation holds about a thousand typical events. */
const SLAB_BYTES = 256 * 1024;
/** Emptied slabs kept for reuse rather than freed and allocated again. */
const SPARE_SLABS = 2;

/**
 * A FIFO of at most `capacity` items, dropping the oldest when full. An item pushed as a string is
 * its encoded form, kept as UTF-8 bytes in a slab and decoded by `decode` when taken; any other item is kept as is.
 */
export class EncodedQueue<T> {
  private readonly slabOf: Int32Array;
  private readonly offsetOf: Int32Array;
  private readonly lengthOf: Int32Array;
  private readonly objects: (T | undefined)[];
  private head = 0;
  private count = 0;
  private readonly slabs = new Map<number, Buffer>();
  private readonly spare: Buffer[] = [];
  private writeSlab = -1;
  private writeOffset = 0;
  /** Where the current slab ends (0 before the first, and after an item that had a slab of its own). */
  private writeLimit = 0;
  /** The lowest slab id still in `slabs`. */
  private oldestSlab = 0;

  constructor(
    private readonly capacity: number,
    private readonly decode: (text: string) => T,
  ) {
    this.slabOf = new Int32Array(capacity);
    this.offsetOf = new Int32Array(capacity);
    this.lengthOf = new Int32Array(capacity);
    this.objects = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Adds an item (a string is an encoded one); returns how many of the oldest were dropped to make room (0 or 1). */
  push(item: T | string, reserved = 0): number {
    let dropped = 0;
    while (this.count > 0 && this.count + reserved >= this.capacity) {
      this.dropHead();
      dropped++;
    }
    if (this.count + reserved >= this.capacity) return dropped + 1; // no room at all: the new item is the one dropped
    const at = (this.head + this.count) % this.capacity;
    if (typeof item === 'string') {
      this.objects[at] = undefined;
      this.write(at, item);
    } else {
      this.objects[at] = item;
      this.lengthOf[at] = -1;
    }
    this.count++;
    return dropped;
  }

  take(max: number): T[] {
    const n = Math.min(max, this.count);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) {
      const at = this.head;
      const object = this.objects[at];
      if (this.lengthOf[at] === -1) out[i] = object as T;
      else {
        const slab = this.slabs.get(this.slabOf[at] as number) as Buffer;
        const offset = this.offsetOf[at] as number;
        out[i] = this.decode(slab.toString('utf8', offset, offset + (this.lengthOf[at] as number)));
      }
      this.dropHead();
    }
    return out;
  }

  private write(at: number, text: string): void {
    // A UTF-16 unit is at most 3 UTF-8 bytes: reserve that much, record what was written.
    const room = text.length * 3;
    if (room > SLAB_BYTES) {
      // An item bigger than a slab gets a slab of its own, and the next item a fresh one.
      const own = Buffer.from(text);
      this.addSlab(own);
      this.record(at, 0, own.length);
      this.writeLimit = 0;
      return;
    }
    if (this.writeOffset + room > this.writeLimit) {
      this.addSlab(this.spare.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES));
      this.writeOffset = 0;
      this.writeLimit = SLAB_BYTES;
    }
    const written = (this.slabs.get(this.writeSlab) as Buffer).write(text, this.writeOffset);
    this.record(at, this.writeOffset, written);
    this.writeOffset += written;
  }

  private record(at: number, offset: number, length: number): void {
    this.slabOf[at] = this.writeSlab;
    this.offsetOf[at] = offset;
    this.lengthOf[at] = length;
  }

  private addSlab(slab: Buffer): void {
    this.writeSlab++;
    this.slabs.set(this.writeSlab, slab);
  }

  private dropHead(): void {
    this.objects[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    this.release();
  }

  /** Slabs no queued item points into any more go back to the spares (or are let go). */
  private release(): void {
    // Items are in slab order: the head's slab is the lowest in use (an object at the head tells nothing: wait).
    let lowest: number;
    if (this.count === 0) lowest = this.writeSlab;
    else if (this.lengthOf[this.head] !== -1) lowest = this.slabOf[this.head] as number;
    else return;
    for (; this.oldestSlab < lowest; this.oldestSlab++) {
      const slab = this.slabs.get(this.oldestSlab);
      this.slabs.delete(this.oldestSlab);
      if (slab && slab.length === SLAB_BYTES && this.spare.length < SPARE_SLABS) this.spare.push(slab);
    }
  }
}
