// Owns query, query-traces, query-stats, backup, restore and schema: parse flags, call src/query and src/schema, render.

import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ClickHouseError } from '../../clickhouse/errors.js';
import { runStatement } from '../../clickhouse/http-client.js';
import { TelemetryError } from '../../errors.js';
import { restoreBackup, writeBackup } from '../../query/backup.js';
import { stackConnection } from '../../query/connection.js';
import { queryStats, STATS_GROUPINGS, type StatsGrouping } from '../../query/stats.js';
import { parseMoment } from '../../query/time.js';
import { followTraces, recentTraces, type StoredTrace, type TraceFilters } from '../../query/traces.js';
import { clusterConfigXml, clusterStatements, CLUSTER_NAME } from '../../schema/cluster.js';
import { applySchema, schemaText } from '../../schema/index.js';
import { EXIT } from '../errors.js';
import { numberFlag } from '../flags.js';
import { stackContext, withStackOptions, type StackOptions } from '../context.js';
import { runRepl } from '../repl.js';
import { OUTPUT_FORMATS, renderRows, type OutputFormat } from '../table.js';
import { confirm, type Ui } from '../ui.js';

type Run = (action: () => Promise<number>) => Promise<void>;

function outputFormat(value: string | undefined, fallback: OutputFormat): OutputFormat {
  const format = value ?? fallback;
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new TelemetryError('E_CONFIG', `--format ${JSON.stringify(format)} is not one of ${OUTPUT_FORMATS.join(', ')}`);
  }
  return format as OutputFormat;
}

function width(ui: Ui): number {
  return (ui.io.stdout as { columns?: number }).columns ?? 120;
}

const FORMAT_CLAUSE = /\bFORMAT\s+[A-Za-z0-9_]+\s*;?\s*$/i;

