// Owns the spool: batches kept on disk, one file each, until the store has them; claimed by rename, bounded in bytes.

import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OtlpLogRecord, OtlpMetric, OtlpSpan } from '../otlp/model.js';
import type { Batch, QueuedItem, Signal } from './export/types.js';

const SUFFIX = '.batch';
const CLAIMED = '.claimed-';
const VERSION = 1;

/** A spooled batch this process has claimed: it is sending it, and removes or releases it after. */
export interface SpoolClaim {
  batch: Batch;
  file: string;
}

interface SpoolFile {
  name: string;
  bytes: number;
  events: number;
}

/** Sync file I/O throughout: the spool is written from process 'exit' and signal handlers, where nothing async runs. */
export class Spool {
  private seq = 0;
  /** Files on disk not claimed by anyone, oldest first; filled by scan(). */
  private files: SpoolFile[] | undefined;

  constructor(
    readonly dir: string,
    private readonly maxBytes: number,
    /** Told how many events were dropped to keep the spool under maxBytes. */
    private readonly onDrop: (events: number) => void = () => undefined,
  ) {}

  /** Events waiting on disk (not claimed). */
  get pendingEvents(): number {
    return (this.files ?? []).reduce((n, f) => n + f.events, 0);
  }

  /** Reads the folder: files left by earlier runs (or by crashed claimers) become pending. Returns pending events. */
  scan(): number {
    const found: SpoolFile[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      this.files = [];
      return 0;
    }
    for (let name of names.sort()) {
      const claimed = name.indexOf(CLAIMED);
      if (claimed !== -1) {
        // A claim by a process that is gone (killed while sending) is released for us to send.
        const pid = Number(name.slice(claimed + CLAIMED.length));
        if (pid === process.pid || alive(pid)) continue;
        const released = name.slice(0, claimed);
        try {
          renameSync(join(this.dir, name), join(this.dir, released));
        } catch {
          continue;
        }
        name = released;
      }
      if (!name.endsWith(SUFFIX)) continue;
      try {
        found.push({ name, bytes: statSync(join(this.dir, name)).size, events: eventsOf(name) });
      } catch {
        // Taken by another process between readdir and stat.
      }
    }
    found.sort((a, b) => (a.name < b.name ? -1 : 1));
    this.files = found;
    return this.pendingEvents;
  }

  /**
   * Writes a batch (atomically: a temp file renamed), dropping the oldest pending files past maxBytes. With `claim`,
   * the file is written as claimed by this process (it is about to send it) and the claim is returned.
   */
  write(batch: Batch, claim = false): SpoolClaim | undefined {
    if (!this.files) this.scan();
    const files = this.files as SpoolFile[];
    const text = encodeBatch(batch);
    const name = `${String(Date.now()).padStart(15, '0')}-${process.pid}-${String(this.seq++).padStart(6, '0')}-${batch.id}.${batch.events.length}${SUFFIX}`;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const bytes = Buffer.byteLength(text);
    let total = files.reduce((n, f) => n + f.bytes, 0) + bytes;
    let dropped = 0;
    while (total > this.maxBytes && files.length > 0) {
      const oldest = files.shift() as SpoolFile;
      try {
        unlinkSync(join(this.dir, oldest.name));
        dropped += oldest.events;
      } catch {
        // Claimed by another process meanwhile: it is theirs to send.
      }
      total -= oldest.bytes;
    }
    if (dropped > 0) this.onDrop(dropped);
    if (bytes > this.maxBytes) {
      this.onDrop(batch.events.length);
      return undefined;
    }
    const final = claim ? `${name}${CLAIMED}${process.pid}` : name;
    const temp = join(this.dir, `.${name}.tmp`);
    writeFileSync(temp, text, { mode: 0o600 });
    renameSync(temp, join(this.dir, final));
    if (!claim) files.push({ name, bytes, events: batch.events.length });
    return { batch, file: final };
  }

  /** Claims the oldest pending batch (rename to a name carrying our pid); undefined when none is left. */
  claim(): SpoolClaim | undefined {
    if (!this.files) this.scan();
    const files = this.files as SpoolFile[];
    for (let next = files.shift(); next; next = files.shift()) {
      const claimed = `${next.name}${CLAIMED}${process.pid}`;
      try {
        renameSync(join(this.dir, next.name), join(this.dir, claimed));
      } catch {
        continue; // another client of this project claimed it first
      }
      try {
        return { batch: decodeBatch(readFileSync(join(this.dir, claimed), 'utf8')), file: claimed };
      } catch {
        // Unreadable (written by an incompatible version, or damaged): not sendable, so not kept.
        this.onDrop(next.events);
        unlinkQuietly(join(this.dir, claimed));
      }
    }
    return undefined;
  }

  /** The store has the batch (or refused it for good): the file goes. */
  remove(claim: SpoolClaim): void {
    unlinkQuietly(join(this.dir, claim.file));
  }

