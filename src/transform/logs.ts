// Owns the OTLP -> `logs` transform: one row per log record, resource columns mapped as for traces.

import { toHex, type OtlpLogRecord, type OtlpLogsRequest } from '../otlp/model.js';
import { mergedAttributes, projectOf, resourceColumns, type ResourceColumns } from './resource.js';
import { MAX_NANOS, formatNanos, type RowsResult } from './row.js';
import { SEVERITY_NAMES } from '../otlp/severity.js';

export { SEVERITY_NAMES, severityNumber, type SeverityName } from '../otlp/severity.js';

export interface LogRow {
  /** UTC, DateTime64(9) text: the record's time, or when it was observed if it has none. */
  timestamp: string;
  observed_timestamp: string;
  trace_id: string;
  span_id: string;
  severity_text: string;
  severity_number: number;
  body: string;
  service_name: string;
  project_name: string;
  project_version: string;
  environment: string;
  attributes: Record<string, string>;
  scope_name: string;
}

export const LOG_COLUMNS = [
  'timestamp', 'observed_timestamp', 'trace_id', 'span_id', 'severity_text', 'severity_number', 'body', 'service_name',
  'project_name', 'project_version', 'environment', 'attributes', 'scope_name',
] as const satisfies ReadonlyArray<keyof LogRow>;

/** The spec's short name for a severity number: 9 INFO, 10 INFO2, ...; '' for 0 (unspecified). */
export function severityText(n: number): string {
  if (n < 1 || n > 24) return '';
  const step = (n - 1) % 4;
  return `${SEVERITY_NAMES[Math.floor((n - 1) / 4)]}${step === 0 ? '' : step + 1}`;
}

export function logsToRows(request: OtlpLogsRequest, now: () => bigint = nowNanos): RowsResult<LogRow> {
  const result: RowsResult<LogRow> = { rows: [], rejected: [] };
  let index = 0;
  for (const rl of request.resourceLogs) {
    const resource = resourceColumns(rl.resource);
    for (const sl of rl.scopeLogs) {
      for (const record of sl.logRecords) {
        const problem = validate(record);
        if (problem) result.rejected.push({ index, name: record.body.slice(0, 40), reason: problem });
        else result.rows.push(toRow(record, resource, sl.scopeName, now));
        index++;
      }
    }
  }
  return result;
}

function validate(record: OtlpLogRecord): string | undefined {
  if (record.traceId.length !== 0 && record.traceId.length !== 16) return `trace_id must be empty or 16 bytes, got ${record.traceId.length} bytes`;
  if (record.spanId.length !== 0 && record.spanId.length !== 8) return `span_id must be empty or 8 bytes, got ${record.spanId.length} bytes`;
  if (record.severityNumber < 0 || record.severityNumber > 24) return `severity_number must be 0 to 24, got ${record.severityNumber}`;
  if (record.timeUnixNano > MAX_NANOS || record.observedTimeUnixNano > MAX_NANOS) return 'time is after 2262-04-11, the latest time the store holds';
  return undefined;
}

function toRow(record: OtlpLogRecord, resource: ResourceColumns, scopeName: string, now: () => bigint): LogRow {
  // The spec: a record without a time is placed at the time it was observed.
  const observed = record.observedTimeUnixNano !== 0n ? record.observedTimeUnixNano : record.timeUnixNano !== 0n ? record.timeUnixNano : now();
  const time = record.timeUnixNano !== 0n ? record.timeUnixNano : observed;
  const own = record.eventName === '' ? record.attributes : { ...record.attributes, 'event.name': record.eventName };
  return {
    timestamp: formatNanos(time),
    observed_timestamp: formatNanos(observed),
    trace_id: record.traceId.length === 0 || record.traceId.every((b) => b === 0) ? '' : toHex(record.traceId),
    span_id: record.spanId.length === 0 || record.spanId.every((b) => b === 0) ? '' : toHex(record.spanId),
    severity_text: record.severityText || severityText(record.severityNumber),
    severity_number: record.severityNumber,
    body: record.body,
    service_name: resource.service_name,
    project_name: projectOf(resource, record.attributes),
    project_version: resource.project_version,
    environment: resource.environment,
    attributes: mergedAttributes(resource, own),
    scope_name: scopeName,
  };
}

function nowNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
