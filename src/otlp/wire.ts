// Owns reading protobuf's wire format by hand (tags, varints, fixed64, length-delimited fields) for the receiver's
// fast decoders, which turn OTLP requests into rows without building a message object per item.

/** The bytes are not what the fast path expects; the caller decodes the request the full way instead. */
export class WireMismatch extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'WireMismatch';
  }
}

const TWO_32 = 4_294_967_296;

/** A cursor over one message's bytes [pos, end). */
export class WireReader {
  pos: number;
  /** The halves of the last varint64() or fixed64() read (kept here so reading one allocates nothing). */
  lo = 0;
  hi = 0;

  constructor(
    readonly buf: Buffer,
    start: number,
    /** Where the message being read ends; enter() and leave() move it for a nested message. */
    public end: number,
  ) {
    this.pos = start;
  }

  /** Starts reading a length-delimited nested message; returns the outer end, for leave(). */
  enter(): number {
    const outer = this.end;
    this.end = this.bytesEnd();
    return outer;
  }

  /** Goes back to the outer message, after the nested one (unread fields of it skipped). */
  leave(outer: number): void {
    this.pos = this.end;
    this.end = outer;
  }

  /** The next field's tag (field number << 3 | wire type), or -1 at the end of the message. */
  tag(): number {
    return this.pos < this.end ? this.varint32() : -1;
  }

  /** A varint that fits in 32 bits (tags, lengths, enums, bools); larger ones are read and truncated as protobuf does. */
  varint32(): number {
    const buf = this.buf;
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new WireMismatch('truncated varint');
      const byte = buf[this.pos++] as number;
      if (shift < 32) result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result >>> 0;
      shift += 7;
      if (shift > 63) throw new WireMismatch('varint longer than 10 bytes');
    }
  }

  /** A 64-bit varint into lo and hi (unsigned halves). */
  varint64(): void {
    const buf = this.buf;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new WireMismatch('truncated varint');
      const byte = buf[this.pos++] as number;
      const bits = byte & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else if (shift < 64) hi |= bits << (shift - 32);
      if ((byte & 0x80) === 0) {
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return;
      }
      shift += 7;
      if (shift > 63) throw new WireMismatch('varint longer than 10 bytes');
    }
  }

  /** A fixed64 field into lo and hi. */
  fixed64(): void {
    if (this.pos + 8 > this.end) throw new WireMismatch('truncated fixed64');
    const buf = this.buf;
    const p = this.pos;
    this.lo = ((buf[p] as number) | ((buf[p + 1] as number) << 8) | ((buf[p + 2] as number) << 16) | ((buf[p + 3] as number) << 24)) >>> 0;
    this.hi = ((buf[p + 4] as number) | ((buf[p + 5] as number) << 8) | ((buf[p + 6] as number) << 16) | ((buf[p + 7] as number) << 24)) >>> 0;
    this.pos = p + 8;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw new WireMismatch('truncated double');
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  /** A length-delimited field: returns its end; the cursor is at its start. */
  bytesEnd(): number {
    const length = this.varint32();
    const end = this.pos + length;
    if (end > this.end) throw new WireMismatch('length-delimited field runs past its message');
    return end;
  }

  string(): string {
    const end = this.bytesEnd();
    const text = this.buf.toString('utf8', this.pos, end);
    this.pos = end;
    return text;
  }

  /** Skips a field of the given wire type. */
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint64();
        return;
      case 1:
        if (this.pos + 8 > this.end) throw new WireMismatch('truncated fixed64');
        this.pos += 8;
        return;
      case 2:
        this.pos = this.bytesEnd();
        return;
      case 5:
        if (this.pos + 4 > this.end) throw new WireMismatch('truncated fixed32');
        this.pos += 4;
        return;
      default:
        throw new WireMismatch(`wire type ${wireType} is not one OTLP uses`);
    }
  }
}

/** An unsigned 64-bit value from its halves, as exact decimal text. */
export function uint64Text(lo: number, hi: number): string {
  return hi === 0 ? String(lo) : ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

/** A signed (two's complement) 64-bit value from its halves, as exact decimal text. */
export function int64Text(lo: number, hi: number): string {
  if (hi === 0) return String(lo);
  if (hi === 0xffffffff && lo !== 0) return String(lo - TWO_32);
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString();
}

/** Whole milliseconds of a nanosecond timestamp given as halves, exactly (no float rounding at 1e18). */
export function nanosToMillis(lo: number, hi: number): number {
  // hi * 2^32 = hi * 4294 * 1e6 + hi * 967296, and hi * 967296 + lo stays below 2^53.
  return hi * 4294 + Math.floor((hi * 967_296 + lo) / 1_000_000);
}

/** a - b for two nanosecond timestamps given as halves, in nanoseconds (exact below 2^53, ~104 days). */
export function nanosDiff(aLo: number, aHi: number, bLo: number, bHi: number): number {
  return (aHi - bHi) * TWO_32 + (aLo - bLo);
}
