// Owns the JSON-lines event format that `send --stdin` reads: one event an object, validated field by field.

import type { Attributes, TrackOptions } from './event.js';

/**
 * One line: {"event": "name", "attributes": {"k": "v"}, "status": "ok"|"error", "duration_ms": 12,
 * "timestamp": "2026-11-26T10:00:00Z" | 1764151200000, "project": "name", "trace_id": "<32 hex>"}.
 * Only "event" is required.
 */
export interface EventLine {
  name: string;
  attributes: Attributes;
  options: TrackOptions;
}

export const EVENT_LINE_FIELDS = ['event', 'attributes', 'status', 'duration_ms', 'timestamp', 'project', 'trace_id'] as const;

export class EventLineError extends Error {}

/** Parses one line; throws EventLineError saying which field is wrong and what it should be. */
export function parseEventLine(line: string): EventLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new EventLineError(`not JSON (${(error as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new EventLineError('expected a JSON object');
  const record = value as Record<string, unknown>;
  // One pass over the keys with a switch: this runs once a line of a bulk send, so no Set lookups, entries arrays or
  // copies (the parsed object is fresh and ours).
  let event: unknown;
  let attributes: unknown;
  let status: unknown;
  let duration: unknown;
  let timestamp: unknown;
  let project: unknown;
  let traceId: unknown;
  for (const key in record) {
    switch (key) {
      case 'event': event = record[key]; break;
      case 'attributes': attributes = record[key]; break;
      case 'status': status = record[key]; break;
      case 'duration_ms': duration = record[key]; break;
      case 'timestamp': timestamp = record[key]; break;
      case 'project': project = record[key]; break;
      case 'trace_id': traceId = record[key]; break;
      default: throw new EventLineError(`unknown field "${key}" (fields: ${EVENT_LINE_FIELDS.join(', ')})`);
    }
  }
  if (event === undefined) throw new EventLineError('missing field "event"');
  if (typeof event !== 'string' || event === '') throw new EventLineError(`"event" must be a non-empty string, got ${show(event)}`);
  let attrs: Attributes = {};
  if (attributes !== undefined) {
    if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) throw new EventLineError(`"attributes" must be an object, got ${show(attributes)}`);
    const given = attributes as Record<string, unknown>;
    for (const k in given) {
      const v = given[k];
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        throw new EventLineError(`"attributes.${k}" must be a string, number or boolean, got ${show(v)}`);
      }
    }
    attrs = given as Attributes;
  }
  const options: TrackOptions = {};
  if (status !== undefined) {
    if (status === 'ok' || status === 'error') options.status = status;
    else if (typeof status === 'string' && /^(ok|error)$/i.test(status)) options.status = status.toLowerCase() as 'ok' | 'error';
    else throw new EventLineError(`"status" must be "ok" or "error", got ${show(status)}`);
  }
  if (duration !== undefined) {
    if (typeof duration !== 'number' || !Number.isFinite(duration) || duration < 0) throw new EventLineError(`"duration_ms" must be a number >= 0, got ${show(duration)}`);
    options.durationMs = duration;
  }
  if (timestamp !== undefined) {
    if (typeof timestamp === 'number' && Number.isFinite(timestamp)) options.timestamp = timestamp;
    else if (typeof timestamp === 'string' && Number.isFinite(Date.parse(timestamp))) options.timestamp = timestamp;
    else throw new EventLineError(`"timestamp" must be an ISO-8601 date or epoch milliseconds, got ${show(timestamp)}`);
  }
  if (project !== undefined) {
    if (typeof project !== 'string' || project === '') throw new EventLineError(`"project" must be a non-empty string, got ${show(project)}`);
    options.projectName = project;
  }
  if (traceId !== undefined) {
    if (typeof traceId !== 'string' || !/^[0-9a-fA-F]{32}$/.test(traceId)) throw new EventLineError(`"trace_id" must be 32 hex characters, got ${show(traceId)}`);
    options.traceId = traceId;
  }
  return { name: event, attributes: attrs, options };
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
