// Owns the bounded event queue: O(1) push and take, and dropping the oldest when full (counted by the caller).

export class BoundedQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.items.length - this.head;
  }

  /** Adds an item; returns how many of the oldest were dropped to make room (0 or 1). */
  push(item: T, reserved = 0): number {
    let dropped = 0;
    while (this.size > 0 && this.size + reserved >= this.capacity) {
      this.items[this.head++] = undefined;
      dropped++;
    }
    if (this.size + reserved >= this.capacity) return dropped + 1; // no room at all: the new item is the one dropped
    this.items.push(item);
    return dropped;
  }

  take(max: number): T[] {
    const end = Math.min(this.items.length, this.head + max);
    const out = this.items.slice(this.head, end) as T[];
    this.head = end;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
