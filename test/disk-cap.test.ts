// The size cap: chosen at the first start (or by --max-disk-mb) and remembered; past it the engine drops the oldest
// day partitions first, keeps the newest data, and the rollups follow the days dropped.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { startStack, type RunningStack } from './helpers/stack.js';

const MIB = 1024 * 1024;
const DAY = 86_400_000;

interface DiskJson {
  capBytes: number;
  capSource: string;
  dataBytes?: number;
  freeBytes: number;
  totalBytes: number;
  dropped: { partitions: number; rows: number; bytes: number; last?: { table: string; partition: string } };
}

const status = async (stack: RunningStack) => JSON.parse((await cli(['status', '--json'], stack.home.env)).stdout) as { disk: DiskJson };
const day = (offset: number) => new Date(Date.now() - offset * DAY).toISOString().slice(0, 10);

describe('the size cap, as a user sets it', () => {
  let stack: RunningStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  it('defaults to a tenth of the free space at the first start (at most 10 GiB), shown by status and kept across restarts', async () => {
    const first = (await status(stack)).disk;
    expect(first.capSource).toMatch(/^default: 10% of the \d+ MiB free at the first start, at most 10 GiB$/);
    const freeAtStart = Number(/of the (\d+) MiB free/.exec(first.capSource)?.[1]);
    expect(Number.isInteger(first.capBytes / MIB)).toBe(true);
    expect(Math.abs(first.capBytes / MIB - Math.min(10 * 1024, freeAtStart * 0.1))).toBeLessThanOrEqual(1);
    expect(first.freeBytes).toBeGreaterThan(0);
    expect(first.totalBytes).toBeGreaterThanOrEqual(first.freeBytes);
    const remembered = JSON.parse(await readFile(join(stack.home.home, 'run', 'stack.json'), 'utf8')) as { maxDiskMb: number };
    expect(remembered.maxDiskMb * MIB).toBe(first.capBytes);

    expect((await cli(['restart'], stack.home.env)).code).toBe(0);
    expect((await status(stack)).disk).toMatchObject({ capBytes: first.capBytes, capSource: first.capSource });
  });

  it('takes --max-disk-mb on start, remembers it, and prints it in status', async () => {
    expect((await cli(['stop'], stack.home.env)).code).toBe(0);
    expect((await cli(['start', '--max-disk-mb', '512'], stack.home.env)).code).toBe(0);
    expect((await status(stack)).disk).toMatchObject({ capBytes: 512 * MIB, capSource: '--max-disk-mb' });
    const text = await cli(['status'], stack.home.env);
    expect(text.stdout).toMatch(/size cap\s+.* of 512(\.0)? MiB \(--max-disk-mb\)/);
    expect(text.stdout).toMatch(/disk free\s+\S+ \S+ of /);
    // A later start without the flag keeps it.
    expect((await cli(['restart'], stack.home.env)).code).toBe(0);
    expect((await status(stack)).disk.capBytes).toBe(512 * MIB);
  });

  it('refuses a cap that is not a number, naming the setting', async () => {
    const result = await cli(['start', '--max-disk-mb', 'lots'], stack.home.env);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('--max-disk-mb="lots" (from flag) is not valid: expected a number, 0 or more');
    const negative = await cli(['start', '--max-disk-mb', '-5'], stack.home.env);
    expect(negative.stderr).toContain('--max-disk-mb="-5" (from flag) is not valid: expected a number, 0 or more');
    const tooOften = await cli(['status'], { ...stack.home.env, AUTOMAGIK_TELEMETRY_DISK_CHECK_SECONDS: '0.01' });
    expect(tooOften.code).toBe(2);
    expect(tooOften.stderr).toContain('AUTOMAGIK_TELEMETRY_DISK_CHECK_SECONDS="0.01" (from environment) is not valid: expected a number of seconds, 1 or more');
  });
});

