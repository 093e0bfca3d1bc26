// Owns query-traces (recent events, or following new ones) and query-stats (counts, error rate, percentiles).

import type { Command } from 'commander';
import { TelemetryError } from '../../errors.js';
import { queryStats, STATS_GROUPINGS, type StatsGrouping } from '../../query/stats.js';
import { parseMoment } from '../../query/time.js';
import { followTraces, recentTraces, type StoredTrace, type TraceFilters } from '../../query/traces.js';
import { EXIT } from '../errors.js';
import { printThenFollow } from '../follow.js';
import { numberFlag } from '../flags.js';
import { stackCommand, type Cli, type Stack } from '../stack.js';
import { OUTPUT_FORMATS, outputFormat, renderRows, terminalWidth } from '../table.js';

interface TracesOptions {
  project?: string;
  event?: string;
  status?: string;
  since?: string;
  until?: string;
  limit: string;
  follow?: boolean;
  format: string;
}

interface StatsOptions {
  project?: string;
  since: string;
  by: string;
  format: string;
}

export function register(program: Command, cli: Cli): void {
  stackCommand(
    cli,
    program
      .command('query-traces')
      .description('show recent events, newest first, or follow new ones as they arrive')
      .option('--project <name>', 'only this project')
      .option('--event <name>', 'only events with this name')
      .option('--status <status>', 'ok or error')
      .option('--since <time>', 'from (15m, 1h, 7d, 2026-11-01, an ISO date-time)')
      .option('--until <time>', 'until (same forms)')
      .option('--limit <n>', 'how many', '50')
      .option('--follow', 'keep printing new events as they arrive, until Ctrl-C')
      .option('--format <format>', `output: ${OUTPUT_FORMATS.join(', ')}`, 'table'),
    queryTraces,
  );
  stackCommand(
    cli,
    program
      .command('query-stats')
      .description('event counts, error rate and p50/p95/p99 latency, by hour, day, project or event')
      .option('--project <name>', 'only this project')
      .option('--since <time>', 'from (15m, 1h, 7d, 2026-11-01, an ISO date-time)', '24h')
      .option('--by <grouping>', STATS_GROUPINGS.join(', '), 'hour')
      .option('--format <format>', `output: ${OUTPUT_FORMATS.join(', ')}`, 'table')
      .addHelpText('after', '\nWindows of 6 hours or more come from the hourly rollup (whole hours); shorter ones and --by event from the raw rows.'),
    queryStatsCommand,
  );
}

export async function queryTraces(stack: Stack, options: TracesOptions): Promise<number> {
  const { ui } = stack;
  const format = outputFormat(options.format, 'table');
  const status = options.status?.toUpperCase();
  if (status !== undefined && status !== 'OK' && status !== 'ERROR') throw new TelemetryError('E_CONFIG', `--status ${JSON.stringify(options.status)} is not ok or error`);
  const filters: TraceFilters = {
    limit: numberFlag(options.limit, '--limit', { min: 1, whole: true }),
    ...(options.project !== undefined ? { project: options.project } : {}),
    ...(options.event !== undefined ? { event: options.event } : {}),
    ...(status !== undefined ? { status: status as 'OK' | 'ERROR' } : {}),
    ...(options.since !== undefined ? { since: parseMoment(options.since, '--since') } : {}),
    ...(options.until !== undefined ? { until: parseMoment(options.until, '--until') } : {}),
  };
  const connection = stack.connection('reader');
  const table = `${stack.config.database}.traces`;
  const columns = ['timestamp', 'project_name', 'span_name', 'status_code', 'duration_ms', 'attributes'];
  const rows = await recentTraces(connection, table, filters);
  const shown = (list: StoredTrace[]) => (format === 'table' ? list.map((r) => pick(r, columns)) : list);
  if (!options.follow) {
    if (format === 'table' && rows.length === 0) ui.err('no events match');
    else ui.out(renderRows(shown(rows) as Array<Record<string, unknown>>, format, terminalWidth(ui.io.stdout), format === 'table' ? columns : undefined));
    return EXIT.OK;
  }
  await printThenFollow(
    ui,
    format,
    rows,
    (r) => `${r.timestamp}  ${r.project_name}  ${r.span_name}  ${r.status_code === 'ERROR' ? ui.c.red('ERROR') : 'OK'}  ${r.duration_ms} ms  ${JSON.stringify(r.attributes)}`,
    (signal, onRows) => followTraces(connection, table, filters, { signal, onRows }),
  );
  return EXIT.OK;
}

export async function queryStatsCommand(stack: Stack, options: StatsOptions): Promise<number> {
  const { ui } = stack;
  const format = outputFormat(options.format, 'table');
  if (!(STATS_GROUPINGS as readonly string[]).includes(options.by)) {
    throw new TelemetryError('E_CONFIG', `--by ${JSON.stringify(options.by)} is not one of ${STATS_GROUPINGS.join(', ')}`);
  }
  const since = parseMoment(options.since, '--since');
  const result = await queryStats(stack.connection('reader'), stack.config.database, {
    since,
    by: options.by as StatsGrouping,
    ...(options.project !== undefined ? { project: options.project } : {}),
  });
  if (format === 'json') {
    ui.out(JSON.stringify(result, null, 2));
    return EXIT.OK;
  }
  const rows = [...result.rows, result.total].map((r) => ({ [options.by]: r.bucket, ...omit(r, 'bucket') }));
  ui.out(renderRows(rows, format, terminalWidth(ui.io.stdout)));
  ui.err(ui.ce.dim(`from ${result.source}, since ${result.since} UTC`));
  return EXIT.OK;
}

function pick(row: StoredTrace, columns: string[]): Record<string, unknown> {
  const r = row as unknown as Record<string, unknown>;
  return Object.fromEntries(columns.map((c) => [c, r[c]]));
}

function omit<T extends object>(value: T, key: keyof T): Omit<T, typeof key> {
  const { [key]: _, ...rest } = value;
  return rest;
}
