// Owns keeping the embedded engine's hourly rollups: computed from the raw rows after they are stored (not by a
// materialized view inside each insert), the watermark advanced once a second, drift repaired on start.

import type { SqlRunner } from '../../schema/index.js';
import { ROLLUPS, insertedBetween, readWatermark, repairRollups, rollupInsert, writeWatermark, type RollupRepair, type RollupSpec } from '../../schema/rollups.js';
import type { LogFn } from './http/respond.js';

export const ROLLUP_INTERVAL_MS = 1_000;
/** Every so often the whole comparison runs again: it finds rows stamped behind the watermark (a clock set back). */
export const ROLLUP_REPAIR_EVERY_MS = 3_600_000;

export interface RollupKeeperStats {
  /** Watermark advances so far. */
  advances: number;
  /** Advances that failed (retried on the next tick, after a repair). */
  failures: number;
  /** Hours rebuilt by repairs (on start, after a failure, or on request). */
  rebuiltHours: number;
}

/**
 * A materialized view runs inside every insert: it costs each small insert a second write, and when it fails after
 * the raw part is committed (a full disk), the insert reports failure while its rows are stored and the rollup is
 * short. The keeper instead adds the rows inserted since the watermark to the rollup, then moves the watermark; the
 * views read the rows after the watermark raw, so readers see every stored row exactly once at any moment.
 * A crash between the two steps, or a failed step, is found by the hour-by-hour repair on the next start or tick.
 */
export class RollupKeeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private needsRepair = false;
  private lastRepair = Date.now();
  /** The watermarks as last written (the keeper is their only writer); read again from the table after a failure. */
  private readonly watermarks = new Map<string, string>();
  private readonly stats: RollupKeeperStats = { advances: 0, failures: 0, rebuiltHours: 0 };

  constructor(
    private readonly runner: SqlRunner,
    private readonly database: string,
    private readonly log: LogFn = () => undefined,
  ) {}

  /**
   * Takes the rollups over from the materialized views (dropped: the schema creates them for the Docker stack), starts
   * a watermark where there is none, and repairs any hour that differs from the raw rows. Call before serving.
   */
  async adopt(): Promise<RollupRepair[]> {
    for (const spec of ROLLUPS) {
      await this.runner.run(`DROP VIEW IF EXISTS ${this.database}.${spec.materializedView}`);
      // Until now the view had rolled up every stored row: the watermark starts at the newest of them.
      if ((await readWatermark(this.runner, this.database, spec)) === undefined) await writeWatermark(this.runner, this.database, spec, await this.newest(spec, undefined) ?? (await this.now()));
    }
    return this.repair();
  }

  /** Advances the watermarks every `intervalMs` until stopped. */
  start(intervalMs = ROLLUP_INTERVAL_MS): void {
    const tick = (): void => {
      this.timer = setTimeout(() => {
        this.running = this.advance().finally(() => {
          this.running = undefined;
          if (this.timer !== undefined) tick();
        });
      }, intervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** Stops ticking, and rolls up what was stored since the last tick. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    await this.advance();
  }

  counters(): Readonly<RollupKeeperStats> {
    return { ...this.stats };
  }

  /** Compares each rollup with the raw rows and rebuilds the hours that differ. */
  async repair(): Promise<RollupRepair[]> {
    const repairs = await repairRollups(this.runner, this.database);
    for (const repair of repairs) {
      if (repair.rebuilt.length === 0) continue;
      this.stats.rebuiltHours += repair.rebuilt.length;
      this.log({ level: 'warn', msg: 'rebuilt rollup hours that differed from the raw rows', rollup: repair.rollup, hours: repair.rebuilt.slice(0, 20) });
    }
    this.needsRepair = false;
    this.lastRepair = Date.now();
    return repairs;
  }

  /** Adds the rows stored since each watermark to its rollup, then moves the watermark to the newest of them. */
  async advance(): Promise<void> {
    try {
      if (this.needsRepair || Date.now() - this.lastRepair > ROLLUP_REPAIR_EVERY_MS) await this.repair();
      for (const spec of ROLLUPS) {
        const watermark = this.watermarks.get(spec.name) ?? (await readWatermark(this.runner, this.database, spec));
        if (watermark === undefined) continue;
        const newest = await this.newest(spec, watermark);
        if (newest === undefined) continue;
        await this.runner.run(rollupInsert(this.database, spec, insertedBetween(watermark, newest)));
        await writeWatermark(this.runner, this.database, spec, newest);
        this.watermarks.set(spec.name, newest);
        this.stats.advances++;
      }
    } catch (error) {
      // Part of an INSERT … SELECT may have landed: compare and rebuild before moving on. Until then the rows after
      // the watermark are read raw, so readers still see each of them once.
      this.stats.failures++;
      this.needsRepair = true;
      this.watermarks.clear();
      this.log({ level: 'warn', msg: 'could not advance the rollups; retrying after a repair', error: String((error as Error)?.message ?? error) });
    }
  }

  /**
   * The newest `inserted_at` after `after`, short of the current millisecond: every insert after this statement (the
   * lane runs one at a time) is stamped later than the watermark. A row stamped in the future (a client may send
   * inserted_at) is read raw until its time comes, rather than hiding every row inserted before then.
   */
  private async newest(spec: RollupSpec, after: string | undefined): Promise<string | undefined> {
    const text = (
      await this.runner.run(
        `SELECT if(count() = 0, '', toString(max(inserted_at))) FROM ${this.database}.${spec.raw} WHERE ${insertedBetween(after, undefined)} AND inserted_at < now64(3) - toIntervalMillisecond(1) FORMAT TabSeparated`,
      )
    ).trim();
    return text === '' ? undefined : text;
  }

  private async now(): Promise<string> {
    return (await this.runner.run('SELECT toString(now64(3)) FORMAT TabSeparated')).trim();
  }
}
