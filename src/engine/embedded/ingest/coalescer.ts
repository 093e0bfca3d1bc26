// Owns batching many small inserts into few: concurrent requests for one table are written as one insert, each
// acknowledged only once its rows are stored, each stored once however often it is retried.

import { createHash } from 'node:crypto';
import { CH, ClickHouseError, chError, toClickHouseError } from '../../../clickhouse/errors.js';
import type { InsertOutcome, InsertRequest } from '../database.js';
import { IngestJournal } from './journal.js';

export interface CoalescerLimits {
  /** Largest batch, in bytes of rows: one insert, one block (so it commits whole). */
  maxBatchBytes: number;
  /**
   * The longest a batch waits for company: while fewer requests are queued than writers were seen at once lately
   * (queued plus being written: each comes back with its next request once answered), else it goes at once. A lone
   * writer never waits; when the wait runs out, the writers that came are the new expectation.
   */
  waitMs: number;
  /** Rows held (queued and being written) across tables; past it a request is refused, retryable. */
  maxQueuedBytes: number;
}

export const COALESCER_DEFAULTS: Readonly<CoalescerLimits> = Object.freeze({ maxBatchBytes: 16 * 1024 * 1024, waitMs: 10, maxQueuedBytes: 256 * 1024 * 1024 });

/** Row formats whose bodies can be joined end to end (one row or record after another, no header). */
const JOINABLE = new Set(['JSONEachRow', 'JSONCompactEachRow', 'CSV', 'TSV', 'TabSeparated']);
/** Errors that name bad rows: the batch is tried again one request at a time, so only the bad request fails. */
const DATA_ERRORS = /^(CANNOT_PARSE_\w+|INCORRECT_DATA|TYPE_MISMATCH|CANNOT_READ_ALL_DATA|NO_SUCH_COLUMN_IN_TABLE|THERE_IS_NO_COLUMN|INCORRECT_NUMBER_OF_COLUMNS|VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE|ILLEGAL_COLUMN|UNKNOWN_IDENTIFIER|CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN|VIOLATED_CONSTRAINT|ATTEMPT_TO_READ_AFTER_EOF)$/;

interface Member {
  token: string | undefined;
  data: Buffer;
  rows: number;
  resolve(outcome: InsertOutcome): void;
  reject(error: unknown): void;
}

interface Lane {
  request: Omit<InsertRequest, 'data'>;
  queue: Member[];
  busy: boolean;
  /** Requests in the batch being written. */
  writing: number;
  timer: NodeJS.Timeout | undefined;
}

export type RawInsert = (request: InsertRequest) => Promise<InsertOutcome>;

export class InsertCoalescer {
  private readonly lanes = new Map<string, Lane>();
  /** How many writers each table had at once lately (queued plus being written): the next batch waits for them (bounded map). */
  private readonly expected = new Map<string, number>();
  /** Requests waiting for a batch that is being written, by token: a retry joins the original. */
  private readonly inFlight = new Map<string, Promise<InsertOutcome>>();
  private queuedBytes = 0;
  private readonly stats = { requests: 0, batches: 0, deduplicated: 0 };

  constructor(
    private readonly insertNow: RawInsert,
    private readonly journal: IngestJournal,
    private readonly limits: Readonly<CoalescerLimits> = COALESCER_DEFAULTS,
  ) {}

  /** Inserts the batches a crash left in the journal (each a no-op if it had been stored). Call before serving. */
  async recover(): Promise<number> {
    const pending = this.journal.pending();
    for (const entry of pending) {
      await this.insertNow({ ...entry.request, data: entry.data, settings: { ...entry.request.settings, insert_deduplication_token: entry.batchId } });
      this.journal.commit(entry.batchId, entry.tokens);
    }
    return pending.length;
  }

  /** How many requests, batches and deduplicated requests so far (for logs and the bench). */
  counters(): Readonly<{ requests: number; batches: number; deduplicated: number }> {
    return { ...this.stats };
  }

  insert(request: InsertRequest): Promise<InsertOutcome> {
    if (!JOINABLE.has(request.format)) return this.insertNow(request);
    const settings = { ...(request.settings ?? {}) };
    const explicit = settings.insert_deduplication_token;
    delete settings.insert_deduplication_token;
    const { data: _data, ...rest } = request;
    const shape: Omit<InsertRequest, 'data'> = { ...rest, settings };
    const key = JSON.stringify([request.database ?? '', request.table, request.format, request.columns ?? [], Object.entries(settings).sort()]);
    const token = settings.insert_deduplicate === '0' ? undefined : (explicit ?? bodyToken(key, request.data));
    this.stats.requests++;

    if (token !== undefined && this.journal.has(token)) {
      this.stats.deduplicated++;
      return Promise.resolve({ rowsWritten: 0, bytesWritten: 0, elapsedSeconds: 0 });
    }
    const joined = token !== undefined ? this.inFlight.get(`${key}\u0000${token}`) : undefined;
    if (joined) {
      this.stats.deduplicated++;
      return joined;
    }
    // One request alone always fits (the body limit bounds it); past that, the queue is bounded.
    if (this.queuedBytes > 0 && this.queuedBytes + request.data.length > this.limits.maxQueuedBytes) {
      return Promise.reject(
        chError(CH.TOO_MANY_SIMULTANEOUS_QUERIES, `the engine holds ${this.queuedBytes} bytes of rows waiting to be written (limit ${this.limits.maxQueuedBytes}); retry shortly`),
      );
    }

    const data = endsWithNewline(request.data) ? request.data : Buffer.concat([request.data, Buffer.from('\n')]);
    const promise = new Promise<InsertOutcome>((resolve, reject) => {
      const lane = this.lanes.get(key) ?? { request: shape, queue: [], busy: false, writing: 0, timer: undefined };
      this.lanes.set(key, lane);
      lane.queue.push({ token, data, rows: countRows(data), resolve, reject });
      this.queuedBytes += data.length;
      this.expect(key, Math.max(this.expected.get(key) ?? 1, lane.queue.length + lane.writing));
      this.schedule(key, lane);
    });
    if (token !== undefined) {
      const id = `${key}\u0000${token}`;
      this.inFlight.set(id, promise);
      void promise.catch(() => undefined).finally(() => this.inFlight.delete(id));
    }
    return promise;
  }

