// Owns `test`: a sample set through each backend, read back from the store, then removed (unless --keep).

import type { Command } from 'commander';
import { runStatement, statementRunner } from '../../clickhouse/http-client.js';
import { rebuildRollupHours } from '../../schema/rollups.js';
import { TelemetryError } from '../../errors.js';
import { sdkOptionsForStack } from '../../sdk/from-stack.js';
import type { BackendName } from '../../sdk/options.js';
import { roundTrip, SAMPLE, type RoundTripResult } from '../../sdk/round-trip.js';
import { signalRoundTrip, type SignalRoundTrip } from '../../signals/round-trip.js';
import { signalSenderFor } from '../send-signals.js';
import { EXIT } from '../errors.js';
import { assertListening } from '../failures.js';
import { numberFlag } from '../flags.js';
import { stackCommand, type Cli, type Stack } from '../stack.js';

export function register(program: Command, cli: Cli): void {
  stackCommand(
    cli,
    program
      .command('test')
      .description('send a sample set (ok and error events, two projects; with OTLP also logs and metrics) through each backend, read it back from the store, then remove it')
      .option('--backend <name>', 'otlp, clickhouse or both', 'both')
      .option('--timeout <ms>', 'how long to wait for the events to be readable', '10000')
      .option('--keep', 'leave the sample events in the store (projects demo-web and demo-worker)')
      .option('--json', 'print the results as JSON'),
    test,
  );
}

export async function test(stack: Stack, options: { backend: string; timeout: string; keep?: boolean; json?: boolean }): Promise<number> {
  const { ui, config } = stack;
  if (!['otlp', 'clickhouse', 'both'].includes(options.backend)) {
    throw new TelemetryError('E_CONFIG', `--backend ${JSON.stringify(options.backend)} is not one of otlp, clickhouse, both`);
  }
  const backends: BackendName[] = options.backend === 'both' ? ['otlp', 'clickhouse'] : [options.backend as BackendName];
  const timeoutMs = numberFlag(options.timeout, '--timeout', { fallback: 10_000, min: 1 });
  const sdk = sdkOptionsForStack(config, ui.io.env);
  // The samples go in as ingest (as an app's would); reading them back takes the reader role.
  const connection = stack.connection('reader');
  const store = { ...connection, url: sdk.clickhouseEndpoint ?? ui.io.env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT ?? connection.url, table: `${config.database}.traces` };
  for (const backend of backends) {
    const target = backend === 'otlp' ? sdk.endpoint : store.url;
    if (target !== undefined && URL.canParse(target)) await assertListening(new URL(target), stack);
  }
  const results: RoundTripResult[] = [];
  for (const backend of backends) {
    const progress = options.json ? undefined : ui.progress(`${backend}: sending ${SAMPLE.length} sample events`);
    const result = await roundTrip(backend, sdk, store, timeoutMs);
    results.push(result);
    const line = `${backend}: ${result.sent}/${SAMPLE.length} sent, ${result.found}/${SAMPLE.length} read back, in ${result.roundTripMs} ms`;
    if (result.ok) progress?.succeed(line);
    else progress?.fail(`${line}${result.errors[0] ? ` (${result.errors[0]})` : ''}`);
  }
  // Logs and metrics travel over OTLP only: checked whenever the OTLP backend is.
  const signals: SignalRoundTrip[] = backends.includes('otlp')
    ? await signalRoundTrip(signalSenderFor(config, ui.io.env, 'automagik-telemetry-test', 100), { ...connection, database: config.database }, timeoutMs)
    : [];
  for (const s of signals) {
    const line = `otlp ${s.signal}: ${s.found}/${s.signal === 'logs' ? 2 : 3} read back, in ${s.roundTripMs} ms`;
    if (options.json) continue;
    if (s.ok) ui.out(`${ui.c.green('✔')} ${line}`);
    else ui.err(`${ui.c.red('✖')} ${line}${s.errors[0] ? ` (${s.errors[0]})` : ''}`);
  }
  const removed = options.keep ? 0 : await removeSamples(stack, results.map((r) => r.runId));
  const removedSignals = options.keep ? 0 : await removeSignalSamples(stack, signals[0]?.runId);
  const ok = results.every((r) => r.ok) && signals.every((s) => s.ok);
  if (options.json) ui.json({ ok, results, signals, removed, removedSignals });
  else {
    ui.out(ok ? ui.c.green('round trip ok') : ui.c.red('round trip failed'));
    if (!options.keep) ui.err(ui.ce.dim(`removed the ${removed} sample event(s) again (--keep leaves them)`));
    if (!options.keep && removedSignals > 0) ui.err(ui.ce.dim(`removed the ${removedSignals} sample log record(s) and metric point(s) again`));
  }
  return ok ? EXIT.OK : EXIT.FAILURE;
}

/**
 * Deletes the runs' sample rows and rebuilds the hourly rollup of their projects and hours from what remains, so
 * neither the dashboard nor query-stats counts them. Returns how many sample rows were deleted.
 */
async function removeSamples(stack: Stack, runIds: string[]): Promise<number> {
  const db = stack.config.database;
  const connection = stack.connection('admin');
  const params = { runs: `[${runIds.map((r) => `'${r.replace(/[^0-9a-f-]/gi, '')}'`).join(',')}]` };
  const match = `attributes['test.run_id'] IN {runs:Array(String)}`;
  const found = JSON.parse(
    (await runStatement(connection, `SELECT count() AS n, groupUniqArray(project_name) AS projects, groupUniqArray(toStartOfHour(timestamp)) AS hours FROM ${db}.traces WHERE ${match} FORMAT JSONEachRow`, { params })) ||
      '{"n":0,"projects":[],"hours":[]}',
  ) as { n: number; projects: string[]; hours: string[] };
  if (Number(found.n) === 0) return 0;
  await runStatement(connection, `ALTER TABLE ${db}.traces DELETE WHERE ${match} SETTINGS mutations_sync = 1`, { params });
  await rebuildRollupHours(statementRunner(connection), db, 'metrics_hourly', found.hours);
  return Number(found.n);
}

/** Deletes the sample log records and metric points of a run, and rebuilds their project's metric rollup hours. */
async function removeSignalSamples(stack: Stack, runId: string | undefined): Promise<number> {
  if (runId === undefined) return 0;
  const db = stack.config.database;
  const connection = stack.connection('admin');
  const params = { run: runId, project: 'automagik-telemetry-test' };
  const match = `attributes['test.run_id'] = {run:String}`;
  let removed = 0;
  for (const table of ['logs', 'metrics']) {
    const [row] = JSON.parse(`[${(await runStatement(connection, `SELECT count() AS n FROM ${db}.${table} WHERE ${match} FORMAT JSONEachRow`, { params })).trim() || '{"n":0}'}]`) as Array<{ n: number | string }>;
    removed += Number(row?.n ?? 0);
    await runStatement(connection, `ALTER TABLE ${db}.${table} DELETE WHERE ${match} SETTINGS mutations_sync = 1`, { params });
  }
  // The samples' hours of the metric rollup are rebuilt from what remains.
  const runner = statementRunner(connection);
  const hours = (await runStatement(connection, `SELECT DISTINCT toString(hour) FROM ${db}.metric_points_hourly_state WHERE project_name = {project:String} FORMAT TabSeparated`, { params }))
    .split('\n')
    .filter((line) => line !== '');
  await rebuildRollupHours(runner, db, 'metric_points_hourly', hours);
  return removed;
}