export function registerQuery(program: Command, ui: Ui, run: Run): void {
  withStackOptions(
    program
      .command('query [sql]')
      .description('run SQL against the stack: one statement from the argument, -f file or stdin; an interactive prompt otherwise')
      .option('-f, --file <path>', 'read the SQL from a file')
      .option('--format <format>', `output: ${OUTPUT_FORMATS.join(', ')}`, 'table')
      .addHelpText(
        'after',
        `
Timing and row counts go to stderr; a statement with its own FORMAT clause is printed as the server sends it.
Server errors show ClickHouse's code and message and exit 1.

Examples:
  $ automagik-telemetry query "SELECT project_name, count() FROM traces GROUP BY 1"
  $ automagik-telemetry query --format csv -f report.sql > report.csv
  $ echo "SELECT 1" | automagik-telemetry query
  $ automagik-telemetry query          # interactive; \\q to quit`,
      ),
  ).action((sql: string | undefined, options: StackOptions & { file?: string; format: string }) =>
    run(async () => {
      const format = outputFormat(options.format, 'table');
      const { config } = await stackContext(options, ui);
      const connection = stackConnection(config);
      const execute = async (statement: string): Promise<void> => {
        const started = performance.now();
        const own = FORMAT_CLAUSE.test(statement);
        const defaultFormat = own ? 'TabSeparated' : { table: 'JSON', json: 'JSON', csv: 'CSVWithNames', tsv: 'TSVWithNames' }[format];
        const body = await runStatement(connection, statement, { settings: { default_format: defaultFormat, output_format_json_quote_64bit_integers: 0 } });
        const ms = Math.round(performance.now() - started);
        if (own || format === 'csv' || format === 'tsv') {
          ui.io.stdout.write(body);
          ui.err(ui.ce.dim(`${ms} ms`));
          return;
        }
        if (body.trim() === '') {
          ui.err(ui.ce.dim(`OK, ${ms} ms`));
          return;
        }
        const result = JSON.parse(body) as { meta: Array<{ name: string }>; data: Array<Record<string, unknown>>; rows: number; statistics?: { rows_read?: number } };
        const columns = result.meta.map((m) => m.name);
        ui.out(format === 'json' ? JSON.stringify(result.data, null, 2) : renderRows(result.data, 'table', width(ui), columns));
        ui.err(ui.ce.dim(`${result.rows} row${result.rows === 1 ? '' : 's'} in ${ms} ms${result.statistics?.rows_read !== undefined ? `, ${result.statistics.rows_read} rows read` : ''}`));
      };

      if (sql !== undefined || options.file !== undefined || !ui.io.stdin?.isTTY) {
        const text = sql ?? (options.file !== undefined ? await readFile(options.file, 'utf8') : await readAll(ui.io.stdin ?? process.stdin));
        const statement = text.trim().replace(/;\s*$/, '');
        if (statement === '') throw new TelemetryError('E_CONFIG', 'no SQL given: pass it as an argument, with -f <file>, or on stdin');
        await execute(statement);
        return EXIT.OK;
      }
      await runRepl({
        input: ui.io.stdin ?? process.stdin,
        output: ui.io.stderr,
        terminal: true,
        historyFile: join(config.paths.runDir, 'query_history'),
        execute: (statement) =>
          execute(statement).catch((error: unknown) => {
            if (error instanceof ClickHouseError) ui.err(ui.ce.red(error.message));
            else throw error;
          }),
      });
      return EXIT.OK;
    }),
  );

  withStackOptions(
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
  ).action(
    (
      options: StackOptions & { project?: string; event?: string; status?: string; since?: string; until?: string; limit: string; follow?: boolean; format: string },
    ) =>
      run(async () => {
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
        const { config } = await stackContext(options, ui);
        const connection = stackConnection(config);
        const table = `${config.database}.traces`;
        const columns = ['timestamp', 'project_name', 'span_name', 'status_code', 'duration_ms', 'attributes'];
        const rows = await recentTraces(connection, table, filters);
        const shown = (list: StoredTrace[]) => (format === 'table' ? list.map((r) => pick(r, columns)) : list);
        if (!options.follow) {
          if (format === 'table' && rows.length === 0) ui.err('no events match');
          else ui.out(renderRows(shown(rows) as Array<Record<string, unknown>>, format, width(ui), format === 'table' ? columns : undefined));
          return EXIT.OK;
        }
        // Following: the recent ones oldest first, then each new one as a line (JSON lines for json).
        const print = (list: StoredTrace[]) => {
          for (const r of list) {
            if (format === 'json') ui.out(JSON.stringify(r));
            else if (format === 'table') ui.out(`${r.timestamp}  ${r.project_name}  ${r.span_name}  ${r.status_code === 'ERROR' ? ui.c.red('ERROR') : 'OK'}  ${r.duration_ms} ms  ${JSON.stringify(r.attributes)}`);
            else ui.out(renderRows([r as unknown as Record<string, unknown>], format).split('\n')[1] ?? '');
          }
        };
        print([...rows].reverse());
        const abort = new AbortController();
        const stop = () => abort.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        await followTraces(connection, table, filters, { signal: abort.signal, onRows: print });
        return EXIT.OK;
      }),
  );

  withStackOptions(
    program
      .command('query-stats')
      .description('event counts, error rate and p50/p95/p99 latency, by hour, day, project or event')
      .option('--project <name>', 'only this project')
      .option('--since <time>', 'from (15m, 1h, 7d, 2026-11-01, an ISO date-time)', '24h')
      .option('--by <grouping>', STATS_GROUPINGS.join(', '), 'hour')
      .option('--format <format>', `output: ${OUTPUT_FORMATS.join(', ')}`, 'table')
      .addHelpText('after', '\nWindows of 6 hours or more come from the hourly rollup (whole hours); shorter ones and --by event from the raw rows.'),
  ).action((options: StackOptions & { project?: string; since: string; by: string; format: string }) =>
    run(async () => {
      const format = outputFormat(options.format, 'table');
      if (!(STATS_GROUPINGS as readonly string[]).includes(options.by)) {
        throw new TelemetryError('E_CONFIG', `--by ${JSON.stringify(options.by)} is not one of ${STATS_GROUPINGS.join(', ')}`);
      }
      const since = parseMoment(options.since, '--since');
      const { config } = await stackContext(options, ui);
      const result = await queryStats(stackConnection(config), config.database, {
        since,
        by: options.by as StatsGrouping,
        ...(options.project !== undefined ? { project: options.project } : {}),
      });
      if (format === 'json') {
        ui.out(JSON.stringify(result, null, 2));
        return EXIT.OK;
      }
      const rows = [...result.rows, result.total].map((r) => ({ [options.by]: r.bucket, ...omit(r, 'bucket') }));
      ui.out(renderRows(rows, format, width(ui)));
      ui.err(ui.ce.dim(`from ${result.source}, since ${result.since} UTC`));
      return EXIT.OK;
    }),
  );

  withStackOptions(
    program
      .command('backup')
      .description('write every event to a portable, checksummed backup file (gzip; schema + JSONEachRow rows)')
      .option('-o, --out <file>', 'where to write it (default: automagik-telemetry-<date>.backup.gz here)')
      .option('--json', 'print the result as JSON'),
  ).action((options: StackOptions & { out?: string }) =>
    run(async () => {
      const { config } = await stackContext(options, ui);
      const file = resolve(options.out ?? `automagik-telemetry-${new Date().toISOString().replace(/[:.]/g, '-')}.backup.gz`);
      const progress = options.json ? undefined : ui.progress(`writing ${file}`);
      const result = await writeBackup(stackConnection(config, 600_000), config.database, file, (rows) => progress?.update(`writing ${file}: ${rows} rows`)).catch(
        (error: unknown) => {
          progress?.fail('backup failed; no file was left behind');
          throw error;
        },
      );
      progress?.succeed(`${result.rows} rows written to ${file} (${result.bytes} bytes, sha256 ${result.sha256.slice(0, 12)}…)`);
      if (options.json) ui.json(result);
      return EXIT.OK;
    }),
  );

  withStackOptions(
    program
      .command('restore <file>')
      .description('load a backup into the stack; refuses rows already there unless --replace (which replaces all data, after asking)')
      .option('--replace', "empty the store first: the backup's data replaces what is there")
      .option('-y, --yes', 'with --replace: do not ask (needed without a terminal)')
      .option('--json', 'print the result as JSON'),
  ).action((file: string, options: StackOptions & { replace?: boolean; yes?: boolean }) =>
    run(async () => {
      const { config } = await stackContext(options, ui);
      if (options.replace && !options.yes && !(await confirm(ui, 'restore --replace deletes the data in the store', `Replace ALL telemetry data in ${config.home} with ${file}?`))) {
        ui.err('nothing changed');
        return EXIT.FAILURE;
      }
      const progress = options.json ? undefined : ui.progress(`checking ${file}`);
      const result = await restoreBackup(stackConnection(config, 600_000), config.database, resolve(file), {
        replace: options.replace === true,
        onProgress: (rows) => progress?.update(`loading ${rows} rows`),
      }).catch((error: unknown) => {
        progress?.fail('restore stopped; the store was not changed');
        throw error;
      });
      progress?.succeed(`restored ${result.rows} rows from ${file}${result.replaced ? ' (replacing the previous data)' : ''}`);
      if (options.json) ui.json(result);
      return EXIT.OK;
    }),
  );

  const schema = program.command('schema').description('print or apply the schema, single-node or for a ClickHouse cluster');
  schema
    .command('print')
    .description('print the DDL: single-node by default; with --cluster, replicated local tables + Distributed tables')
    .option('--cluster <name>', `a cluster from ClickHouse's remote_servers (templates/cluster/ defines "${CLUSTER_NAME}")`)
    .option('--database <name>', 'database name', 'telemetry')
    .option('--shards <n>', 'with --cluster and --replicas: also print the server config (remote_servers) for this layout, as a comment')
    .option('--replicas <m>', 'replicas per shard (with --shards)')
    .addHelpText(
      'after',
      `
Examples:
  $ automagik-telemetry schema print
  $ automagik-telemetry schema print --cluster telemetry_cluster
  $ automagik-telemetry schema print --cluster telemetry_cluster --shards 3 --replicas 2`,
    )
    .action((options: { cluster?: string; database: string; shards?: string; replicas?: string }) =>
      run(async () => {
        if ((options.shards === undefined) !== (options.replicas === undefined) || (options.shards !== undefined && options.cluster === undefined)) {
          throw new TelemetryError('E_CONFIG', '--shards and --replicas go together, with --cluster');
        }
        if (options.cluster === undefined) {
          ui.out(await schemaText(options.database));
          return EXIT.OK;
        }
        const statements = await clusterStatements(options.cluster, options.database);
        if (options.shards !== undefined && options.replicas !== undefined) {
          const xml = clusterConfigXml(options.cluster, numberFlag(options.shards, '--shards', { min: 1, whole: true }), numberFlag(options.replicas, '--replicas', { min: 1, whole: true }));
          ui.out(`-- Server config for this layout (config.d/cluster.xml on every node; macros shard and replica per node):\n${xml.trimEnd().replace(/^/gm, '-- ')}\n`);
        }
        ui.out(`${statements.join(';\n\n')};`);
        return EXIT.OK;
      }),
    );
  withStackOptions(
    schema
      .command('apply')
      .description('apply the schema to the running stack (or, with --cluster, to the cluster the stack endpoint belongs to)')
      .option('--cluster <name>', 'apply the cluster DDL (ON CLUSTER) instead of the single-node one')
      .option('--json', 'print the result as JSON'),
  ).action((options: StackOptions & { cluster?: string }) =>
    run(async () => {
      const { config } = await stackContext(options, ui);
      const connection = stackConnection(config);
      if (options.cluster !== undefined) {
        const statements = await clusterStatements(options.cluster, config.database);
        for (const statement of statements) await runStatement(connection, statement);
        if (options.json) ui.json({ cluster: options.cluster, statements: statements.length });
        else ui.out(`applied ${statements.length} statements on cluster ${options.cluster}`);
        return EXIT.OK;
      }
      const result = await applySchema({ run: (sql) => runStatement(connection, sql) }, config.database);
      if (options.json) ui.json(result);
      else ui.out(result.applied.length === 0 ? `schema is current (version ${result.version})` : `applied schema version(s) ${result.applied.join(', ')}`);
      return EXIT.OK;
    }),
  );
}

function pick(row: StoredTrace, columns: string[]): Record<string, unknown> {
  const r = row as unknown as Record<string, unknown>;
  return Object.fromEntries(columns.map((c) => [c, r[c]]));
}

function omit<T extends object>(value: T, key: keyof T): Omit<T, typeof key> {
  const { [key]: _, ...rest } = value;
  return rest;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  return text;
}