describe('data past the cap', () => {
  let stack: RunningStack;
  beforeAll(async () => {
    stack = await startStack({ AUTOMAGIK_TELEMETRY_MAX_DISK_MB: '2', AUTOMAGIK_TELEMETRY_DISK_CHECK_SECONDS: '1' });
  });
  afterAll(() => stack.stop());

  it('loses its oldest days first, whole; the newest day stays whole and the rollup follows the days dropped', async () => {
    // Six days of events (in the first minutes of each UTC day), over 0.5 MiB of parts a day even merged (random padding): not all fit in 2 MiB.
    const today = Date.parse(`${day(0)}T00:00:00Z`);
    const noise = () => Math.random().toString(36).slice(2);
    const events: string[] = [];
    for (let d = 5; d >= 0; d--) {
      for (let i = 0; i < 8_000; i++) events.push(JSON.stringify({ event: `e${i % 40}`, project: 'capped', timestamp: today - d * DAY + 60_000 + i * 50, attributes: { n: i, pad: noise() + noise() + noise() + noise() + noise() + noise() + noise() + noise() + noise() + noise() + noise() + noise() } }));
    }
    const sent = await cli(['send', '--stdin', '--backend', 'clickhouse', '--json'], stack.home.env, events.join('\n') + '\n');
    expect(JSON.parse(sent.stdout)).toMatchObject({ sent: 48_000, failed: 0 });

    // The engine checks every second: wait until what it recorded and what the store holds agree, under the cap.
    const daysStored = () => stack.rows<{ d: string; n: number }>("SELECT toString(toDate(timestamp)) AS d, count() AS n FROM telemetry.traces WHERE project_name = 'capped' GROUP BY d ORDER BY d");
    let disk: DiskJson = (await status(stack)).disk;
    let days = await daysStored();
    // (The figures in status are the last check's: one taken before the send landed shows no drop yet.)
    for (let tries = 0; tries < 60 && (disk.dataBytes === undefined || disk.dataBytes > disk.capBytes || disk.dropped.partitions === 0 || disk.dropped.partitions !== 6 - days.length); tries++) {
      await new Promise((r) => setTimeout(r, 500));
      disk = (await status(stack)).disk;
      days = await daysStored();
    }
    expect(disk.capBytes).toBe(2 * MIB);
    expect(disk.dataBytes).toBeLessThanOrEqual(disk.capBytes);

    const kept = days.map((r) => r.d);
    const expectedAll = [5, 4, 3, 2, 1, 0].map(day);
    // What is left is the newest days, each whole; what went is the oldest ones.
    expect(kept).toEqual(expectedAll.slice(expectedAll.length - kept.length));
    expect(kept.length).toBeGreaterThanOrEqual(1);
    expect(kept.length).toBeLessThan(6);
    for (const row of days) expect(Number(row.n)).toBe(8_000);
    expect(disk.dropped).toMatchObject({ partitions: 6 - kept.length, rows: (6 - kept.length) * 8_000 });
    expect(disk.dropped.last).toMatchObject({ table: 'traces', partition: expectedAll[6 - kept.length - 1]?.replace(/-/g, '') });

    // The rollup holds exactly the days (and counts) the raw rows hold.
    const rollup = await stack.rows<{ d: string; n: string }>("SELECT toString(toDate(hour)) AS d, sum(total_count) AS n FROM telemetry.metrics_hourly WHERE project_name = 'capped' GROUP BY d ORDER BY d");
    expect(rollup).toEqual(days);

    // New data keeps landing.
    const more = await cli(['send', '--event', 'after-the-cap', '--project', 'capped-later'], stack.home.env);
    expect(more.code).toBe(0);
    expect(await stack.rows("SELECT span_name FROM telemetry.traces WHERE project_name = 'capped-later'")).toEqual([{ span_name: 'after-the-cap' }]);

    // Logged, partition by partition, and counted in the human status. (The send above may have pushed the data past
    // the cap again, and the next check dropped one more day: the log and the status agree either way.)
    const after = (await status(stack)).disk;
    expect(after.dropped.partitions).toBeGreaterThanOrEqual(6 - kept.length);
    const log = await readFile(join(stack.home.home, 'run', 'engine.log'), 'utf8');
    expect(log.split('\n').filter((l) => l.includes('size cap: dropped the oldest partition')).length).toBe(after.dropped.partitions);
    expect((await cli(['status'], stack.home.env)).stdout).toMatch(new RegExp(`cap dropped\\s+${after.dropped.partitions} partition\\(s\\), ${after.dropped.rows} rows`));
  });
});
