// Owns how the stack's status, health checks and removals read on a terminal.

import type { Config } from '../../config/index.js';
import type { CleanResult, EngineStatus, HealthReport, Removed } from '../../engine/index.js';
import { formatBytes, formatDuration, keyValues, type Ui } from '../ui.js';

export function printStatus(ui: Ui, status: EngineStatus): void {
  const c = ui.c;
  const state = status.running ? c.green('running') : c.yellow('stopped');
  const rows: Array<[string, string]> = [
    ['engine', status.engine],
    ['state', state],
  ];
  if (status.running && status.pid !== undefined) rows.push(['pid', String(status.pid)]);
  if (status.running && status.uptimeSeconds !== undefined) rows.push(['uptime', formatDuration(status.uptimeSeconds)]);
  rows.push(['clickhouse', `${status.endpoints.clickhouse}`]);
  rows.push(['otlp', `${status.endpoints.otlp}/v1/{traces,logs,metrics}`]);
  if (status.endpoints.otlpGrpc) rows.push(['otlp grpc', status.endpoints.otlpGrpc]);
  rows.push(['dashboard', status.endpoints.dashboard]);
  if (status.rows) {
    const r = status.rows;
    const counts = [`${r.traces} in traces`, ...(r.logs !== undefined ? [`${r.logs} in logs`] : []), ...(r.metrics !== undefined ? [`${r.metrics} in metrics`] : []), `${r.metricsHourly} in metrics_hourly`];
    rows.push(['rows', counts.join(', ')]);
  }
  if (status.schemaVersion !== undefined) rows.push(['schema', `version ${status.schemaVersion}`]);
  rows.push(...retentionRows(status));
  rows.push(['data', status.engine === 'embedded' ? `${status.dataDir} (${formatBytes(status.diskBytes)})` : status.dataDir]);
  if (status.engine === 'docker') rows.push(['log', 'automagik-telemetry logs [service]']);
  else if (status.logFile !== undefined) rows.push(['log', status.logFile]);
  rows.push(...diskRows(status));
  rows.push(...dockerRows(status));
  ui.out(keyValues(rows));
  if (status.services) {
    ui.out('');
    for (const s of status.services) {
      const stateText = s.state === 'running' ? c.green(s.state) : c.yellow(s.state);
      const health = s.health ? ` (${s.health})` : '';
      const ports = s.ports.map((p) => `${p.host}:${p.hostPort}->${p.containerPort}`).join(', ');
      const up = s.uptimeSeconds !== undefined ? `  up ${formatDuration(s.uptimeSeconds)}` : '';
      ui.out(`  ${s.name.padEnd(11)} ${stateText}${health}  ${s.image}  ${ports}${up}`);
    }
  }
}

export function printHealth(ui: Ui, report: HealthReport): void {
  for (const check of report.checks) {
    const mark = !check.ok ? ui.c.red('✖') : check.warning ? ui.c.yellow('!') : ui.c.green('✔');
    ui.out(`${mark} ${check.name.padEnd(20)} ${String(check.latencyMs).padStart(5)} ms  ${check.detail}`);
    if (check.ok && check.warning) ui.out(`  ${''.padEnd(20)}           ${ui.c.yellow(`warning: ${check.warning}`)}`);
  }
  ui.out(report.healthy ? ui.c.green('healthy') : ui.c.red('unhealthy'));
}

const WORDS: Record<Removed['kind'], string> = {
  process: 'engine process',
  container: 'container',
  network: 'network',
  volume: 'volume',
  file: 'file',
  folder: 'folder',
};

/** "removed container x" lines; after clean, what was kept on purpose. */
export function printRemoved(ui: Ui, result: CleanResult, keptFrom?: Config): void {
  ui.out(result.removed.length === 0 ? 'nothing to remove' : result.removed.map((r) => `removed ${WORDS[r.kind]} ${r.name}`).join('\n'));
  if (keptFrom) ui.err(ui.ce.dim(`kept: the data (${keptFrom.paths.dataDir}), the log and the query history (${keptFrom.paths.runDir})`));
}

/** The disk block: free space, the cap and what it dropped, and whether the store can write. */
function diskRows(status: EngineStatus): Array<[string, string]> {
  const d = status.disk;
  if (!d) return [];
  const rows: Array<[string, string]> = [['disk free', `${formatBytes(d.freeBytes)} of ${formatBytes(d.totalBytes)}`]];
  const used = d.dataBytes !== undefined ? `${formatBytes(d.dataBytes)} of ` : '';
  rows.push(['size cap', d.capBytes > 0 ? `${used}${formatBytes(d.capBytes)} (${d.capSource})` : `none (${d.capSource})`]);
  if (d.dropped.partitions > 0) {
    const last = d.dropped.last ? `; last ${d.dropped.last.table} ${d.dropped.last.partition} at ${d.dropped.last.at}` : '';
    rows.push(['cap dropped', `${d.dropped.partitions} partition(s), ${d.dropped.rows} rows, ${formatBytes(d.dropped.bytes)}${last}`]);
  }
  if (d.overCap) rows.push(['over cap', d.overCap]);
  if (d.cannotWrite) rows.push(['cannot write', `since ${d.cannotWrite.at}: ${d.cannotWrite.message}`]);
  return rows;
}

/** How long rows are kept; when the tables still have another TTL, that it changes at the next start. */
function retentionRows(status: EngineStatus): Array<[string, string]> {
  const r = status.retention;
  if (!r) return [];
  if (r.tables === undefined || r.tables === r.days) return [['retention', `${r.days} days`]];
  return [['retention', `${r.tables} days now; ${r.days} days (AUTOMAGIK_TELEMETRY_RETENTION_DAYS) from the next start`]];
}

/** Where the Docker engine was reached and why; or, when auto chose the embedded engine, what it tried first. */
function dockerRows(status: EngineStatus): Array<[string, string]> {
  const report = status.docker;
  if (!report) return [];
  if (report.endpoint) {
    const runtime = report.runtime ? `${report.runtime.name} ${report.runtime.version} at ` : '';
    return [['docker', `${runtime}${report.endpoint} (${report.source})`]];
  }
  return [['docker', `none answered, so the embedded engine; tried:`], ...report.tried.map((t): [string, string] => ['', `${t.endpoint} (${t.source}): ${t.outcome}`])];
}
