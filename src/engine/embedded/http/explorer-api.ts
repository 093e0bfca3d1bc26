// Owns the explorer's JSON API behind the dashboard login: GET /api/traces (search), /api/traces/<id>, /api/logs and
// /api/metrics.
import type { ServerResponse } from 'node:http';
import type { ClickHouseConnection } from '../../../clickhouse/http-client.js';
import { isTelemetryError } from '../../../errors.js';
import { storeFeatures } from '../../../query/store-features.js';
import { TRACE_ID, traceDetailJson, traceOutlineJson } from '../../../query/trace-detail.js';
import { badParameter, parseTraceSearch } from '../../../query/trace-search-params.js';
import { parseLogSearch } from '../../../query/log-search-params.js';
import { searchLogs, tailLogs } from '../../../query/log-search.js';
import { parseMetricQuery } from '../../../query/metric-series-params.js';
import { metricNames, metricSeries } from '../../../query/metric-series.js';
import { searchTraces } from '../../../query/trace-search.js';
import { send } from './respond.js';

const JSON_HEADERS = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function createExplorerApi(connection: ClickHouseConnection, database: string) {
  const features = storeFeatures(connection, database);
  const table = `${database}.traces`;
  /** Answers the request if it is one of the explorer's; false otherwise. */
  return async function route(url: URL, method: string, res: ServerResponse, gzip: boolean): Promise<boolean> {
    const signal = url.pathname === '/api/logs' || url.pathname === '/api/metrics';
    if (!signal && url.pathname !== '/api/traces' && !url.pathname.startsWith('/api/traces/')) return false;
    if (method !== 'GET') {
      await send(res, 405, { ...JSON_HEADERS, Allow: 'GET' }, '{"error":"only GET"}\n');
      return true;
    }
    try {
      if (url.pathname === '/api/logs') {
        const search = parseLogSearch(url.searchParams);
        const result = search.tail ? await tailLogs(connection, database, search, search.tail) : await searchLogs(connection, database, search);
        await send(res, 200, JSON_HEADERS, JSON.stringify(result), gzip);
        return true;
      }
      if (url.pathname === '/api/metrics') {
        const query = parseMetricQuery(url.searchParams);
        const result = query.name === undefined ? await metricNames(connection, database, query) : await metricSeries(connection, database, { ...query, name: query.name });
        await send(res, 200, JSON_HEADERS, JSON.stringify(result), gzip);
        return true;
      }
      if (url.pathname === '/api/traces') {
        const result = await searchTraces(connection, table, parseTraceSearch(url.searchParams));
        await send(res, 200, JSON_HEADERS, JSON.stringify(result), gzip);
        return true;
      }
      const raw = url.pathname.slice('/api/traces/'.length);
      const id = (/%[0-9a-f]{2}/i.test(raw) ? safeDecode(raw) : raw).toLowerCase();
      if (!TRACE_ID.test(id)) throw badParameter('trace_id', `32 hex characters, got ${JSON.stringify(id.slice(0, 80))}`);
      for (const key of url.searchParams.keys()) if (key !== 'fields') throw badParameter(key, 'unknown parameter; known: fields');
      const fields = url.searchParams.get('fields');
      if (fields !== null && fields !== 'outline') throw badParameter('fields', `"outline" (span ids, parents, times, names, services and status only), got ${JSON.stringify(fields.slice(0, 40))}`);
      if (fields === 'outline') {
        const outline = await traceOutlineJson(connection, database, id);
        if (outline === undefined) {
          await send(res, 404, JSON_HEADERS, JSON.stringify({ error: `no trace ${id} in the store`, parameter: 'trace_id' }));
          return true;
        }
        await send(res, 200, JSON_HEADERS, outline, gzip);
        return true;
      }
      const detail = await traceDetailJson(connection, database, id, await features());
      if (detail === undefined) {
        await send(res, 404, JSON_HEADERS, JSON.stringify({ error: `no trace ${id} in the store`, parameter: 'trace_id' }));
        return true;
      }
      await send(res, 200, JSON_HEADERS, detail, gzip);
      return true;
    } catch (error) {
      if (isTelemetryError(error) && error.code === 'E_BAD_REQUEST') {
        await send(res, 400, JSON_HEADERS, JSON.stringify({ error: error.message, parameter: error.details.parameter }));
        return true;
      }
      throw error;
    }
  };
}