  /** The batch could not be sent: it goes back to pending, for a later attempt or the next run. */
  release(claim: SpoolClaim): void {
    const name = claim.file.slice(0, claim.file.indexOf(CLAIMED));
    try {
      renameSync(join(this.dir, claim.file), join(this.dir, name));
    } catch {
      return;
    }
    const files = this.files ?? (this.files = []);
    files.push({ name, bytes: safeSize(join(this.dir, name)), events: claim.batch.events.length });
    files.sort((a, b) => (a.name < b.name ? -1 : 1));
  }
}

function eventsOf(name: string): number {
  const match = /\.(\d+)\.batch$/.exec(name);
  return match ? Number(match[1]) : 0;
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}

function safeSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** A span as JSON: ids as hex, nanosecond times as decimal strings; fields added later go through the generic form. */
interface SpanJson {
  t: string;
  s: string;
  ps: string;
  n: string;
  k: number;
  st: string;
  en: string;
  a: Record<string, string>;
  sc: number;
  sm: string;
  /** Any other field of the span, with byte arrays as {"$b": hex} and bigints as {"$n": "…"}. */
  x?: Record<string, unknown>;
}

const KNOWN = new Set(['traceId', 'spanId', 'parentSpanId', 'name', 'kind', 'startTimeUnixNano', 'endTimeUnixNano', 'attributes', 'status']);
const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

function toJsonValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $b: hex(value) };
  if (typeof value === 'bigint') return { $n: value.toString() };
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
  return value;
}

function fromJsonValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonValue);
  if (value && typeof value === 'object') {
    const v = value as { $b?: unknown; $n?: unknown };
    if (typeof v.$b === 'string' && Object.keys(v).length === 1) return new Uint8Array(Buffer.from(v.$b, 'hex'));
    if (typeof v.$n === 'string' && Object.keys(v).length === 1) return BigInt(v.$n);
    return Object.fromEntries(Object.entries(value).map(([k, inner]) => [k, fromJsonValue(inner)]));
  }
  return value;
}

function spanToJson(span: OtlpSpan): SpanJson {
  const out: SpanJson = {
    t: hex(span.traceId),
    s: hex(span.spanId),
    ps: hex(span.parentSpanId),
    n: span.name,
    k: span.kind,
    st: span.startTimeUnixNano.toString(),
    en: span.endTimeUnixNano.toString(),
    a: span.attributes,
    sc: span.status.code,
    sm: span.status.message,
  };
  for (const key in span) {
    if (!KNOWN.has(key)) (out.x ??= {})[key] = toJsonValue((span as unknown as Record<string, unknown>)[key]);
  }
  return out;
}

function spanFromJson(json: SpanJson): OtlpSpan {
  const span: OtlpSpan = {
    traceId: new Uint8Array(Buffer.from(json.t, 'hex')),
    spanId: new Uint8Array(Buffer.from(json.s, 'hex')),
    parentSpanId: new Uint8Array(Buffer.from(json.ps, 'hex')),
    name: json.n,
    kind: json.k,
    startTimeUnixNano: BigInt(json.st),
    endTimeUnixNano: BigInt(json.en),
    attributes: json.a,
    status: { code: json.sc, message: json.sm },
  };
  if (json.x) Object.assign(span, fromJsonValue(json.x));
  return span;
}

/** A batch as one JSON document: spans, log records and metric points exactly as they were, so the next run sends the same bytes. */
export function encodeBatch(batch: Batch): string {
  const events = batch.events.map((e) =>
    e.signal === 'span' ? { p: e.projectName ?? null, s: spanToJson(e.span as OtlpSpan) } : e.signal === 'log' ? { p: e.projectName ?? null, l: toJsonValue(e.record) } : { p: e.projectName ?? null, m: toJsonValue(e.metric) },
  );
  return JSON.stringify({ v: VERSION, id: batch.id, signal: batch.signal, resource: batch.resource, sdkVersion: batch.sdkVersion, events });
}

const SIGNALS: ReadonlySet<string> = new Set<Signal>(['span', 'log', 'metric']);

export function decodeBatch(text: string): Batch {
  const raw = JSON.parse(text) as { v: number; id: string; signal: Signal; resource: Batch['resource']; sdkVersion: string; events: Array<{ p: string | null; s?: SpanJson; l?: unknown; m?: unknown }> };
  if (raw.v !== VERSION || typeof raw.id !== 'string' || !SIGNALS.has(raw.signal) || !Array.isArray(raw.events)) throw new Error('not a spooled batch of this version');
  const events: QueuedItem[] = raw.events.map(({ p, s: json, l, m }): QueuedItem => {
    const projectName = p ?? undefined;
    if (raw.signal === 'log') return { signal: 'log', record: fromJsonValue(l) as OtlpLogRecord, projectName, scrubbed: true };
    if (raw.signal === 'metric') return { signal: 'metric', metric: fromJsonValue(m) as OtlpMetric, projectName, scrubbed: true };
    const span = spanFromJson(json as SpanJson);
    return {
      signal: 'span',
      name: span.name,
      attributes: span.attributes,
      startMs: Number(span.startTimeUnixNano / 1_000_000n),
      durationMs: Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6,
      error: span.status.code === 2,
      statusMessage: span.status.message,
      traceId: undefined,
      projectName,
      span,
    };
  });
  return { id: raw.id, signal: raw.signal, resource: raw.resource, sdkVersion: raw.sdkVersion, events };
}
