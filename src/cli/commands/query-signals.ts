// Owns query-logs and query-metrics: parse flags, call src/query/logs.ts and src/query/metrics.ts, render.

import type { Command } from 'commander';
import { TelemetryError } from '../../errors.js';
import { followLogs, recentLogs, type LogFilters, type StoredLog } from '../../query/logs.js';
import { parseGrouping, queryMetrics } from '../../query/metrics.js';
import { parseMoment } from '../../query/time.js';
import { isSeverity, SEVERITIES } from '../../signals/records.js';
import { severityNumber, type SeverityName } from '../../transform/logs.js';
import { EXIT } from '../errors.js';
import { printThenFollow } from '../follow.js';
import { numberFlag } from '../flags.js';
import { stackCommand, type Cli, type Stack } from '../stack.js';
import { OUTPUT_FORMATS, outputFormat, renderRows, terminalWidth } from '../table.js';
import type { Ui } from '../ui.js';

interface LogOptions {
  severity?: string;
  trace?: string;
  search?: string;
  project?: string;
  since?: string;
  limit: string;
  follow?: boolean;
  format: string;
}

export function register(program: Command, cli: Cli): void {
  stackCommand(
    cli,
    program
      .command('query-logs')
      .description('show recent log records, newest first, or follow new ones as they arrive')
      .option('--severity <level>', `this level and above: ${SEVERITIES.join(', ')}`)
      .option('--trace <id>', 'only the records of this trace (32 hex)')
      .option('--search <text>', 'only records whose body contains this text (any case)')
      .option('--project <name>', 'only this project')
      .option('--since <time>', 'from (15m, 1h, 7d, 2026-11-01, an ISO date-time)')
      .option('--limit <n>', 'how many', '50')
      .option('--follow', 'keep printing new records as they arrive, until Ctrl-C')
      .option('--format <format>', `output: ${OUTPUT_FORMATS.join(', ')}`, 'table')
      .addHelpText(
        'after',
        `
Examples:
  $ automagik-telemetry query-logs --severity warn --since 1h
  $ automagik-telemetry query-logs --trace 5b8efff798038103d269b633813fc60c
  $ automagik-telemetry query-logs --search timeout --follow`,
      ),
    queryLogs,
  );
  stackCommand(
    cli,
    program
      .command('query-metrics')
      .description('metric points summed up per hour, day or attribute value: points, sum, mean, min, max, last value, observations')
      .option('--name <metric>', 'only this metric')
      .option('--project <name>', 'only this project')
      .option('--since <time>', 'from (15m, 1h, 7d, 2026-11-01, an ISO date-time)', '24h')
      .option('--by <grouping>', 'hour, day or attribute:<key>', 'hour')
      .option('--format <format>', `output: ${OUTPUT_FORMATS.join(', ')}`, 'table')
      .addHelpText(
        'after',
        `
Gauges and sums are summed up by their values; histograms and summaries by their observations (count, sum, mean).
Windows of 6 hours or more by hour or day come from the hourly rollup (whole hours); the rest from the raw points.

Examples:
  $ automagik-telemetry query-metrics --name checkout.latency --since 7d --by day
  $ automagik-telemetry query-metrics --name http.requests --by attribute:route --format json`,
      ),
    queryMetricsCommand,
  );
}

export async function queryLogs(stack: Stack, options: LogOptions): Promise<number> {
  const { ui, config } = stack;
  const format = outputFormat(options.format, 'table');
  if (options.severity !== undefined && !isSeverity(options.severity)) throw new TelemetryError('E_CONFIG', `--severity ${JSON.stringify(options.severity)} is not one of ${SEVERITIES.join(', ')}`);
  if (options.trace !== undefined && !/^[0-9a-fA-F]{32}$/.test(options.trace)) throw new TelemetryError('E_CONFIG', `--trace ${JSON.stringify(options.trace)} is not a trace id (32 hex characters)`);
  const filters: LogFilters = {
    limit: numberFlag(options.limit, '--limit', { min: 1, whole: true }),
    ...(options.severity !== undefined ? { minSeverity: severityNumber(options.severity.toUpperCase() as SeverityName) } : {}),
    ...(options.trace !== undefined ? { traceId: options.trace } : {}),
    ...(options.search !== undefined ? { search: options.search } : {}),
    ...(options.project !== undefined ? { project: options.project } : {}),
    ...(options.since !== undefined ? { since: parseMoment(options.since, '--since') } : {}),
  };
  const connection = stack.connection('reader');
  const columns = ['timestamp', 'severity_text', 'project_name', 'body', 'trace_id', 'attributes'];
  const shown = (list: StoredLog[]) => (format === 'table' ? list.map((r) => ({ ...Object.fromEntries(columns.map((c) => [c, r[c as keyof StoredLog]])), timestamp: r.timestamp.slice(0, 23) })) : list);
  const rows = await recentLogs(connection, config.database, filters);
  if (!options.follow) {
    if (format === 'table' && rows.length === 0) ui.err('no log records match');
    else ui.out(renderRows(shown(rows) as Array<Record<string, unknown>>, format, terminalWidth(ui.io.stdout), format === 'table' ? columns : undefined));
    return EXIT.OK;
  }
  await printThenFollow(
    ui,
    format,
    rows,
    (r) => `${r.timestamp.slice(0, 23)}  ${severityColor(ui, r.severity_number, r.severity_text || '-')}  ${r.project_name}  ${r.body}${r.trace_id ? `  trace=${r.trace_id}` : ''}`,
    (signal, onRows) => followLogs(connection, config.database, filters, { signal, onRows }),
  );
  return EXIT.OK;
}

export async function queryMetricsCommand(stack: Stack, options: { name?: string; project?: string; since: string; by: string; format: string }): Promise<number> {
  const { ui, config } = stack;
  const format = outputFormat(options.format, 'table');
  const by = parseGrouping(options.by);
  const since = parseMoment(options.since, '--since');
  const result = await queryMetrics(stack.connection('reader'), config.database, {
    since,
    by,
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.project !== undefined ? { project: options.project } : {}),
  });
  if (format === 'json') {
    ui.out(JSON.stringify(result, null, 2));
    return EXIT.OK;
  }
  if (format === 'table' && result.rows.length === 0) ui.err('no metric points match');
  else ui.out(renderRows(result.rows.map(({ bucket, ...rest }) => ({ [by]: bucket, ...rest })), format, terminalWidth(ui.io.stdout)));
  ui.err(ui.ce.dim(`from ${result.source}, since ${result.since} UTC`));
  return EXIT.OK;
}

function severityColor(ui: Ui, n: number, text: string): string {
  if (n >= 17) return ui.c.red(text);
  if (n >= 13) return ui.c.yellow(text);
  return text;
}
