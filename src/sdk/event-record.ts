// Owns the compact text form of a tracked event while it waits in the queue (one JSON array, kept as bytes off the
// JS heap by EncodedQueue), and turning it back into the queued event when its batch forms.

import { checkEvent, type Attributes, type QueuedEvent, type TrackOptions } from './event.js';
import type { FlatAttributes } from '../otlp/model.js';

type EventRecord = [name: string, startMs: number, durationMs: number, error: 0 | 1, statusMessage: string, traceId: string | null, projectName: string | null, attributes: Record<string, string | number | boolean | null>];

/**
 * trackEvent's arguments as [name, startMs, durationMs, error, statusMessage, traceId, projectName, attributes],
 * written straight from them (no queued-event object). Undefined when an attribute value is not a string, finite
 * number, boolean, null or undefined (objects, arrays, bigints, NaN): those take the object way, flattened now.
 * Throws, as makeEvent does, for unusable arguments.
 */
export function encodeEvent(name: string, attributes: Attributes | undefined, options: TrackOptions, now: number): string | undefined {
  if (attributes) {
    if (typeof (attributes as { toJSON?: unknown }).toJSON === 'function') return undefined;
    for (const key in attributes) {
      const value = attributes[key];
      const type = typeof value;
      if (type === 'string' || type === 'boolean' || value === undefined || value === null) continue;
      if (type === 'number' && Number.isFinite(value)) continue;
      return undefined;
    }
  }
  const { startMs, durationMs, error } = checkEvent(name, options, now);
  const message = options.statusMessage ? JSON.stringify(options.statusMessage) : '""';
  const traceId = options.traceId === undefined ? 'null' : `"${options.traceId}"`;
  const project = options.projectName === undefined ? 'null' : JSON.stringify(options.projectName);
  return `[${JSON.stringify(name)},${startMs},${durationMs},${error ? 1 : 0},${message},${traceId},${project},${attributes ? JSON.stringify(attributes) : '{}'}]`;
}

/** The queued event an encoded one stands for, its attributes flattened to strings as flattenAttributes does. */
export function decodeEvent(text: string): QueuedEvent {
  const [name, startMs, durationMs, error, statusMessage, traceId, projectName, given] = JSON.parse(text) as EventRecord;
  const attributes: FlatAttributes = {};
  for (const key in given) {
    const value = given[key];
    if (value === null || value === undefined) continue;
    attributes[key] = typeof value === 'string' ? value : String(value);
  }
  return { signal: 'span', name, attributes, startMs, durationMs, error: error === 1, statusMessage, traceId: traceId ?? undefined, projectName: projectName ?? undefined };
}
