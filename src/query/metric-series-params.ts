// Owns reading a metrics query from a query string (GET /api/metrics): the window, filters, the metric, the split.
import { badParameter, onlyKnown, text, timeWindow, whole, type TimeWindow } from './search-params.js';

export const MAX_TOP = 20;
const KNOWN = new Set(['range', 'from', 'to', 'project', 'service', 'environment', 'q', 'name', 'by', 'top']);

export interface MetricQuery extends TimeWindow {
  project?: string;
  service?: string;
  environment?: string;
  /** For the list of names: text the name contains, case-insensitive. */
  search?: string;
  /** The metric to chart; without it the answer is the list of names. */
  name?: string;
  /** The attribute whose values split the chart into series. */
  by?: string;
  /** With `by`: how many series (the ones with the most data points). */
  top: number;
}

export function parseMetricQuery(params: URLSearchParams, now = Date.now()): MetricQuery {
  onlyKnown(params, KNOWN);
  const query: MetricQuery = { ...timeWindow(params, now), top: whole(params, 'top', 1, MAX_TOP) ?? 5 };
  const optional = { project: text(params, 'project'), service: text(params, 'service'), environment: text(params, 'environment'), search: text(params, 'q'), name: text(params, 'name'), by: text(params, 'by') };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) Object.assign(query, { [key]: value });
  if (query.by !== undefined && query.name === undefined) throw badParameter('by', 'splits one metric: give name too');
  return query;
}
