// The size cap as the Docker stack's keeper applies it: over ClickHouse HTTP as the admin role (here against the
// embedded engine's ClickHouse interface, which speaks the same protocol), and the plan it follows.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { planDrops, type PartitionSize } from '../src/engine/disk/cap.js';
import { keepOnce } from '../src/engine/disk/keeper.js';
import { spaceWarning } from '../src/engine/disk/status.js';
import { defaultCapMb } from '../src/engine/disk/space.js';
import { cli } from './helpers/cli.js';
import { startStack, type RunningStack } from './helpers/stack.js';

const MIB = 1024 * 1024;
const DAY = 86_400_000;

describe('the plan: which partitions go', () => {
  const p = (table: string, partition: string, mib: number): PartitionSize => ({ table, partition, rows: mib * 1000, bytes: mib * MIB });

  it('takes the oldest day first across tables (traces, logs, metrics on a tie) until the data fits', () => {
    const parts = [p('logs', '20261120', 1), p('traces', '20261120', 1), p('metrics', '20261121', 1), p('traces', '20261122', 1), p('traces', '20261126', 1), p('metrics_hourly_state', '202611', 1)];
    const plan = planDrops(parts, 3 * MIB, '20261126');
    expect(plan.drops.map((d) => `${d.table}/${d.partition}`)).toEqual(['traces/20261120', 'logs/20261120', 'metrics/20261121']);
    expect(plan).toMatchObject({ totalBytes: 6 * MIB, afterBytes: 3 * MIB, stillOver: false });
  });

  it('never drops today, nor the newest day stored, nor a rollup; says when that leaves the data over the cap', () => {
    expect(planDrops([p('traces', '20261126', 5), p('metrics_hourly_state', '202611', 1)], MIB, '20261126')).toMatchObject({ drops: [], stillOver: true });
    // Nothing came today: the newest day stored is kept instead.
    const quiet = planDrops([p('traces', '20261101', 2), p('logs', '20261103', 2)], MIB, '20261126');
    expect(quiet.drops.map((d) => d.partition)).toEqual(['20261101']);
    expect(quiet.stillOver).toBe(true);
    // Under the cap: nothing to do.
    expect(planDrops([p('traces', '20261101', 1)], 10 * MIB, '20261126')).toMatchObject({ drops: [], stillOver: false });
  });
});

describe('the default cap and the space warning', () => {
  it('defaults to a tenth of the free space, at least 1 MiB, at most 10 GiB', () => {
    expect(defaultCapMb(50 * 1024 * MIB)).toBe(5 * 1024);
    expect(defaultCapMb(500 * 1024 * MIB)).toBe(10 * 1024);
    expect(defaultCapMb(3 * MIB)).toBe(1);
  });

  it('warns under 10% free, and when the disk would fill before the cap acts; not otherwise', () => {
    expect(spaceWarning({ freeBytes: 5 * MIB, totalBytes: 100 * MIB, capBytes: 0, dataBytes: 0 })).toMatch(/only 5\.0 MiB free \(under 10% of 100 MiB\)/);
    expect(spaceWarning({ freeBytes: 50 * MIB, totalBytes: 100 * MIB, capBytes: 80 * MIB, dataBytes: 10 * MIB })).toMatch(/the disk fills before the cap: 50 MiB free, the cap allows 70 MiB more/);
    expect(spaceWarning({ freeBytes: 50 * MIB, totalBytes: 100 * MIB, capBytes: 40 * MIB, dataBytes: 10 * MIB })).toBeUndefined();
  });
});

describe('the keeper of a Docker stack, over ClickHouse HTTP', () => {
  let stack: RunningStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  it('drops the oldest days past the cap as the admin role, and the rollup follows', async () => {
    const today = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
    const noise = () => Math.random().toString(36).slice(2);
    const events: string[] = [];
    for (let d = 3; d >= 0; d--) {
      for (let i = 0; i < 6_000; i++) events.push(JSON.stringify({ event: 'kept', project: 'keeper', timestamp: today - d * DAY + 60_000 + i * 50, attributes: { pad: noise() + noise() } }));
    }
    expect((await cli(['send', '--stdin', '--backend', 'clickhouse'], stack.home.env, events.join('\n') + '\n')).code).toBe(0);
    const before = await stack.rows<{ n: number }>("SELECT count() AS n FROM telemetry.traces WHERE project_name = 'keeper'");
    expect(before).toEqual([{ n: 24000 }]);

    const config = await loadConfig({ env: { ...stack.home.env, AUTOMAGIK_TELEMETRY_MAX_DISK_MB: '1' } });
    const logged: Array<Record<string, unknown>> = [];
    const ledger = await keepOnce(config, (fields) => logged.push(fields));

    const days = await stack.rows<{ d: string; n: number }>("SELECT toString(toDate(timestamp)) AS d, count() AS n FROM telemetry.traces WHERE project_name = 'keeper' GROUP BY d ORDER BY d");
    const dropped = 4 - days.length;
    expect(dropped).toBeGreaterThan(0);
    expect(days.at(-1)).toEqual({ d: new Date(today).toISOString().slice(0, 10), n: 6000 });
    expect(ledger.dropped).toMatchObject({ partitions: dropped, rows: dropped * 6_000 });
    expect(ledger.capBytes).toBe(MIB);
    expect(logged.filter((l) => l.msg === 'size cap: dropped the oldest partition').map((l) => l.table)).toEqual(Array(dropped).fill('traces'));
    const rollup = await stack.rows<{ d: string; n: string }>("SELECT toString(toDate(hour)) AS d, sum(total_count) AS n FROM telemetry.metrics_hourly WHERE project_name = 'keeper' GROUP BY d ORDER BY d");
    expect(rollup).toEqual(days);
  });
});
