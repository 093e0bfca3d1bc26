// Owns the OTLP -> `metrics` transform: one row per data point of any metric kind, resource columns mapped as for traces.

import { TEMPORALITY_NAMES, type MetricType, type OtlpDataPoint, type OtlpMetric, type OtlpMetricsRequest } from '../otlp/model.js';
import { mergedAttributes, projectOf, resourceColumns, type ResourceColumns } from './resource.js';
import { MAX_NANOS, formatNanos, type RowsResult } from './row.js';

/** NaN and infinities as ClickHouse reads them from JSON (JSON itself has no way to write them). */
export type Float = number | 'nan' | 'inf' | '-inf';

/** 64-bit counts travel as decimal strings, so none loses precision on the way to UInt64. */
export interface MetricRow {
  timestamp: string;
  start_timestamp: string;
  metric_name: string;
  metric_type: MetricType;
  value: Float;
  count: string;
  sum: Float;
  min: Float | null;
  max: Float | null;
  bucket_counts: string[];
  explicit_bounds: Float[];
  exp_scale: number;
  exp_zero_count: string;
  exp_positive_offset: number;
  exp_positive_counts: string[];
  exp_negative_offset: number;
  exp_negative_counts: string[];
  quantiles: Array<{ quantile: number; value: Float }>;
  is_monotonic: boolean;
  temporality: string;
  unit: string;
  description: string;
  service_name: string;
  project_name: string;
  project_version: string;
  environment: string;
  attributes: Record<string, string>;
  scope_name: string;
}

export const METRIC_COLUMNS = [
  'timestamp', 'start_timestamp', 'metric_name', 'metric_type', 'value', 'count', 'sum', 'min', 'max', 'bucket_counts',
  'explicit_bounds', 'exp_scale', 'exp_zero_count', 'exp_positive_offset', 'exp_positive_counts', 'exp_negative_offset',
  'exp_negative_counts', 'quantiles', 'is_monotonic', 'temporality', 'unit', 'description', 'service_name', 'project_name',
  'project_version', 'environment', 'attributes', 'scope_name',
] as const satisfies ReadonlyArray<keyof MetricRow>;

/** DataPointFlags.NO_RECORDED_VALUE: the point says "no data here" and is not stored. */
const NO_RECORDED_VALUE = 1;

export function metricsToRows(request: OtlpMetricsRequest): RowsResult<MetricRow> {
  const result: RowsResult<MetricRow> = { rows: [], rejected: [] };
  let index = 0;
  for (const rm of request.resourceMetrics) {
    const resource = resourceColumns(rm.resource);
    for (const sm of rm.scopeMetrics) {
      for (const metric of sm.metrics) {
        for (const point of metric.points) {
          const problem = validate(metric, point);
          if (problem) result.rejected.push({ index, name: metric.name, reason: problem });
          else if ((point.flags & NO_RECORDED_VALUE) === 0) result.rows.push(toRow(metric, point, resource, sm.scopeName));
          index++;
        }
      }
    }
  }
  return result;
}

function validate(metric: OtlpMetric, point: OtlpDataPoint): string | undefined {
  if (metric.name === '') return 'the metric has no name';
  if (point.timeUnixNano === 0n) return 'time_unix_nano is missing';
  if (point.timeUnixNano > MAX_NANOS || point.startTimeUnixNano > MAX_NANOS) return 'time is after 2262-04-11, the latest time the store holds';
  if ((metric.type === 'gauge' || metric.type === 'sum') && point.value === undefined && (point.flags & NO_RECORDED_VALUE) === 0) {
    return 'the data point has neither as_double nor as_int';
  }
  if (metric.type === 'histogram' && point.bucketCounts && point.bucketCounts.length > 0 && point.bucketCounts.length !== (point.explicitBounds?.length ?? 0) + 1) {
    return `a histogram with ${point.explicitBounds?.length ?? 0} bounds needs ${(point.explicitBounds?.length ?? 0) + 1} bucket counts, got ${point.bucketCounts.length}`;
  }
  return undefined;
}

function toRow(metric: OtlpMetric, point: OtlpDataPoint, resource: ResourceColumns, scopeName: string): MetricRow {
  const counts = (list: bigint[] | undefined) => (list ?? []).map(String);
  return {
    timestamp: formatNanos(point.timeUnixNano),
    start_timestamp: formatNanos(point.startTimeUnixNano),
    metric_name: metric.name,
    metric_type: metric.type as MetricType,
    value: float(point.value ?? 0),
    count: String(point.count ?? 0n),
    sum: float(point.sum ?? 0),
    min: point.min === undefined ? null : float(point.min),
    max: point.max === undefined ? null : float(point.max),
    bucket_counts: counts(point.bucketCounts),
    explicit_bounds: (point.explicitBounds ?? []).map(float),
    exp_scale: point.scale ?? 0,
    exp_zero_count: String(point.zeroCount ?? 0n),
    exp_positive_offset: point.positive?.offset ?? 0,
    exp_positive_counts: counts(point.positive?.bucketCounts),
    exp_negative_offset: point.negative?.offset ?? 0,
    exp_negative_counts: counts(point.negative?.bucketCounts),
    quantiles: (point.quantiles ?? []).map((q) => ({ quantile: q.quantile, value: float(q.value) })),
    is_monotonic: metric.isMonotonic,
    temporality: TEMPORALITY_NAMES[metric.temporality] ?? '',
    unit: metric.unit,
    description: metric.description,
    service_name: resource.service_name,
    project_name: projectOf(resource, point.attributes),
    project_version: resource.project_version,
    environment: resource.environment,
    attributes: mergedAttributes(resource, point.attributes),
    scope_name: scopeName,
  };
}

/** A number JSON can carry as is, or ClickHouse's text for NaN and the infinities (JSON.stringify would write null, read as 0). */
export function float(n: number): Float {
  if (Number.isFinite(n)) return n;
  return Number.isNaN(n) ? 'nan' : n > 0 ? 'inf' : '-inf';
}