  /** Waits for every queued request to be written or refused. */
  async drain(): Promise<void> {
    while ([...this.lanes.values()].some((l) => l.busy || l.queue.length > 0)) {
      for (const [key, lane] of this.lanes) if (!lane.busy && lane.queue.length > 0) void this.flush(key, lane);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private schedule(key: string, lane: Lane): void {
    if (lane.busy) return;
    const size = lane.queue.reduce((n, m) => n + m.data.length, 0);
    const company = lane.queue.length >= (this.expected.get(key) ?? 1);
    if (company || size >= this.limits.maxBatchBytes || this.limits.waitMs <= 0) {
      void this.flush(key, lane);
      return;
    }
    if (lane.timer) return;
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      // Fewer came back than were expected: those that did are what to wait for next time.
      this.expect(key, lane.queue.length);
      void this.flush(key, lane);
    }, this.limits.waitMs);
  }

  private expect(key: string, writers: number): void {
    if (this.expected.size >= 1_000 && !this.expected.has(key)) this.expected.clear();
    this.expected.set(key, Math.max(1, writers));
  }

  private async flush(key: string, lane: Lane): Promise<void> {
    if (lane.busy || lane.queue.length === 0) return;
    if (lane.timer) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
    }
    lane.busy = true;
    const batch: Member[] = [];
    let bytes = 0;
    while (lane.queue.length > 0 && (batch.length === 0 || bytes + (lane.queue[0] as Member).data.length <= this.limits.maxBatchBytes)) {
      const member = lane.queue.shift() as Member;
      batch.push(member);
      bytes += member.data.length;
    }
    lane.writing = batch.length;
    try {
      await this.write(lane.request, batch);
    } finally {
      this.queuedBytes -= bytes;
      lane.busy = false;
      lane.writing = 0;
      // What arrived while this batch was written goes next (at once when as many writers are back as last time):
      // under load batches grow by themselves.
      if (lane.queue.length > 0) this.schedule(key, lane);
      else this.lanes.delete(key);
    }
  }

  private async write(request: Omit<InsertRequest, 'data'>, batch: Member[]): Promise<void> {
    const tokens = batch.map((m) => m.token).filter((t): t is string => t !== undefined);
    const batchId = createHash('sha256').update(batch.map((m, i) => m.token ?? `untokened:${i}:${Math.random()}`).join('\n')).digest('hex').slice(0, 40);
    const data = batch.length === 1 ? (batch[0] as Member).data : Buffer.concat(batch.map((m) => m.data));
    const deduplicate = request.settings?.insert_deduplicate !== '0';
    const started = performance.now();
    try {
      if (deduplicate) this.journal.begin({ batchId, tokens, request, data });
      const outcome = await this.insertNow({ ...request, data, settings: { ...request.settings, ...(deduplicate ? { insert_deduplication_token: batchId } : {}) } });
      if (deduplicate) this.journal.commit(batchId, tokens);
      this.stats.batches++;
      const elapsedSeconds = (performance.now() - started) / 1000;
      for (const member of batch) member.resolve({ rowsWritten: member.rows, bytesWritten: Math.round((outcome.bytesWritten * member.data.length) / Math.max(1, data.length)), elapsedSeconds });
    } catch (thrown) {
      if (deduplicate) this.journal.abort(batchId);
      const error = toClickHouseError(thrown);
      if (batch.length > 1 && DATA_ERRORS.test(error.serverName)) {
        // Rows of one request are bad: nothing of the batch was stored; write each request alone.
        for (const member of batch) await this.write(request, [member]);
        return;
      }
      for (const member of batch) member.reject(error instanceof ClickHouseError ? error : toClickHouseError(error));
    }
  }
}

function bodyToken(key: string, data: Buffer): string {
  return createHash('sha256').update(key).update('\u0000').update(data).digest('hex');
}

function endsWithNewline(data: Buffer): boolean {
  return data.length === 0 || data[data.length - 1] === 0x0a;
}

function countRows(data: Buffer): number {
  let rows = 0;
  for (let i = data.indexOf(0x0a); i !== -1; i = data.indexOf(0x0a, i + 1)) rows++;
  return rows;
}
