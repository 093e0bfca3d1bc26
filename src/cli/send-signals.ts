// Owns `send --metric` and `send --log`, and the logs-and-metrics half of `send --stdin`: flags to records, one sender.

import { basicAuthorization } from '../clickhouse/auth-header.js';
import { stackEndpoints, type Config } from '../config/index.js';
import { TelemetryError } from '../errors.js';
import { isMetricKind, isSeverity, logOf, metricOf, METRIC_KINDS, RecordError, SEVERITIES } from '../signals/records.js';
import { SignalSender } from '../signals/sender.js';
import { EXIT } from './errors.js';
import type { Ui } from './ui.js';

export interface SignalFlags {
  metric?: string;
  value?: string;
  type?: string;
  unit?: string;
  log?: string;
  severity?: string;
  traceId?: string;
  attr: string[];
  json?: boolean;
}

/** A sender for the stack `config` describes; AUTOMAGIK_TELEMETRY_ENDPOINT (the traces URL) still wins, as for events. */
export function signalSenderFor(config: Config, env: NodeJS.ProcessEnv, projectName: string, batchSize: number, onStoreDown?: (reason: string) => void): SignalSender {
  const override = env.AUTOMAGIK_TELEMETRY_ENDPOINT;
  const endpoint = override ? override.replace(/\/v1\/traces\/?$/, '') : stackEndpoints(config).otlp;
  // Logs and metrics go in as an app's would: the ingest role (a variable set for the SDK wins, as it does there).
  const ingest = config.auth.roles.ingest;
  const password = env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD ?? (config.auth.required ? ingest.password : undefined);
  const username = env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME ?? ingest.username;
  const authorization = password !== undefined ? basicAuthorization({ username, password }) : undefined;
  const caFile = env.AUTOMAGIK_TELEMETRY_CA_FILE || (!override && config.tls.enabled ? config.tls.caFile : undefined);
  return new SignalSender({
    endpoint,
    ...(caFile ? { trust: { caFile } } : {}),
    ...(authorization !== undefined ? { authorization } : {}),
    projectName,
    batchSize,
    ...(onStoreDown ? { onStoreDown } : {}),
  });
}

export function attributesOf(pairs: string[]): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new TelemetryError('E_CONFIG', `--attr ${JSON.stringify(pair)} is not key=value`);
    attributes[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return attributes;
}

/** Sends the one metric point or log line the flags describe, and waits until it is stored. */
export async function sendSignal(ui: Ui, sender: SignalSender, projectName: string, flags: SignalFlags): Promise<number> {
  const attributes = attributesOf(flags.attr);
  const started = performance.now();
  let what: string;
  try {
    if (flags.metric !== undefined) {
      if (flags.value === undefined) throw new TelemetryError('E_CONFIG', '--metric needs --value <n>');
      const value = Number(flags.value);
      if (!/^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(flags.value) || !Number.isFinite(value)) throw new TelemetryError('E_CONFIG', `--value ${JSON.stringify(flags.value)} is not a number`);
      const kind = flags.type ?? 'gauge';
      if (!isMetricKind(kind)) throw new TelemetryError('E_CONFIG', `--type ${JSON.stringify(kind)} is not one of ${METRIC_KINDS.join(', ')}`);
      await sender.addMetric(metricOf({ name: flags.metric, value, kind, ...(flags.unit !== undefined ? { unit: flags.unit } : {}), attributes }));
      what = `${kind} ${JSON.stringify(flags.metric)} = ${value}${flags.unit ? ` ${flags.unit}` : ''}`;
    } else {
      const severity = (flags.severity ?? 'info').toLowerCase();
      if (!isSeverity(severity)) throw new TelemetryError('E_CONFIG', `--severity ${JSON.stringify(flags.severity)} is not one of ${SEVERITIES.join(', ')}`);
      await sender.addLog(logOf({ message: flags.log ?? '', severity, attributes, ...(flags.traceId !== undefined ? { traceId: flags.traceId } : {}) }));
      what = `${severity} log ${JSON.stringify(flags.log)}`;
    }
  } catch (error) {
    if (error instanceof RecordError) throw new TelemetryError('E_CONFIG', error.message);
    throw error;
  }
  const result = await sender.flush();
  const ms = Math.round(performance.now() - started);
  if (result.sent !== 1) {
    throw new TelemetryError('E_CLICKHOUSE', `it was not stored: ${result.errors[0] ?? 'no answer'}`, { hint: 'Is the stack running? Check with `automagik-telemetry status`.' });
  }
  if (flags.json) ui.json({ sent: 1, backend: 'otlp', durationMs: ms, project: projectName, ...(flags.metric !== undefined ? { metric: flags.metric } : { log: flags.log }) });
  else ui.out(`sent ${what} (project ${projectName}) through OTLP in ${ms} ms`);
  return EXIT.OK;
}
