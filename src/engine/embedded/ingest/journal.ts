// Owns the ingest journal: each coalesced batch written down before it is inserted, and the tokens of stored requests.

import { appendFileSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InsertRequest } from '../database.js';

export interface JournalEntry {
  batchId: string;
  /** The request tokens the batch stores; once it is committed, a request with one of them is stored already. */
  tokens: string[];
  request: Omit<InsertRequest, 'data'>;
  data: Buffer;
}

/**
 * Exactly once across a kill -9, with batches that mix many requests:
 * 1. `begin` writes the batch (rows and the tokens of its requests) to `wal/<batchId>`;
 * 2. the caller inserts it with `insert_deduplication_token = batchId`;
 * 3. `commit` appends its tokens to `tokens.log` and removes the wal file; then the requests are acknowledged.
 * After a crash, `pending()` gives the batches still in `wal/`: inserting each again with its batchId is a no-op if
 * step 2 had completed (the table's own deduplication) and stores it otherwise; either way a retried request then
 * finds its token and is not stored twice. The files are written, not fsynced: they outlive the process, which is
 * what a kill -9 takes, not the machine.
 */
export class IngestJournal {
  private readonly tokens = new Set<string>();
  /** Remembered tokens, oldest first, from `head` on (a queue without O(n) shifts). */
  private order: string[] = [];
  private head = 0;
  private logLines = 0;

  private constructor(
    private readonly dir: string,
    /** How many request tokens are remembered (the deduplication window). */
    private readonly window: number,
  ) {}

  static open(dir: string, window: number): IngestJournal {
    mkdirSync(join(dir, 'wal'), { recursive: true });
    const journal = new IngestJournal(dir, window);
    let text = '';
    try {
      text = readFileSync(journal.logFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const lines = text.split('\n').filter((l) => l !== '');
    for (const token of lines.slice(-window)) journal.remember(token);
    journal.logLines = lines.length;
    if (lines.length > window) journal.compact();
    return journal;
  }

  has(token: string): boolean {
    return this.tokens.has(token);
  }

  begin(entry: JournalEntry): void {
    const base = join(this.dir, 'wal', entry.batchId);
    writeFileSync(`${base}.rows`, entry.data);
    // The meta file is written last, under its final name only once complete: its presence means the entry is whole.
    writeFileSync(`${base}.meta.tmp`, JSON.stringify({ batchId: entry.batchId, tokens: entry.tokens, request: entry.request }));
    renameSync(`${base}.meta.tmp`, `${base}.meta`);
  }

  commit(batchId: string, tokens: string[]): void {
    if (tokens.length > 0) {
      appendFileSync(this.logFile, `${tokens.join('\n')}\n`);
      for (const token of tokens) this.remember(token);
      this.logLines += tokens.length;
    }
    this.forget(batchId);
    if (this.logLines > this.window * 2) this.compact();
  }

  /** Drops a batch whose insert failed: nothing of it is stored, and its requests are told so. */
  abort(batchId: string): void {
    this.forget(batchId);
  }

  /** Batches begun but not committed before the last stop. */
  pending(): JournalEntry[] {
    const out: JournalEntry[] = [];
    for (const name of readdirSync(join(this.dir, 'wal'))) {
      if (!name.endsWith('.meta')) continue;
      const base = join(this.dir, 'wal', name.slice(0, -'.meta'.length));
      try {
        const meta = JSON.parse(readFileSync(`${base}.meta`, 'utf8')) as Omit<JournalEntry, 'data'>;
        out.push({ ...meta, data: readFileSync(`${base}.rows`) });
      } catch {
        rmSync(`${base}.meta`, { force: true });
        rmSync(`${base}.rows`, { force: true });
      }
    }
    return out;
  }

  private get logFile(): string {
    return join(this.dir, 'tokens.log');
  }

  private remember(token: string): void {
    if (this.tokens.has(token)) return;
    this.tokens.add(token);
    this.order.push(token);
    if (this.order.length - this.head > this.window) this.tokens.delete(this.order[this.head++] as string);
    if (this.head > this.window) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  private forget(batchId: string): void {
    const base = join(this.dir, 'wal', batchId);
    rmSync(`${base}.meta`, { force: true });
    rmSync(`${base}.rows`, { force: true });
  }

  /** Rewrites the token log with the remembered window only. */
  private compact(): void {
    const tmp = `${this.logFile}.tmp`;
    const kept = this.order.slice(this.head);
    writeFileSync(tmp, kept.length > 0 ? `${kept.join('\n')}\n` : '');
    renameSync(tmp, this.logFile);
    this.logLines = kept.length;
  }
}
