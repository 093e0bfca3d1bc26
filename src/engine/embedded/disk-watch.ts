// Owns the embedded engine's disk watch: every few seconds (AUTOMAGIK_TELEMETRY_DISK_CHECK_SECONDS, default 30) it
// measures the data against the size cap and drops the oldest day partitions past it; it also remembers the last
// write refused for lack of space. What it sees goes to <home>/run/disk.json for status and health.

import type { ClickHouseError } from '../../clickhouse/errors.js';
import type { Config } from '../../config/index.js';
import { enforceCap, overCapWords, type CapSql } from '../disk/cap.js';
import { readLedger, recordDrop, writeLedger, type DiskLedger } from '../disk/ledger.js';
import { defaultCapMb, filesystemSpace } from '../disk/space.js';
import type { EmbeddedDatabase } from './database.js';
import type { LogFn } from './http/respond.js';

const MIB = 1024 * 1024;

/** A space failure is written to the ledger at most this often (a full disk refuses many requests a second). */
const LEDGER_THROTTLE_MS = 1_000;

export class DiskWatch {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private ledger: DiskLedger;
  private lastSaved = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly db: EmbeddedDatabase,
    private readonly config: Config,
    private readonly capBytes: number,
    private readonly log: LogFn,
    previous: DiskLedger | undefined,
  ) {
    this.ledger = {
      capBytes,
      dataBytes: previous?.dataBytes ?? 0,
      checkedAt: previous?.checkedAt ?? new Date(0).toISOString(),
      dropped: previous?.dropped ?? { partitions: 0, rows: 0, bytes: 0 },
      recent: previous?.recent ?? [],
      ...(previous?.lastWriteAt ? { lastWriteAt: previous.lastWriteAt } : {}),
    };
  }

  /** Starts watching: a first check now, then one every config.disk.checkSeconds. */
  static async start(db: EmbeddedDatabase, config: Config, log: LogFn): Promise<DiskWatch> {
    const capMb = config.disk.maxDiskMb ?? defaultCapMb((await filesystemSpace(config.paths.dataDir)).freeBytes);
    const watch = new DiskWatch(db, config, Math.round(capMb * MIB), log, await readLedger(config.paths.runDir));
    db.observeWrites((failure) => watch.noteWrite(failure));
    log({ level: 'info', msg: 'disk watch', capMb, everySeconds: config.disk.checkSeconds });
    await watch.check();
    watch.timer = setInterval(() => void watch.check(), config.disk.checkSeconds * 1000);
    watch.timer.unref();
    return watch;
  }

  /** One measurement, and the drops the cap asks for; never throws (a failed check is logged and tried next time). */
  check(): Promise<void> {
    this.running ??= this.checkOnce()
      .catch((error: unknown) => this.log({ level: 'warn', msg: 'disk check failed', error: String((error as Error)?.message ?? error) }))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.saveTimer) clearTimeout(this.saveTimer);
    await this.running;
    await this.save().catch(() => undefined);
  }

  private async checkOnce(): Promise<void> {
    if (this.closed) return;
    const { plan } = await enforceCap(this.sql(), this.config.database, this.capBytes, new Date(), (drop) => {
      this.ledger = recordDrop(this.ledger, drop);
      this.log({ level: 'warn', msg: 'size cap: dropped the oldest partition', table: drop.table, partition: drop.partition, rows: drop.rows, bytes: drop.bytes, capBytes: this.capBytes });
    });
    const overCap = overCapWords(plan, this.capBytes);
    if (overCap && overCap !== this.ledger.overCap) this.log({ level: 'warn', msg: `size cap: ${overCap}` });
    this.ledger = { ...this.ledger, dataBytes: plan.afterBytes, checkedAt: new Date().toISOString() };
    if (overCap) this.ledger.overCap = overCap;
    else delete this.ledger.overCap;
    await this.save();
  }

  /** Called for every insert; a refusal for lack of space is recorded (and logged) for health to see. */
  private noteWrite(failure: ClickHouseError | undefined): void {
    const now = new Date().toISOString();
    if (failure === undefined) {
      const recovering = this.ledger.lastSpaceFailure !== undefined && (this.ledger.lastWriteAt ?? '') <= this.ledger.lastSpaceFailure.at;
      this.ledger.lastWriteAt = now;
      if (recovering) {
        // The first write since the disk was full: health should see it at once, not after the throttle.
        this.log({ level: 'info', msg: 'the store writes again' });
        void this.save().catch(() => undefined);
      }
      return;
    }
    if (failure.serverName !== 'NOT_ENOUGH_SPACE') return;
    const first = this.ledger.lastSpaceFailure === undefined || (this.ledger.lastWriteAt ?? '') > this.ledger.lastSpaceFailure.at;
    this.ledger.lastSpaceFailure = { at: now, code: failure.serverCode, message: failure.message.split('\n')[0] ?? '' };
    if (first) this.log({ level: 'error', msg: 'the store cannot write: not enough space', error: this.ledger.lastSpaceFailure.message });
    this.saveSoon();
  }

  private saveSoon(): void {
    if (this.saveTimer || this.closed) return;
    const wait = Math.max(0, this.lastSaved + LEDGER_THROTTLE_MS - Date.now());
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.save().catch(() => undefined);
    }, wait);
    this.saveTimer.unref();
  }

  private async save(): Promise<void> {
    this.lastSaved = Date.now();
    await writeLedger(this.config.paths.runDir, this.ledger);
  }

  /** The watch runs as the engine itself, on the database's own lane (no HTTP, no access policy). */
  private sql(): CapSql {
    return {
      rows: async <T>(query: string) => {
        const out = await this.db.query(query, { format: 'JSONEachRow' });
        const text = Buffer.from(out.body).toString('utf8');
        return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as T);
      },
      exec: async (statement: string) => {
        await this.db.query(statement);
      },
    };
  }
}
